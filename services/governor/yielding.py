"""What the yields (cpu_yield, io_yield) share: whether protected work runs, a yield that
starts with it and ends a hold after it, and the rule that asks every tier-3 container to
give way meanwhile. Each yield is a `YieldSpec`. Pure.

A yield needs no stall to start: bulk work gives way before it can hurt. It starts while
any protected container (tier 0, tier 1, protected_containers) is active, using at least a
threshold of the resource, or stalls on it; it ends hold_seconds after the last reading
that was either. Unknown never starts and never ends it: no fresh resources fact, or
protected containers whose use is not known yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from services.governor.rule import Outcome, Rule, View
from services.governor.stalls import Resource as ProtectResource
from services.governor.stalls import stall_of, union
from shared.config.model import Protect, WardenConfig
from shared.messages import ContainerIntent, ContainerUsage, Reason, ReasonCard
from shared.messages.base import BlockDevice, Strict
from shared.messages.catalogue import Control
from shared.tier_matcher import TierMatcher

Activity = Literal["active", "quiet", "unknown"]


class YieldState(Strict):
    """A yield's memory slice: whether tier 3 yields, and since when nothing protected ran."""

    yielding: bool = False
    # Wall-clock time of the first calm reading since protected work last ran; None while
    # it runs. Only edges change it, so the memory is not re-published every reading.
    quiet_since: float | None = None
    # io: the disks it yields on, every disk protected work used since the yield began, so
    # it only widens until it ends. None: every disk (and for cpu, which has no disks).
    disks: list[BlockDevice] | None = None


def widened(state: YieldState, disks: frozenset[str] | None) -> list[str] | None:
    """The disks a yield holds on after this reading (None: every disk)."""
    if not state.yielding:
        return sorted(disks) if disks is not None else None
    return union(state.disks, disks)


def protected_activity(
    matcher: TierMatcher,
    usage: Sequence[ContainerUsage] | None,
    use: Callable[[ContainerUsage], float | None],
    threshold: float,
) -> Activity:
    """Active as soon as one protected container's use reaches the threshold."""
    if usage is None:
        return "unknown"
    used = [use(u) for u in usage if matcher.watched(u.name)]
    if any(u is not None and u >= threshold for u in used):
        return "active"
    return "unknown" if any(u is None for u in used) else "quiet"


def next_state(
    enabled: bool,
    hold_seconds: float,
    state: YieldState,
    activity: Activity,
    stalled: bool,
    now: float,
    disks: frozenset[str] | None = None,
) -> tuple[YieldState, float | None]:
    """The next state, and when it ends by itself. disks: those the protected work that is
    active or stalls now uses (None: not known, so every disk)."""
    if not enabled:
        return YieldState(), None
    if activity == "active" or stalled:
        return YieldState(yielding=True, disks=widened(state, disks)), None
    if not state.yielding or activity == "unknown":
        return state, None
    since = state.quiet_since if state.quiet_since is not None else now
    if now - since >= hold_seconds:
        return YieldState(), None
    held = YieldState(yielding=True, quiet_since=since, disks=state.disks)
    return held, since + hold_seconds


@dataclass(frozen=True)
class YieldSpec:
    name: str
    # A stall on it starts the yield too.
    resource: ProtectResource
    # How a container's use reads ("protected.<metric>" in the reason), on a machine of
    # this many CPUs, and from which use on it is active.
    metric: str
    use: Callable[[ContainerUsage, int], float | None]
    threshold: Callable[[Protect], float]
    enabled: Callable[[Protect], bool]
    hold_seconds: Callable[[Protect], float]
    # What a tier-3 container is asked for while it yields, on which disks (None: all).
    ask: Callable[[Protect, Reason, list[str] | None], ContainerIntent]
    # What it is, in a line, and what it sets on tier 3 (the catalogue's card).
    title: str
    controls: list[Control]
    # The disks the given protected containers use (the active and the stalled ones);
    # None: every disk, as for a resource without disks.
    disks: Callable[[Sequence[ContainerUsage]], frozenset[str] | None] = lambda _: None


def yield_rule(spec: YieldSpec) -> Rule[YieldState]:
    def run(view: View, memory: YieldState) -> Outcome[YieldState]:
        cfg = view.cfg.protect
        usage = view.resources.containers if view.resources is not None else None
        threshold = spec.threshold(cfg)

        def use(u: ContainerUsage) -> float | None:
            return spec.use(u, view.cpu_count)

        activity = protected_activity(view.matcher, usage, use, threshold)
        stall = stall_of(cfg, view.matcher, view.pressure, spec.resource)
        stalled = stall.state == "stalled"

        def involved(u: ContainerUsage) -> bool:
            used = use(u)
            active = used is not None and used >= threshold
            return view.matcher.watched(u.name) and (active or u.name in stall.who)

        disks = None
        # A stalled container with no usage yet could be anywhere.
        located = usage is not None and set(stall.who) <= {u.name for u in usage}
        if usage is not None and located and (activity == "active" or stalled):
            disks = spec.disks([u for u in usage if involved(u)])
        enabled = cfg.enabled and spec.enabled(cfg)
        hold = spec.hold_seconds(cfg)
        state, wake_at = next_state(enabled, hold, memory, activity, stalled, view.now, disks)
        if not state.yielding:
            return Outcome(state, wake_at=wake_at)
        reason = Reason(
            rule=spec.name,
            metric=f"protected.{spec.metric}",
            threshold=threshold,
            detail=f"or a stall on {spec.resource}; ends {hold:g}s after",
        )
        asks = {c.name: spec.ask(cfg, reason, state.disks) for c in view.tier(3)}
        readings = {f"{spec.name}.activity": activity}
        return Outcome(state, containers=asks, wake_at=wake_at, readings=readings)

    def cards(cfg: WardenConfig) -> list[ReasonCard]:
        protect = cfg.protect
        return [
            ReasonCard(
                reason=spec.name,
                rule=spec.name,
                title=spec.title,
                controls={"3": spec.controls},
                ends=f"{spec.hold_seconds(protect):g} s after protected work goes quiet",
                enabled=protect.enabled and spec.enabled(protect),
            )
        ]

    return Rule(spec.name, YieldState, run, cards)
