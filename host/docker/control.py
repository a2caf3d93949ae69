"""What the actuator changes through Docker's record: cpu weight and memory limit."""

from __future__ import annotations

import docker

from host.cgroups.control import cpu_shares

__all__ = ["cpu_shares", "update_limits"]


def update_limits(
    api: docker.APIClient,
    container_id: str,
    cpu_weight: int | None = None,
    memory_max: int | None = None,
    memory_swap: int = -1,
) -> None:
    """memory_swap: Docker's MemorySwap to go with memory_max; -1 (unlimited swap on top,
    the default) keeps a lower one left by `docker run` from making dockerd refuse a
    larger memory limit."""
    kwargs: dict[str, int] = {}
    if cpu_weight is not None:
        kwargs["cpu_shares"] = cpu_shares(cpu_weight)
    if memory_max is not None:
        kwargs["mem_limit"] = memory_max
        kwargs["memswap_limit"] = memory_swap
    if kwargs:
        api.update_container(container_id, **kwargs)
