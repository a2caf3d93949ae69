"""How long from a PSI threshold crossing to the pressure fact on the bus: triggers vs a 5 s poll.

Starts a Mosquitto, Warden's sensors (PSI triggers; their own poll and
heartbeat set to 10 minutes so only triggers count) and, beside them, a loop
that does what ADRG does: read the container's memory.pressure every 5
seconds and publish it. Each run starts a container with a 16 MiB memory
limit, waits until Warden has armed its triggers, then makes it write through
its page cache, which stalls it on memory. The crossing is when the kernel
says so: the bench holds its own trigger, with Warden's threshold, on the
same cgroup. Warden's time runs from there to the first fact naming its fired
trigger; the poll's, to its first publication after the crossing.
Needs PSI, cgroup2 pressure files for containers, the Docker engine and the
test image (tests create it).
"""

from __future__ import annotations

import json
import os
import random
import select
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.rig import HOST, POLL_SECONDS, Rig, medians, runs_asked
from host.cgroups.view import detect_layout, process_cgroups
from services.sensors.pressure import read_cgroup_pressure
from services.sensors.psi_triggers import stall_threshold_us
from shared.messages import PressureFact
from tests.support.probe import Probe, Seen

WINDOW_SECONDS = 2
THRESHOLD_PERCENT = 10.0
# busybox's sh runs its applets itself, whichever links the image has.
POLL_TOPIC = "bench/polled/pressure"
LOAD = ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=3000; rm -f /big"]


class Target:
    """The cgroup directory the poller reads; None between runs."""

    def __init__(self) -> None:
        self.directory: Path | None = None


def poll_once(target: Target, probe: Probe) -> None:
    """What a polling daemon does each period: read the file, publish what it says."""
    if target.directory is None:
        return
    try:
        memory = read_cgroup_pressure(target.directory, "memory")
    except OSError:
        return
    probe.publish(POLL_TOPIC, json.dumps({"memory": memory.model_dump()}))


def reference_crossing(directory: Path, threshold_us: int, timeout: float = 60) -> float:
    """When the kernel says the threshold was crossed: its own trigger, the same as Warden's.

    Not a fast reader of memory.pressure: on this kernel, reading the file every few
    milliseconds keeps that cgroup's triggers from ever firing.
    """
    fd = os.open(directory / "memory.pressure", os.O_RDWR | os.O_NONBLOCK)
    try:
        os.write(fd, f"some {threshold_us} {WINDOW_SECONDS * 1_000_000}\0".encode())
        poller = select.poll()
        poller.register(fd, select.POLLPRI)
        if not poller.poll(timeout * 1000):
            raise TimeoutError("the load never crossed the threshold")
        return time.monotonic()
    finally:
        os.close(fd)


def fired_for(cid: str) -> Callable[[Seen], bool]:
    def holds(seen: Seen) -> bool:
        fact = PressureFact.model_validate_json(seen.payload)
        return any(f.scope == cid and f.resource == "memory" for f in fact.fired)

    return holds


def listed(cid: str, seen: Seen) -> bool:
    return any(c.id == cid for c in PressureFact.model_validate_json(seen.payload).containers)


def main() -> None:
    runs = runs_asked(__doc__)

    with Rig(with_docker=True) as rig:
        api, containers, probe = rig.api, rig.containers, rig.probe
        assert api is not None and containers is not None
        layout = detect_layout("/sys/fs/cgroup")
        config = rig.config(
            general={"poll_interval_seconds": 600},
            sensors={"heartbeat_seconds": 600, "psi_window_seconds": WINDOW_SECONDS},
            # A container's own triggers are armed on the ones the protect rule watches.
            tiers={1: {"containers": [f"{containers.prefix}-*"]}},
            protect={"stall_percent": {"memory": THRESHOLD_PERCENT}},
        )
        threshold_us = stall_threshold_us(THRESHOLD_PERCENT, WINDOW_SECONDS * 1_000_000)
        rig.service("sensors", config)
        target = Target()
        warden_topic = f"warden/{HOST}/sensors/pressure"
        print(
            f"threshold: memory some {threshold_us} us stall in a {WINDOW_SECONDS} s window "
            f"({THRESHOLD_PERCENT:g} %), on a container cgroup with a 16 MiB memory limit"
        )
        probe.wait_for(warden_topic)
        rig.poll_every(POLL_SECONDS, lambda: poll_once(target, probe))
        warden_times, poll_times = [], []
        for run in range(runs):
            cid = containers.run(f"c{run}", mem_limit="16m")
            directory = process_cgroups(layout, "/proc", containers.pid(cid)).v2
            if directory is None:
                raise SystemExit("no cgroup2 hierarchy: containers have no pressure files")
            # Warden lists the container once its triggers are armed.
            probe.wait_for(warden_topic, partial(listed, cid), timeout=30)
            target.directory = directory
            # A random phase against the poll, or every run would wait a whole period.
            time.sleep(random.uniform(0, POLL_SECONDS))
            crossing: list[float] = []
            watcher = threading.Thread(
                target=lambda d=directory, out=crossing: out.append(
                    reference_crossing(d, threshold_us)
                )
            )
            watcher.start()
            time.sleep(0.2)  # the reference trigger is armed before the load starts
            api.exec_start(api.exec_create(cid, LOAD)["Id"], detach=True)
            watcher.join()
            if not crossing:
                raise SystemExit("the load never crossed the threshold")
            crossed_at = crossing[0]
            warden_at = probe.wait_for(warden_topic, fired_for(cid), 60, crossed_at - 1).at
            poll_at = probe.wait_for(POLL_TOPIC, lambda _s: True, 60, crossed_at).at
            target.directory = None
            # Both wake from the same kernel poll: a fact a hair before our own wake-up is 0.
            warden_times.append(max(0.0, warden_at - crossed_at))
            poll_times.append(poll_at - crossed_at)
            print(
                f"run {run + 1}: triggers {warden_times[-1] * 1000:7.1f} ms   "
                f"5 s poll {poll_times[-1] * 1000:7.1f} ms"
            )
            api.remove_container(cid, force=True)
        print(medians("triggers", warden_times, poll_times))


if __name__ == "__main__":
    main()
