"""What Warden did: the pauses and limits a decision added or tightened since the one
before, each in words. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.messages import ContainerIntent, IoMax, ProcessGroupIntent
from shared.messages.incidents import ActionControl, IncidentAction
from shared.units import MB_PER_SEC

GIB = 1024**3
# The disk key of a limit that holds on every disk behind the container's data.
EVERY_DISK = ""


@dataclass(frozen=True)
class Held:
    """What a decision holds one target to (fields None / False: nothing beyond baseline)."""

    kind: Literal["container", "process_group"]
    paused: bool = False
    # cpu.max as CPUs (quota / period).
    cpus: float | None = None
    # Disk ("" for every disk) -> (read, write) bytes/s.
    io: Mapping[str, tuple[int | None, int | None]] = field(default_factory=dict)
    memory_high: int | None = None
    cpu_idle: bool = False
    rules: tuple[str, ...] = ()


def _io(io_max: IoMax | None) -> dict[str, tuple[int | None, int | None]]:
    if io_max is None:
        return {}
    held: dict[str, tuple[int | None, int | None]] = {}
    if io_max.read_bps or io_max.write_bps:
        held[EVERY_DISK] = (io_max.read_bps, io_max.write_bps)
    for disk in io_max.disks:
        rate = io_max.on(disk)
        held[disk] = (rate.read_bps, rate.write_bps)
    return held


def held_of(
    containers: Mapping[str, ContainerIntent], groups: Mapping[str, ProcessGroupIntent]
) -> dict[str, Held]:
    held: dict[str, Held] = {}
    for name, c in containers.items():
        held[name] = Held(
            kind="container",
            paused=c.paused,
            cpus=c.cpu_max.quota_us / c.cpu_max.period_us if c.cpu_max else None,
            io=_io(c.io_max),
            memory_high=c.memory_high,
            cpu_idle=c.cpu_idle,
            rules=tuple(dict.fromkeys(r.rule for r in c.reasons)),
        )
    for name, g in groups.items():
        if g.paused:
            held[f"group:{name}"] = Held(
                kind="process_group",
                paused=True,
                rules=tuple(dict.fromkeys(r.rule for r in g.reasons)),
            )
    return held


def _tighter(new: int | float | None, old: int | float | None) -> bool:
    return new is not None and (old is None or new < old)


def _mb(bps: int | None) -> str:
    return "-" if bps is None else f"{bps / MB_PER_SEC:.3g} MB/s"


def _rate(read: int | None, write: int | None) -> str:
    return _mb(read) if read == write else f"read {_mb(read)}, write {_mb(write)}"


def tightened(before: Held | None, after: Held, cpu_count: int) -> list[tuple[ActionControl, str]]:
    """What `after` adds or tightens over `before`: each control, in words
    ("io.max 12 MB/s on 8:0")."""
    was = before or Held(kind=after.kind)
    said: list[tuple[ActionControl, str]] = []
    if after.paused and not was.paused:
        said.append(("paused", "paused"))
    if _tighter(after.cpus, was.cpus):
        assert after.cpus is not None
        said.append(("cpu_max", f"cpu.max {100 * after.cpus / max(1, cpu_count):.3g} %"))
    for disk, (read, write) in sorted(after.io.items()):
        old = was.io.get(disk, was.io.get(EVERY_DISK, (None, None)))
        if _tighter(read, old[0]) or _tighter(write, old[1]):
            where = f" on {disk}" if disk != EVERY_DISK else ""
            said.append(("io_max", f"io.max {_rate(read, write)}{where}"))
    if _tighter(after.memory_high, was.memory_high):
        assert after.memory_high is not None
        said.append(("memory_high", f"memory.high {after.memory_high / GIB:.3g} GiB"))
    if after.cpu_idle and not was.cpu_idle:
        said.append(("cpu_idle", "cpu.idle"))
    return said


# The controls that answer a wait on each resource (protect answers memory with cpu.max).
ANSWERS: dict[str, frozenset[str]] = {
    "io": frozenset({"paused", "io_max"}),
    "cpu": frozenset({"paused", "cpu_max", "cpu_idle"}),
    "memory": frozenset({"paused", "memory_high", "cpu_max"}),
}


def answers(action: IncidentAction, resource: str | None) -> bool:
    """Whether the action bears on a wait for the resource (None: any resource)."""
    return resource is None or bool(ANSWERS[resource] & set(action.controls))


def added(
    before: Mapping[str, Held], after: Mapping[str, Held], cpu_count: int, now: float
) -> list[IncidentAction]:
    """Every target whose hold got tighter from one decision to the next."""
    actions = []
    for key in sorted(after):
        what = tightened(before.get(key), after[key], cpu_count)
        if what:
            held = after[key]
            actions.append(
                IncidentAction(
                    at=now,
                    target=key.removeprefix("group:"),
                    kind=held.kind,
                    what="; ".join(text for _, text in what)[:200],
                    controls=list(dict.fromkeys(control for control, _ in what)),
                    rules=list(held.rules)[:16],
                )
            )
    return actions
