"""The governor's decision log: a line per change between what it published and what it
decides now, and the last decision for the changes a person sees."""

from __future__ import annotations

import pytest

from services.governor.decision_log import DOWNLOAD_CLIENT, changes
from services.governor.policy import Decision, Memory
from shared.messages import (
    ContainerIntent,
    CpuMax,
    DesiredState,
    DownloadClientIntent,
    GovernorStatus,
    ProcessGroupIntent,
    Reason,
)

HOST = "h1"
MEDIA = Reason(rule="media_mode", detail="1 active stream(s)")
HOT = Reason(rule="thermal_stage1", detail="cpu 86C", value=86.0)
PAUSED = ContainerIntent(tier=3, paused=True, reasons=[MEDIA])
CAPPED = ContainerIntent(tier=2, cpu_max=CpuMax(quota_us=50_000, period_us=100_000), reasons=[HOT])
LIMITS = DownloadClientIntent(upload_bps=1_000_000, reasons=[Reason(rule="bandwidth")])
GROUP_PAUSED = ProcessGroupIntent(paused=True, reasons=[HOT])


def before(**fields: object) -> DesiredState:
    return DesiredState(host=HOST, seq=1, lease_seconds=30, **fields)  # type: ignore[arg-type]


def decision(**fields: object) -> Decision:
    fields.setdefault("containers", {})
    return Decision(memory=Memory(), status=GovernorStatus(), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("published", "now", "expected"),
    [
        (None, decision(), []),
        (
            None,
            decision(containers={"tdarr": PAUSED}),
            [
                (
                    "decision.enforce",
                    "tdarr",
                    "enforce",
                    "tdarr: paused (media_mode(1 active stream(s)))",
                )
            ],
        ),
        (
            before(containers={"tdarr": PAUSED}),
            decision(containers={"tdarr": PAUSED}),
            [],
        ),
        (
            before(containers={"tdarr": PAUSED}),
            decision(),
            [("decision.release", "tdarr", "release", "tdarr: back to its tier baseline")],
        ),
        (
            None,
            decision(containers={"sonarr": CAPPED}),
            [
                (
                    "decision.enforce",
                    "sonarr",
                    "enforce",
                    "sonarr: cpu.max (thermal_stage1(cpu 86C))",
                )
            ],
        ),
        (
            None,
            decision(download_client=LIMITS),
            [("decision.download", DOWNLOAD_CLIENT, "enforce", None)],
        ),
        (
            before(download_client=LIMITS),
            decision(),
            [("decision.download_release", DOWNLOAD_CLIENT, "release", None)],
        ),
        # A process group's change is logged, and is no last decision.
        (
            None,
            decision(process_groups={"encoders": GROUP_PAUSED}),
            [("decision.group_pause", None, None, None)],
        ),
        (
            before(process_groups={"encoders": GROUP_PAUSED}),
            decision(process_groups={}),
            [("decision.group_resume", None, None, None)],
        ),
        # Only a reading inside the reason moved: no line.
        (
            before(process_groups={"encoders": GROUP_PAUSED}),
            decision(
                process_groups={
                    "encoders": ProcessGroupIntent(
                        paused=True, reasons=[HOT.model_copy(update={"value": 87.0})]
                    )
                }
            ),
            [],
        ),
    ],
)
def test_a_line_per_change(
    published: DesiredState | None,
    now: Decision,
    expected: list[tuple[str, str | None, str | None, str | None]],
) -> None:
    seen = []
    for change in changes(HOST, published, now):
        last = change.last
        summary = last.summary if last is not None and last.container != DOWNLOAD_CLIENT else None
        seen.append(
            (
                change.event,
                last.container if last else None,
                last.action if last else None,
                summary,
            )
        )
    assert seen == expected
