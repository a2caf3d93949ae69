"""What the governor remembers across its own restart, on its own retained topic.

The actuator's contract, the desired state, carries only intents. This message
carries the rest: the switches that triggers and the preset selector set, a
public summary that Home Assistant and the web service show, and each rule's
own memory slice. A slice is opaque here: the rule that owns it validates it
with its own model when the governor restores it, so a new rule adds no field
to the wire contract.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue

from shared.messages.base import Message, Strict
from shared.messages.signature import Signature
from shared.presets import PresetName


class Switches(Strict):
    """What triggers (ADRG's /trigger, Home Assistant's buttons) and the preset select set."""

    media_forced: bool = False
    tier3_manual_pause: bool = False
    # The process-group preset chosen at run time (warden/<host>/preset/set); None: config's.
    preset: PresetName | None = None


class GovernorStatus(Strict):
    """The rules' state in a few words, for dashboards: derived, never read back."""

    media_mode: bool = False
    thermal_stage: Annotated[int, Field(ge=0, le=2)] = 0
    io_throttled: bool = False


class GovernorMemory(Message):
    # The seq of the last desired state published with this memory: a restarted
    # governor goes on above it, so the actuator's high-water mark admits it.
    seq: Annotated[int, Field(ge=0)] = 0
    switches: Switches = Switches()
    status: GovernorStatus = GovernorStatus()
    # Rule name -> that rule's memory slice, as the rule's own model dumps it.
    rules: dict[str, dict[str, JsonValue]] = {}
    # None: sent by a governor without a signing key, which a keyed governor ignores.
    signature: Signature | None = None
