"""Who else was busy: every container's and process group's use of a resource, averaged
over the readings in a window, ranked. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.governor.stalls import use_of
from shared.messages import ContainerUsage, GpuFact, ProcessGroupUsage, ResourcesFact
from shared.messages.incidents import Contender
from shared.tier_matcher import TierMatcher


@dataclass(frozen=True)
class Sample:
    """One resources reading (and the GPU reading of then), at its arrival time."""

    t: float
    resources: ResourcesFact
    gpu: GpuFact | None = None


@dataclass(frozen=True)
class Gpu:
    percent: float | None = None
    memory_bytes: int | None = None


def _add(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def gpu_use(gpu: GpuFact | None, resources: ResourcesFact) -> dict[str, Gpu]:
    """Per container (NVML's processes, by the container the sensors found them in) and per
    process group (by pid): summed GPU use and memory. Empty where nothing is known."""
    if gpu is None:
        return {}
    group_of = {pid: g.name for g in resources.process_groups for pid in g.pids}
    found: dict[str, Gpu] = {}
    for device in gpu.gpus:
        for p in device.processes or []:
            owner = p.container or group_of.get(p.pid)
            if owner is None:
                continue
            was = found.get(owner, Gpu())
            memory = _add(was.memory_bytes, p.used_memory_bytes)
            found[owner] = Gpu(
                _add(was.percent, p.utilization_percent),
                int(memory) if memory is not None else None,
            )
    return found


def group_use(resource: str, g: ProcessGroupUsage) -> float | None:
    if resource == "io":
        return _add(g.read_bytes_per_second, g.write_bytes_per_second)
    if resource == "cpu":
        return g.cpu_percent
    return None  # a group's memory growth is not read


def use_now(
    resource: str, sample: Sample, names: Iterable[str], disks: frozenset[str] | None
) -> dict[str, float]:
    """The named ones' use in one reading, for the timeline (unknown ones left out)."""
    wanted = set(names)
    use: dict[str, float] = {}
    for c in sample.resources.containers:
        if c.name in wanted and (v := use_of(resource, c, disks)) is not None:
            use[c.name] = v
    for g in sample.resources.process_groups:
        if g.name in wanted and g.name not in use and (v := group_use(resource, g)) is not None:
            use[g.name] = v
    return use


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _same_disk(by_disk: dict[str, float] | None, disks: frozenset[str] | None) -> bool | None:
    if by_disk is None or disks is None:
        return None
    return any(by_disk.get(d, 0.0) > 0 for d in disks)


def _mean_by_disk(readings: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    known = [r for r in readings if r is not None]
    if not known:
        return None
    disks = sorted({d for r in known for d in r})
    return {d: sum(r.get(d, 0.0) for r in known) / len(known) for d in disks}


def rank(
    samples: Sequence[Sample],
    resource: str,
    disks: frozenset[str] | None,
    exclude: Iterable[str],
    matcher: TierMatcher,
    keep: int,
) -> list[Contender]:
    """The busiest containers and process groups on the resource over these readings, by
    their mean use; anyone using none of it is left out, and so are the excluded (the
    containers that stalled)."""
    skip = set(exclude)
    by_container: dict[str, list[ContainerUsage]] = {}
    by_group: dict[str, list[ProcessGroupUsage]] = {}
    gpus: dict[str, list[Gpu]] = {}
    for s in samples:
        for c in s.resources.containers:
            by_container.setdefault(c.name, []).append(c)
        for g in s.resources.process_groups:
            by_group.setdefault(g.name, []).append(g)
        for name, use in gpu_use(s.gpu, s.resources).items():
            gpus.setdefault(name, []).append(use)
    found: list[Contender] = []
    for name, usages in by_container.items():
        score = _mean([use_of(resource, u, disks) for u in usages])
        if name in skip or score is None or score <= 0:
            continue
        by_disk = _mean_by_disk([u.io_bytes_per_second_by_disk for u in usages])
        growth = _mean([u.memory_growth_bytes_per_second for u in usages])
        found.append(
            Contender(
                name=name,
                kind="container",
                tier=matcher.tier_of(name),
                score=score,
                cpu_percent=_mean([u.cpu_percent for u in usages]),
                io_bytes_per_second=_mean([u.io_bytes_per_second for u in usages]),
                io_bytes_per_second_by_disk=by_disk,
                same_disk=_same_disk(by_disk, disks),
                memory_growth_bytes_per_second=growth,
                gpu_percent=_gpu_percent(gpus.get(name, [])),
                gpu_memory_bytes=_gpu_memory(gpus.get(name, [])),
            )
        )
    for name, groups in by_group.items():
        score = _mean([group_use(resource, g) for g in groups])
        if name in skip or name in by_container or score is None or score <= 0:
            continue
        found.append(
            Contender(
                name=name,
                kind="process_group",
                score=score,
                cpu_percent=_mean([g.cpu_percent for g in groups]),
                io_bytes_per_second=_mean(
                    [_add(g.read_bytes_per_second, g.write_bytes_per_second) for g in groups]
                ),
                gpu_percent=_gpu_percent(gpus.get(name, [])),
                gpu_memory_bytes=_gpu_memory(gpus.get(name, [])),
            )
        )
    found.sort(key=lambda c: (-c.score, c.name))
    return found[:keep]


def _gpu_percent(uses: Sequence[Gpu]) -> float | None:
    return _mean([u.percent for u in uses])


def _gpu_memory(uses: Sequence[Gpu]) -> int | None:
    memory = _mean([u.memory_bytes for u in uses])
    return int(memory) if memory is not None else None
