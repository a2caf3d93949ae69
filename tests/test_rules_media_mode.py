"""Media mode, table-driven with a fake clock."""

from __future__ import annotations

import pytest

from services.governor.rules.media_mode import media_mode
from shared.config.model import MediaMode
from shared.messages import GovernorMemory

ON = MediaMode(enabled=True, provider="webhook", cooldown_seconds=60)
OFF = GovernorMemory()
FORCED = GovernorMemory(media_forced=True)
ACTIVE = GovernorMemory(media_active=True)


@pytest.mark.parametrize(
    ("cfg", "memory", "streams", "now", "active", "events", "cooling_since", "wake_at"),
    [
        # nothing playing, nothing forced: stays off
        (ON, OFF, 0, 100, False, [], None, None),
        (ON, OFF, None, 100, False, [], None, None),
        # a trigger forces it on
        (ON, FORCED, None, 100, True, ["media_mode_activated"], None, None),
        # a stream starts it
        (ON, OFF, 2, 100, True, ["media_mode_activated"], None, None),
        # already on: no second event
        (ON, GovernorMemory(media_active=True, media_forced=True), 0, 100, True, [], None, None),
        # streams end: the cooldown starts, still on, wake at its end
        (ON, ACTIVE, 0, 100, True, [], 100, 160),
        # cooldown running, one second short
        (
            ON,
            GovernorMemory(media_active=True, media_cooldown_since=100),
            0,
            159,
            True,
            [],
            100,
            160,
        ),
        # cooldown complete
        (
            ON,
            GovernorMemory(media_active=True, media_cooldown_since=100),
            0,
            160,
            False,
            ["media_mode_deactivated"],
            None,
            None,
        ),
        # a stream during the cooldown cancels it
        (
            ON,
            GovernorMemory(media_active=True, media_cooldown_since=100),
            1,
            150,
            True,
            [],
            None,
            None,
        ),
        # unknown streams never end media mode early and never start the cooldown
        (ON, ACTIVE, None, 100, True, [], None, None),
        # ...but a cooldown already running goes on
        (
            ON,
            GovernorMemory(media_active=True, media_cooldown_since=100),
            None,
            170,
            False,
            ["media_mode_deactivated"],
            None,
            None,
        ),
        # zero cooldown: off at once
        (
            MediaMode(enabled=True, cooldown_seconds=0),
            ACTIVE,
            0,
            100,
            False,
            ["media_mode_deactivated"],
            None,
            None,
        ),
        # disabled in the config: never on, switched off if it was
        (MediaMode(enabled=False), FORCED, 3, 100, False, [], None, None),
        (MediaMode(enabled=False), ACTIVE, 3, 100, False, ["media_mode_deactivated"], None, None),
    ],
)
def test_media_mode(cfg, memory, streams, now, active, events, cooling_since, wake_at) -> None:  # type: ignore[no-untyped-def]
    out = media_mode(cfg, memory, streams, now)
    assert out.memory.media_active is active
    assert (out.reason is not None) is active
    assert [e.kind for e in out.events] == events
    assert out.memory.media_cooldown_since == cooling_since
    assert out.wake_at == wake_at


def test_reason_says_why() -> None:
    assert media_mode(ON, FORCED, 0, 0).reason.detail == "forced by trigger"  # type: ignore[union-attr]
    assert media_mode(ON, OFF, 2, 0).reason.detail == "2 active stream(s)"  # type: ignore[union-attr]
