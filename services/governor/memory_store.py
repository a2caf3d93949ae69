"""The governor's memory on the bus: to its retained topic, back from it, and from before.

Each rule's slice goes out as its own model dumps it and comes back through
that model, so one slice that no longer validates (a rule changed its memory)
starts that rule afresh and keeps every other.

Before the memory had its own topic it rode inside the retained desired state
(`governor`, one flat model of every rule's fields). An upgraded governor that
finds no memory of its own reads that old state once, checks its signature,
and carries everything over: a running installation loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from services.governor.policy import RULES, Memory
from services.governor.rules import (
    io_pressure,
    media_mode,
    memory_pressure,
    process_groups,
    protect,
    thermal,
)
from shared.messages import DesiredState, GovernorMemory, GovernorStatus, Switches
from shared.messages.base import PayloadError, describe_validation_error
from shared.messages.signature import Signature
from shared.signing import Keyring, verify, verify_payload


def to_message(host: str, seq: int, memory: Memory, status: GovernorStatus) -> GovernorMemory:
    # A rule at rest is left out: the retained message stays small.
    slices = {
        rule.name: memory.rules[rule.name].model_dump(mode="json")
        for rule in RULES
        if rule.name in memory.rules and memory.rules[rule.name] != rule.fresh()
    }
    return GovernorMemory(host=host, seq=seq, switches=memory.switches, status=status, rules=slices)


def from_message(message: GovernorMemory) -> tuple[Memory, dict[str, str]]:
    """The memory, and per rule whose slice did not validate, why (that rule starts afresh)."""
    return _restore(message.switches, message.rules)


def _restore(
    switches: Switches, slices: Mapping[str, Mapping[str, Any]]
) -> tuple[Memory, dict[str, str]]:
    restored: dict[str, BaseModel] = {}
    problems: dict[str, str] = {}
    for rule in RULES:
        raw = slices.get(rule.name)
        if raw is None:
            continue
        try:
            restored[rule.name] = rule.restore(raw)
        except ValidationError as exc:
            problems[rule.name] = describe_validation_error(exc)
    unknown = set(slices) - {rule.name for rule in RULES}
    problems.update(dict.fromkeys(sorted(unknown), "no such rule: dropped"))
    return Memory(switches, restored), problems


# --- the desired state's `governor` field, before the memory had a topic ---------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LegacyMemory(_Lenient):
    """The flat memory a governor before the memory topic kept in the desired state."""

    media_forced: bool = False
    tier3_manual_pause: bool = False
    media_active: bool = False
    media_cooldown_since: float | None = None
    squeeze_floor: dict[str, JsonValue] = {}
    preset: JsonValue = None
    process_groups: dict[str, JsonValue] = {}
    thermal_stage: int = 0
    thermal_recovery_since: float | None = None
    thermal_warned: bool = False
    io_throttled: bool = False
    io_recovery_since: float | None = None
    restarted_at: dict[str, JsonValue] = {}
    protect: dict[str, JsonValue] = {}


class RetainedDesired(_Lenient):
    """What the governor reads back of a retained desired state, of either version."""

    host: str
    seq: int
    signature: Signature | None = None
    governor: LegacyMemory | None = None


@dataclass(frozen=True)
class RetainedDesiredPayload:
    state: RetainedDesired
    # The payload as it came, to check a signature made over fields this version lacks.
    body: Mapping[str, Any]


def decode_retained_desired(payload: bytes) -> RetainedDesiredPayload:
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"desired state: not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise PayloadError("desired state: not a JSON object")
    try:
        return RetainedDesiredPayload(RetainedDesired.model_validate(body), body)
    except ValidationError as exc:
        raise PayloadError(f"desired state: {describe_validation_error(exc)}") from None


# The payloads it takes are desired states, so tests fuzz it with mutated ones.
decode_retained_desired.model = DesiredState  # type: ignore[attr-defined]


def from_legacy(old: LegacyMemory) -> tuple[Memory, dict[str, str]]:
    """The old flat memory, each rule's fields carried into its slice."""
    problems: dict[str, str] = {}
    try:
        switches = Switches.model_validate(
            {
                "media_forced": old.media_forced,
                "tier3_manual_pause": old.tier3_manual_pause,
                "preset": old.preset,
            }
        )
    except ValidationError as exc:
        problems["switches"] = describe_validation_error(exc)
        switches = Switches(
            media_forced=old.media_forced, tier3_manual_pause=old.tier3_manual_pause
        )
    memory, slice_problems = _restore(
        switches,
        {
            media_mode.RULE.name: {
                "active": old.media_active,
                "cooldown_since": old.media_cooldown_since,
            },
            memory_pressure.RULE.name: {
                "squeeze_floor": old.squeeze_floor,
                "restarted_at": old.restarted_at,
            },
            thermal.RULE.name: {
                "stage": old.thermal_stage,
                "recovery_since": old.thermal_recovery_since,
                "warned": old.thermal_warned,
            },
            io_pressure.RULE.name: {
                "throttled": old.io_throttled,
                "recovery_since": old.io_recovery_since,
            },
            protect.RULE.name: {"resources": old.protect},
            process_groups.RULE.name: {"groups": old.process_groups},
        },
    )
    return memory, {**problems, **slice_problems}


@dataclass(frozen=True)
class Restored:
    """Where a starting governor picks up: the memory, and the seq and epoch to go on from."""

    memory: Memory
    seq: int
    epoch: int
    # What to log: (level, event, fields), in order.
    notes: list[tuple[str, str, dict[str, Any]]]


def restore(
    host: str,
    desired: RetainedDesiredPayload | None,
    kept: GovernorMemory | None,
    keyring: Keyring | None,
    seq: int,
    epoch: int,
) -> Restored:
    """Pick up where the last governor left off, from what it signed (when we sign)."""
    notes: list[tuple[str, str, dict[str, Any]]] = []
    if desired is not None and desired.state.host != host:
        notes.append(("warning", "state.untrusted", {"reason": f"for host {desired.state.host!r}"}))
        desired = None
    if desired is not None:
        state = desired.state
        if keyring is not None and (
            problem := verify_payload("DesiredState", desired.body, keyring)
        ):
            # Not ours: whoever wrote it must not choose what we remember.
            notes.append(("warning", "state.untrusted", {"seq": state.seq, "reason": problem}))
            desired = None
        else:
            seq = max(seq, state.seq)
            if state.signature is not None:
                epoch = max(epoch, state.signature.epoch + 1)
    if kept is not None and keyring is not None:
        if (problem := verify(kept, keyring)) is not None:
            notes.append(("warning", "memory.untrusted", {"seq": kept.seq, "reason": problem}))
            kept = None
        elif kept.signature is not None:
            epoch = max(epoch, kept.signature.epoch + 1)
    memory, source, problems = Memory(), "none", dict[str, str]()
    if kept is not None and kept.host == host:
        memory, problems = from_message(kept)
        seq = max(seq, kept.seq)
        source = "memory"
    elif desired is not None and desired.state.governor is not None:
        memory, problems = from_legacy(desired.state.governor)
        source = "desired_state (before the memory topic)"
    for rule, why in problems.items():
        notes.append(("warning", "memory.slice_dropped", {"rule": rule, "reason": why}))
    if source != "none":
        restored = {
            "source": source,
            "seq": seq,
            "media_forced": memory.switches.media_forced,
            "tier3_manual_pause": memory.switches.tier3_manual_pause,
            "rules": ",".join(sorted(memory.rules)) or "none",
        }
        notes.append(("info", "state.restored", restored))
    return Restored(memory, seq, epoch, notes)
