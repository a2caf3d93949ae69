"""Conditions (host events as policy), table-driven on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from services.governor.policy import Facts, Memory, decide
from services.governor.rule import Outcome
from services.governor.rules.conditions import RULE, ConditionsMemory, topic_value
from shared.config.model import Condition, ProcessGroup, TopicMatch, WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    ProcessCondition,
    ProcessesFact,
    ProcessSeen,
)
from shared.messages.facts import ContainerState
from tests.support.views import BULK, status_table, steps, view

MOVER = Condition.model_validate(
    {"name": "mover", "process": {"name": ["mover"]}, "media_mode": True, "hold_seconds": 60}
)
PRICE = Condition.model_validate(
    {
        "name": "price",
        "mqtt": {"topic": "ha/sensor/price/state", "above": 0.3},
        "pause_tier3": True,
    }
)
BACKUP = Condition.model_validate(
    {"name": "backup", "container": "restic", "pause_tier3": True, "protect": ["restic"]}
)
GROUPS = [ProcessGroup(name="enc", match_name=["ffmpeg"])]


def config(*conditions: Condition) -> WardenConfig:
    return WardenConfig(host_id="h", conditions=list(conditions), process_groups=GROUPS)


def mover(running: bool | None) -> ProcessesFact | None:
    if running is None:
        return None
    seen = [ProcessSeen(pid=4242, name="mover")] if running else []
    return ProcessesFact(
        host="h",
        conditions=[ProcessCondition(condition="mover", running=running, processes=seen)],
    )


# --- a topic's value -----------------------------------------------------------------

TOPIC_CASES = [
    ({"above": 0.3}, "0.31", True),
    ({"above": 0.3}, "0.3", False),  # at the level: not above it
    ({"above": 0.3}, ' "0.5" ', True),  # quoted, spaced
    ({"above": 0.3}, "unavailable", None),  # Home Assistant's word for no value: unknown
    ({"above": 0.3}, "nan", None),
    ({"above": 0.3}, "inf", None),
    ({"above": 0.1, "below": 0.3}, "0.2", True),
    ({"above": 0.1, "below": 0.3}, "0.35", False),
    ({"equals": ["home", "on"]}, "Home", True),
    ({"equals": "on"}, "off", False),
    ({"equals": ["on"], "json_key": "state"}, '{"state": "ON"}', True),
    ({"above": 0, "json_key": "price"}, '{"price": 0.12}', True),
    ({"above": 0, "json_key": "price"}, '{"cost": 0.12}', None),  # no such key
    ({"above": 0, "json_key": "price"}, "0.12", None),  # not JSON
    ({"above": 0, "json_key": "price"}, "[1]", None),  # not an object
    ({"equals": ["true"], "json_key": "on"}, '{"on": true}', True),
]


@pytest.mark.parametrize(("match", "text", "expected"), TOPIC_CASES)
def test_topic_value(match: dict[str, Any], text: str, expected: bool | None) -> None:
    rule = TopicMatch.model_validate({"topic": "t", **match})
    assert topic_value(text, rule)[0] is expected


def test_nothing_received_is_unknown() -> None:
    assert topic_value(None, TopicMatch(topic="t", above=1)) == (None, "nothing received")


# --- holding, the hold, and unknown ----------------------------------------------------


def forced(out: Outcome[Any]) -> bool:
    return bool(out.modes.media)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        # Holds while the process runs, and for hold_seconds (60) after.
        ([(0, True), (10, False), (69, False), (70, False)], [True, True, True, False]),
        # Back before the hold runs out: it never stopped.
        ([(0, True), (10, False), (50, True), (200, True)], [True, True, True, True]),
        # Unknown never starts it ...
        ([(0, None), (100, None)], [False, False]),
        # ... and never ends it while it holds.
        ([(0, True), (10, None), (500, None), (501, False), (561, False)],
         [True, True, True, True, False]),
        # A hold that started runs out even while unknown.
        ([(0, True), (10, False), (20, None), (70, None)], [True, True, True, False]),
    ],
)  # fmt: skip
def test_process_condition_holds_and_its_hold(
    readings: list[tuple[float, bool | None]], expected: list[bool]
) -> None:
    outcomes = steps(RULE, [view(config(MOVER), t, processes=mover(r)) for t, r in readings])
    assert [forced(o) for o in outcomes] == expected


def test_the_reason_names_the_condition_and_is_the_same_in_the_hold() -> None:
    running, held = steps(
        RULE,
        [
            view(config(MOVER), 0, processes=mover(True)),
            view(config(MOVER), 5, processes=mover(False)),
        ],
    )
    assert running.modes.media == held.modes.media
    assert [str(r) for r in running.modes.media] == [
        "condition(mover: process mover, held 60s after)"
    ]
    assert held.readings == {"condition.mover": "no match; held 60s more"}
    assert held.wake_at == 65
    assert status_table(held, "conditions")["mover"]["held_until"] == 65
    assert [n.event for n in running.notes] == ["condition.holds"]


def test_a_topic_condition_pauses_tier3() -> None:
    out = RULE.run(
        view(config(PRICE), 0, topic_values={"ha/sensor/price/state": "0.42"}), ConditionsMemory()
    )
    assert out.containers["bulk"].paused
    assert [str(r) for r in out.containers["bulk"].reasons] == [
        "condition(price: ha/sensor/price/state > 0.3)"
    ]
    assert "arr" not in out.containers


def restic(state: ContainerState) -> ContainerFact:
    return ContainerFact(id="r" * 12, name="restic", state=state, tier=3)


@pytest.mark.parametrize(
    ("containers", "holds"),
    [
        ((restic("running"),), True),
        ((restic("paused"),), True),  # paused is up: pausing it must not end the condition
        ((restic("exited"),), False),
        ((), False),  # no such container
        (None, None),  # no inventory: unknown
    ],
)
def test_a_container_condition(
    containers: tuple[ContainerFact, ...] | None, holds: bool | None
) -> None:
    out = RULE.run(view(config(BACKUP), 0, containers=containers), ConditionsMemory())
    status = status_table(out, "conditions")["backup"]
    assert (status["holds"], status["unknown"]) == (bool(holds), holds is None)


def test_a_preset_for_the_groups_while_it_holds() -> None:
    cheap = Condition.model_validate(
        {"name": "cheap", "mqtt": {"topic": "p", "below": 0.1}, "preset": "aggressive"}
    )
    out = RULE.run(view(config(cheap), 0, topic_values={"p": "0.05"}), ConditionsMemory())
    assert out.modes.presets["enc"][0] == "aggressive"


# --- in the policy ---------------------------------------------------------------------

TIERS = {3: {"containers": ["bulk", "restic"]}, 2: {"containers": ["arr"]}}


def decided(cfg: WardenConfig, facts: Facts) -> Any:
    cfg = cfg.model_copy(update={"tiers": WardenConfig.model_validate({"tiers": TIERS}).tiers})
    return decide(cfg, cfg.tier_matcher(), facts, Memory(), 0.0)


def test_a_protected_container_is_no_rules_target_while_its_condition_holds() -> None:
    inventory = ContainerInventory(host="h", cpu_count=2, containers=[BULK, restic("running")])
    decision = decided(config(BACKUP), Facts(inventory=inventory))
    assert decision.containers["bulk"].paused
    assert "restic" not in decision.containers
    assert "restic" not in {c.name for c, _ in decision.targets}


def test_the_mover_turns_media_mode_on_with_its_reason() -> None:
    cfg = config(MOVER).model_copy(
        update={"media_mode": WardenConfig().media_mode.model_copy(update={"enabled": True})}
    )
    inventory = ContainerInventory(host="h", cpu_count=2, containers=[BULK])
    decision = decided(cfg, Facts(inventory=inventory, processes=mover(True), processes_seen_at=0))
    assert decision.media_mode
    assert [str(r) for r in decision.containers["bulk"].reasons] == [
        "media_mode(forced by mover: process mover, held 60s after)"
    ]
    assert decision.status.conditions["mover"].holds


def test_a_conditions_preset_reaches_the_process_groups_with_its_reason() -> None:
    cheap = Condition.model_validate(
        {"name": "cheap", "mqtt": {"topic": "p", "below": 0.1}, "preset": "aggressive"}
    )
    cfg = config(cheap)
    decision = decide(cfg, cfg.tier_matcher(), Facts(topic_values={"p": "0.05"}), Memory(), 0.0)
    group = decision.process_groups["enc"]
    assert group.nice == 5  # aggressive's
    assert [str(r) for r in group.reasons] == [
        "preset(aggressive: nice 5)",
        "condition(cheap: p < 0.1)",
    ]
    calm = decide(cfg, cfg.tier_matcher(), Facts(topic_values={"p": "0.2"}), Memory(), 0.0)
    assert calm.process_groups["enc"].nice == 10  # balanced, the default, again
