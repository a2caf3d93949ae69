"""Pausing and unpausing 50 containers by one desired-state change, vs 50 bare Docker API calls.

Starts a Mosquitto and Warden's actuator over 50 busybox containers in tier 3,
then publishes one desired state that pauses them all and one that releases
them, timing each until Docker reports every container in its new state. Beside
it, in the same run, times the same 50 pauses and unpauses made one after the
other straight through the Docker API (what a naive loop does).
Needs the Docker engine and the test image (tests create it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import docker

from shared.messages import ContainerIntent, DesiredState, Reason
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, ensure_image
from tests.support.probe import Probe
from tests.support.processes import Service, write_config


def states(api: docker.APIClient, ids: list[str]) -> set[str]:
    return {c["State"] for c in api.containers(all=True, filters={"id": ids})}


def wait_all(api: docker.APIClient, ids: list[str], state: str) -> None:
    while states(api, ids) != {state}:
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=50)
    count = parser.parse_args().containers

    api = docker.APIClient(timeout=120)
    ensure_image(api)
    containers = Containers(api)
    workdir = Path(tempfile.mkdtemp(prefix="warden-bench-"))
    broker = Mosquitto(workdir)
    broker.start()
    probe = Probe(broker.host, broker.port)
    host = "bench"
    actuator = None
    try:
        ids = [containers.run(f"c{n}") for n in range(count)]
        names = [containers.name(f"c{n}") for n in range(count)]
        config = write_config(
            workdir / "config.yaml",
            {
                "host_id": host,
                "mqtt": {"host": broker.host, "port": broker.port},
                "tiers": {3: {"containers": [f"{containers.prefix}-*"]}},
                "actuator": {"state_file": str(workdir / "state.json"), "startup_grace_seconds": 0},
            },
        )
        actuator = Service("actuator", config, workdir)
        probe.wait_for(
            f"warden/{host}/applied", lambda s: b'"mode":"baseline"' in s.payload, timeout=120
        )

        def desired(seq: int, paused: bool) -> str:
            intents = (
                {
                    n: ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="bench")])
                    for n in names
                }
                if paused
                else {}
            )
            return DesiredState(
                host=host, seq=seq, lease_seconds=300, containers=intents
            ).model_dump_json()

        start = time.monotonic()
        probe.publish(f"warden/{host}/desired", desired(1, True))
        wait_all(api, ids, "paused")
        warden_pause = time.monotonic() - start
        start = time.monotonic()
        probe.publish(f"warden/{host}/desired", desired(2, False))
        wait_all(api, ids, "running")
        warden_unpause = time.monotonic() - start

        start = time.monotonic()
        for cid in ids:
            api.pause(cid)
        bare_pause = time.monotonic() - start
        start = time.monotonic()
        for cid in ids:
            api.unpause(cid)
        bare_unpause = time.monotonic() - start

        print(f"{count} containers      pause     unpause")
        print(f"warden (1 change)  {warden_pause:7.2f} s  {warden_unpause:7.2f} s")
        print(f"bare API, serial   {bare_pause:7.2f} s  {bare_unpause:7.2f} s")
        print(
            f"bare / warden      {bare_pause / warden_pause:7.2f}x  "
            f"{bare_unpause / warden_unpause:7.2f}x"
        )
    finally:
        if actuator is not None:
            actuator.stop()
        containers.remove_all()
        probe.close()
        broker.stop()


if __name__ == "__main__":
    main()
