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
import time
from collections.abc import Callable

import docker

from bench.rig import HOST, Rig
from shared.messages import ContainerIntent, DesiredState, Reason


def states(api: docker.APIClient, ids: list[str]) -> set[str]:
    return {c["State"] for c in api.containers(all=True, filters={"id": ids})}


def wait_all(api: docker.APIClient, ids: list[str], state: str) -> None:
    while states(api, ids) != {state}:
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=50)
    count = parser.parse_args().containers

    with Rig(with_docker=True) as rig:
        api, containers = rig.api, rig.containers
        assert api is not None and containers is not None
        ids = [containers.run(f"c{n}") for n in range(count)]
        names = [containers.name(f"c{n}") for n in range(count)]
        config = rig.config(
            tiers={3: {"containers": [f"{containers.prefix}-*"]}},
            actuator={"state_file": str(rig.workdir / "state.json"), "startup_grace_seconds": 0},
        )
        rig.service("actuator", config)
        rig.probe.wait_for(
            f"warden/{HOST}/applied", lambda s: b'"mode":"baseline"' in s.payload, timeout=120
        )

        def desired(seq: int, paused: bool) -> str:
            why = [Reason(rule="bench")]
            intents = {n: ContainerIntent(tier=3, paused=True, reasons=why) for n in names}
            return DesiredState(
                host=HOST, seq=seq, lease_seconds=300, containers=intents if paused else {}
            ).model_dump_json()

        def timed(action: Callable[[], object], state: str) -> float:
            start = time.monotonic()
            action()
            wait_all(api, ids, state)
            return time.monotonic() - start

        topic = f"warden/{HOST}/desired"
        warden_pause = timed(lambda: rig.probe.publish(topic, desired(1, True)), "paused")
        warden_unpause = timed(lambda: rig.probe.publish(topic, desired(2, False)), "running")
        bare_pause = timed(lambda: [api.pause(cid) for cid in ids], "paused")
        bare_unpause = timed(lambda: [api.unpause(cid) for cid in ids], "running")

        print(f"{count} containers      pause     unpause")
        print(f"warden (1 change)  {warden_pause:7.2f} s  {warden_unpause:7.2f} s")
        print(f"bare API, serial   {bare_pause:7.2f} s  {bare_unpause:7.2f} s")
        print(
            f"bare / warden      {bare_pause / warden_pause:7.2f}x  "
            f"{bare_unpause / warden_unpause:7.2f}x"
        )


if __name__ == "__main__":
    main()
