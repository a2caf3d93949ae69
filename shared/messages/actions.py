"""One-shot actions that are not state: each has an id so a redelivery never acts twice."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from shared.messages.base import Message
from shared.messages.desired import Reason
from shared.messages.signature import Signature


class Action(Message):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex, min_length=8, max_length=64)
    kind: Literal["restart"]
    container: str
    reasons: list[Reason] = Field(min_length=1)
    signature: Signature | None = None
