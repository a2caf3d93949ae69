"""How long until a new container is on the bus: Warden's Docker event stream vs a 5 s poll.

Starts a Mosquitto, Warden's sensors (event-driven; their own poll set to 10
minutes so only events count) and, beside them, a loop that does what ADRG
does: list containers every 5 seconds and publish. Then starts containers one
at a time and times the first inventory naming each, from each publisher.
Needs the Docker engine and the test image (tests create it).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import docker

from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, ensure_image
from tests.support.probe import Probe
from tests.support.processes import Service, write_config

POLL_SECONDS = 5.0


def polling_publisher(
    api: docker.APIClient, probe: Probe, topic: str, stop: threading.Event
) -> None:
    while not stop.wait(POLL_SECONDS):
        names = [c["Names"][0].lstrip("/") for c in api.containers(all=True)]
        probe.publish(topic, json.dumps({"containers": [{"name": n} for n in names]}))


def first_mention(probe: Probe, topic: str, name: str, after: float) -> float:
    seen = probe.wait_for(topic, lambda s: f'"{name}"' in s.text, timeout=60, after=after)
    return seen.at - after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs

    api = docker.APIClient()
    ensure_image(api)
    containers = Containers(api)
    workdir = Path(tempfile.mkdtemp(prefix="warden-bench-"))
    broker = Mosquitto(workdir)
    broker.start()
    probe = Probe(broker.host, broker.port)
    host = "bench"
    config = write_config(
        workdir / "config.yaml",
        {
            "host_id": host,
            "mqtt": {"host": broker.host, "port": broker.port},
            "general": {"poll_interval_seconds": 600},
            "sensors": {"heartbeat_seconds": 600},
            "tiers": {3: {"containers": [f"{containers.prefix}-*"]}},
        },
    )
    sensors = Service("sensors", config, workdir)
    stop = threading.Event()
    poll_topic = "bench/polled/containers"
    poller = threading.Thread(
        target=polling_publisher, args=(api, probe, poll_topic, stop), daemon=True
    )
    try:
        probe.wait_for(f"warden/{host}/sensors/containers")
        poller.start()
        event_times, poll_times = [], []
        for run in range(runs):
            # A random phase against the poll, or every run would wait a whole period.
            time.sleep(random.uniform(0, POLL_SECONDS))
            started = time.monotonic()
            containers.run(f"c{run}")
            event_times.append(
                first_mention(
                    probe, f"warden/{host}/sensors/containers", containers.name(f"c{run}"), started
                )
            )
            poll_times.append(first_mention(probe, poll_topic, containers.name(f"c{run}"), started))
            print(
                f"run {run + 1}: events {event_times[-1] * 1000:7.1f} ms   "
                f"5 s poll {poll_times[-1] * 1000:7.1f} ms"
            )
        event_median, poll_median = statistics.median(event_times), statistics.median(poll_times)
        print(
            f"median: events {event_median * 1000:.1f} ms, 5 s poll {poll_median * 1000:.1f} ms, "
            f"poll / events = {poll_median / event_median:.1f}x"
        )
    finally:
        stop.set()
        sensors.stop()
        containers.remove_all()
        probe.close()
        broker.stop()


if __name__ == "__main__":
    main()
