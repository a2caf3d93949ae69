"""Files and directories with the owner and mode they must have, made or put right the
same way every time (a second run changes nothing), and whether an account can reach one."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from services.stack.accounts import Account

Owner = tuple[int, int]


def ensure_dir(path: Path, owner: Owner, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    fix(path, owner, mode)


def fix(path: Path, owner: Owner, mode: int) -> None:
    """Owner and mode as given; nothing is touched when they already are."""
    info = path.stat()
    if (info.st_uid, info.st_gid) != owner:
        os.chown(path, *owner)
    if stat.S_IMODE(info.st_mode) != mode:
        path.chmod(mode)


def write_file(path: Path, text: str, owner: Owner, mode: int) -> bool:
    """`text` in `path` with this owner and mode; True when it had to be written.

    Written beside and renamed over, so a reader never sees half a file and the file is
    never, for a moment, readable by anyone it should not be."""
    if path.exists() and path.read_text() == text:
        fix(path, owner, mode)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def share_with_group(path: Path, gid: int) -> bool:
    """The group may read `path`, others may not (the config holds API keys): its group
    becomes `gid`, its owner keeps what it had. True when something changed."""
    info = path.stat()
    mode = (stat.S_IMODE(info.st_mode) | stat.S_IRGRP) & ~stat.S_IRWXO
    if info.st_gid == gid and stat.S_IMODE(info.st_mode) == mode:
        return False
    os.chown(path, -1, gid)
    path.chmod(mode)
    return True


def can(account: Account, test: str, path: Path) -> bool:
    """`test -r PATH` (or -x, -w) run as the account with its groups: what the kernel lets
    that account do, asked of the kernel rather than worked out from the modes here."""
    result = subprocess.run(
        ["test", test, str(path)],
        user=account.uid,
        group=account.gid,
        extra_groups=account.groups,
        check=False,
        timeout=30,
    )
    return result.returncode == 0


def closed_on_the_way(account: Account, path: Path) -> Path | None:
    """The first directory above `path` the account may not pass through, or None."""
    for parent in reversed(path.parents):
        if not can(account, "-x", parent):
            return parent
    return None
