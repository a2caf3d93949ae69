"""Conditions: host events that change the policy while they hold, and for a hold after.

A condition holds while a host process matches (the sensors' processes fact:
Unraid's mover, SnapRAID, borg, restic), while a container runs (paused
counts: a condition that pauses tier 3 must not end by pausing its own
container), or while an MQTT topic holds a value (Home Assistant's
mqtt_statestream: a price above a level, someone home). While it holds, and for
hold_seconds after it stops, it switches media mode on, pauses tier 3, sets the
process groups' preset, or keeps containers from being limited, as configured.

Unknown (no reading, a stale one, a value that is no number where one is
compared) neither starts a condition nor ends it: a hold in progress runs
out, but a condition that holds keeps holding until a reading says otherwise.
A reason names the condition and what it watches, the same while it holds and
in the hold; where the condition stands now is a reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from services.governor.outcome import LogNote, earliest
from services.governor.rule import Modes, Outcome, Rule, View
from shared.config.conditions import MAX_VALUE_CHARS
from shared.config.model import Condition, TopicMatch, WardenConfig
from shared.messages import (
    ConditionStatus,
    ContainerFact,
    ContainerIntent,
    ProcessesFact,
    Reason,
    ReasonCard,
)
from shared.messages.base import PayloadError, Strict
from shared.presets import PresetName

NAME = "condition"
# Container states in which a container is up: paused is, or a condition pausing tier 3
# would end itself by pausing its own container.
UP_STATES = ("running", "paused", "restarting")


# What the governor takes from a condition's topic: one short reading (a price, `home`).
MAX_PAYLOAD_BYTES = 4096


def condition_text(payload: bytes) -> str:
    """A condition topic's payload as text: UTF-8, and short; anything else is dropped."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        return payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("payload is not UTF-8 text") from None


class ConditionState(Strict):
    # It held at the last known reading, or is in its hold.
    holds: bool = False
    # Wall-clock time a known reading first said it no longer held; None while it holds.
    cleared_at: float | None = None


class ConditionsMemory(Strict):
    # Condition name -> its state, for those that hold or are held.
    conditions: dict[str, ConditionState] = {}


def topic_value(text: str | None, match: TopicMatch) -> tuple[bool | None, str]:
    """Whether the topic's text satisfies the match (None: unknown), and what was read."""
    if text is None:
        return None, "nothing received"
    value: object = text.strip()
    if match.json_key is not None:
        try:
            data = json.loads(text)
        except ValueError:
            return None, "not JSON"
        if not isinstance(data, dict) or match.json_key not in data:
            return None, f"no key {match.json_key!r}"
        value = data[match.json_key]
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        value = json.dumps(value)
    word = str(value).strip().strip("\"'")[:MAX_VALUE_CHARS]
    if match.equals:
        return word.lower() in {e.lower() for e in match.equals}, word
    try:
        number = float(word)
    except ValueError:
        return None, f"{word[:40]!r} is not a number"
    if not math.isfinite(number):
        return None, f"{word!r} is not a number"
    above = match.above is None or number > match.above
    below = match.below is None or number < match.below
    return above and below, word


def process_running(fact: ProcessesFact | None, name: str) -> tuple[bool | None, str]:
    if fact is None:
        return None, "no processes reading"
    if fact.error is not None:
        return None, fact.error
    seen = next((c for c in fact.conditions if c.condition == name), None)
    if seen is None:
        return None, "not watched by the sensors yet"
    found = ", ".join(f"{p.name} ({p.pid})" for p in seen.processes)
    return seen.running, found or "no match"


def container_up(
    containers: tuple[ContainerFact, ...] | None, name: str
) -> tuple[bool | None, str]:
    if containers is None:
        return None, "no container inventory"
    found = next((c for c in containers if c.name.lstrip("/") == name), None)
    if found is None:
        return False, "no such container"
    return found.state in UP_STATES, found.state


def reading(condition: Condition, view: View) -> tuple[bool | None, str]:
    if condition.process is not None:
        return process_running(view.processes, condition.name)
    if condition.container is not None:
        return container_up(view.containers, condition.container)
    assert condition.mqtt is not None
    return topic_value(view.topic_values.get(condition.mqtt.topic), condition.mqtt)


def watches(condition: Condition) -> str:
    """What it watches, in a few words, for its reason."""
    if condition.process is not None:
        patterns = condition.process.name + [f"/{r}/" for r in condition.process.cmdline]
        return f"process {' '.join(patterns)}"
    if condition.container is not None:
        return f"container {condition.container} up"
    match = condition.mqtt
    assert match is not None
    where = match.topic + (f"[{match.json_key}]" if match.json_key else "")
    if match.equals:
        return f"{where} = {'|'.join(match.equals)}"
    tests = [f"> {match.above:g}"] if match.above is not None else []
    tests += [f"< {match.below:g}"] if match.below is not None else []
    return f"{where} {' and '.join(tests)}"


def reason_of(condition: Condition) -> Reason:
    held = f", held {condition.hold_seconds:g}s after" if condition.hold_seconds else ""
    return Reason(rule=NAME, detail=f"{condition.name}: {watches(condition)}{held}")


def step(
    condition: Condition, state: ConditionState, value: bool | None, now: float
) -> tuple[ConditionState, float | None]:
    """The condition's next state, and when its hold ends (while in one)."""
    if value is True:
        return ConditionState(holds=True), None
    if not state.holds:
        return ConditionState(), None
    cleared_at = state.cleared_at
    if value is False and cleared_at is None:
        cleared_at = now
    if cleared_at is None:  # unknown while it holds: it holds
        return state, None
    ends = cleared_at + condition.hold_seconds
    if now >= ends:
        return ConditionState(), None
    return ConditionState(holds=True, cleared_at=cleared_at), ends


def conditions(view: View, memory: ConditionsMemory) -> Outcome[ConditionsMemory]:
    states: dict[str, ConditionState] = {}
    status: dict[str, ConditionStatus] = {}
    readings: dict[str, str] = {}
    media: list[Reason] = []
    presets: dict[str, tuple[PresetName, Reason]] = {}
    protected: dict[str, Reason] = {}
    pausing: list[Reason] = []
    wakes: list[float | None] = []
    notes: list[LogNote] = []
    groups = [g.name for g in view.cfg.process_groups]
    for condition in view.cfg.conditions:
        before = memory.conditions.get(condition.name, ConditionState())
        value, seen = reading(condition, view)
        state, ends = step(condition, before, value, view.now)
        wakes.append(ends)
        if state.holds != before.holds:
            event = "condition.holds" if state.holds else "condition.ended"
            notes.append(LogNote(event, "info", {"condition": condition.name, "reading": seen}))
        status[condition.name] = ConditionStatus(
            holds=state.holds, unknown=value is None, held_until=ends, detail=seen
        )
        if not state.holds:
            continue
        states[condition.name] = state
        readings[f"condition.{condition.name}"] = (
            f"{seen}; held {ends - view.now:.0f}s more" if ends is not None else seen
        )
        reason = reason_of(condition)
        if condition.media_mode:
            media.append(reason)
        if condition.pause_tier3:
            pausing.append(reason)
        if condition.preset is not None:
            for group in condition.process_groups or groups:
                presets.setdefault(group, (condition.preset, reason))
        for name in condition.protect:
            protected.setdefault(name, reason)

    paused: Mapping[str, ContainerIntent] = {}
    if pausing:
        paused = {
            c.name: ContainerIntent(tier=3, paused=True, reasons=pausing)
            for c in view.tier(3)
            if c.name not in protected
        }
    return Outcome(
        ConditionsMemory(conditions=states),
        containers=paused,
        notes=notes,
        wake_at=earliest(*wakes),
        readings=readings,
        status={"conditions": {n: s.model_dump() for n, s in status.items()}},
        modes=Modes(media=tuple(media), presets=presets, protected=protected),
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    def ends(c: Condition) -> str:
        after = f", then {c.hold_seconds:g} s more" if c.hold_seconds else ""
        return f"when {watches(c)} no longer holds{after}"

    return [
        ReasonCard(
            reason=NAME,
            rule="conditions",
            title="a host event holds: tier 3 paused, a preset, media mode or protection",
            controls={"3": ["paused"], "any": ["group_nice"]},
            ends="when what the condition watches no longer holds, then its hold",
            ends_by_detail={f"{c.name}: ": ends(c) for c in cfg.conditions},
            enabled=bool(cfg.conditions),
        )
    ]


RULE = Rule("conditions", ConditionsMemory, conditions, cards)
