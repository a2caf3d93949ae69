"""GPU sharing (Warden's own rule): a media server's hardware transcode has the GPU.

While a media server transcodes on a GPU (a session it reports says the transcode is
in hardware: Plex's transcode hardware flags, Jellyfin's and Emby's TranscodingInfo; or
NVML shows a process of a `gpu_share.media_servers` container or process group on a
GPU), the GPU's other users in tiers 2 and 3 are paused: the containers and process
groups NVML shows on that GPU, and those `gpu_share.users` names (AMD and Intel report
no per-process use: there the media server's word and that list are all there is).
In `above_threshold` mode the pause starts only while that GPU's utilisation or memory
use is above its threshold; once paused, the users stay paused until the transcode
ends (pausing them frees the GPU, so the reading that paused them cannot say when to
go on), and in either mode hold_seconds after that.

Unknown never starts a pause and never ends one: with a media server to ask, its word
decides the transcode has ended (NVML showing none of its processes is not enough);
with none to ask (webhooks, or no media server), NVML's does.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from services.governor.rule import Outcome, Rule, View
from shared.config.model import GpuShare, WardenConfig
from shared.messages import (
    ContainerIntent,
    GpuDevice,
    ProcessGroupIntent,
    Reason,
    ReasonCard,
)
from shared.messages.base import Strict

NAME = "gpu_share"
State = Literal["active", "calm", "unknown", "absent"]


class GpuShareMemory(Strict):
    # When a hardware transcode was last seen; None: none since the last pause ended.
    seen_at: float | None = None
    # While paused: since when none has been seen (the hold counts from there).
    calm_since: float | None = None
    paused: bool = False
    # Who the pause holds (kept while it lasts: a paused process may leave NVML's list).
    containers: list[str] = []
    groups: list[str] = []
    # What the reasons name: the GPUs and the streams, as of the latest transcode seen.
    about: str = ""


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@dataclass(frozen=True)
class Transcode:
    state: State
    # GPU indexes NVML shows a media server on; empty: not located (the server's word).
    gpus: tuple[int, ...] = ()
    streams: tuple[str, ...] = ()


def _group_of(view: View) -> dict[int, str]:
    groups = view.resources.process_groups if view.resources else []
    return {pid: g.name for g in groups for pid in g.pids}


def _owner(pid: int, container: str | None, group_of: dict[int, str]) -> str | None:
    return container or group_of.get(pid)


def reported(view: View, cfg: WardenConfig) -> tuple[State, tuple[str, ...]]:
    """What the media server says: its hardware transcodes, in words."""
    if not cfg.watches_streams:
        return "absent", ()
    report = view.stream_report
    if report is None or report.count is None:
        return "unknown", ()
    requested = cfg.gpu_share.requested_counts
    streams = tuple(
        sorted(
            f"'{s.title or s.id}' ({', '.join(x for x in (s.user, report.provider) if x)})"
            for s in report.sessions
            if s.hw_transcode or (requested and s.hw_transcode is None and s.hw_requested)
        )
    )
    return ("active" if streams else "calm"), streams


def on_gpus(view: View, servers: Sequence[str]) -> tuple[State, tuple[int, ...]]:
    """What NVML says: the GPUs a media server's processes are on."""
    if view.gpu is None:
        return "unknown", ()
    group_of = _group_of(view)
    listed = [d for d in view.gpu.gpus if d.processes is not None]
    if not listed:
        return "absent", ()
    found = tuple(
        d.index
        for d in listed
        if any(
            (o := _owner(p.pid, p.container, group_of)) is not None and matches(o, servers)
            for p in d.processes or []
        )
    )
    return ("active" if found else "calm"), found


def transcode(view: View, cfg: WardenConfig) -> Transcode:
    said, streams = reported(view, cfg)
    seen, gpus = on_gpus(view, cfg.gpu_share.media_servers)
    if "active" in (said, seen):
        return Transcode("active", gpus, streams)
    if said == "calm" or (said == "absent" and seen == "calm"):
        return Transcode("calm")
    return Transcode("unknown")


def _gpus_of(view: View, located: tuple[int, ...]) -> list[GpuDevice]:
    gpus = view.gpu.gpus if view.gpu else []
    return [d for d in gpus if d.index in located] if located else list(gpus)


def busy(cfg: GpuShare, devices: Sequence[GpuDevice]) -> tuple[float, str] | None:
    """above_threshold: the first reading over its threshold, (value, metric); None: none
    known to be (an unknown reading never is)."""
    for d in devices:
        if d.utilization_percent is not None and d.utilization_percent > cfg.utilization_percent:
            return d.utilization_percent, "gpu.utilization_percent"
        used, total = d.memory_used_bytes, d.memory_total_bytes
        if used is not None and total:
            share = 100 * used / total
            if share > cfg.memory_percent:
                return round(share, 1), "gpu.memory_percent"
    return None


def users(view: View, cfg: GpuShare, devices: Sequence[GpuDevice]) -> tuple[set[str], set[str]]:
    """The tier-2 and tier-3 containers and the process groups on these GPUs (NVML), and
    every one `users` names: (containers, groups)."""
    targets = {c.name for c, tier in view.targets if tier in (2, 3) and c.state == "running"}
    targets = {n for n in targets if not matches(n, cfg.media_servers)}
    group_names = {g.name for g in view.cfg.process_groups}
    group_names = {n for n in group_names if not matches(n, cfg.media_servers)}
    group_of = _group_of(view)
    containers = {n for n in targets if matches(n, cfg.users)}
    groups = {n for n in group_names if matches(n, cfg.users)}
    for d in devices:
        for p in d.processes or []:
            if p.container in targets:
                containers.add(p.container)
            elif p.container is None and group_of.get(p.pid) in group_names:
                groups.add(group_of[p.pid])
    return containers, groups


def _about(view: View, found: Transcode, devices: Sequence[GpuDevice]) -> str:
    if found.gpus or len(devices) == 1:
        named = ", ".join(f"GPU {d.index} ({d.name or d.vendor.upper()})" for d in devices)
    else:
        named = "the media server's GPU"
    shown = list(found.streams[:2])
    if more := len(found.streams) - len(shown):
        shown.append(f"{more} more")
    what = ("hardware transcode of " + ", ".join(shown)) if shown else "a media server on it"
    return f"{named}: {what}"[:200]


def gpu_share(view: View, memory: GpuShareMemory) -> Outcome[GpuShareMemory]:
    cfg = view.cfg.gpu_share
    if not cfg.enabled:
        return Outcome(GpuShareMemory())
    found = transcode(view, view.cfg)
    devices = _gpus_of(view, found.gpus)
    now = view.now
    state = memory
    reading: tuple[float, str] | None = None
    if found.state == "active":
        reading = busy(cfg, devices) if cfg.mode == "above_threshold" else None
        starts = cfg.mode == "pause" or reading is not None
        if memory.paused or starts:
            about = _about(view, found, devices)
            state = GpuShareMemory(
                seen_at=now,
                paused=True,
                containers=memory.containers,
                groups=memory.groups,
                about=about,
            )
    elif found.state == "calm" and memory.paused:
        since = memory.calm_since if memory.calm_since is not None else now
        if now >= since + cfg.hold_seconds:
            return Outcome(GpuShareMemory())
        state = memory.model_copy(update={"calm_since": since})
    if not state.paused:
        return Outcome(GpuShareMemory())
    containers, groups = users(view, cfg, devices)
    live = {c.name: tier for c, tier in view.targets if tier in (2, 3)}
    held = sorted({*state.containers, *containers} & set(live))
    held_groups = sorted({*state.groups, *groups})
    state = state.model_copy(update={"containers": held, "groups": held_groups})
    reason = Reason(rule=NAME, detail=state.about)
    if cfg.mode == "above_threshold":
        metric = reading[1] if reading else "gpu.utilization_percent"
        limit = cfg.memory_percent if metric == "gpu.memory_percent" else cfg.utilization_percent
        reason = Reason(
            rule=NAME,
            metric=metric,
            value=reading[0] if reading else None,
            threshold=limit,
            detail=state.about,
        )
    wake = state.calm_since + cfg.hold_seconds if state.calm_since is not None else None
    readings = {f"{NAME}.transcode": f"{found.state}: {state.about}"}
    return Outcome(
        state,
        containers={n: ContainerIntent(tier=live[n], paused=True, reasons=[reason]) for n in held},
        process_groups={n: ProcessGroupIntent(paused=True, reasons=[reason]) for n in held_groups},
        wake_at=wake,
        readings=readings,
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    g = cfg.gpu_share
    when = (
        "a media server transcodes on a GPU in hardware"
        if g.mode == "pause"
        else f"a hardware transcode while the GPU is above {g.utilization_percent:g} % "
        f"busy or {g.memory_percent:g} % full"
    )
    return [
        ReasonCard(
            reason=NAME,
            rule=NAME,
            title=f"{when}: its other users in tiers 2 and 3 paused"[:120],
            controls={"2": ["paused"], "3": ["paused"], "any": ["group_paused"]},
            ends=f"{g.hold_seconds:g} s after the hardware transcode ends",
            enabled=g.enabled,
        )
    ]


RULE = Rule(NAME, GpuShareMemory, gpu_share, cards)
