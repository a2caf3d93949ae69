"""From the retained topics to the API's answers. Pure: (view, config, now) -> models."""

from __future__ import annotations

import functools
from dataclasses import asdict
from typing import Literal

from services.web.models import (
    ContainerRow,
    GpuNow,
    HostSummary,
    OverrideOut,
    ProcessNow,
    PsiNow,
    ResourcesNow,
    Status,
    StatusCondition,
    StatusContainer,
    StatusDownloadClient,
    StatusProcessGroup,
    StatusSchedule,
    TemperatureNow,
    Threshold,
    Thresholds,
)
from services.web.view import Fleet, View
from shared import __version__
from shared.config.model import WardenConfig
from shared.messages import (
    AppliedContainer,
    ContainerIntent,
    DesiredState,
    GovernorStatus,
    GpuFact,
    PressureFact,
    ResourcePressure,
    ResourcesFact,
    RuleCatalogue,
    StreamsFact,
    Switches,
    ThermalFact,
)
from shared.messages.overrides import Override
from shared.messages.settings import ResourceSettings
from shared.presets import DEFAULT_PRESET, PRESETS, PresetName, in_force
from shared.readings import host_reading

# The controls of ADRG's *_by lists.
BY_CONTROLS = ("paused", "cpu_max", "io_max", "memory_high")


def adrg_names(rules: list[str], catalogue: RuleCatalogue | None) -> list[str]:
    """ADRG's name for each rule where the catalogue gives one (its *_by lists say it)."""
    named = {c.reason: c.listed_as for c in catalogue.cards} if catalogue else {}
    return sorted({named.get(rule, rule) for rule in rules})


def rules_by_control(
    intent: ContainerIntent | None, catalogue: RuleCatalogue | None
) -> dict[str, list[str]]:
    """control ("paused", "cpu_max", "io_max", "memory_high") -> the rules behind it. A
    rule the catalogue does not list (yet) counts against every control its intent sets."""
    result: dict[str, list[str]] = {control: [] for control in BY_CONTROLS}
    if intent is None:
        return result
    active = {
        control: control in intent.limits or (control == "paused" and intent.paused)
        for control in BY_CONTROLS
    }
    for reason in intent.reasons:
        card = catalogue.card(reason.rule) if catalogue else None
        controls = card.controls_for(intent.tier) if card else None
        for control, on in active.items():
            wanted = on and (controls is None or control in controls)
            if wanted and reason.rule not in result[control]:
                result[control].append(reason.rule)
    return result


def managed_names(view: View) -> list[str]:
    names: set[str] = set()
    if view.inventory:
        names |= {c.name for c in view.inventory.containers if c.tier is not None}
    if view.desired:
        names |= set(view.desired.containers)
    if view.applied:
        names |= {c.name for c in view.applied.containers}
    return sorted(names)


def _applied(view: View) -> dict[str, AppliedContainer]:
    return {c.name: c for c in view.applied.containers} if view.applied else {}


def build_status(view: View, cfg: WardenConfig, now: float) -> Status:
    desired, applied = view.desired, view.applied
    intents = desired.containers if desired else {}
    memory = view.memory
    status = memory.status if memory else GovernorStatus()
    switches = memory.switches if memory else Switches()
    facts = {c.name: c for c in view.inventory.containers} if view.inventory else {}
    applied_by_name = _applied(view)
    matcher = cfg.tier_matcher()
    containers: dict[str, StatusContainer] = {}
    for name in managed_names(view):
        intent = intents.get(name)
        fact, done = facts.get(name), applied_by_name.get(name)
        tier = intent.tier if intent else (fact.tier if fact and fact.tier is not None else None)
        if tier is None:
            tier = done.tier if done else (matcher.tier_of(name) or 0)
        by = rules_by_control(intent, view.catalogue)
        containers[name] = StatusContainer(
            tier=tier,
            paused_by=adrg_names(by["paused"], view.catalogue),
            cpu_max_by=adrg_names(by["cpu_max"], view.catalogue),
            io_max_by=adrg_names(by["io_max"], view.catalogue),
            memory_high_override_bytes=intent.memory_high if intent else None,
            memory_high_by=by["memory_high"],
            protected=matcher.is_protected(name) or bool(fact and fact.protected),
            state=fact.state if fact else None,
            paused=done.paused if done else None,
            reasons=[str(r) for r in intent.reasons] if intent else [],
        )
    groups = {
        name: StatusProcessGroup(paused=g.paused, nice=g.nice, reasons=[str(r) for r in g.reasons])
        for name, g in (desired.process_groups if desired else {}).items()
    }
    return Status(
        version=__version__,
        uptime_seconds=round(max(0.0, now - view.started_at), 1),
        dry_run=applied.dry_run if applied else cfg.actuator.dry_run,
        media_mode_active=bool(desired and desired.media_mode),
        media_provider=cfg.media_mode.provider.lower(),
        thermal_stage=status.thermal_stage,
        memory_throttled=any(i.memory_high is not None for i in intents.values()),
        io_throttled=status.io_throttled,
        protected_containers=sorted(cfg.protected_containers),
        containers=containers,
        host=cfg.host_id,
        desired_seq=desired.seq if desired else None,
        applied_mode=applied.mode if applied else None,
        baseline_reason=applied.baseline_reason if applied else None,
        tier3_manual_pause=switches.tier3_manual_pause,
        media_forced=switches.media_forced,
        preset=view.preset,
        streams=view.streams.count if view.streams else None,
        services=dict(view.availability),
        process_groups=groups,
        overrides=live_overrides(view, now),
        schedules={n: StatusSchedule(**s.model_dump()) for n, s in status.schedules.items()},
        conditions={n: StatusCondition(**c.model_dump()) for n, c in status.conditions.items()},
        download_client=download_client_of(desired),
    )


def download_client_of(desired: DesiredState | None) -> StatusDownloadClient | None:
    client = desired.download_client if desired else None
    if client is None:
        if desired is None or desired.download_limit_bps is None:
            return None
        # ADRG's fixed limit, while media mode is on.
        return StatusDownloadClient(
            download_bps=desired.download_limit_bps,
            upload_bps=None,
            alternative=False,
            reasons=["media_mode(download_throttle)"],
        )
    return StatusDownloadClient(
        download_bps=client.download_bps,
        upload_bps=client.upload_bps,
        alternative=client.alternative,
        reasons=[str(r) for r in client.reasons],
    )


def override_out(o: Override, now: float) -> OverrideOut:
    return OverrideOut(
        id=o.id,
        kind=o.kind,
        container=o.container,
        schedule=o.schedule,
        since=o.since,
        until=o.until,
        seconds_left=round(o.until - now, 1),
    )


def live_overrides(view: View, now: float) -> list[OverrideOut]:
    items = view.overrides.items if view.overrides else []
    return [override_out(o, now) for o in items if o.until > now]


def container_rows(view: View, cfg: WardenConfig) -> list[ContainerRow]:
    """Every managed container and configured process group, for the API and the page."""
    status = build_status(view, cfg, view.started_at)
    intents = view.desired.containers if view.desired else {}
    rows = []
    for name, c in status.containers.items():
        intent = intents.get(name)
        limits = intent.limits if intent else []
        state = c.state or "unknown"
        if c.paused and state == "running":
            state = "paused"
        rows.append(
            ContainerRow(
                name=name,
                kind="container",
                tier=c.tier,
                state=state,
                paused=bool(c.paused) or state == "paused",
                limits=limits,
                reasons=c.reasons,
                protected=c.protected,
            )
        )
    for group in cfg.process_groups:
        g = status.process_groups.get(group.name)
        rows.append(
            ContainerRow(
                name=group.name,
                kind="process_group",
                tier=None,
                state="paused" if g and g.paused else "running",
                paused=bool(g and g.paused),
                limits=[f"nice {g.nice}"] if g and g.nice is not None else [],
                reasons=g.reasons if g else [],
            )
        )
    return rows


# --- resources ---------------------------------------------------------------


def _psi(resource: ResourcePressure | None) -> PsiNow | None:
    if resource is None:
        return None
    full = resource.full
    return PsiNow(
        some_avg10=resource.some.avg10,
        some_avg60=resource.some.avg60,
        full_avg10=full.avg10 if full else None,
        full_avg60=full.avg60 if full else None,
    )


def _gpus(gpu: GpuFact | None) -> list[GpuNow] | None:
    if gpu is None or not gpu.available or not gpu.gpus:
        return None
    return [
        GpuNow(
            index=d.index,
            vendor=d.vendor,
            name=d.name,
            utilization_percent=d.utilization_percent,
            memory_used_bytes=d.memory_used_bytes,
            memory_total_bytes=d.memory_total_bytes,
            temperature_celsius=d.temperature_celsius,
            power_watts=d.power_watts,
        )
        for d in gpu.gpus
    ]


def _busiest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def resources_now(view: View) -> ResourcesNow:
    res, heat, pressure = view.resources, view.thermal, view.pressure
    machine = res.machine if res else None
    gpus = _gpus(view.gpu)
    psi = {
        kind: _psi(getattr(pressure, kind) if pressure else None)
        for kind in ("cpu", "memory", "io")
    }
    hottest = heat.max_celsius if heat and heat.available else None
    stamps = [m.ts for m in (res, heat, pressure, view.gpu) if m is not None]

    def psi_value(kind: str, line: str) -> float | None:
        now = psi[kind]
        return getattr(now, f"{line}_avg10") if now else None

    first = res or heat or pressure
    return ResourcesNow(
        host=first.host if first else "",
        cpu={
            "percent": machine.cpu_percent if machine else None,
            "count": machine.cpu_count if machine else None,
            "per_core_percent": machine.cpu_per_core_percent if machine else None,
        },
        memory={
            "percent": machine.memory_used_percent if machine else None,
            "total_bytes": machine.memory_total_bytes if machine else None,
            "available_bytes": machine.memory_available_bytes if machine else None,
            "used_bytes": machine.memory_used_bytes if machine else None,
        },
        gpu=gpus,
        disk={
            "read_bytes_per_second": machine.disk_read_bytes_per_second if machine else None,
            "write_bytes_per_second": machine.disk_write_bytes_per_second if machine else None,
            "reads_per_second": machine.disk_reads_per_second if machine else None,
            "writes_per_second": machine.disk_writes_per_second if machine else None,
            "read_bytes": machine.disk_read_bytes if machine else None,
            "write_bytes": machine.disk_write_bytes if machine else None,
            "reads": machine.disk_reads if machine else None,
            "writes": machine.disk_writes if machine else None,
        },
        top_processes=[ProcessNow(**p.model_dump()) for p in res.top_processes] if res else [],
        temperatures=[
            TemperatureNow(name=s.name, celsius=s.celsius, selected=s.selected)
            for s in (heat.sensors if heat else [])
        ],
        hottest_celsius=hottest,
        pressure=psi,
        streams=view.streams.count if view.streams else None,
        cpu_percent=machine.cpu_percent if machine else None,
        memory_percent=machine.memory_used_percent if machine else None,
        memory_used_bytes=machine.memory_used_bytes if machine else None,
        gpu_percent=_busiest([g.utilization_percent for g in gpus]) if gpus else None,
        gpu_temperature_c=_busiest([g.temperature_celsius for g in gpus]) if gpus else None,
        disk_read_bytes_per_second=machine.disk_read_bytes_per_second if machine else None,
        disk_write_bytes_per_second=machine.disk_write_bytes_per_second if machine else None,
        disk_reads_per_second=machine.disk_reads_per_second if machine else None,
        disk_writes_per_second=machine.disk_writes_per_second if machine else None,
        temperature_c=hottest,
        psi_cpu_some_avg10=psi_value("cpu", "some"),
        psi_memory_some_avg10=psi_value("memory", "some"),
        psi_memory_full_avg10=psi_value("memory", "full"),
        psi_io_some_avg10=psi_value("io", "some"),
        psi_io_full_avg10=psi_value("io", "full"),
        updated_at=max(stamps) if stamps else None,
    )


# --- thresholds and settings ---------------------------------------------------


def effective_preset(view: View, cfg: WardenConfig) -> PresetName:
    if view.preset:
        lowered = view.preset.lower()
        for name in PRESETS:
            if name == lowered:
                return name
    configured = {g.preset for g in cfg.process_groups if g.preset}
    return configured.pop() if len(configured) == 1 else DEFAULT_PRESET


def effective_settings(
    settings: ResourceSettings | None, preset: PresetName
) -> dict[str, float | int]:
    """What process groups without numbers of their own get now."""
    return asdict(in_force(settings, preset))


def _host_thresholds(view: View) -> list[Threshold]:
    """Each enabled rule's host thresholds, as its card gives them, against the facts."""
    out: list[Threshold] = []
    cards = view.catalogue.cards if view.catalogue else []
    for card in cards:
        if not card.enabled:
            continue
        for t in card.thresholds:
            value = host_reading(t.metric, view.pressure, view.thermal)
            out.append(
                Threshold(
                    scope="host",
                    metric=t.metric,
                    value=value,
                    threshold=t.above,
                    crossed=value is not None and value > t.above,
                    effect=t.effect,
                )
            )
    return out


def thresholds_now(view: View, cfg: WardenConfig) -> Thresholds:
    """Host thresholds against the facts; process groups' from the governor's own reasons
    (it alone knows each group's share of the load, the part its thresholds exclude)."""
    items = _host_thresholds(view)
    groups = view.desired.process_groups if view.desired else {}
    for name, intent in groups.items():
        for reason in intent.reasons:
            if reason.metric is None or reason.threshold is None:
                continue
            items.append(
                Threshold(
                    scope=f"process_group:{name}",
                    metric=reason.metric,
                    value=reason.value,
                    threshold=reason.threshold,
                    crossed=reason.value is not None and reason.value > reason.threshold,
                    effect="paused" if intent.paused else "watched",
                )
            )
    return Thresholds(thresholds=items, crossed=[t for t in items if t.crossed])


# --- history -----------------------------------------------------------------


def samples_of(message: object) -> dict[str, float]:
    """The numbers history keeps from one fact; unknown readings are left out, not zero."""
    out: dict[str, float | None] = {}
    if isinstance(message, ResourcesFact):
        m = message.machine
        out |= {
            "cpu_percent": m.cpu_percent,
            "memory_percent": m.memory_used_percent,
            "disk_read_bytes_per_second": m.disk_read_bytes_per_second,
            "disk_write_bytes_per_second": m.disk_write_bytes_per_second,
        }
    elif isinstance(message, ThermalFact):
        out["temperature_c"] = message.max_celsius if message.available else None
    elif isinstance(message, GpuFact):
        gpus = _gpus(message) or []
        out["gpu_percent"] = _busiest([g.utilization_percent for g in gpus])
        out["gpu_temperature_c"] = _busiest([g.temperature_celsius for g in gpus])
    elif isinstance(message, PressureFact):
        for kind in ("cpu", "memory", "io"):
            resource: ResourcePressure | None = getattr(message, kind)
            if resource is not None:
                out[f"psi_{kind}_some_avg10"] = resource.some.avg10
                if resource.full is not None and kind != "cpu":
                    out[f"psi_{kind}_full_avg10"] = resource.full.avg10
    elif isinstance(message, StreamsFact):
        out["streams"] = message.count
    return {k: float(v) for k, v in out.items() if v is not None}


# --- the fleet ---------------------------------------------------------------


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
