"""What the yields (cpu_yield, io_yield) share: whether protected work runs, and a yield that
starts with it and ends a hold after it. Pure.

A yield needs no stall to start: bulk work gives way before it can hurt. It starts while
any protected container (tier 0, tier 1, protected_containers) is active, using at least a
threshold of the resource, or stalls on it; it ends hold_seconds after the last reading
that was either. Unknown never starts and never ends it: no fresh resources fact, or
protected containers whose use is not known yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from shared.messages import ContainerUsage
from shared.messages.base import Strict
from shared.tiers import TierMatcher

Activity = Literal["active", "quiet", "unknown"]


class YieldState(Strict):
    """A yield's memory slice: whether tier 3 yields, and since when nothing protected ran."""

    yielding: bool = False
    # Wall-clock time of the first calm reading since protected work last ran; None while
    # it runs. Only edges change it, so the memory is not re-published every reading.
    quiet_since: float | None = None


def protected_activity(
    matcher: TierMatcher,
    usage: Sequence[ContainerUsage] | None,
    use: Callable[[ContainerUsage], float | None],
    threshold: float,
) -> Activity:
    """ "active" when a protected container's use reaches the threshold."""
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
) -> tuple[YieldState, float | None]:
    """The next state, and when it ends by itself."""
    if not enabled:
        return YieldState(), None
    if activity == "active" or stalled:
        return YieldState(yielding=True), None
    if not state.yielding or activity == "unknown":
        return state, None
    since = state.quiet_since if state.quiet_since is not None else now
    if now - since >= hold_seconds:
        return YieldState(), None
    return YieldState(yielding=True, quiet_since=since), since + hold_seconds
