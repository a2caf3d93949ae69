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
    # Schedules switched off (Home Assistant's switch, a `schedule_off` trigger), by name.
    schedules_off: Annotated[list[str], Field(max_length=100)] = []
    # Schedule name -> when a `schedule_skip` asked to skip its window in force then, or
    # else its next one.
    schedule_skips: Annotated[dict[str, float], Field(max_length=100)] = {}


class ScheduleStatus(Strict):
    """One schedule as it stands, for dashboards and Home Assistant."""

    enabled: bool = True
    # Inside one of its windows now (not skipped, not switched off).
    inside: bool = False
    # ISO 8601 with the zone's offset; None: no change within the next nine days.
    next_change: str | None = None
    # While a skip holds: when the skipped window ends (ISO 8601).
    skipped_until: str | None = None
    # "run_inside: tier 3 runs only inside daily 01:00-07:00", for a dashboard's line.
    summary: str = ""


class ConditionStatus(Strict):
    """One condition as it stands: holds (or is held after it cleared), and why."""

    holds: bool = False
    # Its source is unknown now (no reading, a stale one, or a value that cannot be read).
    unknown: bool = False
    # While it counts only for its hold: when that ends (wall-clock seconds).
    held_until: float | None = None
    detail: str = ""


class GovernorStatus(Strict):
    """The rules' state in a few words, for dashboards: derived, never read back."""

    media_mode: bool = False
    thermal_stage: Annotated[int, Field(ge=0, le=2)] = 0
    io_throttled: bool = False
    schedules: dict[str, ScheduleStatus] = {}
    conditions: dict[str, ConditionStatus] = {}
    # Megabits per second the streams reserve now (held ones too); None: bandwidth is off.
    reserved_mbps: float | None = None


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
