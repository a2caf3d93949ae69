"""Where a service keeps a state file it writes (the web service's database, the notifier's
outbox): where the config says, or, for a key left at its default, in the directory of its
own that systemd's StateDirectory= hands it in $STATE_DIRECTORY (warden-stack sets the
same variable).

The defaults all lie in /var/lib/warden, which belongs to the actuator (root): a service
under its own user cannot write there, and must not (a file it made there could pass for
the actuator's). Compose sets $STATE_DIRECTORY too, to the web service's and the
notifier's volume (/var/lib/warden/web, /var/lib/warden/notifier: the image's users own
them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePath

from pydantic import BaseModel

STATE_DIRECTORY_ENV = "STATE_DIRECTORY"


def state_file(section: BaseModel, key: str, environ: Mapping[str, str] | None = None) -> str:
    """The path of section.<key>: the configured one, unless it is the default and the
    service has a state directory of its own, where the same file name goes."""
    environ = os.environ if environ is None else environ
    value = getattr(section, key)
    default = type(section).model_fields[key].default
    # systemd lists one directory per StateDirectory= line, separated by colons.
    directory = environ.get(STATE_DIRECTORY_ENV, "").split(":")[0]
    if not directory or value != default:
        return str(value)
    return str(PurePath(directory) / PurePath(str(value)).name)
