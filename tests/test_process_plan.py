"""host/processes/plan.py: each configured group's target, from its config and the desired
state. Pure, so tested by a table; tests/test_process_groups.py applies targets to real
processes."""

from __future__ import annotations

from typing import Any

import pytest

from host.processes.plan import group_targets
from shared.config.model import WardenConfig
from shared.messages import DesiredState, ProcessGroupIntent, Reason

ENCODERS = {"name": "encoders", "match_name": ["ffmpeg*"]}
BACKUP = {"name": "backup", "match_cmdline": [r"restic\s+backup"]}

# (groups in the config, the desired state's intents or None for no desired state,
#  each target as (group, paused, nice it gets, reasons), the refused targets)
CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None, list[tuple], list[str]]] = [
    (
        "no desired state: every group at its baseline",
        [ENCODERS, {**BACKUP, "nice": 7}],
        None,
        [("encoders", False, None, ()), ("backup", False, 7, ())],
        [],
    ),
    (
        "an intent pauses its group; the others stay at baseline",
        [ENCODERS, BACKUP],
        {"encoders": {"paused": True, "reasons": [{"rule": "thermal"}]}},
        [("encoders", True, None, ("thermal",)), ("backup", False, None, ())],
        [],
    ),
    (
        "the intent's nice wins over the config's",
        [{**ENCODERS, "nice": 7}, BACKUP],
        {
            "encoders": {"nice": 15, "reasons": [{"rule": "preset"}]},
            "backup": {"paused": True, "reasons": [{"rule": "process_group"}]},
        },
        [("encoders", False, 15, ("preset",)), ("backup", True, None, ("process_group",))],
        [],
    ),
    (
        "an intent for a group the config does not name is refused, not applied",
        [ENCODERS],
        {
            "rogue": {"paused": True, "reasons": [{"rule": "x"}]},
            "encoders": {"paused": True, "reasons": [{"rule": "thermal"}]},
        },
        [("encoders", True, None, ("thermal",))],
        ["process group rogue"],
    ),
    (
        "no groups configured: nothing to target, every intent refused in name order",
        [],
        {"b": {"paused": True, "reasons": [{"rule": "x"}]}, "a": {"reasons": [{"rule": "y"}]}},
        [],
        ["process group a", "process group b"],
    ),
]


@pytest.mark.parametrize(
    ("groups", "intents", "targets", "refused"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_group_targets(
    groups: list[dict[str, Any]],
    intents: dict[str, Any] | None,
    targets: list[tuple],
    refused: list[str],
) -> None:
    cfg = WardenConfig.model_validate({"process_groups": groups})
    desired = (
        None
        if intents is None
        else DesiredState(
            host="h",
            seq=1,
            lease_seconds=30,
            process_groups={k: ProcessGroupIntent.model_validate(v) for k, v in intents.items()},
        )
    )
    got, refusals = group_targets(cfg, desired)
    assert [(t.group.name, t.paused, t.effective_nice, t.reasons) for t in got] == targets
    assert [r.target for r in refusals] == refused
    assert all(r.reason == "not a configured process group" for r in refusals)


def test_reasons_are_carried_as_text() -> None:
    cfg = WardenConfig.model_validate({"process_groups": [ENCODERS]})
    intent = ProcessGroupIntent(paused=True, reasons=[Reason(rule="thermal", detail="cpu 95C")])
    desired = DesiredState(host="h", seq=1, lease_seconds=30, process_groups={"encoders": intent})
    (target,), _ = group_targets(cfg, desired)
    assert target.reasons == ("thermal(cpu 95C)",)
