"""What `warden status` and `warden why` print, from a host's retained topics. Pure:
(snapshot, config, now) -> text or data; colours only when asked (a terminal)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cli.reader import Snapshot
from shared.config.model import WardenConfig
from shared.messages import (
    Applied,
    ContainerInventory,
    DesiredState,
    GovernorMemory,
    LastDecision,
    Reason,
    RuleCatalogue,
)
from shared.messages.overrides import Overrides
from shared.readings import host_reading

# A timed override's reason (services/governor/overrides.py): its end is the override's.
PAUSE_REASON = "timed_pause"

SERVICES = ("sensors", "governor", "actuator", "notifier", "web")


@dataclass(frozen=True)
class Style:
    colour: bool

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)


def _typed(snap: Snapshot) -> tuple[Any, ...]:
    desired: DesiredState | None = snap.get("desired")
    applied: Applied | None = snap.get("applied")
    inventory: ContainerInventory | None = snap.get("inventory")
    memory: GovernorMemory | None = snap.get("memory")
    return desired, applied, inventory, memory


# --- status -------------------------------------------------------------------------


def status_data(snap: Snapshot, cfg: WardenConfig) -> dict[str, Any]:
    """Everything `status` shows, as JSON-ready data (`--json` prints it as it is)."""
    desired, applied, inventory, memory = _typed(snap)
    intents = desired.containers if desired else {}
    done = {c.name: c for c in applied.containers} if applied else {}
    matcher = cfg.tier_matcher()
    facts = {c.name: c for c in inventory.containers} if inventory else {}
    names = sorted(set(facts) | set(intents) | set(done))
    containers = []
    for name in names:
        fact, intent, applied_c = facts.get(name), intents.get(name), done.get(name)
        tier = (
            intent.tier
            if intent
            else fact.tier
            if fact and fact.tier is not None
            else applied_c.tier
            if applied_c
            else matcher.tier_of(name)
        )
        state = fact.state if fact else "unknown"
        if applied_c and applied_c.paused and state == "running":
            state = "paused"
        containers.append(
            {
                "name": name,
                "tier": tier,
                "protected": matcher.is_protected(name) or bool(fact and fact.protected),
                "state": state,
                "paused": bool(applied_c and applied_c.paused),
                "reasons": [str(r) for r in intent.reasons] if intent else [],
            }
        )
    groups = []
    for group in cfg.process_groups:
        g = desired.process_groups.get(group.name) if desired else None
        groups.append(
            {
                "name": group.name,
                "paused": bool(g and g.paused),
                "nice": g.nice if g and g.nice is not None else group.nice,
                "reasons": [str(r) for r in g.reasons] if g else [],
            }
        )
    status = memory.status if memory else None
    switches = memory.switches if memory else None
    streams = snap.get("streams")
    return {
        "host": snap.host,
        "services": {s: snap.availability.get(s, "unknown") for s in SERVICES},
        "media_mode": {
            "active": bool(desired and desired.media_mode),
            "forced": bool(switches and switches.media_forced),
            "streams": streams.count if streams else None,
        },
        "stages": {
            "thermal_stage": status.thermal_stage if status else None,
            "io_throttled": status.io_throttled if status else None,
            "tier3_manual_pause": bool(switches and switches.tier3_manual_pause),
            "preset": snap.get("preset"),
        },
        "applied": {
            "mode": applied.mode if applied else None,
            "baseline_reason": applied.baseline_reason if applied else None,
            "dry_run": applied.dry_run if applied else None,
            "refusals": [f"{r.target}: {r.reason}" for r in applied.refusals] if applied else [],
        },
        "containers": containers,
        "process_groups": groups,
        "problems": snap.problems,
    }


def _table(rows: list[list[str]], style: Style) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        line = "  ".join(cells).rstrip()
        lines.append(style.bold(line) if number == 0 else line)
    return lines


def _state(state: str, style: Style) -> str:
    if state == "paused":
        return style.yellow(state)
    if state == "running":
        return style.green(state)
    return style.red(state) if state in ("exited", "dead", "restarting") else state


def render_status(data: dict[str, Any], style: Style) -> str:
    media, stages, applied = data["media_mode"], data["stages"], data["applied"]
    services = "  ".join(
        f"{name} {style.green(s) if s == 'online' else style.red(s)}"
        for name, s in data["services"].items()
    )
    streams = media["streams"]
    media_text = style.yellow("on") if media["active"] else "off"
    if media["forced"]:
        media_text += " (forced by trigger)"
    if streams is not None:
        media_text += f", {streams} stream(s)"
    thermal = stages["thermal_stage"]
    lines = [
        style.bold(f"Warden on {data['host']}"),
        f"  services:    {services}",
        f"  media mode:  {media_text}",
        f"  stages:      thermal {'?' if thermal is None else thermal}, io throttled "
        f"{_yes(stages['io_throttled'])}, tier 3 paused by hand "
        f"{_yes(stages['tier3_manual_pause'])}, preset {stages['preset'] or '?'}",
    ]
    mode = applied["mode"] or "nothing applied yet"
    if applied["mode"] == "baseline" and applied["baseline_reason"]:
        mode += f" ({applied['baseline_reason']})"
    if applied["dry_run"]:
        mode += ", dry run"
    lines.append(f"  applied:     {mode}")
    for refusal in applied["refusals"]:
        lines.append(f"  refused:     {style.red(refusal)}")
    rows = [["CONTAINER", "TIER", "STATE", "REASONS"]]
    shown = []
    for c in data["containers"]:
        tier = "-" if c["tier"] is None else str(c["tier"])
        if c["protected"]:
            tier += " protected"
        rows.append([c["name"], tier, c["state"], "; ".join(c["reasons"]) or "-"])
        shown.append(c["state"])
    lines.append("")
    if len(rows) == 1:
        lines.append("  no container seen (are the sensors running?)")
    else:
        table = _table(rows, style)
        lines.append(table[0])
        for line, state in zip(table[1:], shown, strict=True):
            lines.append(line.replace(state, _state(state, style), 1) if style.colour else line)
    if data["process_groups"]:
        lines.append("")
        group_rows = [["PROCESS GROUP", "STATE", "NICE", "REASONS"]]
        for g in data["process_groups"]:
            nice = "-" if g["nice"] is None else str(g["nice"])
            state = "paused" if g["paused"] else "running"
            group_rows.append([g["name"], state, nice, "; ".join(g["reasons"]) or "-"])
        lines += _table(group_rows, style)
    for problem in data["problems"]:
        lines.append(style.red(f"  unreadable: {problem}"))
    return "\n".join(lines)


def _yes(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


# --- why ----------------------------------------------------------------------------


def reading(metric: str | None, snap: Snapshot) -> float | None:
    """The live reading of a reason's metric, where the facts on the bus carry it."""
    return (
        None if metric is None else host_reading(metric, snap.get("pressure"), snap.get("thermal"))
    )


def ends(reason: Reason, snap: Snapshot, now: float) -> str:
    """When a reason stops holding, in words: as the governor's catalogue says it of the
    rule, and for a timed pause the override's own end."""
    overrides: Overrides | None = snap.get("overrides")
    if reason.rule == PAUSE_REASON and overrides is not None:
        live = [o.until for o in overrides.items if o.kind == "pause_tier3" and o.until > now]
        if live:
            until = max(live)
            stamp = time.strftime("%H:%M:%S", time.localtime(until))
            return f"at {stamp} (in {until - now:.0f} s), or when the override is ended"
    catalogue: RuleCatalogue | None = snap.get("catalogue")
    card = catalogue.card(reason.rule) if catalogue else None
    if card is not None and (said := card.ends_for(reason.detail)):
        return said
    return reason.detail or "when the rule no longer asks for it"


def why_lines(
    snap: Snapshot, cfg: WardenConfig, name: str, now: float, style: Style
) -> list[str] | None:
    """None: no container or process group of that name on the host."""
    desired, applied, inventory, _ = _typed(snap)
    facts = {c.name: c for c in inventory.containers} if inventory else {}
    done = {c.name: c for c in applied.containers} if applied else {}
    intent = desired.containers.get(name) if desired else None
    group = desired.process_groups.get(name) if desired else None
    is_group = any(g.name == name for g in cfg.process_groups)
    if intent is None and name not in facts and name not in done and not is_group:
        return None
    decision: LastDecision | None = snap.get("decision")
    if is_group or group is not None:
        head = f"{name} (process group, {'paused' if group and group.paused else 'running'})"
        reasons = group.reasons if group else []
    else:
        fact = facts.get(name)
        matcher = cfg.tier_matcher()
        tier = intent.tier if intent else (fact.tier if fact else matcher.tier_of(name))
        state = fact.state if fact else "unknown"
        if done.get(name) is not None and done[name].paused:
            state = "paused"
        protected = ", protected" if matcher.is_protected(name) else ""
        head = f"{name} (tier {'-' if tier is None else tier}{protected}, {state})"
        reasons = intent.reasons if intent else []
    lines = [style.bold(head)]
    if not reasons:
        if is_group or group is not None:
            lines.append("  no reason in force: it runs as its group's config says")
        elif tier is None:
            lines.append("  in no tier: Warden leaves it alone")
        else:
            lines.append(f"  no reason in force: it runs at its tier {tier} baseline")
        return lines
    if intent is not None:
        controls = [
            label
            for label, on in (
                ("paused", intent.paused),
                ("cpu.max", intent.cpu_max is not None),
                ("io.max", intent.io_max is not None),
                ("memory.high", intent.memory_high is not None),
                ("cpu.idle", intent.cpu_idle),
            )
            if on
        ]
        lines.append(f"  in force: {', '.join(controls) or 'nothing beyond the baseline'}")
    for reason in reasons:
        lines.append(
            f"  {style.yellow(reason.rule)}" + (f": {reason.detail}" if reason.detail else "")
        )
        if reason.metric is not None:
            live = reading(reason.metric, snap)
            value = live if live is not None else reason.value
            shown = "unknown" if value is None else f"{value:g}"
            if live is None and reason.value is not None:
                shown += " (when it tripped)"
            threshold = "-" if reason.threshold is None else f"{reason.threshold:g}"
            lines.append(f"    reading: {reason.metric} = {shown}, threshold {threshold}")
        if decision is not None:
            noted = [v for k, v in decision.readings.items() if k.startswith(reason.rule)]
            for note in noted:
                lines.append(f"    seen: {note}")
        lines.append(f"    ends: {ends(reason, snap, now)}")
    return lines
