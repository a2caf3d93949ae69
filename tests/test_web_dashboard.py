"""The dashboard in headless Chromium, on the real stack: it shows the real containers, and
its "Tier 3 pause" button pauses the tier-3 container on the Docker engine."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.broker import Mosquitto, free_port
from tests.support.browser import chromium
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.web import running, stack_config, web_config

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

# Kept for people to look at after a run (the test's own copy is under its tmp_path).
SCREENSHOT = Path("/tmp/warden-dashboard.png")
PHONE_SCREENSHOT = Path("/tmp/warden-dashboard-phone.png")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def test_the_page_shows_the_containers_and_its_button_pauses_tier3(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    browser: WebDriver,
) -> None:
    from selenium.webdriver.common.by import By

    t3, db = containers.run("t3"), containers.run("db")
    port = free_port()
    cfg = stack_config(tmp_path, broker, host_id, containers, port)
    names = ("sensors", "governor", "actuator", "web")
    with running(cfg, tmp_path, probe, host_id, *names):
        browser.get(f"http://127.0.0.1:{port}/")
        t3_name, db_name = containers.name("t3"), containers.name("db")

        def row(name: str) -> dict[str, str]:
            # In one script: the live page may replace the table between two driver calls.
            cells = browser.execute_script(
                "return [...document.querySelectorAll(`tr[data-name='${arguments[0]}'] td`)]"
                ".map(td => td.textContent)",
                name,
            )
            return dict(zip(("name", "tier", "state", "limits", "reasons"), cells, strict=False))

        wait_until(lambda: row(t3_name).get("state") == "running", what="the page lists tier 3")
        assert row(db_name)["tier"] == "1"
        assert browser.find_element(By.CSS_SELECTOR, "#card-gpu .value").text in ("N/A", "0%")

        # Each core's share, said to be per core (a bare "35 / 100" read as a fraction);
        # machines of more than four cores get their count and the busiest instead.
        def cpu_sub() -> str:
            return str(browser.find_element(By.CSS_SELECTOR, "#card-cpu .sub").text)

        wait_until(
            lambda: cpu_sub().startswith("per core ") or " cores · busiest " in cpu_sub(),
            what="the CPU card's per-core line",
        )
        assert browser.find_element(By.ID, "override-unthrottle").is_enabled()

        browser.find_element(By.ID, "tier3-pause").click()
        wait_until(lambda: containers.state(t3) == "paused", what="the button paused tier 3")
        wait_until(
            lambda: (
                row(t3_name).get("state") == "paused"
                and "manual_pause" in row(t3_name).get("reasons", "")
            ),
            what="the table shows it paused, with its reason",
        )
        assert containers.state(db) == "running"
        assert "tier3_pause" in browser.find_element(By.ID, "message").text

        # A timed override from the page: tier 3 runs unthrottled for 30 minutes, shown
        # with the time left, although the manual pause still holds.
        browser.execute_script(
            "document.getElementById('override-container').value = arguments[0]", t3_name
        )
        browser.find_element(By.ID, "override-unthrottle").click()
        wait_until(lambda: containers.state(t3) == "running", what="unthrottled by the page")
        wait_until(
            lambda: (
                "unthrottled" in browser.find_element(By.ID, "overrides").text
                and "left" in browser.find_element(By.ID, "overrides").text
            ),
            what="the override shown with its time left",
        )
        browser.find_element(By.CSS_SELECTOR, "#overrides button").click()
        wait_until(lambda: containers.state(t3) == "paused", what="ended: the pause is back")
        wait_until(
            lambda: (
                row(t3_name).get("state") == "paused"
                and "manual_pause" in row(t3_name).get("reasons", "")
                and browser.find_element(By.ID, "overrides").text == ""
            ),
            what="the table follows, the override is gone",
        )
        shot = tmp_path / "warden-dashboard.png"
        browser.save_screenshot(str(shot))
        shutil.copy(shot, SCREENSHOT)
        assert shot.stat().st_size > 10_000
        browser.set_window_size(390, 1800)  # a phone
        browser.save_screenshot(str(tmp_path / "warden-dashboard-phone.png"))
        shutil.copy(tmp_path / "warden-dashboard-phone.png", PHONE_SCREENSHOT)


FLEET_SCREENSHOT = Path("/tmp/warden-fleet.png")
FLEET_PHONE_SCREENSHOT = Path("/tmp/warden-fleet-phone.png")
FLEET_NAS_SCREENSHOT = Path("/tmp/warden-fleet-nas.png")  # a tier 3 with its limits


@pytest.fixture
def central(tmp_path: Path) -> Iterator[tuple[Mosquitto, Probe]]:
    """A broker of its own: the session's holds other tests' hosts, all of them a fleet."""
    (tmp_path / "central").mkdir()
    broker = Mosquitto(tmp_path / "central")
    broker.start()
    probe = Probe(broker.host, broker.port)
    yield broker, probe
    probe.close()
    broker.stop()


def test_the_fleet_strip_shows_every_host_and_a_click_shows_its_page(
    tmp_path: Path,
    central: tuple[Mosquitto, Probe],
    host_id: str,
    browser: WebDriver,
) -> None:
    """As on a central broker: three hosts' retained state, one of them gone."""
    from selenium.webdriver.common.by import By

    from shared.messages import Applied, AppliedContainer, DesiredState
    from tests.support.host_facts import publish_facts
    from tests.support.processes import Service

    broker, probe = central
    nas, mini, pi = (f"{host_id}-{n}" for n in ("nas", "mini", "pi"))
    for host in (nas, mini, pi):
        publish_facts(probe, host)
    # The mini PC is in media mode, its tier 3 paused; the Pi's bridge left its last will.
    paused = AppliedContainer(
        name="tdarr",
        id="a" * 12,
        tier=3,
        paused=True,
        cpu_weight=10,
        io_weight=10,
        memory_high=None,
        memory_max=None,
        reasons=["media_mode"],
    )
    applied = Applied(host=mini, mode="desired", seq=5, containers=[paused])
    desired = DesiredState(host=mini, seq=5, lease_seconds=30, media_mode=True)
    probe.publish(f"warden/{mini}/applied", applied.model_dump_json(), retain=True)
    probe.publish(f"warden/{mini}/desired", desired.model_dump_json(), retain=True)
    for host, up in ((nas, "1"), (mini, "1"), (pi, "0")):
        probe.publish(f"warden/{host}/bridge/availability", up, retain=True)
    port = free_port()
    cfg = web_config(tmp_path, broker, f"{host_id}-centre", port)
    web = Service("web", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}-centre/web/availability", lambda s: s.text == "online")
        browser.get(f"http://127.0.0.1:{port}/")

        def cards() -> dict[str, str]:
            return dict(
                browser.execute_script(
                    "return [...document.querySelectorAll('#fleet .host-card')]"
                    ".map(b => [b.dataset.host, b.textContent])"
                )
            )

        wait_until(lambda: {nas, mini, pi} <= set(cards()), what="the strip shows the hosts")
        assert "gone" in cards()[pi] and "online" in cards()[nas]
        assert "media on" in cards()[mini] and "1 paused" in cards()[mini]

        def shown() -> list[str]:
            return list(
                browser.execute_script(
                    "return [document.getElementById('host').textContent,"
                    " ...[...document.querySelectorAll(`tr[data-name='tdarr'] td`)]"
                    ".map(td => td.textContent)]"
                )
            )

        # This service's own host id has no Warden host behind it: the first host is shown.
        wait_until(lambda: shown()[:4] == [mini, "tdarr", "3", "paused"], what="mini's page")
        browser.find_element(By.CSS_SELECTOR, f"#fleet [data-host='{nas}']").click()
        wait_until(lambda: shown()[:4] == [nas, "tdarr", "3", "running"], what="the NAS's page")
        assert shown()[4] == "memory_high, cpu_idle"  # the limits cell, cpu yield's with them
        browser.save_screenshot(str(tmp_path / "warden-fleet-nas.png"))
        shutil.copy(tmp_path / "warden-fleet-nas.png", FLEET_NAS_SCREENSHOT)
        assert f"host={nas}" in browser.current_url
        browser.find_element(By.CSS_SELECTOR, f"#fleet [data-host='{mini}']").click()
        wait_until(lambda: shown()[:4] == [mini, "tdarr", "3", "paused"], what="mini's again")
        assert "media mode on" in browser.find_element(By.ID, "media-pill").text
        assert f"host={mini}" in browser.current_url
        sent_at = time.monotonic()
        browser.find_element(By.ID, "tier3-pause").click()
        probe.wait_for(f"warden/{mini}/trigger", lambda s: True, after=sent_at)
        wait_until(lambda: mini in browser.find_element(By.ID, "message").text, what="said")

        shot = tmp_path / "warden-fleet.png"
        browser.save_screenshot(str(shot))
        shutil.copy(shot, FLEET_SCREENSHOT)
        browser.set_window_size(390, 1600)  # a phone
        browser.save_screenshot(str(tmp_path / "warden-fleet-phone.png"))
        shutil.copy(tmp_path / "warden-fleet-phone.png", FLEET_PHONE_SCREENSHOT)
    finally:
        web.kill(signal.SIGTERM)


def test_the_temperature_card_reads_the_catalogue_s_fields_not_its_words(
    tmp_path: Path,
    central: tuple[Mosquitto, Probe],
    host_id: str,
    browser: WebDriver,
) -> None:
    """Its "pauses at" is the lowest temperature threshold that acts (the warning level
    does not): a catalogue whose effects are all worded anew shows the same card."""
    from selenium.webdriver.common.by import By

    from services.governor.catalogue import catalogue
    from shared.config.model import WardenConfig
    from tests.support.processes import Service
    from tests.support.web import web_config

    broker, probe = central
    shipped = catalogue(WardenConfig(host_id=host_id))
    reworded = shipped.model_copy(
        update={
            "cards": [
                card.model_copy(
                    update={
                        "thresholds": [
                            t.model_copy(update={"effect": f"reworded {n}"})
                            for n, t in enumerate(card.thresholds)
                        ]
                    }
                )
                for card in shipped.cards
            ]
        }
    )
    probe.publish(f"warden/{host_id}/governor/rules", reworded.model_dump_json(), retain=True)
    port = free_port()
    web = Service("web", web_config(tmp_path, broker, host_id, port), tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        browser.get(f"http://127.0.0.1:{port}/")

        def temperature() -> str:
            return str(browser.find_element(By.CSS_SELECTOR, "#card-temperature .sub").text)

        wait_until(lambda: "pauses at 75°C" in temperature(), what="stage 1's temperature")
    finally:
        web.kill(signal.SIGTERM)


LOCKED_SCREENSHOT = Path("/tmp/warden-dashboard-locked.png")
IN_SCREENSHOT = Path("/tmp/warden-dashboard-token.png")


def test_without_a_token_the_page_says_why_it_is_empty_and_shows_nothing_unread(
    tmp_path: Path,
    central: tuple[Mosquitto, Probe],
    host_id: str,
    browser: WebDriver,
) -> None:
    """Bound beyond loopback, every read needs a token: the page says so and where the
    token is, instead of cards of dashes; once in, it shows the preset only as the governor
    said it ("unknown" before), never the select's first option. (A broker of its own: on
    the session's, other tests' hosts would make a fleet, and the page show one of them.)"""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    from shared.config.web import ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE
    from tests.support.browser import csp_violations
    from tests.support.processes import Service, write_config
    from tests.support.web import ADMIN

    broker, probe = central
    port = free_port()
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"host": "0.0.0.0", "port": port}},
            "mqtt": {"host": broker.host, "port": broker.port},
            "web": {"database": str(tmp_path / "web.sqlite3"), "admin_tokens": [ADMIN]},
        },
    )
    web = Service("web", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        browser.get(f"http://127.0.0.1:{port}/")
        locked = browser.find_element(By.ID, "locked")
        wait_until(locked.is_displayed, what="the page says it needs a token")
        text = locked.text
        for needed in (
            ADMIN_TOKEN_ENV,
            ".env",
            ADMIN_TOKEN_FILE,
            "Use token",
            "a bearer token is required",
        ):
            assert needed in text, needed
        assert browser.find_element(By.ID, "token").is_displayed()
        shown = browser.find_element(By.TAG_NAME, "body").text
        assert "\u2013" not in shown and "Conservative" not in shown and "Balanced" not in shown
        assert not browser.find_element(By.ID, "card-cpu").is_displayed()
        shot = tmp_path / "warden-dashboard-locked.png"
        browser.save_screenshot(str(shot))
        shutil.copy(shot, LOCKED_SCREENSHOT)

        # In with the token: live, and the preset unknown until the governor says it.
        browser.find_element(By.ID, "token").send_keys(ADMIN)
        browser.find_element(By.ID, "login-button").click()
        wait_until(lambda: browser.find_element(By.ID, "live").text == "live", what="live")
        assert not locked.is_displayed()
        preset = Select(browser.find_element(By.ID, "preset"))
        wait_until(lambda: preset.first_selected_option.text == "unknown", what="unknown")
        assert "unknown" in browser.find_element(By.ID, "cpu-threshold-value").text
        probe.publish(f"warden/{host_id}/preset", "Balanced", retain=True)
        wait_until(
            lambda: preset.first_selected_option.text == "Balanced", what="the preset in force"
        )
        assert browser.find_element(By.ID, "cpu-threshold-value").text.endswith("% (preset)")
        # The nice level beside the sliders: the preset's, then set from the page.
        nice = browser.find_element(By.ID, "nice")
        wait_until(lambda: nice.get_attribute("value") == "10", what="Balanced's nice 10")
        assert browser.find_element(By.ID, "nice-value").text == "(preset)"
        nice.clear()
        nice.send_keys("7\t")
        probe.wait_for(f"warden/{host_id}/settings", lambda m: b'"nice":7' in m.payload)
        assert csp_violations(browser) == []
        browser.save_screenshot(str(tmp_path / "warden-dashboard-in.png"))
        shutil.copy(tmp_path / "warden-dashboard-in.png", IN_SCREENSHOT)
    finally:
        web.kill(signal.SIGTERM)


def test_the_page_draws_its_marks_and_offers_the_nice_level() -> None:
    """A host without an emoji font shows a box for one: the page has none (the protected
    mark is an inline SVG); the nice level is a setting beside the sliders, 0-19 as
    Optimizarr's input, sent as /api/v1's `nice`."""
    from services.web.page import dashboard_page

    page, csp = dashboard_page()
    emoji = [c for c in page if ord(c) >= 0x1F000 or 0x2600 <= ord(c) <= 0x27BF]
    assert emoji == []
    assert 'aria-label", "protected"' in page and "createElementNS(svgNS" in page
    assert '<input type="number" id="nice" min="0" max="19" step="1" disabled>' in page
    assert "changeSettings({ nice: level })" in page
    assert "script-src 'sha256-" in csp
