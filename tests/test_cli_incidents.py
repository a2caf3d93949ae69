"""`warden incidents` (and the line `warden why` adds): the governor's retained incidents in
the terminal, through the real command on a real broker, and its views on a UTC clock."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cli.incidents import detail, listing, naming
from cli.views import Style
from shared.messages import ContainerIntent, DesiredState, Reason
from shared.messages.incidents import IncidentLog
from tests.support.broker import Mosquitto
from tests.support.incidents import made
from tests.support.probe import Probe
from tests.support.processes import write_config
from tests.test_cli import warden

PLAIN = Style(False)
# 21:40:00 UTC.
T0 = 1_700_000_000 - 1_700_000_000 % 86400 + 21 * 3600 + 40 * 60


def utc(t: float, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(t))


def test_the_views() -> None:
    log = made("nas", T0)
    cpu, disk = log.incidents
    lines = listing(log, 10, PLAIN, utc)
    assert lines[0].startswith("open ") and cpu.id in lines[0]
    assert lines[1].strip() == cpu.sentence and lines[3].strip() == disk.sentence
    assert listing(IncidentLog(host="nas"), 10, PLAIN, utc) == [
        "no incidents: no protected container has stalled, no stream has buffered"
    ]
    shown = detail(disk, PLAIN, utc)
    assert shown[0] == f"{disk.id}: stall on disk, 2023-11-14 21:40:00 - 21:40:08 (calm)"
    assert shown[1].strip() == disk.sentence
    assert "  waited:     jellyfin (peak 38 %)" in shown
    assert "  streams:    'Dune' (alice, jellyfin, playing, hardware transcode)" in shown
    table = [line for line in shown if line.startswith("    ")]
    assert table[0].split() == ["NAME", "KIND", "TIER", "USE", "CPU", "I/O", "GPU"]
    assert table[1].split()[:6] == ["tdarr", "container", "3", "178", "MB/s", "(same"]
    assert "    21:40:01 (+1.6 s)  tdarr: io.max 12 MB/s on 8:0 (protect)" in shown
    assert shown[-1] == (
        "  stall:      38 % before the first action, 14 % after; ended after it: yes"
    )
    assert naming(log, "tdarr") == cpu  # among the CPU stall's top three too
    assert naming(log, "jellyfin") == cpu and naming(log, "nobody") is None


def test_the_command_on_a_real_broker(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    log = made(host_id, time.time() - 600)
    probe.publish(f"warden/{host_id}/governor/incidents", log.model_dump_json(), retain=True)
    held = ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="manual_pause")])
    desired = DesiredState(host=host_id, seq=1, lease_seconds=30, containers={"tdarr": held})
    probe.publish(f"warden/{host_id}/desired", desired.model_dump_json(), retain=True)
    cfg = write_config(
        tmp_path / "config.yaml",
        {"host_id": host_id, "mqtt": {"host": broker.host, "port": broker.port}},
    )
    listed = warden("incidents", config=cfg)
    assert listed.returncode == 0, listed.stderr
    assert log.incidents[1].sentence in listed.stdout
    last = warden("incidents", "last", config=cfg)
    assert last.returncode == 0 and last.stdout.startswith(log.incidents[0].id)
    whole = warden("incidents", log.incidents[1].id, "--json", config=cfg)
    assert json.loads(whole.stdout) == log.incidents[1].model_dump(mode="json")
    missing = warden("incidents", "stall-io-0", config=cfg)
    assert missing.returncode == 1 and log.incidents[0].id in missing.stderr
    why = warden("why", "tdarr", config=cfg)
    assert why.returncode == 0, why.stderr
    assert f"last incident naming it: {log.incidents[0].sentence}" in why.stdout
