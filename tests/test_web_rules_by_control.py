"""Which rule stands behind each control in ADRG's /status *_by lists: a table of intents,
read against the governor's catalogue (what each rule may set)."""

from __future__ import annotations

import pytest

from services.governor.catalogue import catalogue
from services.web.status import rules_by_control
from shared.config.model import WardenConfig
from shared.messages import ContainerIntent, CpuMax, IoMax, Reason


def reason(rule: str) -> Reason:
    return Reason(rule=rule)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        (None, {}),
        (
            ContainerIntent(
                tier=3,
                memory_high=2**28,
                cpu_idle=True,
                reasons=[reason("memory_squeeze"), reason("cpu_yield")],
            ),
            {"memory_high": ["memory_squeeze"]},
        ),
        (  # both yields beside a squeeze: the io yield's cap is an io_max, nothing else
            ContainerIntent(
                tier=3,
                memory_high=2**28,
                io_max=IoMax(read_bps=20 << 20, write_bps=20 << 20),
                cpu_idle=True,
                reasons=[reason("memory_squeeze"), reason("cpu_yield"), reason("io_yield")],
            ),
            {"memory_high": ["memory_squeeze"], "io_max": ["io_yield"]},
        ),
        (
            ContainerIntent(tier=3, io_max=IoMax(write_bps=10**6), reasons=[reason("protect")]),
            {"io_max": ["protect"]},
        ),
        (
            ContainerIntent(
                tier=2,
                cpu_max=CpuMax(quota_us=50_000, period_us=100_000),
                io_max=IoMax(write_bps=10**6),
                reasons=[reason("protect"), reason("media_mode")],
            ),
            {"cpu_max": ["protect", "media_mode"], "io_max": ["protect", "media_mode"]},
        ),
        (
            ContainerIntent(tier=3, paused=True, reasons=[reason("media_mode")]),
            {"paused": ["media_mode"]},
        ),
        (  # a rule the table does not know counts against every control its intent sets
            ContainerIntent(
                tier=3, paused=True, memory_high=2**28, reasons=[reason("something_new")]
            ),
            {"paused": ["something_new"], "memory_high": ["something_new"]},
        ),
    ],
)
def test_each_control_names_the_rules_that_set_it(
    intent: ContainerIntent | None, expected: dict[str, list[str]]
) -> None:
    rules = rules_by_control(intent, catalogue(WardenConfig()))
    got = {control: names for control, names in rules.items() if names}
    assert got == expected
