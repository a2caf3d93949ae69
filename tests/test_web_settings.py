"""Settings from the API reach the governor's rules and survive restarts of the web
service, the governor and even a broker that keeps nothing."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from services.governor.policy import Facts, decide
from services.governor.settings import with_settings
from shared.config.model import WardenConfig
from shared.messages import HostUsage, ProcessGroupUsage, ResourcesFact
from shared.messages.settings import ResourceSettings
from tests.support.broker import Mosquitto, free_port
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config
from tests.support.views import remembered
from tests.support.web import client

ADMIN = "admin-token-settings"


def busy_host(now: float) -> Facts:
    usage = HostUsage(
        cpu_count=2, cpu_percent=60.0, memory_total_bytes=2**30, memory_used_percent=10.0
    )
    groups = [ProcessGroupUsage(name="enc", pids=[1], cpu_percent=0.0, rss_bytes=0)]
    fact = ResourcesFact(host="h", ts=now, machine=usage, process_groups=groups)
    return Facts(resources=fact, resources_seen_at=now)


def test_the_governor_pauses_by_the_thresholds_set_at_run_time() -> None:
    cfg = WardenConfig.model_validate(
        {
            "host_id": "h",
            "process_groups": [{"name": "enc", "match_name": ["ffmpeg"], "pause_hold_seconds": 0}],
        }
    )
    now = time.time()

    def paused(settings: ResourceSettings | None) -> bool:
        effective = with_settings(cfg, settings)
        decision = decide(effective, effective.tier_matcher(), busy_host(now), remembered(), now)
        intent = decision.process_groups.get("enc")
        return bool(intent and intent.paused)

    assert not paused(None)  # 60 % is under balanced's 85
    assert paused(ResourceSettings(host="h", cpu_threshold_percent=50))
    assert not paused(ResourceSettings(host="h", cpu_threshold_percent=50, enabled=False))
    niced = with_settings(cfg, ResourceSettings(host="h", nice=3))
    assert niced.process_groups[0].nice == 3


def test_settings_survive_restarts_of_web_governor_and_broker(
    tmp_path: Path, own_broker: Mosquitto, host_id: str
) -> None:
    port = free_port()
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"port": port}},
            "mqtt": {
                "host": own_broker.host,
                "port": own_broker.port,
                "reconnect_min_seconds": 0.2,
                "reconnect_max_seconds": 1,
            },
            "process_groups": [{"name": "enc", "match_name": ["ffmpeg-never-running"]}],
            "web": {"database": str(tmp_path / "web.sqlite3"), "admin_tokens": [ADMIN]},
        },
    )
    change = {"preset": "aggressive", "cpu_threshold_percent": 42, "nice": 7}

    def start() -> tuple[Service, Service, Probe]:
        probe = Probe(own_broker.host, own_broker.port)
        web, governor = Service("web", cfg, tmp_path), Service("governor", cfg, tmp_path)
        for name in ("web", "governor"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        return web, governor, probe

    web, governor, probe = start()
    try:
        with client(port, ADMIN) as http:
            done = http.post("/api/v1/settings/resources", json=change)
            assert done.status_code == 200, done.text
        wait_until(lambda: "cpu_threshold_percent=42.0" in governor.output(), what="applied")
        probe.wait_for(f"warden/{host_id}/preset", lambda s: s.text == "Aggressive")
    finally:
        probe.close()
        web.kill(signal.SIGTERM)
        governor.kill(signal.SIGTERM)

    # The broker keeps nothing (persistence false): only the web service's database does.
    own_broker.restart()
    (tmp_path / "governor.log").unlink()
    web, governor, probe = start()
    try:
        wait_until(lambda: "cpu_threshold_percent=42.0" in governor.output(), what="re-applied")
        probe.wait_for(f"warden/{host_id}/preset", lambda s: s.text == "Aggressive")
        with client(port) as http:
            kept = http.get("/api/v1/settings/resources").json()
        assert {k: kept[k] for k in change} == change
        assert kept["effective"]["cpu_threshold_percent"] == 42
    finally:
        probe.close()
        web.kill(signal.SIGTERM)
        governor.kill(signal.SIGTERM)


def test_a_preset_the_database_holds_that_is_no_preset_is_not_sent(tmp_path: Path) -> None:
    from services.web.service import WebService
    from tests.support.in_process import build

    config = write_config(
        tmp_path / "config.yaml",
        {"host_id": "h", "web": {"database": str(tmp_path / "web.sqlite3")}},
    )
    web = build("web", config, lambda ctx: WebService(ctx, serve=False))
    service = web.service
    assert isinstance(service, WebService)
    # Written by hand or by an older version: the file is outside input like any other.
    service.store.save_settings(ResourceSettings(host="h"), "turbo")
    service.on_connect()
    assert [p.topic for p in web.published if p.topic.endswith("/preset/set")] == []
    assert [p.topic for p in web.published if p.topic.endswith("/settings")] == [
        "warden/h/settings"
    ]
    web.stop()
