"""What changed between the desired state last published and a new decision, as log
lines and as the last decision Home Assistant and the web service show. Pure: a line per
change, none for a reading that moved inside a reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.governor.policy import Decision
from services.governor.rules import bandwidth
from shared.messages import ContainerIntent, DesiredState, LastDecision
from shared.messages.decision import SUMMARY_MAX, DecisionAction

# How the decision log and Home Assistant's last decision name the download client.
DOWNLOAD_CLIENT = "download client"


@dataclass(frozen=True)
class Change:
    # The log line: its event name and fields.
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    # The retained last decision it makes, where it is one (a process group's is not).
    last: LastDecision | None = None


def changes(host: str, before: DesiredState | None, decision: Decision) -> list[Change]:
    return [
        *_group_changes(before, decision),
        *_download_changes(host, before, decision),
        *_container_changes(host, before, decision),
    ]


def _last(
    host: str,
    container: str,
    action: DecisionAction,
    summary: str,
    reasons: list[str],
    readings: dict[str, str] | None = None,
) -> LastDecision:
    return LastDecision(
        host=host,
        container=container,
        action=action,
        summary=summary[:SUMMARY_MAX],
        reasons=reasons,
        readings=readings or {},
    )


def _limits(intent: ContainerIntent) -> str:
    what = ["paused"] if intent.paused else []
    what += ["memory.high"] if intent.memory_high else []
    what += ["cpu.max"] if intent.cpu_max else []
    what += ["io.max"] if intent.io_max else []
    what += ["cpu.idle"] if intent.cpu_idle else []
    return ", ".join(what) or "limited"


def _container_changes(host: str, before: DesiredState | None, decision: Decision) -> list[Change]:
    published = before.containers if before else {}
    out = []
    for name in sorted(set(published) | set(decision.containers)):
        old, new = published.get(name), decision.containers.get(name)
        if old == new:
            continue
        if new is None:
            assert old is not None  # not both None: they would be equal
            summary = f"{name}: back to its tier baseline"
            out.append(
                Change(
                    "decision.release",
                    {"container": name, "was": "; ".join(map(str, old.reasons))},
                    _last(host, name, "release", summary, []),
                )
            )
            continue
        fields = {
            "container": name,
            "tier": new.tier,
            "paused": new.paused,
            "memory_high": new.memory_high,
            "cpu_max": new.cpu_max.quota_us if new.cpu_max else None,
            "io_max": str(new.io_max) if new.io_max else None,
            "cpu_idle": new.cpu_idle,
            "reasons": "; ".join(map(str, new.reasons)),
        }
        summary = f"{name}: {_limits(new)} ({new.reasons[0]})"
        readings = {k: v for k, v in decision.readings.items() if k == name or "." in k}
        reasons = [str(r) for r in new.reasons]
        out.append(
            Change(
                "decision.enforce", fields, _last(host, name, "enforce", summary, reasons, readings)
            )
        )
    return out


def _download_changes(host: str, before: DesiredState | None, decision: Decision) -> list[Change]:
    """The download client's limits are a decision too: logged, and the last decision."""
    old = before.download_client if before else None
    new = decision.download_client
    if old == new:
        return []
    if new is None:
        was = "; ".join(map(str, old.reasons)) if old else ""
        summary = f"{DOWNLOAD_CLIENT}: back to the user's own limits"
        last = _last(host, DOWNLOAD_CLIENT, "release", summary, [])
        return [Change("decision.download_release", {"was": was}, last)]
    reasons = [str(r) for r in new.reasons]
    fields = {
        "upload_bps": new.upload_bps,
        "download_bps": new.download_bps,
        "alternative": new.alternative,
        "reasons": "; ".join(reasons),
    }
    summary = f"{DOWNLOAD_CLIENT}: {bandwidth.limits_text(new)} ({reasons[0]})"
    readings = {k: v for k, v in decision.readings.items() if k == bandwidth.NAME}
    last = _last(host, DOWNLOAD_CLIENT, "enforce", summary, reasons, readings)
    return [Change("decision.download", fields, last)]


def _group_changes(before: DesiredState | None, decision: Decision) -> list[Change]:
    published = before.process_groups if before else {}
    out = []
    for name in sorted(set(published) | set(decision.process_groups)):
        old, new = published.get(name), decision.process_groups.get(name)
        if old == new:
            continue
        was_paused, paused = bool(old and old.paused), bool(new and new.paused)
        if paused == was_paused and (old and old.nice) == (new and new.nice):
            continue  # only the readings in the reasons moved
        event = "decision.group_changed"
        if paused != was_paused:
            event = "decision.group_pause" if paused else "decision.group_resume"
        fields = {
            "group": name,
            "paused": paused,
            "nice": new.nice if new else None,
            "reasons": "; ".join(map(str, new.reasons)) if new else "",
        }
        out.append(Change(event, fields))
    return out
