"""Generated secrets kept in files only their owner can read (MQTT passwords, signing keys)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path


class SecretFileError(Exception):
    pass


def ensure_secret_file(
    path: str | Path, nbytes: int = 32, owner: tuple[int, int] | None = None
) -> str:
    """The secret in `path`, made first (nbytes of randomness, URL-safe text, mode 0600)
    if the file does not exist. A file others can read is refused: its secret is spent.

    owner: (uid, gid) the file must belong to, the one process that reads it (made so,
    or given over when an older file belongs to someone else); None: whoever makes it."""
    path = Path(path)
    # A directory made here is private too; one that exists is left as it is.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two starts racing never write two different secrets.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = read_secret_file(path)
    else:
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(nbytes) + "\n")
        secret = read_secret_file(path)
    if owner is not None:
        info = path.stat()
        if (info.st_uid, info.st_gid) != owner:
            os.chown(path, *owner)
    return secret


def read_secret_file(path: str | Path) -> str:
    path = Path(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretFileError(
            f"{path}: mode {stat.S_IMODE(mode):04o} lets others read it; "
            "it must be 0600 (delete it and a new one is made)"
        )
    secret = path.read_text().strip()
    if not secret:
        raise SecretFileError(f"{path}: empty")
    return secret


def mosquitto_password_line(
    user: str, password: str, iterations: int = 101, salt: bytes | None = None
) -> str:
    """A password_file line as mosquitto_passwd writes it (PBKDF2-SHA512, `$7$`)."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"{user}:$7${iterations}${encoded[0]}${encoded[1]}"


def mosquitto_password_matches(line: str, user: str, password: str) -> bool:
    """Whether a password_file line is `user`'s with this password, so a file that still
    holds every login is kept as it is rather than written anew with fresh salts."""
    name, _, hashed = line.strip().partition(":")
    parts = hashed.split("$")
    if name != user or len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
    except ValueError:
        return False
    expected = mosquitto_password_line(user, password, int(parts[2]), salt)
    return hmac.compare_digest(expected, line.strip())
