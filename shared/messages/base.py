"""What every bus payload has: a schema version, the host it concerns, and when."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

SCHEMA_VERSION: Literal[1] = 1

# A block device as io.stat, io.max and the blkio files name it: "major:minor".
BlockDevice = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,10}:[0-9]{1,10}$")]


class PayloadError(ValueError):
    """A payload that cannot be used; the message says what and why."""


def describe_validation_error(exc: ValidationError, root: str = "payload") -> str:
    """The first problem pydantic found, as `where: what`, and how many more there are."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or root
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


class Message(BaseModel):
    """A JSON payload on the bus. An unknown schema_version fails validation."""

    # Every service imports every message, but each decodes and sends only a few of
    # them: a model's validator is built on its first use, not at import (about 1 MB
    # per service). The first use validates exactly as an eager build would.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    host: str
    # Wall-clock seconds at the sender; for display and staleness, never for leases.
    ts: float = Field(default_factory=time.time)


class Strict(BaseModel):
    """A nested part of a message."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
