"""Timed overrides: a reason with an expiry the governor carries out, ending by itself,
kept across a restart of the governor."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from services.governor.overrides import apply_overrides
from services.governor.policy import Decision, Memory
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    CpuMax,
    DesiredState,
    GovernorStatus,
    Reason,
)
from shared.messages.overrides import Override
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until
from tests.support.web import whole_stack

NOW = 1_000_000.0
T3 = ContainerFact(id="a" * 12, name="tdarr", state="running", tier=3)
T2 = ContainerFact(id="b" * 12, name="sonarr", state="running", tier=2)
MEDIA = Reason(rule="media_mode", detail="forced by trigger")


def decision(containers: dict[str, ContainerIntent]) -> Decision:
    return Decision(memory=Memory(), status=GovernorStatus(media_mode=True), containers=containers)


def test_pause_tier3_until_it_expires_and_wakes_then() -> None:
    pause = Override(kind="pause_tier3", since=NOW - 10, until=NOW + 50)
    out = apply_overrides(decision({}), [(T3, 3), (T2, 2)], [pause], NOW)
    assert set(out.containers) == {"tdarr"} and out.containers["tdarr"].paused
    assert out.containers["tdarr"].reasons[0].rule == "timed_pause"
    assert out.wake_at == NOW + 50
    assert apply_overrides(decision({}), [(T3, 3)], [pause], NOW + 50).containers == {}


def test_unthrottle_lifts_every_rule_but_the_thermal_stages() -> None:
    limited = {
        "sonarr": ContainerIntent(tier=2, cpu_max=CpuMax(quota_us=20000), reasons=[MEDIA]),
        "tdarr": ContainerIntent(
            tier=3,
            paused=True,
            reasons=[
                MEDIA,
                Reason(rule="thermal_stage1", metric="temperature_c", value=76, threshold=75),
            ],
        ),
    }
    free = [
        Override(kind="unthrottle", container=name, since=NOW, until=NOW + 60)
        for name in ("sonarr", "tdarr")
    ]
    out = apply_overrides(decision(limited), [(T3, 3), (T2, 2)], free, NOW)
    assert "sonarr" not in out.containers
    assert [r.rule for r in out.containers["tdarr"].reasons] == ["thermal_stage1"]


def test_an_override_must_say_what_it_overrides() -> None:
    with pytest.raises(ValueError, match="needs a container"):
        Override(kind="unthrottle", since=NOW, until=NOW + 1)
    with pytest.raises(ValueError, match="until must be after"):
        Override(kind="pause_tier3", since=NOW, until=NOW)


def test_pause_tier3_for_n_minutes_over_http_ends_by_itself_across_a_governor_restart(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    with whole_stack(tmp_path, broker, probe, containers, host_id) as stack:
        http, t3_name = stack.http, containers.name("t3")
        for bad in (
            {"kind": "pause_tier3", "minutes": 0},
            {"kind": "unthrottle", "minutes": 1},
            {"kind": "unthrottle", "container": "nobody", "minutes": 1},
        ):
            assert http.post("/api/v1/overrides", json=bad).status_code == 422, bad
        added = http.post("/api/v1/overrides", json={"kind": "pause_tier3", "minutes": 0.5})
        assert added.status_code == 201, added.text
        until = added.json()["until"]  # wall-clock, as the override keeps it
        wait_until(lambda: containers.state(t3) == "paused", what="paused by the override")
        # The web service hears the desired state on its own subscription: a moment apart
        # from the actuator's pause on a busy machine.
        wait_until(
            lambda: http.get("/status").json()["containers"][t3_name]["paused_by"],
            what="/status saying why",
        )
        status = http.get("/status").json()
        assert status["containers"][t3_name]["paused_by"] == ["timed_pause"]
        assert 0 < status["overrides"][0]["seconds_left"] <= 30

        # A governor that restarts mid-override still carries it out: it is retained.
        restart_at = time.monotonic()
        stack.services["governor"].kill(signal.SIGKILL)
        stack.services["governor"] = Service("governor", stack.cfg, tmp_path)

        def reasons(payload: bytes) -> list[str]:
            desired = DesiredState.model_validate_json(payload)
            return [r.rule for i in desired.containers.values() for r in i.reasons]

        probe.wait_for(
            f"warden/{host_id}/desired",
            lambda s: not s.retained and "timed_pause" in reasons(s.payload),
            after=restart_at,
        )
        # (The governor's last will made the actuator restore the baseline meanwhile.)
        assert time.time() < until, "the restart outlasted the override: nothing to show"
        wait_until(
            lambda: containers.state(t3) == "paused",
            timeout=until - time.time(),
            what="paused again",
        )
        wait_until(
            lambda: containers.state(t3) == "running",
            timeout=until - time.time() + 30,
            what="ended by itself",
        )
        assert time.time() >= until - 1  # ended by its end, not before
        assert http.get("/api/v1/overrides").json() == []


def test_an_echo_of_an_earlier_list_never_replaces_a_newer_one(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    """Two changes in a row: the broker's echo of the first arrives after the second was
    made; taken as it came, it would drop the second, and the next change with it."""
    from shared.bus import Received
    from shared.messages.overrides import Override, Overrides
    from tests.support.web import in_process_web

    with in_process_web(tmp_path, broker, host_id) as web:
        topic = f"warden/{host_id}/overrides"
        first = Override(kind="pause_tier3", since=NOW, until=NOW + 600)
        second = Override(kind="pause_tier3", since=NOW + 1, until=NOW + 900)
        older = Overrides(host=host_id, items=[first], ts=NOW)
        newer = Overrides(host=host_id, items=[first, second], ts=NOW + 1)
        web.service.on_overrides(Received(topic, newer, False))
        web.service.on_overrides(Received(topic, older, False))
        assert web.service.view.overrides == newer
        latest = Overrides(host=host_id, items=[second], ts=NOW + 2)
        web.service.on_overrides(Received(topic, latest, False))
        assert web.service.view.overrides == latest
