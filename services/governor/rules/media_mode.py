"""Media mode (ADRG rule 4): on while streams play or a trigger forces it; off after a cooldown.

While it is on, tier 3 is paused, tier 2 gets cpu.max and io.max, and the
download client gets its global limit. A schedule's quiet hours or a
condition (Unraid's mover, a backup) forces it too, through the modes the
rules before it set; their reason is the detail.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.governor.outcome import EventDraft
from services.governor.rule import Outcome, Rule, Target, View
from shared.config.model import MediaMode
from shared.messages import ContainerIntent, CpuMax, IoMax, Reason
from shared.messages.base import Strict
from shared.units import MB_PER_SEC

CPU_PERIOD_US = 100_000


class MediaMemory(Strict):
    active: bool = False
    # Wall-clock start of the cooldown, if one is running.
    cooldown_since: float | None = None


def media_mode(view: View, memory: MediaMemory) -> Outcome[MediaMemory]:
    """Unknown streams are not zero: an unknown count never ends media mode, it only
    cannot start it."""
    cfg = view.cfg.media_mode
    forced = _forced_by(view)
    memory, reason, events, wake_at = _step(cfg, memory, forced, view.streams, view.now)
    if reason is None:
        return Outcome(memory, events=events, status={"media_mode": memory.active})
    intents = treatment(cfg, view.targets, view.cpu_count, reason)
    throttle = cfg.download_throttle
    return Outcome(
        memory,
        containers=intents,
        events=events,
        wake_at=wake_at,
        status={"media_mode": memory.active},
        download_limit_bps=int(throttle.limit_mb_per_sec * MB_PER_SEC)
        if throttle.enabled
        else None,
        readings={"media_mode": f"cooldown ends in {wake_at - view.now:.0f}s"} if wake_at else {},
    )


def _forced_by(view: View) -> str | None:
    """What forces media mode on, in words; None: nothing does (streams may still)."""
    why = ["trigger"] if view.switches.media_forced else []
    why += [r.detail or r.rule for r in view.modes.media]
    return ", ".join(why) if why else None


def treatment(
    cfg: MediaMode, targets: Iterable[Target], cpu_count: int, reason: Reason
) -> dict[str, ContainerIntent]:
    """What media mode asks of these containers: tier 3 paused, tier 2 held back."""
    cpu_max, io_max = _tier2_limits(cfg, cpu_count)
    intents = {}
    for container, tier in targets:
        if tier == 3:
            intents[container.name] = ContainerIntent(tier=3, paused=True, reasons=[reason])
        elif tier == 2:
            intents[container.name] = ContainerIntent(
                tier=2, cpu_max=cpu_max, io_max=io_max, reasons=[reason]
            )
    return intents


def _tier2_limits(cfg: MediaMode, cpu_count: int) -> tuple[CpuMax, IoMax]:
    cpu = CpuMax(
        quota_us=max(1000, int(cfg.tier2_cpu_max_percent / 100 * CPU_PERIOD_US * cpu_count)),
        period_us=CPU_PERIOD_US,
    )
    io = IoMax(
        read_bps=int(cfg.tier2_io_max_read_mb_per_sec * MB_PER_SEC),
        write_bps=int(cfg.tier2_io_max_write_mb_per_sec * MB_PER_SEC),
    )
    return cpu, io


def _step(
    cfg: MediaMode, memory: MediaMemory, forced: str | None, streams: int | None, now: float
) -> tuple[MediaMemory, Reason | None, list[EventDraft], float | None]:
    """The next memory, the reason while on, the events, and when the cooldown ends."""
    if not cfg.enabled:
        if memory.active:
            off = [EventDraft("media_mode_deactivated", "Media mode disabled in the config")]
            return MediaMemory(), None, off, None
        return memory, None, [], None

    if forced or (streams or 0) > 0:
        detail = f"forced by {forced}" if forced else f"{streams} active stream(s)"
        reason = Reason(rule="media_mode", detail=detail)
        events = []
        if not memory.active:
            events.append(EventDraft("media_mode_activated", f"{detail} — throttling Tier 2/3"))
        return MediaMemory(active=True), reason, events, None

    if not memory.active:
        return memory, None, [], None
    if streams is None and memory.cooldown_since is None:
        # Still on only because nobody can tell: hold rather than start the cooldown.
        return memory, Reason(rule="media_mode", detail="streams unknown"), [], None

    since = memory.cooldown_since if memory.cooldown_since is not None else now
    ends = since + cfg.cooldown_seconds
    if now >= ends:
        done = [EventDraft("media_mode_deactivated", "Cooldown complete — Tier 2/3 restored")]
        return MediaMemory(), None, done, None
    # The same detail for the whole cooldown: the countdown is the decision's wake_at.
    reason = Reason(rule="media_mode", detail=f"cooldown of {cfg.cooldown_seconds:g}s")
    return memory.model_copy(update={"cooldown_since": since}), reason, [], ends


RULE = Rule("media_mode", MediaMemory, media_mode)
