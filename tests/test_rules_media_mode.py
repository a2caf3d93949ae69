"""Media mode, table-driven with a fake clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.governor.rule import Outcome
from services.governor.rules.media_mode import MediaMemory, media_mode
from shared.config.model import MediaMode, WardenConfig
from shared.messages import Reason, Switches
from tests.support.views import first_reason, view


@dataclass(frozen=True)
class Before:
    """The rule's memory and the trigger switch, as the governor holds them."""

    media_active: bool = False
    media_forced: bool = False
    media_cooldown_since: float | None = None


def decide(cfg: MediaMode, before: Before, streams: int | None, now: float) -> Outcome[MediaMemory]:
    seen = view(
        WardenConfig(host_id="h", media_mode=cfg),
        now,
        switches=Switches(media_forced=before.media_forced),
        streams=streams,
    )
    memory = MediaMemory(active=before.media_active, cooldown_since=before.media_cooldown_since)
    return media_mode(seen, memory)


ON = MediaMode(enabled=True, provider="webhook", cooldown_seconds=60)
OFF = Before()
FORCED = Before(media_forced=True)
ACTIVE = Before(media_active=True)


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
        (ON, Before(media_active=True, media_forced=True), 0, 100, True, [], None, None),
        # streams end: the cooldown starts, still on, wake at its end
        (ON, ACTIVE, 0, 100, True, [], 100, 160),
        # cooldown running, one second short
        (
            ON,
            Before(media_active=True, media_cooldown_since=100),
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
            Before(media_active=True, media_cooldown_since=100),
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
            Before(media_active=True, media_cooldown_since=100),
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
            Before(media_active=True, media_cooldown_since=100),
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
def test_media_mode(
    cfg: MediaMode,
    memory: Before,
    streams: int | None,
    now: float,
    active: bool,
    events: list[str],
    cooling_since: float | None,
    wake_at: float | None,
) -> None:
    out = decide(cfg, memory, streams, now)
    assert out.memory.active is active and out.status == {"media_mode": active}
    assert (first_reason(out, "bulk") is not None) is active
    assert bool(out.containers.get("bulk") and out.containers["bulk"].paused) is active
    assert [e.kind for e in out.events] == events
    assert out.memory.cooldown_since == cooling_since
    assert out.wake_at == wake_at


def test_reason_says_why() -> None:
    assert first_reason(decide(ON, FORCED, 0, 0), "bulk") == Reason(
        rule="media_mode", detail="forced by trigger"
    )
    assert first_reason(decide(ON, OFF, 2, 0), "bulk") == Reason(
        rule="media_mode", detail="2 active stream(s)"
    )


def test_tier_2_is_limited_not_paused() -> None:
    arr = decide(ON, FORCED, 0, 0).containers["arr"]
    assert not arr.paused and arr.cpu_max is not None and arr.io_max is not None
