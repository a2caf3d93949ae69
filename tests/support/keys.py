"""Signing keys the tests make, as the stack makes them: a fresh key, mode 0600."""

from __future__ import annotations

from pathlib import Path

from shared.signing import new_key


def write_key(path: Path) -> Path:
    path.write_text(new_key() + "\n")
    path.chmod(0o600)
    return path
