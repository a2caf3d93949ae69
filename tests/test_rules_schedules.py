"""Schedules, table-driven on a fake clock in a real zone (Europe/Berlin, its clock changes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.governor.policy import Facts, Memory, decide
from services.governor.rule import Outcome
from services.governor.rules.schedules import RULE, ScheduleMemory
from services.governor.triggers import apply_trigger
from services.governor.windows import Span, horizon, instant, occurrences, where
from shared.config.model import ProcessGroup, Schedule, WardenConfig, Window
from shared.messages import ContainerInventory, Switches, Trigger
from shared.messages.overrides import Override
from tests.support.views import ARR, BULK, first_reason, status_table, view

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def at(text: str) -> float:
    """Berlin wall-clock `YYYY-MM-DD HH:MM` as epoch seconds (the first, where it is twice)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN).timestamp()


def local(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, BERLIN).strftime("%Y-%m-%d %H:%M %Z")


def win(start: str, end: str, days: Any = None) -> Window:
    return Window(start=start, end=end) if days is None else Window(start=start, end=end, days=days)


# --- windows as real time ------------------------------------------------------------

# (windows, now, inside, next change) in Berlin: 2024-03-30 is a Saturday, the clocks
# spring forward on Sunday 2024-03-31 at 02:00 and fall back on Sunday 2024-10-27 at 03:00.
WHERE_CASES = [
    # Crossing midnight: 23:00-07:00 holds at 02:00, and ends at 07:00.
    ([win("23:00", "07:00")], "2024-06-12 02:00", True, "2024-06-12 07:00 CEST"),
    ([win("23:00", "07:00")], "2024-06-12 22:59", False, "2024-06-12 23:00 CEST"),
    ([win("23:00", "07:00")], "2024-06-12 07:00", False, "2024-06-12 23:00 CEST"),  # end: out
    # The day is the day it starts: a Friday-only night window runs into Saturday morning.
    ([win("23:00", "07:00", ["fri"])], "2024-06-15 06:00", True, "2024-06-15 07:00 CEST"),
    ([win("23:00", "07:00", ["fri"])], "2024-06-15 23:30", False, "2024-06-21 23:00 CEST"),
    # Several windows; overlapping or touching ones are one span.
    ([win("01:00", "03:00"), win("02:00", "05:00")], "2024-06-12 04:00", True,
     "2024-06-12 05:00 CEST"),
    ([win("01:00", "03:00"), win("03:00", "05:00")], "2024-06-12 02:59", True,
     "2024-06-12 05:00 CEST"),
    ([win("01:00", "03:00"), win("12:00", "13:00")], "2024-06-12 05:00", False,
     "2024-06-12 12:00 CEST"),
    # Weekdays and weekends apart.
    ([win("09:00", "17:00", "weekdays"), win("11:00", "12:00", "weekends")],
     "2024-06-14 18:00", False, "2024-06-15 11:00 CEST"),
    # Equal start and end: a whole day; every day: always inside, ends beyond the horizon.
    ([win("00:00", "00:00", ["mon"])], "2024-06-10 23:59", True, "2024-06-11 00:00 CEST"),
    ([win("00:00", "24:00")], "2024-06-12 12:00", True, None),
    # Spring forward: 01:00-07:00 is five real hours; the window still ends at 07:00.
    ([win("01:00", "07:00")], "2024-03-31 01:30", True, "2024-03-31 07:00 CEST"),
    # A start the clocks skip is the moment they skip to (03:00 CEST).
    ([win("02:30", "04:00")], "2024-03-31 01:59", False, "2024-03-31 03:00 CEST"),
    # A window wholly inside the skipped hour does not happen that night.
    ([win("02:10", "02:50")], "2024-03-31 01:00", False, "2024-04-01 02:10 CEST"),
    # Fall back: 01:00-07:00 is seven real hours, over both 02:30s.
    ([win("01:00", "07:00")], "2024-10-27 06:30", True, "2024-10-27 07:00 CET"),
    # A time the clocks pass twice is its first: 02:00-02:30 ends at the first 02:30.
    ([win("02:00", "02:30")], "2024-10-27 02:10", True, "2024-10-27 02:30 CEST"),
]  # fmt: skip


@pytest.mark.parametrize(("windows", "now", "inside", "change"), WHERE_CASES)
def test_where(windows: list[Window], now: str, inside: bool, change: str | None) -> None:
    found = where(occurrences(windows, BERLIN, at(now)), at(now), horizon(BERLIN, at(now)))
    assert (found.inside, local(found.next_change)) == (inside, change)


def test_clock_changes_keep_wall_clock_meaning() -> None:
    nightly = [win("01:00", "07:00")]
    spring = next(
        s
        for s in occurrences(nightly, BERLIN, at("2024-03-31 03:00"))
        if s.holds(at("2024-03-31 04:00"))
    )
    autumn = next(
        s
        for s in occurrences(nightly, BERLIN, at("2024-10-27 03:00"))
        if s.holds(at("2024-10-27 05:00"))
    )
    assert spring.end - spring.start == 5 * HOUR
    assert autumn.end - autumn.start == 7 * HOUR


def test_midnight_and_24_00() -> None:
    day = datetime(2024, 6, 12).date()
    assert instant(day, 24, 0, BERLIN) == at("2024-06-13 00:00")
    assert where([Span(0, 10)], 10).inside is False


# --- the rule ---------------------------------------------------------------------------

NIGHT = Schedule(name="night", windows=[win("23:00", "07:00")], mode="run_inside", tiers=[3])
QUIET = Schedule(name="quiet", windows=[win("20:00", "23:00")], mode="quiet_inside")
QUIET_ARR = Schedule(
    name="quiet", windows=[win("20:00", "23:00")], mode="quiet_inside", containers=["ar*"]
)
GROUPS = [ProcessGroup(name="enc", match_name=["ffmpeg"])]
CHEAP = Schedule(
    name="cheap", windows=[win("02:00", "05:00")], mode="preset_inside", preset="aggressive"
)


def config(*schedules: Schedule) -> WardenConfig:
    return WardenConfig(host_id="h", schedules=list(schedules), process_groups=GROUPS)


def run(
    schedule: Schedule,
    now: str,
    switches: Switches | None = None,
    overrides: tuple[Override, ...] = (),
) -> Outcome[ScheduleMemory]:
    v = view(
        config(schedule),
        at(now),
        switches=switches or Switches(),
        zone=BERLIN,
        overrides=overrides,
    )
    return RULE.run(v, ScheduleMemory())


def paused(out: Outcome[Any]) -> list[str]:
    return sorted(n for n, i in out.containers.items() if i.paused)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2024-06-12 22:00", ["bulk"]),  # outside: paused
        ("2024-06-12 23:00", []),  # inside: runs
        ("2024-06-13 06:59", []),
        ("2024-06-13 07:00", ["bulk"]),  # paused again at the end
    ],
)
def test_run_inside_pauses_its_targets_outside(now: str, expected: list[str]) -> None:
    assert paused(run(NIGHT, now)) == expected


def test_run_inside_reason_and_status_say_what_and_when() -> None:
    out = run(NIGHT, "2024-06-12 22:00")
    reason = first_reason(out, "bulk")
    assert reason is not None
    assert str(reason) == "schedule(night: runs only inside its windows, next Wed 23:00)"
    status = status_table(out, "schedules")["night"]
    assert status["inside"] is False and status["enabled"] is True
    assert status["next_change"] == "2024-06-12T23:00:00+02:00"
    assert status["summary"] == "tier 3 runs only inside daily 23:00-07:00"
    assert out.wake_at == at("2024-06-12 23:00")


def test_quiet_hours_without_targets_force_media_mode() -> None:
    out = run(QUIET, "2024-06-12 21:00")
    assert [str(r) for r in out.modes.media] == ["schedule(quiet: quiet hours until Wed 23:00)"]
    assert out.containers == {}
    assert not run(QUIET, "2024-06-12 23:30").modes


def test_quiet_hours_on_named_targets_treat_them_as_media_mode_does() -> None:
    out = run(QUIET_ARR, "2024-06-12 21:00")
    arr = out.containers["arr"]
    assert arr.cpu_max is not None and arr.io_max is not None and not arr.paused
    assert "bulk" not in out.containers and not out.modes


def test_preset_inside_sets_every_groups_preset_for_the_rules_after() -> None:
    out = run(CHEAP, "2024-06-12 03:00")
    preset, reason = out.modes.presets["enc"]
    assert preset == "aggressive"
    assert str(reason) == "schedule(cheap: preset aggressive until Wed 05:00)"
    assert not run(CHEAP, "2024-06-12 06:00").modes


def test_switched_off_does_nothing_and_says_so() -> None:
    off = Switches(schedules_off=["night"])
    out = run(NIGHT, "2024-06-12 22:00", off)
    assert out.containers == {}
    assert status_table(out, "schedules")["night"] == {
        "enabled": False,
        "inside": False,
        "next_change": None,
        "skipped_until": None,
        "summary": "tier 3 runs only inside daily 23:00-07:00",
    }


def skip_at(now: str) -> Switches:
    trigger = Trigger(event="schedule_skip", schedule="night")
    return apply_trigger(Switches(), trigger, at(now))


@pytest.mark.parametrize(
    ("asked", "now", "expected", "skipped_until"),
    [
        # Asked in the evening: tonight's window is skipped; the container stays paused.
        ("2024-06-12 18:00", "2024-06-13 01:00", ["bulk"], "2024-06-13T07:00:00+02:00"),
        # The next night is not.
        ("2024-06-12 18:00", "2024-06-14 01:00", [], None),
        # Asked inside a window: the rest of it is skipped.
        ("2024-06-13 02:00", "2024-06-13 03:00", ["bulk"], "2024-06-13T07:00:00+02:00"),
        # Before it was asked, nothing is skipped (the skip is of what comes after).
        ("2024-06-13 02:00", "2024-06-12 23:30", [], "2024-06-13T07:00:00+02:00"),
    ],
)
def test_skip_tonight(asked: str, now: str, expected: list[str], skipped_until: str | None) -> None:
    out = run(NIGHT, now, skip_at(asked))
    assert paused(out) == expected
    assert status_table(out, "schedules")["night"]["skipped_until"] == skipped_until


def test_a_skipped_night_wakes_the_governor_for_the_next_one() -> None:
    out = run(NIGHT, "2024-06-12 22:00", skip_at("2024-06-12 18:00"))
    assert out.wake_at == at("2024-06-13 23:00")
    assert status_table(out, "schedules")["night"]["next_change"] == "2024-06-13T23:00:00+02:00"


def test_unskip_and_switches_round_trip() -> None:
    skipped = skip_at("2024-06-12 18:00")
    assert apply_trigger(skipped, Trigger(event="schedule_unskip", schedule="night")) == Switches()
    off = apply_trigger(Switches(), Trigger(event="schedule_off", schedule="night"))
    assert off.schedules_off == ["night"]
    assert apply_trigger(off, Trigger(event="schedule_on", schedule="night")) == Switches()


def test_a_skip_schedule_override_takes_its_time_out_of_the_windows() -> None:
    override = Override(
        kind="skip_schedule",
        schedule="night",
        since=at("2024-06-12 22:00"),
        until=at("2024-06-13 02:00"),
    )
    assert paused(run(NIGHT, "2024-06-13 01:00", overrides=(override,))) == ["bulk"]
    assert paused(run(NIGHT, "2024-06-13 02:00", overrides=(override,))) == []


def test_entering_and_leaving_are_logged_once() -> None:
    cfg = config(NIGHT)
    first = RULE.run(view(cfg, at("2024-06-12 23:30"), zone=BERLIN), ScheduleMemory())
    again = RULE.run(view(cfg, at("2024-06-12 23:31"), zone=BERLIN), first.memory)
    left = RULE.run(view(cfg, at("2024-06-13 07:00"), zone=BERLIN), again.memory)
    assert [n.event for n in first.notes] == ["schedule.entered"]
    assert again.notes == []
    assert [n.event for n in left.notes] == ["schedule.left"]


# --- in the policy: what the rules after it see -------------------------------------


def decided(cfg: WardenConfig, now: str, switches: Switches | None = None) -> Any:
    inventory = ContainerInventory(host="h", cpu_count=4, containers=[BULK, ARR])
    return decide(
        cfg.model_copy(update={"tiers": {3: {"containers": ["bulk"]}, 2: {"containers": ["arr"]}}}),
        WardenConfig.model_validate(
            {"host_id": "h", "tiers": {3: {"containers": ["bulk"]}, 2: {"containers": ["arr"]}}}
        ).tier_matcher(),
        Facts(inventory=inventory),
        Memory(switches=switches or Switches()),
        at(now),
        BERLIN,
    )


def test_quiet_hours_turn_media_mode_on_with_the_schedule_as_its_reason() -> None:
    cfg = config(QUIET).model_copy(
        update={"media_mode": WardenConfig().media_mode.model_copy(update={"enabled": True})}
    )
    decision = decided(cfg, "2024-06-12 21:00")
    assert decision.media_mode
    assert [str(r) for r in decision.containers["bulk"].reasons] == [
        "media_mode(forced by quiet: quiet hours until Wed 23:00)"
    ]
    assert not decided(cfg, "2024-06-12 23:00").media_mode


def test_two_schedules_and_the_manual_pause_keep_every_reason() -> None:
    cfg = config(
        NIGHT,
        Schedule(
            name="lunch", windows=[win("12:00", "13:00")], mode="run_inside", containers=["bulk"]
        ),
    )
    decision = decided(cfg, "2024-06-12 22:00", Switches(tier3_manual_pause=True))
    assert [r.rule for r in decision.containers["bulk"].reasons] == [
        "schedule",
        "schedule",
        "manual_pause",
    ]
    assert decision.status.schedules["night"].next_change == "2024-06-12T23:00:00+02:00"


def test_windows_lay_out_far_enough_for_a_weekly_window() -> None:
    weekly = [win("10:00", "11:00", ["mon"])]
    now = at("2024-06-11 12:00")  # a Tuesday
    assert where(occurrences(weekly, BERLIN, now), now).next_change == at("2024-06-17 10:00")
    assert at("2024-06-17 10:00") - now < timedelta(days=7).total_seconds()


def test_a_process_group_runs_only_inside_and_keeps_its_presets_nice() -> None:
    encoders = Schedule(
        name="night", windows=[win("23:00", "07:00")], mode="run_inside", process_groups=["enc"]
    )
    out = run(encoders, "2024-06-12 22:00")
    assert out.process_groups["enc"].paused and out.containers == {}
    assert run(encoders, "2024-06-12 23:30").process_groups == {}
    # In the policy, beside the process-group rule's preset: one intent, both reasons.
    cfg = config(encoders)
    decision = decide(cfg, cfg.tier_matcher(), Facts(), Memory(), at("2024-06-12 22:00"), BERLIN)
    group = decision.process_groups["enc"]
    assert group.paused and group.nice == 10
    assert [r.rule for r in group.reasons] == ["schedule", "preset"]
