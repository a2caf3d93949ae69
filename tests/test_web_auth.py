"""Bearer tokens: who may read, who may act, and that a refusal does nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.web.service import StartError
from tests.support.broker import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import write_config
from tests.support.web import InProcessWeb

ADMIN, READER = "admin-token-5f1c9e", "reader-token-77ab02"


def web_config(tmp_path: Path, broker: Mosquitto, host_id: str, bind: str, **web: object) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"host": bind, "port": 8765}},
            "mqtt": {"host": broker.host, "port": broker.port},
            "web": {"database": str(tmp_path / "web.sqlite3"), **web},
        },
    )


@pytest.fixture
def exposed(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[TestClient]:
    cfg = web_config(
        tmp_path, broker, host_id, "0.0.0.0", admin_tokens=[ADMIN], read_tokens=[READER]
    )
    web = InProcessWeb(cfg).start()
    yield web.http()
    web.stop()


@pytest.fixture
def loopback(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[TestClient]:
    cfg = web_config(tmp_path, broker, host_id, "127.0.0.1", admin_tokens=[ADMIN])
    web = InProcessWeb(cfg).start()
    yield web.http()
    web.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


READS = [
    "/status",
    "/metrics",
    "/api/v1/resources/current",
    "/api/v1/resources/thresholds",
    "/api/v1/settings/resources",
    "/api/v1/containers",
    "/api/v1/decisions",
    "/api/v1/history",
    "/api/v1/history/cpu_percent",
]


def test_beyond_loopback_every_route_but_health_needs_a_token(
    exposed: TestClient, probe: Probe, host_id: str
) -> None:
    assert exposed.get("/health").status_code == 200
    for path in READS:
        refused = exposed.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert "token" in refused.json()["error"]
        assert exposed.get(path, headers=bearer("wrong")).status_code == 401, path
        # A token in the URL is not a token.
        assert exposed.get(f"{path}?token={ADMIN}").status_code == 401, path
        assert exposed.get(path, headers=bearer(READER)).status_code == 200, path
        assert exposed.get(path, headers=bearer(ADMIN)).status_code == 200, path

    # Acting needs admin here; refusals publish nothing.
    body = {"event": "tier3_pause"}
    assert exposed.post("/trigger", json=body).status_code == 401
    assert exposed.post("/trigger", json=body, headers=bearer(READER)).status_code == 403
    change = {"preset": "aggressive"}
    assert exposed.post("/api/v1/settings/resources", json=change).status_code == 401
    read_only = exposed.post("/api/v1/settings/resources", json=change, headers=bearer(READER))
    assert read_only.status_code == 403
    assert "read-only" in read_only.json()["error"]
    accepted = exposed.post("/trigger", json=body, headers=bearer(ADMIN))
    assert accepted.status_code == 200
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"tier3_pause" in s.payload)
    # The web service publishes on one connection, in order: had a refused request
    # published anything, it would have reached the probe before the accepted trigger.
    assert len(probe.messages(f"warden/{host_id}/trigger")) == 1
    for leaf in ("preset/set", "settings"):
        assert probe.messages(f"warden/{host_id}/{leaf}") == [], leaf


def test_on_loopback_reads_and_triggers_are_open_but_settings_need_admin(
    loopback: TestClient, probe: Probe, host_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for path in READS:
        assert loopback.get(path).status_code == 200, path
    assert loopback.get("/status", headers=bearer("wrong")).status_code == 401
    assert loopback.post("/trigger", json={"event": "media_stop"}).status_code == 200

    change = {"cpu_threshold_percent": 60}
    assert loopback.post("/api/v1/settings/resources", json=change).status_code == 401
    assert probe.messages(f"warden/{host_id}/settings") == []
    done = loopback.post("/api/v1/settings/resources", json=change, headers=bearer(ADMIN))
    assert done.status_code == 200, done.text
    assert done.json()["cpu_threshold_percent"] == 60
    probe.wait_for(f"warden/{host_id}/settings", lambda s: s.retained is False)
    # The token never reaches a log line.
    assert ADMIN not in caplog.text
    assert "settings.changed" in caplog.text


def test_beyond_loopback_without_any_token_refuses_to_start(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    cfg = web_config(tmp_path, broker, host_id, "0.0.0.0", admin_tokens=["${UNSET_TOKEN}"])
    with pytest.raises(StartError, match="beyond loopback"):
        InProcessWeb(cfg)
