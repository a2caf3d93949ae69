"""From the retained topics to the API's answers. Pure: (view, config, now) -> models."""

from __future__ import annotations

from dataclasses import asdict

from services.web.models import (
    ContainerRow,
    OverrideOut,
    Status,
    StatusCondition,
    StatusContainer,
    StatusDownloadClient,
    StatusProcessGroup,
    StatusSchedule,
    Threshold,
    Thresholds,
)
from services.web.view import View
from shared import __version__
from shared.config.model import WardenConfig
from shared.messages import (
    AppliedContainer,
    ContainerIntent,
    DesiredState,
    GovernorStatus,
    RuleCatalogue,
    Switches,
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
                    acts=t.acts,
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
