"""Many hosts on one central broker, and one governor over many containers.

1. A central Mosquitto with N simulated hosts (N = 10, 100, 500 by default), each one
   connection (as its bridge would be) publishing a host's facts at Warden's real
   rates for 50 containers: pressure, resources and the container inventory on
   every poll (5 s) when they change, which they do; desired and applied on every
   renewal (10 s). Payloads are the real models' JSON. Measured: the message rate
   and bytes the central broker took in (its own $SYS counters), its CPU, and, with
   one real host (its own broker bridged to the central one, governor, actuator,
   sensors, a real tier-3 container), the delay from a trigger on the central broker
   to that host's applied state showing the pause there, under that load.
2. The governor's decide() over 50, 500 and 5000 containers (the pure function every
   fact and trigger runs), and the desired state's JSON for them.

Printed as tables. Run: .venv/bin/python -m bench.many_hosts [--hosts 10 100 500]
Needs Mosquitto and the Docker engine with the test image (the tests make it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import threading
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path

import paho.mqtt.client as mqtt

from bench.rig import HOST, Rig
from services.governor.policy import Facts, Memory, decide
from shared.bridge import bridge_conf
from shared.config import load_config
from shared.config.model import WardenConfig
from shared.messages import (
    Applied,
    AppliedContainer,
    ContainerFact,
    ContainerInventory,
    ContainerUsage,
    DesiredState,
    HostUsage,
    PressureFact,
    PressureLine,
    ResourcePressure,
    ResourcesFact,
    Switches,
)
from tests.support.broker import free_port, wait_for_port

CONTAINERS = 50
POLL_SECONDS = 5.0
RENEW_SECONDS = 10.0
LOAD_SECONDS = 20.0
HOSTS_PER_WORKER = 100


def host_payloads(host: str, n: int) -> dict[str, tuple[bytes, float]]:
    """topic -> (payload, seconds between publishes) for one host of n containers."""
    line = PressureLine(avg10=12.5, avg60=10.25, avg300=8.0, total=123456789)
    pressure = PressureFact(
        host=host, cpu=ResourcePressure(some=line), memory=ResourcePressure(some=line, full=line)
    )
    names = [f"{host}-app{i:03d}" for i in range(n)]
    inventory = ContainerInventory(
        host=host,
        cpu_count=8,
        containers=[
            ContainerFact(id=f"{i:064x}", name=name, state="running", tier=3, rss_bytes=10**8)
            for i, name in enumerate(names)
        ],
    )
    resources = ResourcesFact(
        host=host,
        machine=HostUsage(cpu_count=8, cpu_percent=37.5, memory_used_percent=61.0),
        containers=[
            ContainerUsage(
                id=f"{i:064x}",
                name=name,
                source=f"/sys/fs/cgroup/system.slice/docker-{i:064x}.scope",
                cpu_percent=1.5,
                rss_bytes=10**8,
            )
            for i, name in enumerate(names)
        ],
    )
    applied = Applied(
        host=host,
        mode="desired",
        seq=42,
        containers=[
            AppliedContainer(
                name=name,
                id=f"{i:064x}",
                tier=3,
                paused=False,
                cpu_weight=100,
                io_weight=100,
                memory_high=None,
                memory_max=None,
            )
            for i, name in enumerate(names)
        ],
    )
    desired = DesiredState(host=host, seq=42, lease_seconds=30)
    base = f"warden/{host}"
    return {
        f"{base}/sensors/pressure": (pressure.model_dump_json().encode(), POLL_SECONDS),
        f"{base}/sensors/resources": (resources.model_dump_json().encode(), POLL_SECONDS),
        f"{base}/sensors/containers": (inventory.model_dump_json().encode(), POLL_SECONDS),
        f"{base}/desired": (desired.model_dump_json().encode(), RENEW_SECONDS),
        f"{base}/applied": (applied.model_dump_json().encode(), RENEW_SECONDS),
    }


def simulate(port: int, first: int, count: int, stop: Event, sent: Synchronized) -> None:
    """One worker process: `count` hosts, one connection each, publishing on schedule."""
    clients: list[mqtt.Client] = []
    schedule: list[tuple[float, mqtt.Client, str, bytes, float]] = []
    start = time.monotonic()
    for index in range(first, first + count):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{index}")
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
        for offset, (topic, (payload, every)) in enumerate(
            host_payloads(f"sim{index}", CONTAINERS).items()
        ):
            # Spread out, as independent hosts are.
            due = start + (index * 0.37 + offset * 0.11) % every
            schedule.append((due, client, topic, payload, every))
    while not stop.is_set():
        now = time.monotonic()
        for i, (due, client, topic, payload, every) in enumerate(schedule):
            if due <= now:
                client.publish(topic, payload, qos=1, retain=True)
                with sent.get_lock():
                    sent.value += 1
                schedule[i] = (due + every, client, topic, payload, every)
        time.sleep(0.02)
    for client in clients:
        client.loop_stop()
        client.disconnect()


class SimulatedHosts:
    """n hosts in worker processes of HOSTS_PER_WORKER each, so the generator is not the
    limit being measured (one Python process runs out of breath before the broker does)."""

    def __init__(self, port: int, n: int) -> None:
        self._stop = multiprocessing.Event()
        self.sent = multiprocessing.Value("l", 0)
        self._workers = [
            multiprocessing.Process(
                target=simulate,
                args=(port, first, min(HOSTS_PER_WORKER, n - first), self._stop, self.sent),
                daemon=True,
            )
            for first in range(0, n, HOSTS_PER_WORKER)
        ]

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)


def sys_counter(port: int, topic: str) -> float:
    got = subprocess.run(
        ["mosquitto_sub", "-p", str(port), "-t", topic, "-C", "1", "-W", "15"],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(got.stdout.split()[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def central_broker(workdir: Path) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    conf = workdir / "central.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "sys_interval 1\nmax_queued_messages 100000\n"
    )
    process = subprocess.Popen(
        ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port)
    return port, process


def first_showing(seen: list[tuple[float, bytes]], since: float, paused: bool) -> float | None:
    """When the first applied state since `since` showed the container (un)paused."""
    for at, payload in seen:
        if at >= since:
            applied = Applied.model_validate_json(payload)
            if applied.containers and applied.containers[0].paused == paused:
                return at
    return None


def trigger_delays(rig: Rig, central_port: int, runs: int) -> list[float]:
    """Trigger on the central broker -> the real host's applied (with the pause) back there."""
    seen: list[tuple[float, bytes]] = []
    cond = threading.Condition()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with cond:
            seen.append((time.monotonic(), bytes(msg.payload)))
            cond.notify_all()

    watcher.on_message = on_message
    watcher.connect("127.0.0.1", central_port)
    watcher.subscribe(f"warden/{HOST}/applied", 1)
    watcher.loop_start()
    time.sleep(0.5)
    delays = []
    for run in range(runs * 2):
        pause = run % 2 == 0
        sent = time.monotonic()
        watcher.publish(f"warden/{HOST}/trigger", "tier3_pause" if pause else "tier3_resume", 1)

        with cond:
            while (at := first_showing(seen, sent, pause)) is None:
                if not cond.wait(120):
                    raise TimeoutError("no applied state on the central broker")
        if pause:
            delays.append(at - sent)
        time.sleep(0.3)
    watcher.loop_stop()
    watcher.disconnect()
    return delays


def fleet(hosts: list[int], runs: int) -> None:
    with Rig(with_docker=True) as rig:
        assert rig.containers is not None
        central_port, central = central_broker(rig.workdir)
        rig.containers.run("t3")
        config = rig.config(
            tiers={3: {"containers": [rig.containers.name("t3")]}},
            actuator={"state_file": str(rig.workdir / "state.json"), "startup_grace_seconds": 0},
            bridge={"enabled": True, "address": "127.0.0.1", "port": central_port},
        )
        # The real host's broker is the rig's: give it the bridge warden-stack would write.
        bridge_file = rig.workdir / "bridge.conf"
        bridge_file.write_text(bridge_conf(load_config(config).config))
        rig.broker.config.write_text(rig.broker.config.read_text() + bridge_file.read_text())
        rig.broker.restart()
        for name in ("sensors", "actuator", "governor"):
            rig.service(name, config)
        time.sleep(3)
        rows = []
        try:
            for n in hosts:
                sims = SimulatedHosts(central_port, n)
                sims.start()
                time.sleep(2 + n / 100)  # connected and publishing
                received0 = sys_counter(central_port, "$SYS/broker/messages/received")
                bytes0 = sys_counter(central_port, "$SYS/broker/bytes/received")
                cpu0, wall0 = cpu_seconds(central.pid), time.monotonic()
                delays = trigger_delays(rig, central_port, runs)
                time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - wall0)))
                received1 = sys_counter(central_port, "$SYS/broker/messages/received")
                bytes1 = sys_counter(central_port, "$SYS/broker/bytes/received")
                cpu1, wall1 = cpu_seconds(central.pid), time.monotonic()
                sims.stop()
                wall = wall1 - wall0
                print(f"{n} hosts measured", file=sys.stderr, flush=True)
                rows.append(
                    (
                        n,
                        (received1 - received0) / wall,
                        (bytes1 - bytes0) / wall / 1e6,
                        100 * (cpu1 - cpu0) / wall,
                        statistics.median(delays) * 1000,
                        max(delays) * 1000,
                    )
                )
        finally:
            central.terminate()
            central.wait(10)
    print(f"\nCentral broker, hosts of {CONTAINERS} containers, {LOAD_SECONDS:g} s of load each")
    print("hosts | msgs/s in | MB/s in | broker CPU % of a core | trigger->applied median | max")
    for n, rate, mbs, cpu, median, worst in rows:
        print(
            f"{n:5d} | {rate:9.0f} | {mbs:7.2f} | {cpu:22.1f} | {median:20.1f} ms | {worst:.1f} ms"
        )


def governor(counts: list[int], repeats: int = 20) -> None:
    now = time.time()
    print("\nGovernor decide() during media mode, one host")
    print("containers | decide median | desired JSON median | JSON size")
    for n in counts:
        names = [f"app{i:05d}" for i in range(n)]
        cfg = WardenConfig.model_validate(
            {
                "host_id": "h",
                "tiers": {2: {"containers": ["app0001*"]}, 3: {"containers": ["app*"]}},
                "media_mode": {"enabled": True, "provider": "webhook"},
            }
        )
        line = PressureLine(avg10=1.0, avg60=1.0, avg300=1.0, total=1)
        facts = Facts(
            pressure=PressureFact(host="h", memory=ResourcePressure(some=line), io=None),
            pressure_seen_at=now,
            inventory=ContainerInventory(
                host="h",
                cpu_count=8,
                containers=[
                    ContainerFact(id=f"{i:064x}", name=name, state="running", tier=3)
                    for i, name in enumerate(names)
                ],
            ),
        )
        memory = Memory(Switches(media_forced=True))
        matcher = cfg.tier_matcher()
        decide_times, json_times = [], []
        size = 0
        for _ in range(repeats):
            start = time.perf_counter()
            decision = decide(cfg, matcher, facts, memory, now)
            decide_times.append(time.perf_counter() - start)
            desired = DesiredState(
                host="h", seq=1, lease_seconds=30, containers=decision.containers
            )
            start = time.perf_counter()
            size = len(desired.model_dump_json())
            json_times.append(time.perf_counter() - start)
        print(
            f"{n:10d} | {statistics.median(decide_times) * 1000:10.2f} ms | "
            f"{statistics.median(json_times) * 1000:16.2f} ms | {size / 1024:.0f} KiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--containers", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    governor(args.containers)
    fleet(args.hosts, args.runs)


if __name__ == "__main__":
    main()
