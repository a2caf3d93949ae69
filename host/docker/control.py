"""What the actuator changes through Docker's record: cpu weight and memory limit."""

from __future__ import annotations

import math

import docker

CPU_SHARES_MAX = 262144


def cpu_shares(weight: int) -> int:
    """cpu.weight (1-10000) as Docker's CpuShares; runc's conversion gives the weight back."""
    return min(CPU_SHARES_MAX, 2 + math.ceil((weight - 1) * 262142 / 9999))


def update_limits(
    api: docker.APIClient,
    container_id: str,
    cpu_weight: int | None = None,
    memory_max: int | None = None,
) -> None:
    kwargs: dict[str, int] = {}
    if cpu_weight is not None:
        kwargs["cpu_shares"] = cpu_shares(cpu_weight)
    if memory_max is not None:
        # Unlimited swap on top: a lower memswap limit left by `docker run`
        # would make dockerd refuse a larger memory limit.
        kwargs["mem_limit"] = memory_max
        kwargs["memswap_limit"] = -1
    if kwargs:
        api.update_container(container_id, **kwargs)
