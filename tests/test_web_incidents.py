"""The incidents in the web service, on a real broker: what the governor publishes (retained)
lands in the database, bounded, and is served at /api/v1/incidents and /api/v1/incidents/<id>;
/metrics counts each once and observes its time to action."""

from __future__ import annotations

import time
from pathlib import Path

from services.web.store import Store
from shared.config.model import Incidents, WebHistory
from shared.messages.incidents import (
    Contender,
    Incident,
    IncidentAction,
    IncidentLog,
    SharePoint,
    UsePoint,
    Waiter,
)
from tests.support.broker import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.web import in_process_web

MB = 1024**2


def incident(n: int, start: float, ended: bool = True, acted: float | None = 1.6) -> Incident:
    action = (
        [
            IncidentAction(
                at=start + acted,
                target="tdarr",
                kind="container",
                what="io.max 12 MB/s on 8:0",
                controls=["io_max"],
                rules=["protect"],
            )
        ]
        if acted is not None
        else []
    )
    return Incident(
        id=f"stall-io-{n}",
        kind="stall",
        resource="io",
        started_at=start,
        ended_at=start + 6 if ended else None,
        end_reason="calm" if ended else None,
        waiters=[Waiter(name="jellyfin", peak_percent=38)],
        peak_percent=38,
        disks=["8:0"],
        streams=[],
        contenders=[
            Contender(name="tdarr", kind="container", tier=3, score=180 * MB, same_disk=True)
        ],
        contenders_from=start - 30,
        contenders_to=start,
        actions=action,
        time_to_action_seconds=acted,
        cleared_after_action=(True if ended else None) if acted is not None else None,
        stall=[SharePoint(t=start, percent=38), SharePoint(t=start + 4, percent=2)],
        use=[UsePoint(t=start - 5, use={"tdarr": 180 * MB})],
        sentence=f"incident {n}",
    )


def test_incidents_are_served_kept_and_counted(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    now = time.time()
    topic = f"warden/{host_id}/governor/incidents"
    # From before the web service started: new to its database, so kept and counted.
    before = IncidentLog(host=host_id, incidents=[incident(1, now - 100)])
    probe.publish(topic, before.model_dump_json(), retain=True)
    with in_process_web(tmp_path, broker, host_id) as web:
        http = web.http()
        wait_until(lambda: http.get("/api/v1/incidents").json() != [], what="the retained one")
        open_one = incident(2, now - 10, ended=False, acted=None)
        log = IncidentLog(host=host_id, incidents=[open_one, *before.incidents])
        probe.publish(topic, log.model_dump_json(), retain=True)
        wait_until(lambda: len(http.get("/api/v1/incidents").json()) == 2, what="the new one")
        # It goes on, Warden acts, it ends: the same incident, told again.
        log = IncidentLog(host=host_id, incidents=[incident(2, now - 10), *before.incidents])
        probe.publish(topic, log.model_dump_json(), retain=True)
        wait_until(
            lambda: http.get("/api/v1/incidents").json()[0]["ended_at"] is not None,
            what="the update",
        )
        listed = http.get("/api/v1/incidents").json()
        assert [i["id"] for i in listed] == ["stall-io-2", "stall-io-1"]
        assert listed[0] == {
            "id": "stall-io-2",
            "kind": "stall",
            "resource": "io",
            "started_at": now - 10,
            "ended_at": now - 4,
            "waiters": ["jellyfin"],
            "peak_percent": 38,
            "top_contender": "tdarr",
            "first_action": "tdarr: io.max 12 MB/s on 8:0",
            "time_to_action_seconds": 1.6,
            "cleared_after_action": True,
            "sentence": "incident 2",
        }
        assert http.get("/api/v1/incidents?limit=1").json()[0]["id"] == "stall-io-2"
        whole = http.get("/api/v1/incidents/stall-io-2").json()
        assert Incident.model_validate(whole) == incident(2, now - 10)
        missing = http.get("/api/v1/incidents/nope")
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        assert [i["id"] for i in http.get(f"/api/v1/hosts/{host_id}/incidents").json()] == [
            "stall-io-2",
            "stall-io-1",
        ]
        assert http.get("/api/v1/hosts/elsewhere/incidents").status_code == 404
        metrics = http.get("/metrics").text
        # Each counted once, though the new one came three times.
        assert 'warden_incidents_total{kind="stall",resource="io"} 2.0' in metrics
        assert "warden_incident_time_to_action_seconds_count 2.0" in metrics
        assert 'warden_incident_time_to_action_seconds_bucket{le="2.0"} 2.0' in metrics
        # The dashboard's snapshot carries them whole, with their timelines.
        from services.web.snapshot import snapshot

        shown = snapshot(web.service.backend)["incidents"]
        assert [i["id"] for i in shown] == ["stall-io-2", "stall-io-1"]
        assert shown[0]["stall"][0]["percent"] == 38
    # Started again on the same database: the retained log counts nothing twice.
    with in_process_web(tmp_path, broker, host_id) as web:
        http = web.http()
        wait_until(lambda: web.service.view.incidents is not None, what="the retained log")
        metrics = http.get("/metrics").text
        assert "warden_incidents_total{" not in metrics
        assert "warden_incident_time_to_action_seconds_count 0.0" in metrics
        assert len(http.get("/api/v1/incidents").json()) == 2


def test_the_database_keeps_incidents_bounded_by_count_and_age(tmp_path: Path) -> None:
    cfg = Incidents(history_keep=3, history_keep_days=1)
    store = Store(tmp_path / "w.sqlite3", WebHistory(), 10, cfg)
    now = 10 * 86400.0
    new = store.keep_incidents([incident(n, now - 86400 * 2 + n) for n in range(2)], now)
    assert new == ["stall-io-0", "stall-io-1"] and store.incidents(10) == []  # too old
    for n in range(2, 7):
        store.keep_incidents([incident(n, now - 100 + n)], now)
    assert [i.id for i in store.incidents(10)] == ["stall-io-6", "stall-io-5", "stall-io-4"]
    assert store.keep_incidents([incident(6, now - 94)], now) == []
    assert store.incident("stall-io-5") is not None and store.incident("stall-io-0") is None
