"""Warden's own API on the real bus: resources, thresholds, containers, decisions, history,
the schema kept in the repository, and bad bodies fuzzed against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.web.openapi import render
from tests.support.broker import Mosquitto
from tests.support.host_facts import publish_facts
from tests.support.probe import Probe
from tests.support.processes import REPO, wait_until
from tests.support.web import InProcessWeb, in_process_web

ADMIN = "admin-token-resources"


@pytest.fixture
def web(tmp_path: Path, broker: Mosquitto, host_id: str) -> Iterator[InProcessWeb]:
    with in_process_web(
        tmp_path,
        broker,
        host_id,
        web={"admin_tokens": [ADMIN]},
        tiers={2: {"containers": ["sonarr"]}, 3: {"containers": ["tdarr"]}},
        process_groups=[{"name": "encoders", "match_name": ["ffmpeg"]}],
    ) as running:
        yield running


def test_resources_thresholds_containers_decisions_and_history(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http()
    publish_facts(probe, host_id)
    wait_until(lambda: http.get("/api/v1/decisions").json() != [], what="facts arrive")
    wait_until(lambda: http.get("/api/v1/resources/current").json()["temperature_c"] == 71)

    now = http.get("/api/v1/resources/current").json()
    assert now["cpu"]["per_core_percent"] == [50.0, 25.0]
    assert now["gpu"] is None  # none: not zero
    flat = {
        k: now[k]
        for k in (
            "cpu_percent",
            "memory_percent",
            "psi_memory_some_avg10",
            "psi_io_full_avg10",
            "disk_read_bytes_per_second",
        )
    }
    assert flat == {
        "cpu_percent": 37.5,
        "memory_percent": 75.0,
        "psi_memory_some_avg10": 60,
        "psi_io_full_avg10": 2,
        "disk_read_bytes_per_second": 1000.0,
    }

    crossed = http.get("/api/v1/resources/thresholds").json()["crossed"]
    assert {(c["metric"], c["threshold"]) for c in crossed} == {
        ("memory.some_avg10", 50),
        ("temperature_c", 70),
    }

    rows = {r["name"]: r for r in http.get("/api/v1/containers").json()}
    assert rows["tdarr"]["limits"] == ["memory_high", "cpu_idle"] and rows["tdarr"]["tier"] == 3
    assert rows["sonarr"]["reasons"] == [] and rows["encoders"]["kind"] == "process_group"
    status = http.get("/status").json()
    assert status["memory_throttled"] is True
    assert status["containers"]["tdarr"]["memory_high_by"] == ["memory_squeeze"]
    assert status["containers"]["tdarr"]["memory_high_override_bytes"] == 2**28

    decisions = http.get("/api/v1/decisions").json()
    assert decisions[0]["summary"].startswith("tdarr: memory.high")

    metrics = http.get("/api/v1/history").json()["metrics"]
    assert {"cpu_percent", "psi_memory_some_avg10", "temperature_c"} <= set(metrics)
    raw = http.get("/api/v1/history/cpu_percent", params={"seconds": 600}).json()
    assert raw["bucket_seconds"] == 0 and raw["points"][-1][1:] == [37.5, 37.5, 37.5]
    day = http.get("/api/v1/history/cpu_percent").json()
    assert day["bucket_seconds"] == 60 and day["points"][-1][1:] == [37.5, 37.5, 37.5]

    text = http.get("/metrics").text
    assert 'warden_pressure_avg10{line="some",resource="memory"} 60.0' in text
    assert "warden_decisions_total" in text and "warden_trigger_to_applied_seconds" in text


def test_settings_are_validated_published_and_kept(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http(ADMIN)
    before = http.get("/api/v1/settings/resources").json()
    assert before["preset"] == "balanced" and before["effective"]["cpu_threshold_percent"] == 85
    for bad in (
        {"cpu_threshold_percent": 101},
        {"preset": "ludicrous"},
        {"nice": 40},
        {"enabled": "maybe"},
        {"colour": "red"},
    ):
        refused = http.post("/api/v1/settings/resources", json=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["error"].split(":")[0] in json.dumps(bad), refused.text
    done = http.post(
        "/api/v1/settings/resources", json={"preset": "conservative", "cpu_threshold_percent": 55}
    ).json()
    assert done["preset"] == "conservative" and done["cpu_threshold_percent"] == 55
    assert done["effective"] == {
        "cpu_threshold_percent": 55,
        "memory_threshold_percent": 70,
        "gpu_threshold_percent": 75,
        "nice": 15,
    }
    probe.wait_for(f"warden/{host_id}/preset/set", lambda s: s.text == "conservative")
    probe.wait_for(
        f"warden/{host_id}/settings", lambda s: b'"cpu_threshold_percent":55' in s.payload
    )
    # One connection, in order: a refused change published would have come before it.
    assert len(probe.messages(f"warden/{host_id}/settings")) == 1
    # null: back to the config's (here the preset's).
    back = http.post("/api/v1/settings/resources", json={"cpu_threshold_percent": None}).json()
    assert (
        back["cpu_threshold_percent"] is None and back["effective"]["cpu_threshold_percent"] == 70
    )


def test_the_schema_in_the_repository_is_the_code_s() -> None:
    kept = (REPO / "services" / "web" / "openapi.json").read_text()
    assert render() == kept, (
        "the API changed: if on purpose, run "
        "`python -m services.web.openapi > services/web/openapi.json` and commit it"
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
SETTING_KEYS = [
    "enabled",
    "preset",
    "cpu_threshold_percent",
    "memory_threshold_percent",
    "gpu_threshold_percent",
    "nice",
    "extra",
]
SETTINGS_BODY = st.dictionaries(st.sampled_from(SETTING_KEYS), JSON, min_size=1, max_size=4)
BODY = st.one_of(
    st.binary(max_size=64),
    JSON.map(lambda v: json.dumps(v).encode()),
    SETTINGS_BODY.map(lambda v: json.dumps(v).encode()),
    st.builds(lambda e: json.dumps({"event": e}).encode(), JSON),
)


def test_fuzzed_bodies_never_give_a_5xx_and_bad_ones_publish_nothing(
    web: InProcessWeb, probe: Probe, host_id: str
) -> None:
    http = web.http(ADMIN)
    schema = json.loads((REPO / "services" / "web" / "openapi.json").read_text())
    posts = [path for path, item in schema["paths"].items() if "post" in item]
    gets = [path for path, item in schema["paths"].items() if "get" in item and "{" not in path]
    accepted: list[str] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from(posts),
        body=BODY,
        ctype=st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded"]
        ),
    )
    def post(path: str, body: bytes, ctype: str) -> None:
        answer = http.post(path, content=body, headers={"Content-Type": ctype})
        assert answer.status_code < 500, (path, body, answer.text)
        if answer.status_code < 300:
            accepted.append(path)

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        path=st.sampled_from([*gets, "/api/v1/history/{metric}"]),
        metric=st.text(
            # Control characters (DEL among them) never reach a server: httpx2 refuses them.
            st.characters(
                min_codepoint=33,
                max_codepoint=0x2FF,
                exclude_categories=["Cc"],
                exclude_characters="/?#%",
            ),
            max_size=20,
        ),
        params=st.dictionaries(
            st.sampled_from(["limit", "seconds", "bucket_seconds"]),
            st.text(max_size=8) | st.integers().map(str) | st.floats().map(str),
            max_size=3,
        ),
    )
    def get(path: str, metric: str, params: dict[str, str]) -> None:
        if path == f"{'/api/v1/history/{metric}'}":
            path = f"/api/v1/history/{metric.replace('/', '_').replace('?', '_') or 'x'}"
        if path == "/api/v1/stream":
            return  # never ends by itself
        answer = http.get(path, params=params)
        assert answer.status_code < 500, (path, params, answer.text)

    post()
    get()
    # A last trigger the web service surely accepts: on its one connection, everything
    # published before has reached the probe once this has.
    marker = http.post("/trigger", json={"event": "tier3_resume"})
    assert marker.status_code < 300
    accepted.append("/trigger")
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"tier3_resume" in s.payload)
    # Only what a route accepted reached the bus: each 2xx trigger or settings change.
    triggers = probe.messages(f"warden/{host_id}/trigger")
    assert len(triggers) == accepted.count("/trigger")
    settings_seen = probe.messages(f"warden/{host_id}/settings")
    presets = probe.messages(f"warden/{host_id}/preset/set")
    changes = accepted.count("/api/v1/settings/resources")
    changes += accepted.count("/api/settings/resources")  # Optimizarr's path, the same change
    assert len(settings_seen) + len(presets) <= 2 * changes
    overrides = probe.messages(f"warden/{host_id}/overrides")
    assert len(overrides) == accepted.count("/api/v1/overrides")
