"""The container inventory: what Docker runs, with each container's tier and memory use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from host.cgroups.view import CgroupLayout, ProcessCgroups, process_cgroups, resident_bytes
from host.docker.view import DockerContainer
from shared.messages import ContainerFact
from shared.tier_matcher import TierMatcher

_KNOWN_STATES = {"created", "running", "paused", "restarting", "removing", "exited", "dead"}


def container_facts(
    containers: Iterable[DockerContainer],
    matcher: TierMatcher,
    layout: CgroupLayout,
    proc_root: str | Path,
    cgroups: Mapping[str, ProcessCgroups] | None = None,
) -> list[ContainerFact]:
    """cgroups: container id -> its cgroups where the caller has just read them."""
    facts = []
    known = cgroups or {}
    for c in containers:
        rss = None
        if c.pid:
            try:
                cg = known.get(c.id) or process_cgroups(layout, proc_root, c.pid)
                rss = resident_bytes(cg)
            except OSError:
                rss = None  # the process exited between the list and the read
        facts.append(
            ContainerFact(
                id=c.id,
                name=c.name,
                state=c.state if c.state in _KNOWN_STATES else "dead",  # type: ignore[arg-type]
                tier=matcher.tier_of(c.name),
                protected=matcher.is_protected(c.name),
                rss_bytes=rss,
            )
        )
    return sorted(facts, key=lambda f: f.name)
