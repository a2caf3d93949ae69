"""The web service's routes answer while the broker has stopped reading: publishing hands
the message to paho's thread, never waits on the socket in a route."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.broker import Mosquitto, free_port
from tests.support.probe import Probe
from tests.support.processes import Service, write_config
from tests.support.web import client


def test_trigger_and_status_answer_while_the_broker_is_stopped(
    tmp_path: Path, own_broker: Mosquitto, host_id: str
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"host": "127.0.0.1", "port": port}},
            "mqtt": {"host": own_broker.host, "port": own_broker.port, "keepalive_seconds": 60},
            "web": {"database": str(tmp_path / "web.sqlite3")},
        },
    )
    probe = Probe(own_broker.host, own_broker.port)
    web = Service("web", config, tmp_path)
    assert own_broker.process is not None
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        probe.close()
        os.kill(own_broker.process.pid, signal.SIGSTOP)
        try:
            with client(port) as http:
                for _ in range(50):
                    # Each a publish the broker never reads (10 s timeout per request).
                    assert http.post("/trigger", json={"event": "media_start"}).status_code < 300
                assert http.get("/status").status_code == 200
        finally:
            os.kill(own_broker.process.pid, signal.SIGCONT)
    finally:
        web.kill(signal.SIGTERM)
