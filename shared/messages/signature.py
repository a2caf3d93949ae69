"""The governor's signature on a desired state or an action (see shared/signing.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.messages.base import Strict


class Signature(Strict):
    # New at every start of the governor.
    sender: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[0-9a-f]+$")]
    # Orders the governor's starts: each start's is above the one it found retained.
    epoch: Annotated[int, Field(ge=0)]
    mac: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
