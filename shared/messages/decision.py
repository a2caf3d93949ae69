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
    # The live readings behind the reasons when it was decided ("io_pressure(io.some_avg10=
    # 64.1 > 60.0)"), keyed by container or rule; the reasons themselves stay stable.
    readings: dict[str, str] = {}
