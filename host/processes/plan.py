"""What each configured process group should be: its baseline overlaid by the desired state.

Pure: no /proc, no syscalls; host/processes/control.py applies what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.model import ProcessGroup, WardenConfig
from shared.messages import DesiredState, Refusal


@dataclass(frozen=True)
class GroupTarget:
    group: ProcessGroup
    paused: bool
    reasons: tuple[str, ...] = ()
    # The governor's nice level (a run-time preset's); None: the config's.
    nice: int | None = None

    @property
    def effective_nice(self) -> int | None:
        return self.nice if self.nice is not None else self.group.nice


def group_targets(
    cfg: WardenConfig, desired: DesiredState | None
) -> tuple[list[GroupTarget], list[Refusal]]:
    """Each configured group at its baseline, overlaid by the desired state. Pure."""
    intents = dict(desired.process_groups) if desired else {}
    targets = []
    for group in cfg.process_groups:
        intent = intents.pop(group.name, None)
        if intent is None:
            targets.append(GroupTarget(group, False))
        else:
            reasons = tuple(map(str, intent.reasons))
            targets.append(GroupTarget(group, intent.paused, reasons, intent.nice))
    refusals = [
        Refusal(target=f"process group {name}", reason="not a configured process group")
        for name in sorted(intents)
    ]
    return targets, refusals
