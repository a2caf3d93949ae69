"""What `--check-config` says of the running containers, as ADRG's does: the tier each
lands in, which are protected, which match nothing. Pure: the names come from Docker
(host/docker/view.py's running_names), asked read-only by whoever may ask it."""

from __future__ import annotations

from collections.abc import Callable

from shared.config.model import WardenConfig

# (the engine's address, the running containers' names or why Docker could not be asked).
ContainerLister = Callable[[WardenConfig], tuple[str, list[str] | str]]


def containers_report(cfg: WardenConfig, running: list[str] | str, where: str) -> list[str]:
    """running: the running containers' names, or the reason Docker could not be asked;
    where: the engine's address, for the lines that name it."""
    if isinstance(running, str):
        return [
            f"  containers: Docker at {where} could not be asked ({running}); the tiers "
            "were checked without it"
        ]
    matcher = cfg.tier_matcher()
    lines = [f"  containers: {len(running)} running (Docker at {where})"]
    unmatched = []
    for name in sorted(running):
        tier = matcher.tier_of(name)
        if tier is None:
            unmatched.append(name)
            continue
        label = cfg.tiers[tier].name if tier in cfg.tiers else ""
        notes = []
        if matcher.is_protected(name):
            notes.append("protected" if tier != 0 else "protected (tier 0)")
        lines.append(
            f"    {name}: tier {tier}"
            + (f" ({label})" if label else "")
            + (f", {', '.join(notes)}" if notes else "")
        )
    for name in sorted(set(cfg.protected_containers) & set(unmatched)):
        lines.append(f"    {name}: no tier, protected")
    left = [n for n in unmatched if n not in cfg.protected_containers]
    if left:
        lines.append(f"    match no tier (left alone): {', '.join(left)}")
    absent = sorted(set(cfg.protected_containers) - set(running))
    if absent:
        lines.append(f"    protected but not running: {', '.join(absent)}")
    return lines
