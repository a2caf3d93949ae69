"""Media mode (ADRG rule 4): on while streams play or a trigger forces it; off after a cooldown.

While it is on, tier 3 is paused, tier 2 gets cpu.max and io.max, and the
download client gets its global limit. A schedule's quiet hours or a
condition (Unraid's mover, a backup) forces it too, through the modes the
rules before it set; their reason is the detail.
"""

from __future__ import annotations

from services.governor.media_treatment import media_treatment
from services.governor.outcome import EventDraft
from services.governor.rule import Outcome, Rule, View
from shared.config.model import MediaMode, WardenConfig
from shared.messages import Reason, ReasonCard
from shared.messages.base import Strict
from shared.messages.catalogue import Control, TierKey
from shared.units import MB_PER_SEC

# The start of a reason's detail while something other than streams holds it on.
FORCED = "forced by "


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
    intents = media_treatment(cfg, view.targets, view.cpu_count, reason)
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
        detail = f"{FORCED}{forced}" if forced else f"{streams} active stream(s)"
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


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    cooldown = f"{cfg.media_mode.cooldown_seconds:g} s"
    controls: dict[TierKey, list[Control]] = {"3": ["paused"], "2": ["cpu_max", "io_max"]}
    if cfg.media_mode.download_throttle.enabled:
        controls["any"] = ["download_limit"]
    return [
        ReasonCard(
            reason="media_mode",
            rule="media_mode",
            title="a stream plays: tier 3 paused, tier 2 throttled",
            controls=controls,
            ends=f"{cooldown} after the last stream stops",
            ends_by_detail={
                f"{FORCED}trigger": f"a media_stop trigger, then a cooldown of {cooldown}",
                FORCED: f"when what forces it ends (a schedule's window, a condition), then"
                f" a cooldown of {cooldown}",
                "cooldown": f"when the cooldown of {cooldown} after the last stream is over",
            },
            enabled=cfg.media_mode.enabled,
        )
    ]


RULE = Rule("media_mode", MediaMemory, media_mode, cards)
