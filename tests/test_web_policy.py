"""Schedules, conditions and the download client's limits where a reason shows: /status (and
so the dashboard), and the timed override that skips a schedule, on the real bus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.messages import (
    ConditionStatus,
    DesiredState,
    DownloadClientIntent,
    GovernorMemory,
    GovernorStatus,
    Reason,
    ScheduleStatus,
)
from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.web import InProcessWeb, in_process_web, running, web_config

ADMIN = "admin-token-policy"
NIGHT = {
    "name": "night",
    "windows": [{"start": "23:00", "end": "07:00"}],
    "mode": "run_inside",
    "tiers": [3],
}


@pytest.fixture
def web(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[InProcessWeb]:
    with in_process_web(
        tmp_path, broker, host_id, web={"admin_tokens": [ADMIN]}, schedules=[NIGHT]
    ) as running:
        yield running


def limited(host_id: str, detail: str) -> DesiredState:
    """A desired state that holds the download client at 1 Mbps up, 11 MB/s down."""
    reason = Reason(rule="bandwidth", detail=detail)
    client = DownloadClientIntent(download_bps=11_000_000, upload_bps=1_000_000, reasons=[reason])
    return DesiredState(host=host_id, seq=1, lease_seconds=30, download_client=client)


def test_status_shows_schedules_conditions_and_the_download_clients_limits(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    status = GovernorStatus(
        schedules={
            "night": ScheduleStatus(
                inside=False,
                next_change="2024-06-12T23:00:00+02:00",
                summary="tier 3 runs only inside daily 23:00-07:00",
            )
        },
        conditions={"mover": ConditionStatus(holds=True, detail="mover (4242)")},
    )
    memory = GovernorMemory(host=host_id, status=status)
    desired = limited(host_id, "2 stream(s) reserve 12 Mbps")
    probe.publish(f"warden/{host_id}/governor/memory", memory.model_dump_json(), retain=True)
    probe.publish(f"warden/{host_id}/desired", desired.model_dump_json(), retain=True)
    http = web.http()
    wait_until(lambda: http.get("/status").json()["download_client"] is not None)
    shown = http.get("/status").json()
    assert shown["schedules"]["night"]["next_change"] == "2024-06-12T23:00:00+02:00"
    assert shown["conditions"]["mover"]["holds"] is True
    assert shown["download_client"] == {
        "download_bps": 11_000_000,
        "upload_bps": 1_000_000,
        "alternative": False,
        "reasons": ["bandwidth(2 stream(s) reserve 12 Mbps)"],
    }


def test_a_timed_override_skips_a_schedule_it_knows(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http(ADMIN)
    for bad in (
        {"kind": "skip_schedule", "minutes": 60},  # which one?
        {"kind": "skip_schedule", "schedule": "nope", "minutes": 60},
        {"kind": "pause_tier3", "schedule": "night", "minutes": 60},
    ):
        refused = http.post("/api/v1/overrides", json=bad)
        assert refused.status_code in (400, 422), (bad, refused.text)
        assert "schedule" in refused.text
    added = http.post(
        "/api/v1/overrides", json={"kind": "skip_schedule", "schedule": "night", "minutes": 60}
    )
    assert added.status_code == 201, added.text
    assert added.json()["schedule"] == "night"
    sent = probe.wait_for(f"warden/{host_id}/overrides", lambda s: "skip_schedule" in s.text)
    assert '"schedule":"night"' in sent.text.replace(" ", "")


def test_the_dashboard_lists_each_schedule_with_its_next_change(
    tmp_path: Path, alone: tuple[Mosquitto, Probe], host_id: str
) -> None:
    broker, probe = alone  # the session's broker holds other tests' hosts: a fleet
    from tests.support.browser import chromium

    port = free_port()
    cfg = web_config(tmp_path, broker, host_id, port, schedules=[NIGHT])
    status = GovernorStatus(
        schedules={
            "night": ScheduleStatus(
                next_change="2024-06-12T23:00:00+02:00",
                summary="tier 3 runs only inside daily 23:00-07:00",
            )
        }
    )
    probe.publish(
        f"warden/{host_id}/governor/memory",
        GovernorMemory(host=host_id, status=status).model_dump_json(),
        retain=True,
    )
    desired = limited(host_id, "1 stream(s) reserve 12 Mbps")
    probe.publish(f"warden/{host_id}/desired", desired.model_dump_json(), retain=True)
    with chromium() as browser, running(cfg, tmp_path, probe, host_id, "web"):
        wait_for_port(port)  # online on the bus comes before the HTTP server listens
        browser.get(f"http://127.0.0.1:{port}/")

        def lines() -> str:
            return str(
                browser.execute_script("return document.getElementById('policy-items').textContent")
            )

        wait_until(lambda: "Schedule night: outside, next from" in lines(), what="the schedule")
        assert "tier 3 runs only inside daily 23:00-07:00" in lines()
        assert "Download client: upload 8.0 Mbps, download 88.0 Mbps" in lines()
        assert "bandwidth(1 stream(s) reserve 12 Mbps)" in lines()
