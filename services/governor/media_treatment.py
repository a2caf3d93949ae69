"""What media mode asks of containers (tier 3 paused, tier 2 held back): the media mode
rule's treatment, which a schedule's quiet hours give their own targets too."""

from __future__ import annotations

from collections.abc import Iterable

from services.governor.rule import Target
from shared.config.model import MediaMode
from shared.messages import ContainerIntent, CpuMax, IoMax, Reason
from shared.units import MB_PER_SEC

CPU_PERIOD_US = 100_000


def media_treatment(
    cfg: MediaMode, targets: Iterable[Target], cpu_count: int, reason: Reason
) -> dict[str, ContainerIntent]:
    """What media mode asks of these containers: tier 3 paused, tier 2 held back."""
    cpu_max, io_max = _tier2_limits(cfg, cpu_count)
    intents = {}
    for container, tier in targets:
        if tier == 3:
            intents[container.name] = ContainerIntent(tier=3, paused=True, reasons=[reason])
        elif tier == 2:
            intents[container.name] = ContainerIntent(
                tier=2, cpu_max=cpu_max, io_max=io_max, reasons=[reason]
            )
    return intents


def _tier2_limits(cfg: MediaMode, cpu_count: int) -> tuple[CpuMax, IoMax]:
    cpu = CpuMax(
        quota_us=max(1000, int(cfg.tier2_cpu_max_percent / 100 * CPU_PERIOD_US * cpu_count)),
        period_us=CPU_PERIOD_US,
    )
    io = IoMax(
        read_bps=int(cfg.tier2_io_max_read_mb_per_sec * MB_PER_SEC),
        write_bps=int(cfg.tier2_io_max_write_mb_per_sec * MB_PER_SEC),
    )
    return cpu, io
