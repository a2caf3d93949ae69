"""The run-time preset a select entity (or anyone) sends to the governor."""

from __future__ import annotations

import json

from shared.messages.base import PayloadError
from shared.presets import PRESET_NAMES, PresetName


def parse_preset(payload: bytes) -> PresetName:
    """A preset name, any case: the bare word, a JSON string, or JSON {"preset": ...}."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8 text") from None
    if text.startswith(("{", '"')):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"not valid JSON: {exc.msg}") from None
        if isinstance(data, dict):
            data = data.get("preset")
        if not isinstance(data, str):
            raise PayloadError('expected a preset name or {"preset": <name>}')
        text = data.strip()
    name = text.lower()
    for known in PRESET_NAMES:
        if name == known:
            return known
    raise PayloadError(f"unknown preset {text[:40]!r}, expected one of {', '.join(PRESET_NAMES)}")
