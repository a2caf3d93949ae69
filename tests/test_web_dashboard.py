"""The dashboard in headless Chromium, on the real stack: it shows the real containers, and
its "Tier 3 pause" button pauses the tier-3 container on the Docker engine."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.support.broker import Mosquitto, free_port
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.test_web_api import running, stack_config

# Kept for people to look at after a run (the test's own copy is under its tmp_path).
SCREENSHOT = Path("/tmp/warden-dashboard.png")
PHONE_SCREENSHOT = Path("/tmp/warden-dashboard-phone.png")


@pytest.fixture
def browser() -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        missing(
            "Chromium and its driver are not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_the_page_shows_the_containers_and_its_button_pauses_tier3(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    browser,  # type: ignore[no-untyped-def]
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
