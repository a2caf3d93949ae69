"""HMAC signatures on what the governor tells the actuator: desired states and actions.

The key is a file that only the governor and the actuator read (warden-stack
writes one at first start, mode 0600; compose hands it in as a secret). Each
line is a key: the first signs, every line verifies, so a key is rotated
without a moment in which the two disagree (docs/security.md).

A signature covers the whole payload but its own MAC: the host, the seq, the
lease and the sender's start id and epoch. The actuator admits a desired state
only when its (epoch, seq) is above every one it admitted before, so a recorded
message replayed later cannot undo a newer one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shared.messages.actions import Action
from shared.messages.desired import DesiredState
from shared.messages.memory import GovernorMemory
from shared.messages.signature import Signature

KEY_FILE_ENV = "WARDEN_SIGNING_KEY_FILE"
MIN_KEY_CHARS = 32

Signed = TypeVar("Signed", DesiredState, Action, GovernorMemory)


class SigningError(ValueError):
    """A key file that cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Keyring:
    path: Path
    keys: tuple[bytes, ...]  # the first signs; every one verifies
    # Set when others than the owner may read the file: worth a warning, not a refusal
    # (a Docker secret is often mounted world-readable inside its one container).
    loose_permissions: bool = False


def load_keyring(path: str | os.PathLike[str]) -> Keyring:
    file = Path(path)
    try:
        text = file.read_text(encoding="ascii")
        mode = file.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningError(f"{file}: cannot read the signing key: {exc}") from None
    keys = tuple(line.strip().encode() for line in text.splitlines() if line.strip())
    if not keys:
        raise SigningError(f"{file}: holds no key")
    for number, key in enumerate(keys, 1):
        if len(key) < MIN_KEY_CHARS:
            raise SigningError(
                f"{file}: key on line {number} has {len(key)} characters, "
                f"at least {MIN_KEY_CHARS} are needed"
            )
    return Keyring(file, keys, bool(mode & (stat.S_IRWXG | stat.S_IRWXO)))


def configured_keyring(configured: str | None) -> Keyring | None:
    """The keyring from $WARDEN_SIGNING_KEY_FILE, else security.signing_key_file; None: unsigned."""
    path = os.environ.get(KEY_FILE_ENV) or configured
    return load_keyring(path) if path else None


def new_key() -> str:
    return secrets.token_hex(32)


def _mac(key: bytes, message: DesiredState | Action | GovernorMemory) -> str:
    return _mac_of(key, type(message).__name__, message.model_dump(mode="json"))


def _mac_of(key: bytes, kind: str, payload: Mapping[str, Any]) -> str:
    # Canonical JSON of everything but the MAC, behind the model's name so that a
    # desired state's signature can never pass for an action's.
    body = dict(payload)
    signature = body.get("signature")
    if isinstance(signature, dict):
        body["signature"] = {k: v for k, v in signature.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    data = f"{kind}\n{text}".encode()
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sign(message: Signed, keyring: Keyring, sender: str, epoch: int) -> Signed:
    unsigned = message.model_copy(
        update={"signature": Signature(sender=sender, epoch=epoch, mac="0" * 64)}
    )
    mac = _mac(keyring.keys[0], unsigned)
    return unsigned.model_copy(update={"signature": Signature(sender=sender, epoch=epoch, mac=mac)})


def verify(message: DesiredState | Action | GovernorMemory, keyring: Keyring) -> str | None:
    """Why the message's signature is not good, or None when one of the keys made it."""
    return verify_payload(type(message).__name__, message.model_dump(mode="json"), keyring)


def verify_payload(kind: str, payload: Mapping[str, Any], keyring: Keyring) -> str | None:
    """verify() for a payload as it came, parsed JSON: for one no current model describes
    (a desired state from before an upgrade)."""
    signature = payload.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("mac"), str):
        return "unsigned"
    macs = (_mac_of(key, kind, payload) for key in keyring.keys)
    if not any(hmac.compare_digest(mac, signature["mac"]) for mac in macs):
        return "bad signature"
    return None
