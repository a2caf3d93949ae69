"""What a rule sees (`View`), built for table tests: one tier-3 and one tier-2 container."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from services.governor.memory_store import LegacyMemory, from_legacy
from services.governor.policy import Memory
from services.governor.rule import Outcome, Rule, Target, View
from services.governor.rules import io_pressure, media_mode, memory_pressure, thermal
from services.governor.triggers import apply_trigger
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerPressure,
    PressureFact,
    PressureLine,
    PsiTriggerFired,
    Reason,
    ResourcePressure,
    StallShare,
    StreamSession,
    StreamsFact,
    ThermalFact,
    Trigger,
)
from shared.messages.facts import PsiResource

BULK = ContainerFact(id="b" * 12, name="bulk", state="running", tier=3, rss_bytes=1 << 30)
ARR = ContainerFact(id="a" * 12, name="arr", state="running", tier=2, rss_bytes=1 << 30)
TARGETS: tuple[Target, ...] = ((BULK, 3), (ARR, 2))


def view(
    cfg: WardenConfig | None = None,
    now: float = 0.0,
    targets: tuple[Target, ...] = TARGETS,
    **facts: Any,
) -> View:
    """`sessions=` stands for a media server's report of them (None: unknown)."""
    cfg = cfg or WardenConfig(host_id="h")
    if "sessions" in facts:
        facts["stream_report"] = stream_report(facts.pop("sessions"))
    return View(cfg=cfg, matcher=cfg.tier_matcher(), now=now, targets=targets, **facts)


def stream_report(sessions: Sequence[StreamSession] | None) -> StreamsFact | None:
    """The sensors' streams fact with these sessions (a known count); None: unknown."""
    if sessions is None:
        return None
    playing = sum(1 for s in sessions if s.state == "playing")
    return StreamsFact(
        host="h", source="plex api", provider="plex", count=playing, sessions=list(sessions)
    )


def pressure(
    some10: float = 0,
    some60: float = 0,
    full10: float | None = 0,
    io10: float | None = None,
) -> PressureFact:
    """The host's memory pressure (and io's, when io10 is given) as the sensors report it;
    full10=None: a kernel without a full line."""

    def line(avg10: float = 0, avg60: float = 0) -> PressureLine:
        return PressureLine(avg10=avg10, avg60=avg60, avg300=0, total=1)

    return PressureFact(
        host="h",
        memory=ResourcePressure(
            some=line(some10, some60), full=None if full10 is None else line(full10)
        ),
        io=None if io10 is None else ResourcePressure(some=line(io10)),
    )


def heat(celsius: float | None) -> ThermalFact:
    return ThermalFact(host="h", available=celsius is not None, max_celsius=celsius)


def own_stall(name: str, resource: PsiResource, share: float, fired: bool = False) -> PressureFact:
    """A pressure reading in which one container's own cgroup stalls on a resource for a
    share of a 2 s window; fired: its trigger fired too."""
    trigger = PsiTriggerFired(
        scope=name, resource=resource, line="some", stall_us=1, window_us=2_000_000
    )
    stall = [StallShare(resource=resource, some_percent=share, seconds=2)]
    return PressureFact(
        host="h",
        containers=[ContainerPressure(id=name, name=name, source="", stall=stall)],
        fired=[trigger] if fired else [],
    )


def reasons(outcome: Outcome[Any], container: str) -> list[Reason]:
    intent = outcome.containers.get(container)
    return list(intent.reasons) if intent else []


def first_reason(outcome: Outcome[Any], container: str) -> Reason | None:
    found = reasons(outcome, container)
    return found[0] if found else None


def status_table(outcome: Outcome[Any], field: str) -> Mapping[str, Any]:
    """A status field that is a table (conditions', schedules'): the field's type also
    takes the plain values other rules report there."""
    table = outcome.status[field]
    assert isinstance(table, Mapping), table
    return table


def steps(rule: Rule[Any], views: list[View]) -> list[Outcome[Any]]:
    """The rule over a sequence of views, each seeing the memory the one before left."""
    memory, outcomes = rule.fresh(), []
    for v in views:
        out = rule.run(v, memory)
        outcomes.append(out)
        memory = out.memory
    return outcomes


def remembered(**fields: Any) -> Memory:
    """The governor's memory from the flat field names it once had (media_active=...,
    thermal_stage=..., squeeze_floor=...), through the same migration an upgrade takes."""
    memory, problems = from_legacy(LegacyMemory(**fields))
    assert not problems, problems
    return memory


def flat(memory: Memory) -> LegacyMemory:
    """The memory as one flat record, for assertions that read across rules."""
    media = memory.of(media_mode.RULE)
    heat = memory.of(thermal.RULE)
    io = memory.of(io_pressure.RULE)
    pressure = memory.of(memory_pressure.RULE)
    return LegacyMemory(
        media_forced=memory.switches.media_forced,
        tier3_manual_pause=memory.switches.tier3_manual_pause,
        preset=memory.switches.preset,
        media_active=media.active,
        media_cooldown_since=media.cooldown_since,
        squeeze_floor=dict(pressure.squeeze_floor),
        restarted_at=dict(pressure.restarted_at),
        thermal_stage=heat.stage,
        thermal_recovery_since=heat.recovery_since,
        thermal_warned=heat.warned,
        io_throttled=io.throttled,
        io_recovery_since=io.recovery_since,
    )


def switched(memory: Memory, **switches: Any) -> Memory:
    """The memory with some switches flipped, as a trigger or the preset select would."""
    return replace(memory, switches=memory.switches.model_copy(update=switches))


def triggered(memory: Memory, event: str) -> Memory:
    """The memory after an ADRG trigger (media_start, tier3_pause, ...)."""
    return replace(
        memory, switches=apply_trigger(memory.switches, Trigger.model_validate({"event": event}))
    )


# A home server with a stream to protect: the tiers the protect and incident tables use.
STREAM_TIERS = {
    0: {"containers": ["pihole"]},
    1: {"containers": ["jellyfin", "plex"]},
    2: {"containers": ["sonarr"]},
    3: {"containers": ["tdarr", "kopia"]},
}


def stall_fact(
    shares: Mapping[str, float | None], fired: Sequence[str] = (), **host: Any
) -> PressureFact:
    """A pressure fact with each protected container's io stall share (None: unknown), the
    container triggers that fired, and the host's own lines as given."""
    return PressureFact(
        host="h",
        containers=[
            ContainerPressure(
                id=name,
                name=name,
                source="",
                stall=[] if s is None else [StallShare(resource="io", some_percent=s, seconds=2)],
            )
            for name, s in shares.items()
        ],
        fired=[
            PsiTriggerFired(scope=n, resource="io", line="some", stall_us=1, window_us=2_000_000)
            for n in fired
        ],
        **host,
    )
