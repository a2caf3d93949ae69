"""How long until a new container is on the bus: Warden's Docker event stream vs a 5 s poll.

Starts a Mosquitto, Warden's sensors (event-driven; their own poll set to 10
minutes so only events count) and, beside them, a loop that does what ADRG
does: list containers every 5 seconds and publish. Then starts containers one
at a time and times the first inventory naming each, from each publisher.
Needs the Docker engine and the test image (tests create it).
"""

from __future__ import annotations

import json
import random
import time

from bench.rig import HOST, POLL_SECONDS, Rig, first_after, medians, runs_asked

POLL_TOPIC = "bench/polled/containers"


def main() -> None:
    runs = runs_asked(__doc__)

    with Rig(with_docker=True) as rig:
        api, containers = rig.api, rig.containers
        assert api is not None and containers is not None
        config = rig.config(
            general={"poll_interval_seconds": 600},
            sensors={"heartbeat_seconds": 600},
            tiers={3: {"containers": [f"{containers.prefix}-*"]}},
        )
        rig.service("sensors", config)
        warden_topic = f"warden/{HOST}/sensors/containers"
        rig.probe.wait_for(warden_topic)

        def poll_once() -> None:
            names = [c["Names"][0].lstrip("/") for c in api.containers(all=True)]
            rig.probe.publish(POLL_TOPIC, json.dumps({"containers": [{"name": n} for n in names]}))

        rig.poll_every(POLL_SECONDS, poll_once)
        event_times, poll_times = [], []
        for run in range(runs):
            # A random phase against the poll, or every run would wait a whole period.
            time.sleep(random.uniform(0, POLL_SECONDS))
            name = containers.name(f"c{run}")
            started = time.monotonic()
            containers.run(f"c{run}")

            def names_it(text: str, quoted: str = f'"{name}"') -> bool:
                return quoted in text

            event_times.append(first_after(rig.probe, warden_topic, names_it, started))
            poll_times.append(first_after(rig.probe, POLL_TOPIC, names_it, started))
            print(
                f"run {run + 1}: events {event_times[-1] * 1000:7.1f} ms   "
                f"5 s poll {poll_times[-1] * 1000:7.1f} ms"
            )
        print(medians("events", event_times, poll_times))


if __name__ == "__main__":
    main()
