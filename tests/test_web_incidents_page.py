"""The dashboard's incidents panel in headless Chromium, on a real web service and broker: a
sentence per incident, and a timeline with the stall share, the contenders' use and the
action marked; nothing the Content-Security-Policy has to block."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.browser import chromium, csp_violations
from tests.support.host_facts import publish_facts
from tests.support.incidents import made
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until
from tests.support.web import web_config

# Kept for people to look at after a run.
SCREENSHOT = Path("/tmp/warden-incidents.png")


def test_the_panel_tells_each_incident_and_draws_its_timeline(
    tmp_path: Path, alone: tuple[Mosquitto, Probe], host_id: str
) -> None:
    broker, probe = alone  # the session's broker holds other tests' hosts: a fleet
    publish_facts(probe, host_id)
    log = made(host_id, time.time() - 300)
    probe.publish(f"warden/{host_id}/governor/incidents", log.model_dump_json(), retain=True)
    port = free_port()
    cfg = web_config(tmp_path, broker, host_id, port)
    web = Service("web", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        with chromium() as browser:
            wait_for_port(port)  # online on the bus comes before the HTTP server listens
            browser.get(f"http://127.0.0.1:{port}/")

            def panel() -> list[dict[str, object]]:
                return list(
                    browser.execute_script(
                        "return [...document.querySelectorAll('#incidents article')].map(a => ({"
                        "id: a.dataset.id, open: a.classList.contains('open'),"
                        "sentence: a.querySelector('.sentence').textContent,"
                        "share: a.querySelectorAll('polyline.share').length,"
                        "use: a.querySelectorAll('polyline.use').length,"
                        "acts: [...a.querySelectorAll('text.act-label')].map(t => t.textContent),"
                        "legend: a.querySelector('.legend').textContent}))"
                    )
                )

            wait_until(lambda: len(panel()) == 2, timeout=30, what="two incidents on the page")
            cpu, disk = panel()
            assert [i.id for i in log.incidents] == [cpu["id"], disk["id"]]
            assert cpu["open"] and not disk["open"]
            assert disk["sentence"] == log.incidents[1].sentence
            assert "jellyfin waited on disk 38 % of the time" in str(disk["sentence"])
            assert "tdarr was capped at" in str(disk["sentence"])
            assert disk["share"] == 1 and disk["use"] == 2
            assert disk["acts"] == ["tdarr: io.max 12 MB/s on 8:0", "tdarr: io.max 3 MB/s on 8:0"]
            assert "tdarr" in str(disk["legend"]) and "Warden acted" in str(disk["legend"])
            assert "kopia was using" in str(cpu["sentence"]) and cpu["acts"] == []
            assert csp_violations(browser) == []
            panel_box = browser.find_element("css selector", "#incidents")
            browser.execute_script("arguments[0].scrollIntoView()", panel_box)
            shot = tmp_path / "incidents.png"
            panel_box.screenshot(str(shot))
            shutil.copy(shot, SCREENSHOT)
            assert shot.stat().st_size > 5_000
    finally:
        web.kill(signal.SIGTERM)
