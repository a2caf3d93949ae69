"""Every host's status and summary, as this web service reads them from the bus (its own
host with its own config, the others with the defaults). Pure."""

from __future__ import annotations

import functools
from typing import Literal

from services.web.models import HostSummary, Status
from services.web.status import build_status
from services.web.view import Fleet, View
from shared.config.model import WardenConfig
from shared.messages import AppliedContainer


def host_config(cfg: WardenConfig, host: str) -> WardenConfig:
    """The config to read a host's view with: this service's own for its own host; for
    another, the defaults (its config is on that host: what its messages say counts)."""
    return cfg if host == cfg.host_id else _defaults(host)


@functools.lru_cache(maxsize=64)
def _defaults(host: str) -> WardenConfig:
    return WardenConfig(host_id=host)


def host_status(view: View, cfg: WardenConfig, host: str, now: float) -> Status:
    status = build_status(view, host_config(cfg, host), now)
    if host == cfg.host_id:
        return status
    # Only the host's own config names these; its sensors say which containers it protects.
    protected = sorted(n for n, c in status.containers.items() if c.protected)
    return status.model_copy(
        update={"media_provider": "unknown", "protected_containers": protected}
    )


def _limited(c: AppliedContainer) -> bool:
    # As /metrics counts it: a memory.high is a throttle only when a rule set it.
    return (
        c.cpu_max is not None
        or c.io_max is not None
        or (c.memory_high is not None and bool(c.reasons))
    )


def host_summary(view: View, host: str, own: bool, uplink: bool = False) -> HostSummary:
    """uplink: the view is of this service's own host, on its own bridged broker, where the
    bridge's word is about the link to the centre, not about the host itself."""
    applied, pressure = view.applied, view.pressure
    services = dict(view.availability)
    source: Literal["bridge", "services"]
    if view.bridge is not None and not uplink:
        online, source = view.bridge == "1", "bridge"
    else:
        online, source = any(state == "online" for state in services.values()), "services"
    some: dict[str, float | None] = (
        {
            kind: (r.some.avg10 if (r := getattr(pressure, kind)) is not None else None)
            for kind in ("cpu", "memory", "io")
        }
        if pressure
        else {"cpu": None, "memory": None, "io": None}
    )
    known = [(value, kind) for kind, value in some.items() if value is not None]
    worst = max(known) if known else None
    messages = (view.desired, applied, pressure, view.inventory, view.resources, view.thermal)
    stamps = [m.ts for m in messages if m is not None]
    containers = applied.containers if applied else []
    return HostSummary(
        own=own,
        online=online,
        online_from=source,
        bridge=None if view.bridge is None else ("up" if view.bridge == "1" else "down"),
        services=services,
        media_mode_active=bool(view.desired and view.desired.media_mode),
        containers=len(containers),
        paused=sum(1 for c in containers if c.paused),
        throttled=sum(1 for c in containers if _limited(c)),
        applied_at=applied.ts if applied else None,
        applied_mode=applied.mode if applied else None,
        pressure_some_avg10=some,
        pressure_headline=f"{worst[1]} {worst[0]:.1f}%" if worst else None,
        updated_at=max(stamps) if stamps else None,
    )


def fleet_summary(fleet: Fleet, own_bridged: bool = False) -> dict[str, HostSummary]:
    """own_bridged: this service's host has `bridge:` on, so it reads that host's own broker."""
    summaries = {}
    for host in fleet.hosts():
        own = host == fleet.own
        summaries[host] = host_summary(fleet.views[host], host, own, own and own_bridged)
    return summaries
