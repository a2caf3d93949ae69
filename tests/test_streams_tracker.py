"""The streams bookkeeping and the governor's use of it: pure functions, as tables."""

from __future__ import annotations

import pytest

from services.governor.policy import Facts, decide, fresh_streams
from services.sensors.streams.tracker import (
    UNKNOWN,
    Reading,
    after_query,
    after_webhook,
    settle,
    to_fact,
)
from services.sensors.streams.webhook_event import PlaybackAction, WebhookSource
from services.sensors.streams.webhooks import WebhookEvent
from shared.config.model import MediaMode, WardenConfig
from shared.messages import StreamSession
from shared.messages.facts import StreamState
from tests.support.views import flat, remembered


def sess(sid: str, state: StreamState = "playing", transcode: bool = False) -> StreamSession:
    return StreamSession(id=sid, state=state, transcode=transcode)


# The state a webhook's session has after its action; after any other (paused, stopped): paused.
STATE_AFTER: dict[PlaybackAction, StreamState] = {"playing": "playing", "buffering": "buffering"}


def hook(
    action: PlaybackAction | None, sid: str = "b", source: WebhookSource = "jellyfin"
) -> WebhookEvent:
    if action is None:
        return WebhookEvent(source, "ItemAdded")
    state = STATE_AFTER.get(action, "paused")
    return WebhookEvent(source, "x", action, sess(sid, state))


ERR = "jellyfin: HTTP 500 Internal Server Error"
KNOWN_A = Reading((sess("a"),), "jellyfin api")


def ids(reading: Reading) -> list[str] | None:
    return None if reading.sessions is None else [s.id for s in reading.sessions]


def test_a_query_answer_replaces_everything() -> None:
    reading = after_query("plex", [sess("x"), sess("y", "paused")])
    assert (ids(reading), reading.source, reading.error) == (["x", "y"], "plex api", None)


def test_a_failed_query_is_unknown_with_the_error() -> None:
    reading = after_query("plex", "plex: no answer within 5s")
    assert (reading.sessions, reading.error) == (None, "plex: no answer within 5s")


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [
        (KNOWN_A, hook("playing"), ["a", "b"]),
        (KNOWN_A, hook("playing", "a"), ["a"]),
        (KNOWN_A, hook("stopped", "a"), []),
        (KNOWN_A, hook("stopped", "zzz"), ["a"]),
        (KNOWN_A, hook(None), ["a"]),
        # From unknown: a play is a lower bound worth knowing, a stop tells nothing.
        (UNKNOWN, hook("playing"), ["b"]),
        (UNKNOWN, hook("buffering"), ["b"]),
        (UNKNOWN, hook("paused"), ["b"]),
        (UNKNOWN, hook("stopped"), None),
        (UNKNOWN, hook(None), None),
    ],
)
def test_a_webhook_adjusts_the_sessions_when_the_server_cannot_be_asked(
    before: Reading, event: WebhookEvent, after: list[str] | None
) -> None:
    reading = after_webhook(before, event, ERR)
    assert ids(reading) == after
    assert (reading.source, reading.error) == ("jellyfin webhook", ERR)


def test_a_paused_webhook_updates_the_session_state() -> None:
    reading = after_webhook(KNOWN_A, hook("paused", "a"), ERR)
    assert reading.sessions is not None and reading.sessions[0].state == "paused"


def test_settle_prefers_the_server_and_folds_webhooks_only_on_failure() -> None:
    webhooks = [hook("playing", "b"), hook("playing", "c"), hook("stopped", "a")]
    assert ids(settle(KNOWN_A, "jellyfin", [sess("z")], webhooks)) == ["z"]
    assert ids(settle(KNOWN_A, "jellyfin", ERR, webhooks)) == ["b", "c"]
    assert ids(settle(KNOWN_A, "jellyfin", ERR, [])) is None


def test_to_fact_counts_by_the_policy_and_keeps_every_session() -> None:
    reading = Reading((sess("a"), sess("b", "paused"), sess("c", transcode=True)), "emby api")
    fact = to_fact(reading, "nas", "emby", MediaMode(count_direct_play=False))
    assert (fact.count, len(fact.sessions), fact.source, fact.error) == (1, 3, "emby api", None)
    assert fact.provider == "emby" and fact.host == "nas"
    unknown = to_fact(after_query("emby", "emby: HTTP 401"), "nas", "emby", MediaMode())
    assert (unknown.count, unknown.sessions, unknown.error) == (None, [], "emby: HTTP 401")


# --- the governor: staleness ----------------------------------------------------------

CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "media_mode": {
            "enabled": True,
            "provider": "jellyfin",
            "url": "http://jellyfin:8096",
            "poll_seconds": 10,
            "cooldown_seconds": 60,
        },
    }
)
MATCHER = CFG.tier_matcher()
ON = remembered(media_active=True)


def test_stale_after_defaults_to_three_polls_and_can_be_set() -> None:
    assert CFG.governor.streams_stale_after(CFG.media_mode) == 30
    cfg = WardenConfig.model_validate({"governor": {"stale_after_seconds": 7}})
    assert cfg.governor.streams_stale_after(cfg.media_mode) == 7


@pytest.mark.parametrize(
    ("streams", "seen_at", "now", "expected"),
    [
        (2, 100.0, 110.0, (2, 130.0)),
        (2, 100.0, 129.9, (2, 130.0)),
        (2, 100.0, 130.0, (None, None)),
        (0, 100.0, 500.0, (None, None)),
        (None, 100.0, 110.0, (None, None)),
        # No arrival time: a reading that cannot age (as the rule tables use).
        (3, None, 1e9, (3, None)),
    ],
)
def test_fresh_streams(
    streams: int | None, seen_at: float | None, now: float, expected: tuple[object, object]
) -> None:
    facts = Facts(streams=streams, streams_seen_at=seen_at)
    assert fresh_streams(facts, now, 30) == expected


def test_a_fresh_count_starts_media_mode_and_asks_to_be_woken_when_stale() -> None:
    decision = decide(CFG, MATCHER, Facts(streams=1, streams_seen_at=100), remembered(), 105)
    assert decision.media_mode and decision.wake_at == 130


def test_a_stale_count_cannot_start_media_mode() -> None:
    decision = decide(CFG, MATCHER, Facts(streams=2, streams_seen_at=0), remembered(), 100)
    assert not decision.media_mode


def test_a_stale_count_holds_media_mode_on_without_a_cooldown() -> None:
    decision = decide(CFG, MATCHER, Facts(streams=2, streams_seen_at=0), ON, 10_000)
    assert decision.media_mode
    assert flat(decision.memory).media_cooldown_since is None


def test_an_unknown_count_never_ends_media_mode() -> None:
    for now in (10.0, 100.0, 10_000.0):
        decision = decide(CFG, MATCHER, Facts(streams=None, streams_seen_at=now), ON, now)
        assert decision.media_mode and flat(decision.memory).media_cooldown_since is None


def test_zero_streams_end_media_mode_after_the_cooldown() -> None:
    first = decide(CFG, MATCHER, Facts(streams=0, streams_seen_at=100), ON, 100)
    assert first.media_mode and flat(first.memory).media_cooldown_since == 100
    # The zero went stale meanwhile: a cooldown already running still ends.
    later = decide(CFG, MATCHER, Facts(streams=0, streams_seen_at=100), first.memory, 161)
    assert not later.media_mode


@pytest.mark.parametrize("provider", ["webhook", "none"])
def test_trigger_only_providers_still_count_zero(provider: str) -> None:
    cfg = WardenConfig.model_validate(
        {"media_mode": {"enabled": True, "provider": provider, "cooldown_seconds": 0}}
    )
    decision = decide(cfg, cfg.tier_matcher(), Facts(), ON, 100)
    assert not decision.media_mode


def test_a_server_provider_needs_a_url() -> None:
    with pytest.raises(ValueError, match="provider plex needs a url"):
        WardenConfig.model_validate({"media_mode": {"enabled": True, "provider": "plex"}})
    # Off, it may be left unset, as an ADRG file may leave it.
    WardenConfig.model_validate({"media_mode": {"enabled": False, "provider": "plex"}})


@pytest.mark.parametrize("provider", ["emby", "Tautulli", "JELLYFIN", "plex", "webhook", "none"])
def test_providers_accepted(provider: str) -> None:
    cfg = WardenConfig.model_validate(
        {"media_mode": {"provider": provider, "url": "http://x", "enabled": True}}
    )
    assert cfg.media_mode.provider == provider.lower()
