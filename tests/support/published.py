"""Payloads that media servers really sent, as other projects published them.

Each file under tests/fixtures/media/ starts with `#` lines saying where the
capture was published (repository, path, commit) and what our copy leaves out
or spells differently; the payload follows, byte for byte as it is served or
posted in the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "media"


def raw(name: str) -> bytes:
    """The payload of a fixture, its header lines dropped."""
    lines = (FIXTURES / name).read_bytes().splitlines(keepends=True)
    while lines and lines[0].startswith(b"#"):
        lines.pop(0)
    return b"".join(lines)


def load(name: str) -> object:
    """A JSON fixture's payload, decoded."""
    return json.loads(raw(name))


def header(name: str) -> str:
    """A fixture's header, for the test that every fixture cites its source."""
    lines = (FIXTURES / name).read_text().splitlines()
    return "\n".join(line for line in lines if line.startswith("#"))


def names() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_file())
