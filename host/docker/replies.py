"""What Warden reads of the engine's replies, validated: Docker adds fields between API
versions and Warden reads the ones it names; a reply without them is a ReplyError naming
the call."""

from __future__ import annotations

from typing import Any, TypeVar

import docker.errors
from pydantic import BaseModel, ConfigDict, ValidationError


class ReplyError(docker.errors.DockerException):
    """The engine answered something the API does not document."""


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Mount(_Reply):
    Source: str = ""


class ContainerSummary(_Reply):
    Id: str
    Names: list[str] | None = None
    State: str = "unknown"
    Mounts: list[Mount] | None = None


class ContainerState(_Reply):
    Pid: int = 0
    Paused: bool = False
    StartedAt: str = ""


class HostConfig(_Reply):
    CpuShares: int | None = None
    Memory: int | None = None
    MemorySwap: int | None = None


class ContainerDetails(_Reply):
    Id: str
    State: ContainerState
    HostConfig: HostConfig


class EngineInfo(_Reply):
    DockerRootDir: str | None = None
    # RFC 3339 with nanoseconds: the engine's clock.
    SystemTime: str = ""


class EventActor(_Reply):
    ID: str = ""
    Attributes: dict[str, str] | None = None


class EngineEvent(_Reply):
    Type: str = ""
    Action: str = ""
    Actor: EventActor = EventActor()
    # Nanoseconds since the epoch, on the engine's clock.
    timeNano: int = 0


R = TypeVar("R", bound=_Reply)


def parse(model: type[R], value: Any, call: str) -> R:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise ReplyError(f"{call}: unexpected reply: {exc.errors()[0]['msg']}") from None


def parse_list(model: type[R], value: Any, call: str) -> list[R]:
    if not isinstance(value, list):
        raise ReplyError(f"{call}: unexpected reply: not a list")
    return [parse(model, item, call) for item in value]
