"""All rules composed: (config, facts, memory, time) -> the desired state. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.governor.outcome import EventDraft, earliest
from services.governor.rules.media_mode import media_mode
from services.governor.rules.memory_squeeze import memory_squeeze
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    ContainerInventory,
    CpuMax,
    GovernorMemory,
    IoMax,
    PressureFact,
    Reason,
)
from shared.tiers import TierMatcher
from shared.units import MB_PER_SEC

CPU_PERIOD_US = 100_000
# Providers with no stream count to wait for.
STREAMLESS_PROVIDERS = ("webhook", "none")
# A container in these states has processes a rule can act on.
LIVE_STATES = ("running", "paused")


@dataclass(frozen=True)
class Facts:
    pressure: PressureFact | None = None
    inventory: ContainerInventory | None = None
    # Active media streams; None: no sensor reports them (unknown, not zero).
    streams: int | None = None
    # Wall-clock time the streams reading arrived; older than stale_after_seconds: unknown.
    streams_seen_at: float | None = None


@dataclass(frozen=True)
class Decision:
    memory: GovernorMemory
    media_mode: bool
    containers: dict[str, ContainerIntent]
    events: list[EventDraft] = field(default_factory=list)
    # Wall-clock time at which the decision changes by itself (a cooldown ends).
    wake_at: float | None = None
    # The download client's global limit while media plays (ADRG's download_throttle).
    download_limit_bps: int | None = None


def enforceable(
    inventory: ContainerInventory | None, matcher: TierMatcher
) -> list[tuple[ContainerFact, int]]:
    """Live containers in tiers 1-3 that are not protected: the only ones rules may target."""
    if inventory is None:
        return []
    result = []
    for container in inventory.containers:
        tier = matcher.tier_of(container.name)
        if (
            tier in (1, 2, 3)
            and container.state in LIVE_STATES
            and not matcher.is_protected(container.name)
        ):
            result.append((container, tier))
    return result


def fresh_streams(facts: Facts, now: float, stale_after: float) -> tuple[int | None, float | None]:
    """The stream count as of now (None once the reading is stale), and when it goes stale.

    A reading from a sensor that has gone silent says nothing about now: it
    is unknown, with what unknown means to the rules (it never ends media mode).
    """
    if facts.streams is None or facts.streams_seen_at is None:
        return facts.streams, None
    stale_at = facts.streams_seen_at + stale_after
    if now >= stale_at:
        return None, None
    return facts.streams, stale_at


def decide(
    cfg: WardenConfig, matcher: TierMatcher, facts: Facts, memory: GovernorMemory, now: float
) -> Decision:
    streams, streams_stale_at = fresh_streams(
        facts, now, cfg.governor.streams_stale_after(cfg.media_mode)
    )
    if streams is None and cfg.media_mode.provider in STREAMLESS_PROVIDERS:
        streams = 0  # nothing reports streams: triggers alone drive media mode
    media = media_mode(cfg.media_mode, memory, streams, now)
    targets = enforceable(facts.inventory, matcher)
    tier3 = [c for c, tier in targets if tier == 3]
    squeeze = memory_squeeze(
        cfg.memory_pressure, cfg.tier(3), facts.pressure, tier3, memory.squeeze_floor
    )
    cpu_count = facts.inventory.cpu_count if facts.inventory else 1
    manual = Reason(rule="manual_pause", detail="tier3_pause trigger")

    intents: dict[str, ContainerIntent] = {}
    for container, tier in targets:
        reasons: list[Reason] = []
        paused = False
        cpu_max = io_max = memory_high = None
        if tier == 3:
            pause_reasons = [
                r for r in (media.reason, manual if memory.tier3_manual_pause else None) if r
            ]
            paused = bool(pause_reasons)
            reasons += pause_reasons
        if tier == 2 and media.reason:
            mm = cfg.media_mode
            cpu_max = CpuMax(
                quota_us=max(1000, int(mm.tier2_cpu_max_percent / 100 * CPU_PERIOD_US * cpu_count)),
                period_us=CPU_PERIOD_US,
            )
            io_max = IoMax(
                read_bps=int(mm.tier2_io_max_read_mb_per_sec * MB_PER_SEC),
                write_bps=int(mm.tier2_io_max_write_mb_per_sec * MB_PER_SEC),
            )
            reasons.append(media.reason)
        if container.name in squeeze.floors and squeeze.reason:
            memory_high = squeeze.floors[container.name]
            reasons.append(squeeze.reason)
        if reasons:
            intents[container.name] = ContainerIntent(
                tier=tier,
                paused=paused,
                memory_high=memory_high,
                cpu_max=cpu_max,
                io_max=io_max,
                reasons=reasons,
            )

    updated = media.memory.model_copy(update={"squeeze_floor": squeeze.floors})
    return Decision(
        memory=updated,
        media_mode=media.memory.media_active,
        containers=intents,
        events=list(media.events),
        wake_at=earliest(media.wake_at, streams_stale_at),
        download_limit_bps=download_limit(cfg, media.reason is not None),
    )


def download_limit(cfg: WardenConfig, media_on: bool) -> int | None:
    throttle = cfg.media_mode.download_throttle
    if not (media_on and throttle.enabled):
        return None
    return int(throttle.limit_mb_per_sec * MB_PER_SEC)
