"""When the actuator may restart a container: its own rules, whatever the governor asks. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from services.actuator.safety import restart_refusal as tier_refusal
from shared.config import WardenConfig
from shared.messages import Reason
from shared.tier_matcher import TierMatcher


@dataclass(frozen=True)
class RestartBounds:
    per_container_seconds: float
    global_seconds: float


def restart_refusal(
    name: str,
    reasons: list[Reason],
    matcher: TierMatcher,
    last_restart_of: dict[str, float],
    last_restart_any: float | None,
    now: float,
    bounds: RestartBounds,
) -> str | None:
    """The reason to refuse, or None to go ahead. Times are wall-clock seconds."""
    tier = matcher.tier_of(name)
    if tier is None:
        return "not in any tier of the config"
    if (refused := tier_refusal(tier, matcher.is_protected(name), reasons)) is not None:
        return refused
    last = last_restart_of.get(name)
    if last is not None and now - last < bounds.per_container_seconds:
        wait = bounds.per_container_seconds - (now - last)
        return f"restarted {now - last:.0f}s ago; per-container limit: next in {wait:.0f}s"
    if last_restart_any is not None and now - last_restart_any < bounds.global_seconds:
        wait = bounds.global_seconds - (now - last_restart_any)
        return f"a restart ran {now - last_restart_any:.0f}s ago; global limit: next in {wait:.0f}s"
    return None


def restart_bounds(cfg: WardenConfig) -> RestartBounds:
    cooldown = cfg.memory_pressure.restart_cooldown_seconds
    settings = cfg.actuator
    return RestartBounds(
        per_container_seconds=settings.restart_container_interval_seconds or cooldown,
        global_seconds=settings.restart_global_interval_seconds or cooldown,
    )
