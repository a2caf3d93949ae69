"""One host's retained facts, desired state, applied state and last decision, as a running
stack leaves them on the bus: what the web views read, without running the stack."""

from __future__ import annotations

from services.governor.catalogue import catalogue
from shared.config.model import WardenConfig
from shared.messages import (
    Applied,
    AppliedContainer,
    ContainerFact,
    ContainerIntent,
    ContainerInventory,
    DesiredState,
    GpuFact,
    HostUsage,
    LastDecision,
    PressureFact,
    PressureLine,
    ProcessUsage,
    Reason,
    ResourcePressure,
    ResourcesFact,
    ThermalFact,
)
from tests.support.probe import Probe


def line(avg10: float) -> PressureLine:
    return PressureLine(avg10=avg10, avg60=avg10 / 2, avg300=0, total=1)


def publish_facts(probe: Probe, host: str) -> None:
    base = f"warden/{host}"
    facts = {
        "sensors/resources": ResourcesFact(
            host=host,
            machine=HostUsage(
                cpu_count=2,
                cpu_percent=37.5,
                cpu_per_core_percent=[50.0, 25.0],
                memory_total_bytes=8 * 2**30,
                memory_available_bytes=2 * 2**30,
                memory_used_percent=75.0,
                disk_read_bytes_per_second=1000.0,
                disk_write_bytes_per_second=500.0,
                memory_used_bytes=6 * 2**30,
                disk_reads_per_second=40.0,
                disk_writes_per_second=8.0,
                disk_read_bytes=10**9,
                disk_write_bytes=2 * 10**9,
                disk_reads=1000,
                disk_writes=3000,
            ),
            top_processes=[
                ProcessUsage(
                    pid=4242,
                    name="ffmpeg",
                    cpu_percent=30.0,
                    rss_bytes=512 * 2**20,
                    memory_percent=6.3,
                    group="encoders",
                ),
                ProcessUsage(pid=77, name="python3", cpu_percent=1.5, rss_bytes=64 * 2**20),
            ],
        ),
        "sensors/pressure": PressureFact(
            host=host,
            cpu=ResourcePressure(some=line(5)),
            memory=ResourcePressure(some=line(60), full=line(1)),
            io=ResourcePressure(some=line(10), full=line(2)),
        ),
        # The governor's catalogue (its default config): what each rule is.
        "governor/rules": catalogue(WardenConfig(host_id=host)),
        "sensors/thermal": ThermalFact(host=host, available=True, hottest="zone/x", max_celsius=71),
        "sensors/gpu": GpuFact(host=host, available=False, reasons=["no GPU"]),
        "sensors/containers": ContainerInventory(
            host=host,
            cpu_count=2,
            containers=[
                ContainerFact(id="a" * 12, name="tdarr", state="running", tier=3),
                ContainerFact(id="b" * 12, name="sonarr", state="running", tier=2),
            ],
        ),
        "desired": DesiredState(
            host=host,
            seq=4,
            lease_seconds=30,
            containers={
                "tdarr": ContainerIntent(
                    tier=3,
                    memory_high=2**28,
                    cpu_idle=True,
                    reasons=[
                        Reason(
                            rule="memory_squeeze",
                            metric="memory.some_avg10",
                            value=60,
                            threshold=50,
                        ),
                        Reason(
                            rule="cpu_yield",
                            metric="protected.cpu_core_percent",
                            threshold=2,
                        ),
                    ],
                )
            },
        ),
        "applied": Applied(
            host=host,
            mode="desired",
            seq=4,
            containers=[
                AppliedContainer(
                    name="tdarr",
                    id="a" * 12,
                    tier=3,
                    paused=False,
                    cpu_weight=10,
                    io_weight=10,
                    memory_high=2**28,
                    memory_max=None,
                    reasons=["memory_squeeze"],
                )
            ],
        ),
    }
    for leaf, message in facts.items():
        probe.publish(f"{base}/{leaf}", message.model_dump_json(), retain=True)
    decision = LastDecision(
        host=host,
        container="tdarr",
        action="enforce",
        summary="tdarr: memory.high (memory_squeeze)",
        reasons=["x"],
    )
    probe.publish(f"{base}/governor/decision", decision.model_dump_json())
