"""Media mode (ADRG rule 4): on while streams play or a trigger forces it; off after a cooldown."""

from __future__ import annotations

from dataclasses import dataclass

from services.governor.outcome import EventDraft
from shared.config.model import MediaMode
from shared.messages import GovernorMemory, Reason


@dataclass(frozen=True)
class MediaOutcome:
    memory: GovernorMemory
    reason: Reason | None  # set while media mode is on
    events: list[EventDraft]
    wake_at: float | None


def media_mode(
    cfg: MediaMode, memory: GovernorMemory, streams: int | None, now: float
) -> MediaOutcome:
    """streams: active streams reported by a sensor; None when unknown.

    Unknown is not zero: an unknown stream count never ends media mode, it
    only cannot start it.
    """
    if not cfg.enabled:
        if memory.media_active:
            cleared = memory.model_copy(
                update={"media_active": False, "media_cooldown_since": None}
            )
            return MediaOutcome(
                cleared,
                None,
                [EventDraft("media_mode_deactivated", "Media mode disabled in the config")],
                None,
            )
        return MediaOutcome(memory, None, [], None)

    if memory.media_forced or (streams or 0) > 0:
        detail = "forced by trigger" if memory.media_forced else f"{streams} active stream(s)"
        reason = Reason(rule="media_mode", detail=detail)
        if memory.media_active and memory.media_cooldown_since is None:
            return MediaOutcome(memory, reason, [], None)
        updated = memory.model_copy(update={"media_active": True, "media_cooldown_since": None})
        events = []
        if not memory.media_active:
            events.append(EventDraft("media_mode_activated", f"{detail} — throttling Tier 2/3"))
        return MediaOutcome(updated, reason, events, None)

    if not memory.media_active:
        return MediaOutcome(memory, None, [], None)
    if streams is None and not memory.media_forced and memory.media_cooldown_since is None:
        # Still on only because nobody can tell: hold rather than start the cooldown.
        return MediaOutcome(memory, Reason(rule="media_mode", detail="streams unknown"), [], None)

    since = memory.media_cooldown_since if memory.media_cooldown_since is not None else now
    ends = since + cfg.cooldown_seconds
    if now >= ends:
        cleared = memory.model_copy(update={"media_active": False, "media_cooldown_since": None})
        return MediaOutcome(
            cleared,
            None,
            [EventDraft("media_mode_deactivated", "Cooldown complete — Tier 2/3 restored")],
            None,
        )
    cooling = memory.model_copy(update={"media_cooldown_since": since})
    # The same detail for the whole cooldown: the countdown is the decision's wake_at.
    reason = Reason(rule="media_mode", detail=f"cooldown of {cfg.cooldown_seconds:g}s")
    return MediaOutcome(cooling, reason, [], ends)
