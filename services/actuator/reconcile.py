"""One pass of making the host match: every managed container planned and applied (on a
pool: Docker calls are I/O), the download client's limit, and the process groups; what
the pass did is the applied report's content."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from host.docker import view as docker_view
from host.docker.client import DockerError
from host.docker.client import reason as docker_reason
from host.processes.plan import group_targets
from host.processes.view import ProcessIdentity, find_group_processes
from services.actuator.download_throttle import limits_of
from services.actuator.host_access import HostAccess
from services.actuator.plan import Settings, plan
from shared.config import WardenConfig
from shared.logs import Log
from shared.messages import AppliedContainer, DesiredState, Refusal
from shared.tier_matcher import TierMatcher

# Docker's list (an inspect per container) is reused until Docker reports a change:
# a desired state is then applied without waiting on it. Never older than this.
LIST_KEPT_SECONDS = 30.0
REAPPLY_ACTIONS = frozenset({"start", "restart"})


@dataclass
class Pass:
    containers: list[AppliedContainer] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    errors: list[Refusal] = field(default_factory=list)


class Reconciler:
    def __init__(self, access: HostAccess, pool: ThreadPoolExecutor, log: Log) -> None:
        self.access = access
        self._pool = pool
        self._log = log
        # What was last written to each container (by id): only what differs is written.
        self.last_applied: dict[str, Settings] = {}
        self._listed: tuple[float, list[docker_view.DockerContainer]] | None = None
        self._pids: dict[str, int] = {}
        self._docker_problem: str | None = None

    # --- Docker's list ------------------------------------------------------------

    def containers(self, cfg: WardenConfig, now: float) -> list[docker_view.DockerContainer]:
        """Docker's list, as recently taken as LIST_KEPT_SECONDS; raises DockerError."""
        if self._listed is not None and now - self._listed[0] < LIST_KEPT_SECONDS:
            return self._listed[1]
        listed = docker_view.list_containers(
            self.access.docker.api, self._pids, cfg.actuator.proc_root
        )
        self._listed = (now, listed)
        return listed

    def on_docker_event(self, event: docker_view.ContainerEvent) -> None:
        self._listed = None
        if event.action in REAPPLY_ACTIONS or event.action == "destroy":
            # A new or restarted container starts from Docker's values: apply ours again.
            self.last_applied.pop(event.id, None)
        if event.action == "destroy":
            self.access.applier.store.forget(event.id)

    def resync(self) -> None:
        """Rewrite everything next pass: catches changes made behind our back."""
        self.last_applied.clear()
        self._listed = None

    # --- a pass -------------------------------------------------------------------

    def run(
        self,
        cfg: WardenConfig,
        matcher: TierMatcher,
        desired: DesiredState | None,
        baseline_reason: str,
        now: float,
    ) -> Pass:
        done = Pass()
        try:
            containers: list[docker_view.DockerContainer] | None = self.containers(cfg, now)
        except DockerError as exc:
            # No Docker (or not now): bare process groups and the download client still count.
            if self._docker_problem != docker_reason(exc):
                self._docker_problem = docker_reason(exc)
                self._log.warning("reconcile.docker_unavailable", reason=self._docker_problem)
            done.errors.append(Refusal(target="docker", reason=docker_reason(exc)))
            containers = None
        else:
            self._docker_problem = None
        targets, done.refusals = plan(containers or [], desired, cfg, matcher)
        download = None
        if (throttle := self.access.download) is not None:
            limits = limits_of(desired)
            why = baseline_reason if not desired else "no limit"
            if desired is not None and desired.download_client is not None:
                why = "; ".join(map(str, desired.download_client.reasons))
            elif limits is not None:
                why = "media_mode"
            download = self._pool.submit(throttle.apply, limits, why)
        applier = self.access.applier
        reports = self._pool.map(
            lambda t: applier.apply(t, self.last_applied.get(t.container.id)), targets
        )
        for target, report in zip(targets, reports, strict=True):
            cid = target.container.id
            if report.errors:
                self.last_applied.pop(cid, None)  # try again next time
                done.errors.append(
                    Refusal(target=target.container.name, reason="; ".join(report.errors))
                )
            else:
                self.last_applied[cid] = target.settings
            done.containers.append(target.report())
        if download is not None and (problem := download.result()) is not None:
            done.errors.append(Refusal(target="download client", reason=problem))
        group_refusals, group_errors = self.processes(cfg, desired)
        done.refusals += group_refusals
        done.errors += group_errors
        if containers is not None:
            live = {c.id for c in containers}
            for cid in set(self.last_applied) - live:
                del self.last_applied[cid]
        return done

    def processes(
        self, cfg: WardenConfig, desired: DesiredState | None
    ) -> tuple[list[Refusal], list[Refusal]]:
        """Bring every configured process group to its target; returns refusals and errors."""
        targets, refusals = group_targets(cfg, desired)
        found = self._group_members(cfg)
        errors = []
        control = self.access.processes
        for target in targets:
            name = target.group.name
            problems = control.apply(target, found[name], rescan=self._members_of(cfg, name))
            if problems:
                errors.append(Refusal(target=f"process group {name}", reason="; ".join(problems)))
        departed = control.settle_departed(p for ms in found.values() for p in ms)
        if departed:
            errors.append(Refusal(target="process groups", reason="; ".join(departed)))
        return refusals, errors

    def _group_members(self, cfg: WardenConfig) -> dict[str, list[ProcessIdentity]]:
        """Each group's process trees, parents first; never Warden itself or its parent."""
        return find_group_processes(
            cfg.actuator.proc_root, cfg.process_groups, exclude=(os.getpid(), os.getppid())
        )

    def _members_of(self, cfg: WardenConfig, group: str) -> Callable[[], list[ProcessIdentity]]:
        return lambda: self._group_members(cfg)[group]
