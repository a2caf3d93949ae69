"""The governor's latest change of the desired state, told in a line (retained)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import Message

# Home Assistant refuses a sensor state longer than this.
SUMMARY_MAX = 255

DecisionAction = Literal["enforce", "release"]


class LastDecision(Message):
    container: str
    action: DecisionAction
    summary: Annotated[str, Field(max_length=SUMMARY_MAX)]
    reasons: list[str] = []
