"""How long from a stream's start to the download client's new limit: a webhook vs a 5 s poll.

Starts a Mosquitto, a fake Tautulli (a local HTTP server answering
get_activity as Tautulli does), two real qbittorrent-nox on loopback, and
Warden's sensors, governor and actuator with `bandwidth` set (their own poll
set to 10 minutes, so only the webhook counts), limiting the first. Beside
them runs what Speedarr does at best: ask Tautulli every 5 seconds and set
the second client's upload limit to the line less the streams' bitrates x 2.
Then starts a remote stream at a random moment, POSTs Tautulli's Playback
Start webhook, and times each client's upload limit changing.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.rig import POLL_SECONDS, Rig, runs_asked
from services.actuator.download_clients import QBittorrent
from services.sensors.streams import tautulli
from tests.support.broker import free_port
from tests.support.download_daemons import QBT_PASSWORD, QBT_USER, Daemon, start_qbittorrent
from tests.support.media_servers import FakeMediaServer, tautulli_session
from tests.support.webhook_bodies import tautulli_body

API_KEY = "bench-key"
UPLOAD_MBPS = 20.0
STREAM_KBPS = 4000
# The user's own upload limit, before any stream: 2 MiB/s.
USERS_UPLOAD = 2 * 1024**2


def client(daemon: Daemon) -> QBittorrent:
    return QBittorrent(f"http://127.0.0.1:{daemon.port}", QBT_USER, QBT_PASSWORD, 5)


def activity(*machines: str) -> dict[str, object]:
    sessions = [
        {**tautulli_session(m, location="wan"), "bandwidth": str(STREAM_KBPS)} for m in machines
    ]
    data = {"stream_count": str(len(sessions)), "sessions": sessions}
    return {"response": {"result": "success", "message": None, "data": data}}


def speedarr_once(url: str, qbt: QBittorrent) -> None:
    """What a polling limiter does each period: ask for the sessions, set the limit."""
    try:
        sessions = tautulli.fetch(url, API_KEY, POLL_SECONDS)
    except Exception:
        return
    remote = [s for s in sessions if s.state != "paused" and not s.local]
    reserved = sum((s.bitrate_kbps or 12_000) for s in remote) * 2 / 1000
    limit = int(max(1.0, UPLOAD_MBPS - reserved) * 125_000) if remote else USERS_UPLOAD
    qbt.write({"up_limit": limit})


def upload(qbt: QBittorrent) -> int:
    return int(qbt.read()["up_limit"])


def main() -> None:
    runs = runs_asked(__doc__)
    with Rig() as rig:
        run_bench(rig, runs)


def run_bench(rig: Rig, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="warden-bench-qbt-"))
    (work / "warden").mkdir()
    (work / "speedarr").mkdir()
    daemons = [start_qbittorrent(work / "warden"), start_qbittorrent(work / "speedarr")]
    server = FakeMediaServer()
    try:
        server.answer(activity())
        warden_qbt, speedarr_qbt = client(daemons[0]), client(daemons[1])
        for qbt in (warden_qbt, speedarr_qbt):
            qbt.write({"up_limit": USERS_UPLOAD})
        hook_port = free_port()
        config = rig.config(
            general={"poll_interval_seconds": 600},
            sensors={"heartbeat_seconds": 600},
            media_mode={
                "enabled": False,
                "provider": "tautulli",
                "url": server.url,
                "api_key": API_KEY,
                "poll_seconds": 600,
                "webhook": {"enabled": True, "port": hook_port},
                "download_throttle": {
                    "provider": "qbittorrent",
                    "url": f"http://127.0.0.1:{daemons[0].port}",
                    "username": QBT_USER,
                    "password": QBT_PASSWORD,
                },
            },
            bandwidth={"upload_mbps": UPLOAD_MBPS, "hold_seconds": {"video": 0}},
            actuator={"state_file": str(work / "state.json"), "startup_grace_seconds": 1},
        )
        for name in ("sensors", "governor", "actuator"):
            rig.service(name, config)
        for name in ("sensors", "governor", "actuator"):
            rig.probe.wait_for(f"warden/bench/{name}/availability", lambda s: s.text == "online")
        rig.poll_every(POLL_SECONDS, lambda: speedarr_once(server.url, speedarr_qbt))
        hook = f"http://127.0.0.1:{hook_port}/webhook/tautulli"
        warden_times, poll_times = [], []
        for run in range(runs):
            machine = f"tv-{run}"
            # A random phase against the poll, or every run would wait a whole period.
            phase = random.uniform(0, POLL_SECONDS)
            time.sleep(phase)
            server.answer(activity(machine))
            started = time.monotonic()
            body = tautulli_body(
                "play", machine_id=machine, media_type="movie", stream_bandwidth=str(STREAM_KBPS)
            )
            requests.post(hook, json=body, timeout=5)
            warden_at = poll_at = None
            while warden_at is None or poll_at is None:
                now = time.monotonic()
                if now - started > 60:
                    raise TimeoutError("no new limit within 60 s")
                if warden_at is None and upload(warden_qbt) != USERS_UPLOAD:
                    warden_at = time.monotonic() - started
                if poll_at is None and upload(speedarr_qbt) != USERS_UPLOAD:
                    poll_at = time.monotonic() - started
                time.sleep(0.005)
            warden_times.append(warden_at)
            poll_times.append(poll_at)
            print(
                f"run {run + 1}: webhook -> qBittorrent's limit {warden_at * 1000:7.1f} ms   "
                f"5 s poll {poll_at * 1000:7.1f} ms (phase {phase:.1f} s)"
            )
            # The stream ends; both clients back at the user's limit before the next run.
            server.answer(activity())
            body = tautulli_body("stop", machine_id=machine, media_type="movie")
            requests.post(hook, json=body, timeout=5)
            deadline = time.monotonic() + 60
            while upload(warden_qbt) != USERS_UPLOAD or upload(speedarr_qbt) != USERS_UPLOAD:
                if time.monotonic() > deadline:
                    raise TimeoutError("the user's limit did not come back")
                time.sleep(0.05)
        warden_median = statistics.median(warden_times)
        poll_median = statistics.median(poll_times)
        print(
            f"median: webhook -> limit {warden_median * 1000:.1f} ms, "
            f"5 s poll (Speedarr) {poll_median * 1000:.1f} ms, "
            f"poll / webhook = {poll_median / warden_median:.0f}x"
        )
    finally:
        server.close()
        for daemon in daemons:
            daemon.stop()


if __name__ == "__main__":
    main()
