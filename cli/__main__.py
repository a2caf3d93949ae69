"""python -m cli ...: the `warden` command."""

import sys

from cli.main import main

sys.exit(main())
