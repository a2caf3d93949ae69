"""A new rule is one file and one line in the rule list: the governor's catalogue carries
what it is, and /status, /metrics and the thresholds show it with no change to the web
service. Shown with a throwaway rule added to the list, a real broker between the
governor and the web service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.governor import catalogue as catalogue_module
from services.governor import memory_store, policy
from services.governor.rule import NoMemory, Outcome, Rule, View
from services.governor.service import GovernorService
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    ContainerInventory,
    HostThreshold,
    IoMax,
    Reason,
    ReasonCard,
    RuleCatalogue,
)
from tests.support.broker import Mosquitto
from tests.support.in_process import LiveService, live
from tests.support.probe import Probe
from tests.support.processes import wait_until, write_config
from tests.support.web import in_process_web

NAME = "throwaway"


def throwaway(view: View, memory: NoMemory) -> Outcome[NoMemory]:
    """Caps every tier-3 container's disk, always: a rule no one would ship."""
    reason = Reason(rule=NAME, detail="a fixture rule")
    cap = IoMax(read_bps=1 << 20, write_bps=1 << 20)
    return Outcome(
        memory,
        containers={
            c.name: ContainerIntent(tier=3, io_max=cap, reasons=[reason]) for c in view.tier(3)
        },
    )


def cards(_cfg: WardenConfig) -> list[ReasonCard]:
    return [
        ReasonCard(
            reason=NAME,
            rule=NAME,
            title="a rule added for this test",
            controls={"3": ["io_max"]},
            thresholds=[HostThreshold(metric="io.some_avg10", above=1, effect="the fixture's")],
            ends="never",
        )
    ]


THROWAWAY = Rule(NAME, NoMemory, throwaway, cards)
# The list as shipped, before the test adds its rule.
SHIPPED = policy.RULES


@pytest.fixture
def governor_with_the_rule(
    tmp_path: Path, broker: Mosquitto, host_id: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveService]:
    # The one line a new rule adds: its RULE in the list (where each reader looks it up).
    rules = (*policy.RULES, THROWAWAY)
    for module in (policy, catalogue_module, memory_store):
        monkeypatch.setattr(module, "RULES", rules)
    config = write_config(
        tmp_path / "governor.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": ["bulk"]}},
        },
    )
    governor = live("governor", config, GovernorService)
    yield governor
    governor.stop()


def test_a_new_rule_shows_in_the_catalogue_status_metrics_and_thresholds(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    host_id: str,
    governor_with_the_rule: LiveService,
) -> None:
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=2,
        containers=[ContainerFact(id="b" * 12, name="bulk", state="running", tier=3)],
    )
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True)
    seen = probe.wait_for(f"warden/{host_id}/governor/rules")
    published = RuleCatalogue.model_validate_json(seen.payload)
    assert published.card(NAME) == cards(WardenConfig())[0]
    shipped = {c.reason for rule in SHIPPED for c in rule.describe(WardenConfig())}
    assert shipped < {c.reason for c in published.cards}

    with in_process_web(tmp_path, broker, host_id, tiers={3: {"containers": ["bulk"]}}) as web:
        http = web.http()

        def capped_by() -> list[str]:
            status = http.get("/status").json()
            return list(status["containers"].get("bulk", {}).get("io_max_by", []))

        wait_until(lambda: capped_by() == [NAME], what="/status names the new rule")
        metrics = http.get("/metrics").text
        assert f'warden_reason_targets{{reason="{NAME}",rule="{NAME}"}} 1.0' in metrics
        thresholds = http.get("/api/v1/resources/thresholds").json()["thresholds"]
        assert any(
            t["metric"] == "io.some_avg10"
            and t["threshold"] == 1
            and t["effect"] == "the fixture's"
            for t in thresholds
        )
    probe.publish(f"warden/{host_id}/sensors/containers", b"", retain=True)


def test_the_dashboard_picks_no_threshold_by_its_words() -> None:
    """A threshold's `effect` is for people; the page selects by metric and `acts` (the
    temperature card's "pauses at" is the lowest temperature that acts, not the one
    worded "pause tier 3"), so rewording a rule's effects leaves the page as it was.
    The page in Chromium with reworded effects: tests/test_web_dashboard.py."""
    from services.web.page import dashboard_page

    page, _csp = dashboard_page()
    shipped = catalogue_module.catalogue(WardenConfig())
    effects = {t.effect for card in shipped.cards for t in card.thresholds}
    assert "pause tier 3" in effects
    assert [e for e in sorted(effects) if f'"{e}"' in page or f"'{e}'" in page] == []
    temperature = [t for c in shipped.cards for t in c.thresholds if t.metric == "temperature_c"]
    acting = min(t.above for t in temperature if t.acts)
    assert acting == WardenConfig().thermal.stage1_temp_c
    assert [t.above for t in temperature if not t.acts] == [WardenConfig().thermal.warn_temp_c]
