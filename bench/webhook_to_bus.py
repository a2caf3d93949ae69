"""How long from a media server's webhook to the stream on the bus: webhooks vs a 5 s poll.

Starts a Mosquitto, a fake Jellyfin (a local HTTP server answering
/Sessions as Jellyfin does), Warden's sensors and governor (their own poll
set to 10 minutes, so only the webhook counts) and, beside them, a loop that
does what ADRG does: ask /Sessions every 5 seconds and publish. Then starts a
stream at a random moment, POSTs the Jellyfin Webhook plugin's PlaybackStart,
and times the first StreamsFact naming the session, the first desired state
with media mode on, and the poll's first message naming it.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable

import requests

from bench.rig import HOST, POLL_SECONDS, Rig, runs_asked
from services.sensors.streams import jellyfin
from shared.messages import DesiredState, StreamsFact
from tests.support.broker import free_port
from tests.support.media_servers import FakeMediaServer, jellyfin_session
from tests.support.probe import Probe, Seen
from tests.support.webhook_bodies import jellyfin_body

API_KEY = "bench-key"
POLL_TOPIC = "bench/polled/streams"


def poll_once(url: str, probe: Probe) -> None:
    """What a polling daemon does each period: ask /Sessions, publish what it says."""
    try:
        sessions = jellyfin.fetch(url, API_KEY, POLL_SECONDS)
    except Exception as exc:
        probe.publish(POLL_TOPIC, json.dumps({"error": str(exc)}))
        return
    probe.publish(POLL_TOPIC, json.dumps({"sessions": [s.id for s in sessions]}))


def main() -> None:
    runs = runs_asked(__doc__)

    with Rig() as rig:
        run_bench(rig, runs)


def run_bench(rig: Rig, runs: int) -> None:
    probe = rig.probe
    server = FakeMediaServer()
    server.answer([])
    hook_port = free_port()
    config = rig.config(
        general={"poll_interval_seconds": 600},
        sensors={"heartbeat_seconds": 600},
        media_mode={
            "enabled": True,
            "provider": "jellyfin",
            "url": server.url,
            "api_key": API_KEY,
            "cooldown_seconds": 0,
            "poll_seconds": 600,
            "webhook": {"enabled": True, "port": hook_port},
        },
    )
    for name in ("sensors", "governor"):
        rig.service(name, config)
    streams_topic, desired_topic = f"warden/{HOST}/sensors/streams", f"warden/{HOST}/desired"
    hook = f"http://127.0.0.1:{hook_port}/webhook/jellyfin"

    def media_mode(on: bool) -> Callable[[Seen], bool]:
        return lambda s: DesiredState.model_validate_json(s.payload).media_mode is on

    def streams_list(device: str) -> Callable[[Seen], bool]:
        return lambda s: any(
            x.id == device for x in StreamsFact.model_validate_json(s.payload).sessions
        )

    def poll_lists(device: str) -> Callable[[Seen], bool]:
        return lambda s: f'"{device}"' in s.text

    try:
        probe.wait_for(streams_topic, timeout=30)
        probe.wait_for(desired_topic, media_mode(False), timeout=30)
        rig.poll_every(POLL_SECONDS, lambda: poll_once(server.url, probe))
        fact_times, desired_times, poll_times = [], [], []
        for run in range(runs):
            device = f"dev-{run}"
            # A random phase against the poll, or every run would wait a whole period.
            time.sleep(random.uniform(0, POLL_SECONDS))
            server.answer([jellyfin_session(device)])
            started = time.monotonic()
            requests.post(hook, json=jellyfin_body("PlaybackStart", DeviceId=device), timeout=5)
            fact = probe.wait_for(streams_topic, streams_list(device), after=started)
            desired = probe.wait_for(desired_topic, media_mode(True), after=started)
            polled = probe.wait_for(POLL_TOPIC, poll_lists(device), timeout=60, after=started)
            fact_times.append(fact.at - started)
            desired_times.append(desired.at - started)
            poll_times.append(polled.at - started)
            print(
                f"run {run + 1}: webhook -> fact {fact_times[-1] * 1000:7.1f} ms, "
                f"-> media mode {desired_times[-1] * 1000:7.1f} ms   "
                f"5 s poll {poll_times[-1] * 1000:7.1f} ms"
            )
            # End the stream the same way, and wait until media mode is off again.
            server.answer([])
            ended = time.monotonic()
            requests.post(hook, json=jellyfin_body("PlaybackStop", DeviceId=device), timeout=5)
            probe.wait_for(desired_topic, media_mode(False), after=ended)
        fact_median = statistics.median(fact_times)
        desired_median = statistics.median(desired_times)
        poll_median = statistics.median(poll_times)
        print(
            f"median: webhook -> fact {fact_median * 1000:.1f} ms, "
            f"-> media mode {desired_median * 1000:.1f} ms, 5 s poll {poll_median * 1000:.1f} ms, "
            f"poll / webhook = {poll_median / fact_median:.0f}x"
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
