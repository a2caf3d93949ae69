"""What one channel of the bus is: its topic template, payload, whether it is retained,
who may write and read it, and the scope its topic lies in. The table of every channel
is shared/channels.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar, cast

from pydantic import BaseModel

from shared.messages.decoding import model_decoder, text_decoder
from shared.topics import Topics

P = TypeVar("P")

User = Literal["governor", "actuator", "sensors", "notifier", "homeassistant", "web", "anonymous"]
USERS: tuple[User, ...] = (
    "governor",
    "actuator",
    "sensors",
    "notifier",
    "homeassistant",
    "web",
    "anonymous",
)
# Under warden/<host>/...; all_hosts: directly under the root; discovery: under
# Home Assistant's discovery prefix; anywhere: any topic the config names (outside
# Warden's root: Home Assistant's mqtt_statestream, say).
Scope = Literal["host", "all_hosts", "discovery", "anywhere"]

SERVICES: tuple[User, ...] = ("sensors", "governor", "actuator", "notifier")
TRIGGER_WRITERS: tuple[User, ...] = ("homeassistant", "web", "anonymous")


@dataclass(frozen=True)
class Channel(Generic[P]):
    """One topic: what it carries (P, decoded by `decoder()`), retained or not, who writes it."""

    topic: str
    # The pydantic model of the payload; None where it is a bare word or text.
    model: type[BaseModel] | None
    retained: bool
    writers: tuple[User, ...]
    scope: Scope
    what: str
    # Who may read it besides everyone's read of the whole `{root}/#`.
    readers: tuple[User, ...] = ()
    # The topic reference's payload column where the model cannot say it.
    payload: str = ""
    # How its payload is read where not as JSON of `model` (or, with no model, as text).
    decode: Callable[[bytes], P] | None = None
    # Whether a host's bridge carries it; where not, only what the config names crosses.
    bridged: bool = True

    @property
    def payload_doc(self) -> str:
        return self.payload or (self.model.__name__ if self.model else "text")

    def decoder(self) -> Callable[[bytes], P]:
        if self.decode is not None:
            return self.decode
        if self.model is None:
            return cast(Callable[[bytes], P], text_decoder())
        return cast(Callable[[bytes], P], model_decoder(self.model))

    def topic_for(self, topics: Topics, **levels: str) -> str:
        """The concrete topic (or, with host="+", the filter over every host)."""
        fill = {"root": topics.root, "host": topics.host, **levels}
        return self.topic.format(**fill)
