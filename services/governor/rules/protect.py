"""Protect (Warden's own rule, beside ADRG's): act on a protected container's own stall.

ADRG's rules wait for the host's avg10 to climb past a threshold, which takes
seconds after a hog starts. This rule reads the stall of each protected
container's own cgroup (tier 0, tier 1, protected_containers): a PSI trigger of
its own firing, or its some-stall over the last window above the configured
share. While one stalls on a resource, the bulk container using most of that
resource now (tier 3 first, then tier 2) is limited: io.max for an io stall
(on the disks the stalled containers use, and chosen by its use of them),
cpu.max for a cpu stall and for a memory stall (a container growing its memory
fastest is slowed down where it allocates). The first limit is its current use
times step_factor ** first_steps (a stall that fired a trigger has lasted a
window already); each new reading that still stalls and is not falling (as
oomd's pressure_rising_beyond: only a stall that keeps up or rises calls for
more) tightens every limit a step, down to the floors, and once all are at
their floor the next biggest user joins. After hold_seconds with no stall, every
limit is loosened a step, and again after each further hold, until gone.

Unknown never throttles and never loosens: no pressure fact (or a stale one),
or a protected container whose stall cannot be read yet. A reading that lists
no protected container is calm: with nothing left to protect, limits go.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from services.governor.rule import Outcome, Rule, View, merge_intent
from services.governor.stalls import Resource as ProtectResource
from services.governor.stalls import Stall, disks_used, io_limit, stall_of, union, use_of
from shared.config.model import Protect, WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    ContainerUsage,
    CpuMax,
    PressureFact,
    Reason,
    ReasonCard,
)
from shared.messages.base import BlockDevice, Strict
from shared.tier_matcher import TierMatcher
from shared.units import MB_PER_SEC

NAME = "protect"
RESOURCES: tuple[ProtectResource, ...] = ("io", "cpu", "memory")
CPU_PERIOD_US = 100_000
# The kernel's smallest cpu.max quota the actuator accepts.
MIN_CPU_QUOTA_US = 1000


class ProtectThrottle(Strict):
    """One container's limit: bytes/s (io) or % of the machine (cpu)."""

    limit: Annotated[float, Field(gt=0)]
    steps: Annotated[int, Field(ge=1)]
    # io: the disks it holds on, those the stalled containers used when it was set or
    # tightened; None: every disk behind the container's data.
    disks: list[BlockDevice] | None = None


class ProtectMemory(Strict):
    """The rule's state for one contended resource."""

    # Wall-clock time of the latest reading in which a protected container stalled.
    stalled_at: float | None = None
    # Wall-clock time of the latest step (tightening or loosening).
    stepped_at: float | None = None
    # The stall share of the latest stalled reading, to tell a falling stall.
    share: float | None = None
    # Wall-clock arrival of the reading last looked at: one reading, at most one step.
    reading_at: float | None = None
    throttles: dict[str, ProtectThrottle] = {}


class ProtectState(Strict):
    """The rule's memory slice: per contended resource."""

    resources: dict[ProtectResource, ProtectMemory] = {}


@dataclass(frozen=True)
class ProtectOutcome:
    memory: dict[ProtectResource, ProtectMemory]
    # Container name -> its limits, the tighter of each where two resources limit it.
    limits: dict[str, ContainerIntent] = field(default_factory=dict)
    wake_at: float | None = None
    # Live readings, for debug logs and the decision's attributes: never in a reason.
    readings: dict[str, str] = field(default_factory=dict)


def _minimum(cfg: Protect, resource: str) -> float:
    if resource == "io":
        return cfg.min_io_mb_per_sec * MB_PER_SEC
    if resource == "cpu":
        return cfg.min_cpu_percent
    return cfg.min_memory_growth_mb_per_sec * MB_PER_SEC


def _floor(cfg: Protect, resource: str, cpu_count: int) -> float:
    if resource == "io":
        return cfg.io_floor_mb_per_sec * MB_PER_SEC
    # Never below the smallest quota the actuator takes.
    smallest = 100 * MIN_CPU_QUOTA_US / (CPU_PERIOD_US * cpu_count)
    return max(cfg.cpu_floor_percent, smallest)


def _next_candidate(
    cfg: Protect,
    resource: str,
    candidates: Sequence[tuple[ContainerFact, int]],
    usage: dict[str, ContainerUsage],
    taken: Iterable[str],
    disks: frozenset[str] | None,
) -> tuple[str, float] | None:
    """The biggest known user not yet limited, tier 3 before tier 2, and where to start."""
    skip = set(taken)
    for tier in (3, 2):
        users = []
        for container, t in candidates:
            u = usage.get(container.name)
            if t != tier or container.state != "running" or container.name in skip or u is None:
                continue
            used = use_of(resource, u, disks)
            # A memory stall is answered with cpu.max: its start is the container's cpu use.
            start = u.cpu_percent if resource == "memory" else used
            if used is None or start is None or used < _minimum(cfg, resource) or start <= 0:
                continue
            users.append((used, container.name, start))
        if users:
            _, name, start = max(users)
            return name, start
    return None


def protect(
    cfg: Protect,
    matcher: TierMatcher,
    memory: dict[ProtectResource, ProtectMemory],
    pressure: PressureFact | None,
    pressure_seen_at: float | None,
    usage: Sequence[ContainerUsage] | None,
    candidates: Sequence[tuple[ContainerFact, int]],
    cpu_count: int,
    step_seconds: float,
    now: float,
) -> ProtectOutcome:
    """pressure, usage: fresh facts or None (unknown); candidates: the enforceable containers."""
    if not cfg.enabled:
        return ProtectOutcome({})
    by_name = {u.name: u for u in usage} if usage is not None else {}
    live = {c.name: tier for c, tier in candidates if tier in (2, 3)}
    states: dict[ProtectResource, ProtectMemory] = {}
    limits: dict[str, ContainerIntent] = {}
    readings: dict[str, str] = {}
    wakes: list[float] = []
    for resource in RESOURCES:
        before = memory.get(resource, ProtectMemory())
        # A container gone (or out of tiers 2-3) is no longer ours to limit.
        throttles = {n: t for n, t in before.throttles.items() if n in live}
        state = before.model_copy(update={"throttles": throttles})
        stall = stall_of(cfg, matcher, pressure, resource)
        if stall.state == "stalled":
            share = f"{stall.share:.1f}%" if stall.share is not None else "trigger"
            readings[f"{NAME}.{resource}"] = f"stalled: {', '.join(stall.who)} {share}"
        world = World(candidates, by_name, cpu_count, _contended(resource, stall, by_name))
        state, wake = _step(cfg, resource, state, stall, pressure_seen_at, step_seconds, now, world)
        if wake is not None:
            wakes.append(wake)
        if state != ProtectMemory():
            states[resource] = state
        threshold = getattr(cfg.stall_percent, resource)
        for name, throttle in state.throttles.items():
            reason = Reason(
                rule=NAME,
                metric=f"{resource}.some_stall_percent",
                threshold=threshold,
                detail=f"step {throttle.steps}",
            )
            ask = _limit(resource, throttle, cpu_count, live[name], reason)
            limits[name] = merge_intent(limits.get(name), ask)
    return ProtectOutcome(states, limits, min(wakes) if wakes else None, readings)


@dataclass(frozen=True)
class World:
    """What one step sees besides the stall."""

    candidates: Sequence[tuple[ContainerFact, int]]
    usage: dict[str, ContainerUsage]
    cpu_count: int
    # io: the disks the stalled containers use (None: every disk, or not io).
    disks: frozenset[str] | None


def _contended(
    resource: str, stall: Stall, usage: dict[str, ContainerUsage]
) -> frozenset[str] | None:
    if resource != "io" or stall.state != "stalled" or any(n not in usage for n in stall.who):
        return None
    return disks_used([usage[n] for n in stall.who])


def _step(
    cfg: Protect,
    resource: str,
    state: ProtectMemory,
    stall: Stall,
    seen_at: float | None,
    step_seconds: float,
    now: float,
    world: World,
) -> tuple[ProtectMemory, float | None]:
    """One resource: its next state, and when to look again."""
    cpu_count = world.cpu_count
    if stall.state == "unknown":
        return state, None
    if stall.state == "calm":
        if not state.throttles:
            return ProtectMemory(), None
        since = max(t for t in (state.stalled_at, state.stepped_at) if t is not None)
        if now - since < cfg.hold_seconds:
            return state.model_copy(update={"share": None}), since + cfg.hold_seconds
        loosened = {
            n: t.model_copy(update={"limit": t.limit / cfg.step_factor, "steps": t.steps - 1})
            for n, t in state.throttles.items()
            if t.steps > 1
        }
        if not loosened:
            return ProtectMemory(), None
        updated = state.model_copy(update={"throttles": loosened, "stepped_at": now, "share": None})
        return updated, now + cfg.hold_seconds

    fresh = seen_at is not None and (state.reading_at is None or seen_at > state.reading_at)
    falling = stall.share is not None and state.share is not None and stall.share < state.share
    spaced = state.stepped_at is None or now - state.stepped_at >= step_seconds
    updated = state.model_copy(
        update={
            "stalled_at": now,
            "reading_at": seen_at if fresh else state.reading_at,
            "share": stall.share if fresh else state.share,
        }
    )
    # A stall nobody is limited for yet is acted on as soon as usage says whom to limit,
    # not a window later: the usage fact may arrive after the reading that stalled.
    if not ((fresh or not state.throttles) and spaced) or falling:
        return updated, None
    floor = _floor(cfg, resource, cpu_count)
    throttles = dict(updated.throttles)
    tighter = {
        n: ProtectThrottle(
            limit=max(floor, t.limit * cfg.step_factor),
            steps=t.steps + 1,
            disks=union(t.disks, world.disks),
        )
        for n, t in throttles.items()
        if t.limit > floor
    }
    if tighter:
        throttles.update(tighter)
    else:
        joining = _next_candidate(
            cfg, resource, world.candidates, world.usage, throttles, world.disks
        )
        if joining is None:
            return updated, None  # nobody left to limit: at the floors, or using nothing
        name, start = joining
        first = start * cfg.step_factor**cfg.first_steps
        throttles[name] = ProtectThrottle(
            limit=max(floor, first),
            steps=cfg.first_steps,
            disks=sorted(world.disks) if world.disks is not None else None,
        )
    return updated.model_copy(update={"throttles": throttles, "stepped_at": now}), None


def _limit(
    resource: str, throttle: ProtectThrottle, cpu_count: int, tier: int, reason: Reason
) -> ContainerIntent:
    if resource == "io":
        bps = max(1, int(throttle.limit))
        return ContainerIntent(tier=tier, io_max=io_limit(bps, throttle.disks), reasons=[reason])
    quota = int(throttle.limit / 100 * CPU_PERIOD_US * cpu_count)
    cpu = CpuMax(quota_us=max(MIN_CPU_QUOTA_US, quota), period_us=CPU_PERIOD_US)
    return ContainerIntent(tier=tier, cpu_max=cpu, reasons=[reason])


def protect_rule(view: View, memory: ProtectState) -> Outcome[ProtectState]:
    resources = view.resources.containers if view.resources is not None else None
    step = protect(
        view.cfg.protect,
        view.matcher,
        memory.resources,
        view.pressure,
        view.pressure_seen_at,
        resources,
        view.targets,
        view.cpu_count,
        float(view.cfg.sensors.psi_window_seconds),
        view.now,
    )
    return Outcome(
        ProtectState(resources=step.memory),
        containers=step.limits,
        wake_at=step.wake_at,
        readings=step.readings,
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    p = cfg.protect
    return [
        ReasonCard(
            reason=NAME,
            rule=NAME,
            title="a protected container stalls: the bulk container using most of that "
            "resource limited, a step at a time",
            controls={"2": ["io_max", "cpu_max"], "3": ["io_max", "cpu_max"]},
            ends=f"loosened a step after {p.hold_seconds:g} s without a stall, "
            "lifted after the last",
            enabled=p.enabled,
        )
    ]


RULE = Rule(NAME, ProtectState, protect_rule, cards)
