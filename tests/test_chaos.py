"""Chaos: SIGKILL a random one of governor, actuator and broker during media mode, cycle after
cycle, with a short lease. Whatever dies, nothing stays paused or throttled once the reason
is gone. Real processes, a real Mosquitto, the real engine and cgroups.

Marked `chaos`: CI runs it with everything else; `pytest -m "not chaos"` leaves it out locally.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from host.cgroups.view import detect_layout, process_cgroups
from shared.signing import new_key
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

pytestmark = pytest.mark.chaos

CYCLES = 10
LEASE_SECONDS = 4


def unlimited_cpu(containers: Containers, cid: str) -> bool:
    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))
    quota = cg.v2_file("cpu.max") or cg.v1_file("cpu", "cpu.cfs_quota_us")
    assert quota is not None
    return quota.read_text().split()[0] in ("max", "-1")


def test_whatever_is_killed_nothing_stays_paused_or_throttled(
    tmp_path: Path, own_broker: Mosquitto, containers: Containers, host_id: str
) -> None:
    t2, t3 = containers.run("t2"), containers.run("t3")
    key = tmp_path / "signing.key"
    key.write_text(new_key())
    key.chmod(0o600)
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {
                "host": own_broker.host,
                "port": own_broker.port,
                "reconnect_min_seconds": 0.2,
                "reconnect_max_seconds": 1,
            },
            "tiers": {
                2: {"containers": [containers.name("t2")]},
                3: {"containers": [containers.name("t3")]},
            },
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            "governor": {"lease_seconds": LEASE_SECONDS},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            "security": {"signing_key_file": str(key)},
        },
    )
    rng = random.Random(20261201)
    services = {name: Service(name, cfg, tmp_path) for name in ("actuator", "sensors", "governor")}
    trigger = f"warden/{host_id}/trigger"

    def media_on() -> bool:
        return containers.state(t3) == "paused" and not unlimited_cpu(containers, t2)

    def released() -> bool:
        return containers.state(t3) == "running" and unlimited_cpu(containers, t2)

    def say(word: str) -> None:
        probe = Probe(own_broker.host, own_broker.port)
        try:
            probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
            probe.publish(trigger, word)
        finally:
            probe.close()

    try:
        say("media_start")
        wait_until(media_on, timeout=30, what="media mode on")
        # Random, but each kind at least three times.
        victims = ["governor", "actuator", "broker"] * 3
        victims += rng.choices(victims, k=CYCLES - len(victims))
        rng.shuffle(victims)
        for cycle, victim in enumerate(victims):
            if victim == "broker":
                process = own_broker.process
                assert process is not None
                process.kill()
                process.wait()
                own_broker.restart(down_for=rng.uniform(0, 2))
            else:
                # A killed governor comes back from its retained, signed state.
                services[victim].kill(signal.SIGKILL)
                time.sleep(rng.uniform(0, 2))
                services[victim] = Service(victim, cfg, tmp_path)
            # Said again, as an automation would: a broker killed without persistence
            # right before a governor can take the forced flag with it (the safe way).
            say("media_start")
            wait_until(media_on, timeout=30, what=f"media mode back after cycle {cycle} ({victim})")

        say("media_stop")
        wait_until(released, timeout=30, what="released once media mode ends")

        # And when the governor dies for good mid-pause, the lease ends it.
        say("tier3_pause")
        wait_until(lambda: containers.state(t3) == "paused", timeout=30, what="paused again")
        services["governor"].kill(signal.SIGKILL)
        wait_until(released, timeout=LEASE_SECONDS + 10, what="released by the lease")
    finally:
        for service in services.values():
            service.kill(signal.SIGTERM)
