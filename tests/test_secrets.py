"""Generated secret files: made once, private, refused when others can read them."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.secrets import SecretFileError, ensure_secret_file


def test_a_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "new" / "signing.key"
    first = ensure_secret_file(path, 32)
    assert len(first) >= 43  # 32 random bytes, URL-safe base64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    assert ensure_secret_file(path, 32) == first
    assert ensure_secret_file(tmp_path / "other.key", 32) != first


def test_a_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    ensure_secret_file(path, 16)
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="0644"):
        ensure_secret_file(path, 16)
    path.chmod(0o600)
    path.write_text("\n")
    with pytest.raises(SecretFileError, match="empty"):
        ensure_secret_file(path, 16)
