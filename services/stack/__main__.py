"""python -m services.stack: warden-stack."""

import sys

from services.stack.cli import main

if __name__ == "__main__":
    sys.exit(main())
