"""Incidents end to end: real sensors, governor and actuator processes, the real Docker
engine and cgroups. A tier-3 I/O hog writes to the disk a tier-1 "stream" container waits
on: one incident opens, naming the hog as the top contender on that disk, records the cap
Warden put on it and how long after the stall, and closes once the stream is gone."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from host.cgroups.view import detect_layout, process_cgroups
from shared.messages.incidents import Incident, IncidentLog
from tests.support.broker import Mosquitto
from tests.support.disks import docker_disks
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service
from tests.support.real import missing
from tests.test_protect_end_to_end import HOG, STREAM, stream_and_hog_config


def incidents(seen: Seen) -> list[Incident]:
    return IncidentLog.model_validate_json(seen.payload).incidents


def test_an_io_hog_against_a_stalled_tier1_container_is_one_incident_that_names_it(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    if not Path("/proc/pressure/io").exists():
        missing("no PSI in this kernel")
    docker_disks()  # the hog writes where Docker keeps its data: a block device
    stream = containers.run("stream", STREAM)
    containers.run("hog", HOG)
    stream_cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(stream))
    if stream_cg.v2 is None or not (stream_cg.v2 / "io.pressure").exists():
        missing("no cgroup2 io.pressure for containers on this host")
    # The stall-driven limits alone: the yields would cap the hog before any stall.
    protect = {
        "stall_percent": {"io": 5},
        "step_factor": 0.1,
        "hold_seconds": 2,
        "io_yield": False,
        "cpu_yield": False,
    }
    cfg = stream_and_hog_config(tmp_path, broker, containers, host_id, protect)
    services = [Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")]
    topic = f"warden/{host_id}/governor/incidents"
    hog_name, stream_name = containers.name("hog"), containers.name("stream")
    try:

        def on_disk(seen: Seen) -> list[Incident]:
            # The stream may stall on cpu too on a busy machine: that is another incident.
            return [i for i in incidents(seen) if i.resource == "io"]

        def capped(seen: Seen) -> bool:
            return any(any(a.target == hog_name for a in i.actions) for i in on_disk(seen))

        seen = probe.wait_for(topic, capped, timeout=90)
        (incident,) = [i for i in on_disk(seen) if i.actions]
        assert (incident.kind, incident.resource) == ("stall", "io")
        assert [w.name for w in incident.waiters] == [stream_name]
        assert incident.contenders[0].name == hog_name
        assert incident.contenders[0].tier == 3
        assert incident.contenders[0].same_disk is True
        first = incident.actions[0]
        assert first.target == hog_name and "io_max" in first.controls and "io.max" in first.what
        assert "protect" in first.rules
        assert incident.time_to_action_seconds == pytest.approx(first.at - incident.started_at)
        assert incident.time_to_action_seconds is not None
        assert 0 <= incident.time_to_action_seconds < 30
        assert f"{hog_name} was capped at " in incident.sentence

        # The stream ends: nothing protected stalls, and the incident closes.
        containers.api.remove_container(stream, force=True)

        def closed(seen: Seen) -> bool:
            return any(i.id == incident.id and i.ended_at is not None for i in incidents(seen))

        seen = probe.wait_for(topic, closed, timeout=60)
        (done,) = [i for i in incidents(seen) if i.id == incident.id]
        assert done.end_reason == "calm" and done.cleared_after_action is True
        # None only where the stall's one reading before the cap was its trigger alone.
        assert done.percent_before_action is not None or done.peak_percent is None
        assert done.use  # the hog's use over the window before, at least
        assert done.stall or done.peak_percent is None  # a share, unless a trigger alone
        assert "ended" in done.sentence.split("; ")[-1]
        # One incident for the one stall: none other names the hog's cap.
        assert [i.id for i in on_disk(seen) if any(a.target == hog_name for a in i.actions)] == [
            incident.id
        ]
        events = [
            m for m in probe.messages(f"warden/{host_id}/events") if b'"incident"' in m.payload
        ]
        assert any(b'"opened"' in m.payload for m in events)
        assert any(b'"closed"' in m.payload for m in events)
    finally:
        for service in services:
            service.kill(signal.SIGTERM)
