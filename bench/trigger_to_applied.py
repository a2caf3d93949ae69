"""From a trigger to the container paused: Warden (governor and actuator) vs a bare Docker
pause, in one run.

Warden's time runs from publishing `tier3_pause` on the trigger topic to the
actuator's applied state saying the tier-3 container is paused (it publishes
that once Docker's pause has returned); the bare time is one Docker API pause
call. Runs alternate, each followed by its resume. Needs the Docker engine and
the test image (tests create it).

    .venv/bin/python -m bench.trigger_to_applied [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench.rig import HOST, Rig
from shared.messages import Applied, ContainerFact, ContainerInventory
from tests.support.probe import Seen


def paused_in(cid: str, want: bool) -> Callable[[Seen], bool]:
    def holds(seen: Seen) -> bool:
        applied = Applied.model_validate_json(seen.payload)
        return any(c.id == cid and c.paused == want for c in applied.containers)

    return holds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with Rig(with_docker=True) as rig:
        api, containers, probe = rig.api, rig.containers, rig.probe
        assert api is not None and containers is not None
        ours, bare = containers.run("t3"), containers.run("bare")
        config = rig.config(
            tiers={3: {"containers": [containers.name("t3")]}},
            governor={"lease_seconds": 300},
            actuator={"state_file": str(rig.workdir / "state.json"), "startup_grace_seconds": 0},
        )
        for name in ("governor", "actuator"):
            rig.service(name, config)
            probe.wait_for(f"warden/{HOST}/{name}/availability", lambda s: s.text == "online")
        inventory = ContainerInventory(
            host=HOST,
            cpu_count=1,
            containers=[
                ContainerFact(id=ours, name=containers.name("t3"), state="running", tier=3)
            ],
        )
        probe.publish(f"warden/{HOST}/sensors/containers", inventory.model_dump_json(), True)
        probe.wait_for(f"warden/{HOST}/applied", paused_in(ours, False), timeout=30)
        time.sleep(1.0)
        trigger = f"warden/{HOST}/trigger"
        warden, direct, governor = [], [], []
        for _ in range(runs):
            start = time.monotonic()
            probe.publish(trigger, "tier3_pause")
            seen = probe.wait_for(f"warden/{HOST}/applied", paused_in(ours, True), after=start)
            warden.append(seen.at - start)
            desired = probe.wait_for(f"warden/{HOST}/desired", lambda s: True, after=start)
            governor.append(desired.at - start)
            probe.publish(trigger, "tier3_resume")
            probe.wait_for(f"warden/{HOST}/applied", paused_in(ours, False), after=seen.at)
            time.sleep(0.3)
            start = time.monotonic()
            api.pause(bare)
            direct.append(time.monotonic() - start)
            api.unpause(bare)
            time.sleep(0.3)
        ours_ms, bare_ms = statistics.median(warden) * 1000, statistics.median(direct) * 1000
        print(f"runs: {runs}")
        print(f"trigger to applied (paused): median {ours_ms:.1f} ms, min {min(warden) * 1000:.1f}")
        print(f"bare docker pause:           median {bare_ms:.1f} ms, min {min(direct) * 1000:.1f}")
        print(f"warden / bare = {ours_ms / bare_ms:.2f}x")
        governor_ms = statistics.median(governor) * 1000
        print(f"of which trigger to desired state (governor): median {governor_ms:.1f} ms")


if __name__ == "__main__":
    main()
