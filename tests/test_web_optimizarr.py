"""Optimizarr's four routes at its own paths, with its own bodies: the three settings
examples of its Phase 2 document ("Configuration Examples") sent verbatim round-trip, the
snapshot and the threshold check read like its dashboard reads them, and the same auth
as /api/v1 (admin to change settings). On a real broker, and through the real web and
governor processes."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.broker import Mosquitto, free_port
from tests.support.host_facts import publish_facts
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config
from tests.support.web import InProcessWeb, client, web_config

ADMIN = "admin-token-optimizarr"
READER = "read-token-optimizarr"

# Optimizarr's Phase 2 document, "Configuration Examples", as it prints them.
CONSERVATIVE = """{
  "cpu_threshold": 70.0,
  "memory_threshold": 70.0,
  "gpu_threshold": 75.0,
  "nice_level": 15,
  "enable_throttling": true
}"""
BALANCED = """{
  "cpu_threshold": 85.0,
  "memory_threshold": 80.0,
  "gpu_threshold": 85.0,
  "nice_level": 10,
  "enable_throttling": true
}"""
AGGRESSIVE = """{
  "cpu_threshold": 95.0,
  "memory_threshold": 90.0,
  "gpu_threshold": 95.0,
  "nice_level": 5,
  "enable_throttling": true
}"""
SEED_FIELDS = ("cpu_threshold", "memory_threshold", "gpu_threshold", "nice_level")


@pytest.fixture
def web(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[InProcessWeb]:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "process_groups": [{"name": "encoders", "match_name": ["ffmpeg"]}],
            "web": {
                "database": str(tmp_path / "web.sqlite3"),
                "admin_tokens": [ADMIN],
                "read_tokens": [READER],
            },
        },
    )
    running = InProcessWeb(cfg).start()
    wait_until(lambda: running.bus.connected, what="web connected")
    yield running
    running.stop()


@pytest.mark.parametrize("body", [CONSERVATIVE, BALANCED, AGGRESSIVE])
def test_the_seed_s_examples_round_trip(
    web: InProcessWeb, probe: Probe, host_id: str, body: str
) -> None:
    http = web.http(ADMIN)
    sent = json.loads(body)
    done = http.post(
        "/api/settings/resources", content=body, headers={"Content-Type": "application/json"}
    )
    assert done.status_code == 200, done.text
    kept = http.get("/api/settings/resources").json()
    assert {k: kept[k] for k in sent} == sent
    # One state: Warden's own route says the same, and the governor is told.
    v1 = http.get("/api/v1/settings/resources").json()
    assert (v1["cpu_threshold_percent"], v1["nice"]) == (sent["cpu_threshold"], sent["nice_level"])
    probe.wait_for(
        f"warden/{host_id}/settings",
        lambda s: json.loads(s.payload)["cpu_threshold_percent"] == sent["cpu_threshold"],
    )


def test_presets_in_any_case_and_partial_bodies(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http(ADMIN)
    done = http.post("/api/settings/resources", json={"preset": "Conservative"})
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["preset"] == "Conservative"
    assert {k: answer[k] for k in SEED_FIELDS} == {
        "cpu_threshold": 70,
        "memory_threshold": 70,
        "gpu_threshold": 75,
        "nice_level": 15,
    }
    probe.wait_for(f"warden/{host_id}/preset/set", lambda s: s.text == "conservative")
    # Warden's own route takes any case too.
    v1 = http.post("/api/v1/settings/resources", json={"preset": "AGGRESSIVE"})
    assert v1.status_code == 200 and v1.json()["preset"] == "aggressive", v1.text
    # A field left out keeps its value; enable_throttling alone turns throttling off.
    off = http.post("/api/settings/resources", json={"enable_throttling": False}).json()
    assert off["enable_throttling"] is False and off["cpu_threshold"] == 95
    check = http.get("/api/resources/thresholds").json()
    assert check["should_pause"] is False and check["settings"]["enable_throttling"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cpu_threshold": 101}, "cpu_threshold"),
        ({"nice_level": 20}, "nice_level"),
        ({"nice_level": -5}, "nice_level"),
        ({"enable_throttling": "maybe"}, "enable_throttling"),
        ({"preset": "ludicrous"}, "preset"),
        ({"cpu_threshold_percent": 50}, "cpu_threshold_percent"),  # /api/v1's name, not here
    ],
)
def test_bad_settings_are_refused_by_name_and_publish_nothing(
    web: InProcessWeb, probe: Probe, host_id: str, body: dict[str, object], field: str
) -> None:
    http = web.http(ADMIN)
    refused = http.post("/api/settings/resources", json=body)
    assert refused.status_code == 422 and refused.json()["error"].startswith(field), refused.text
    # A good change after it goes out on the same connection: once the probe has it, a
    # message the refusal had sent would be there before it.
    assert http.post("/api/settings/resources", json={"cpu_threshold": 42}).status_code == 200
    topic = f"warden/{host_id}/settings"
    probe.wait_for(topic, lambda s: json.loads(s.payload)["cpu_threshold_percent"] == 42)
    published = [json.loads(s.payload)["cpu_threshold_percent"] for s in probe.messages(topic)]
    assert published == [42]


def test_auth_is_the_same_as_api_v1(web: InProcessWeb) -> None:
    # Read with a read token; change only with an admin one.
    assert web.http(READER).get("/api/settings/resources").status_code == 200
    assert web.http(READER).get("/api/resources/current").status_code == 200
    denied = web.http(READER).post("/api/settings/resources", content=BALANCED)
    assert denied.status_code == 403, denied.text
    assert web.http().post("/api/settings/resources", content=BALANCED).status_code == 401
    assert web.http("not-a-token").get("/api/resources/thresholds").status_code == 401


def test_the_snapshot_and_the_threshold_check(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http(READER)
    publish_facts(probe, host_id)
    wait_until(
        lambda: http.get("/api/resources/current").json()["cpu"]["temperature_c"] == 71,
        what="the facts in the snapshot",
    )
    now = http.get("/api/resources/current").json()
    assert now["cpu"] == {
        "percent": 37.5,
        "per_core": [50.0, 25.0],
        "count": 2,
        "temperature_c": 71,
        "temp_available": True,
    }
    assert now["memory"] == {
        "total_mb": 8192.0,
        "available_mb": 2048.0,
        "used_mb": 6144.0,
        "percent": 75.0,
    }
    assert now["disk_io"]["read_count_per_second"] == 40.0
    assert now["disk_io"]["read_bytes"] == 10**9 and now["disk_io"]["write_count"] == 3000
    assert now["gpu"] is None  # none: not zero
    assert [(p["name"], p["memory_mb"], p["group"]) for p in now["processes"]] == [
        ("ffmpeg", 512.0, "encoders"),
        ("python3", 64.0, None),
    ]
    assert now["timestamp"].endswith("+00:00")
    # Warden's own route has the same new readings.
    v1 = http.get("/api/v1/resources/current").json()
    assert v1["memory_used_bytes"] == 6 * 2**30 and v1["disk_writes_per_second"] == 8.0
    assert [p["pid"] for p in v1["top_processes"]] == [4242, 77]

    # 37.5 % CPU and 75 % memory against Conservative's 70 / 70.
    done = web.http(ADMIN).post("/api/settings/resources", json=json.loads(CONSERVATIVE))
    assert done.status_code == 200, done.text
    check = http.get("/api/resources/thresholds").json()
    assert (check["cpu_exceeded"], check["memory_exceeded"], check["gpu_exceeded"]) == (
        False,
        True,
        False,
    )
    assert check["should_pause"] is True and check["reasons"] == ["Memory 75.0% > 70%"]
    assert check["gpu_usage"] is None


def test_the_seed_s_routes_through_the_real_web_and_governor(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    port = free_port()
    cfg = web_config(
        tmp_path,
        broker,
        host_id,
        port,
        {"admin_tokens": [ADMIN]},
        process_groups=[{"name": "enc", "match_name": ["ffmpeg-never-running"]}],
    )
    probe = Probe(broker.host, broker.port)
    web, governor = Service("web", cfg, tmp_path), Service("governor", cfg, tmp_path)
    try:
        for name in ("web", "governor"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        with client(port, ADMIN) as http:
            for body in (AGGRESSIVE, CONSERVATIVE):
                done = http.post(
                    "/api/settings/resources",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                assert done.status_code == 200, done.text
                kept = http.get("/api/settings/resources").json()
                assert {k: kept[k] for k in json.loads(body)} == json.loads(body)
            preset = http.post("/api/settings/resources", json={"preset": "Balanced"})
            assert preset.status_code == 200, preset.text
            assert http.get("/api/resources/current").status_code == 200
        # The governor runs the process groups by what the seed's body set.
        wait_until(
            lambda: (
                "cpu_threshold_percent=70.0" in governor.output() and "nice=15" in governor.output()
            ),
            what="the governor applies Conservative's numbers",
        )
        probe.wait_for(f"warden/{host_id}/preset", lambda s: s.text == "Balanced")
    finally:
        probe.close()
        web.kill(signal.SIGTERM)
        governor.kill(signal.SIGTERM)
