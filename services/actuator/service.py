"""Wiring: reconcile the host to the live desired state, or to the baseline when there is none.

Reconciles on every desired-state renewal, every Docker container event, the
lease running out, the governor going offline, and a slow resync timer.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from host.docker import view as docker_view
from host.docker.client import DockerError, Endpoint, Engine
from host.docker.client import reason as docker_reason
from host.processes.control import ProcessControl
from host.processes.plan import group_targets
from host.processes.view import find_group_processes
from services.actuator.admission import Admission
from services.actuator.applier import Applier
from services.actuator.download_clients import client_for
from services.actuator.download_throttle import DownloadThrottleControl, limits_of
from services.actuator.lease import Lease
from services.actuator.plan import Settings, plan
from services.actuator.preflight import run_preflight
from services.actuator.restarts import RestartBounds, restart_refusal
from services.actuator.state_store import StateStore
from shared import channels
from shared.bus import Received
from shared.config import WardenConfig
from shared.config.model import NotifyEvent
from shared.errors import brief
from shared.messages import Action, Applied, AppliedContainer, DesiredState, Event, Refusal
from shared.messages.events import Severity
from shared.runtime import Timer
from shared.service import ServiceContext
from shared.topics import OFFLINE

REAPPLY_ACTIONS = frozenset({"start", "restart"})
APPLY_WORKERS = 16
# Docker events arriving within this long are handled by one reconcile.
EVENT_SETTLE_SECONDS = 0.05
# Docker's list (an inspect per container) is reused until Docker reports a change:
# a desired state is then applied without waiting on it. Never older than this.
LIST_KEPT_SECONDS = 30.0


@dataclass(frozen=True)
class HostAccess:
    """What the actuator reaches the host through, found and connected once at start."""

    docker: Engine
    dry_run: bool
    applier: Applier
    processes: ProcessControl
    download: DownloadThrottleControl | None


def connect_host(ctx: ServiceContext) -> HostAccess:
    """Preflight (what this host lets the actuator do, reported once), the Docker client,
    the state store and the controls built on them."""
    settings = ctx.config.actuator
    log = ctx.log
    docker = Engine(Endpoint.of(settings, "actuator"))
    pre = run_preflight(settings, docker)
    log.info(
        "preflight",
        cgroups=pre.layout.kind,
        docker_root=pre.docker_root,
        io_devices=",".join(pre.io_devices) or None,
    )
    for problem in pre.problems:
        log.warning("preflight.problem", problem=problem)
    if ctx.keyring is None:
        log.warning(
            "signing.off",
            reason="no signing key configured",
            risk="any client that may write the desired topic can steer this host",
        )
    dry_run = bool(getattr(ctx.args, "dry_run", False) or settings.dry_run)
    if pre.docker_problem:
        # A host without Docker still has bare process groups to manage; the stack
        # launcher is what chooses dry-run for a user without privileges.
        log.warning(
            "preflight.no_docker",
            reason=pre.docker_problem,
            action="containers left alone until Docker answers",
        )
    if dry_run:
        log.info("dry_run", reason="nothing on the host will be changed")

    store = StateStore(None if dry_run else settings.state_file, log)
    applier = Applier(
        docker,
        pre.layout,
        settings.proc_root,
        pre.docker_root,
        store,
        dry_run,
        log,
    )
    throttle = ctx.config.media_mode.download_throttle
    return HostAccess(
        docker=docker,
        dry_run=dry_run,
        applier=applier,
        processes=ProcessControl(settings.proc_root, pre.layout, store, dry_run, log),
        download=DownloadThrottleControl(client_for(throttle), throttle.url, store, dry_run, log)
        if throttle.enabled or ctx.config.bandwidth.active
        else None,
    )


def start_actuator(ctx: ServiceContext) -> ActuatorService:
    """The actuator as the service runner builds it: host reached, then started."""
    return ActuatorService(ctx, connect_host(ctx)).start()


class ActuatorService:
    # Read once at start: the host connections, the state file, the timers, and
    # whether process groups and a download client are watched at all.
    restart_only = (
        "actuator.docker_url",
        "actuator.docker_tls",
        "actuator.cgroup_root",
        "actuator.proc_root",
        "actuator.state_file",
        "actuator.dry_run",
        "actuator.startup_grace_seconds",
        "actuator.resync_seconds",
        "actuator.process_scan_seconds",
        "process_groups",
        "media_mode.download_throttle",
        # Whether the download client is reached at all.
        "bandwidth.upload_mbps",
        "bandwidth.download_mbps",
    )

    def __init__(self, ctx: ServiceContext, access: HostAccess) -> None:
        """Cheap and without effects: the host was reached by connect_host(); start()
        subscribes, starts the Docker event thread and the timers."""
        self.ctx = ctx
        self.cfg = ctx.config
        self.matcher = self.cfg.tier_matcher()
        store = access.applier.store
        # The replay guard outlives a restart: it starts from the newest the store kept.
        self.admission = Admission(ctx.keyring, store.admitted, store.note_admitted)
        self.docker = access.docker
        self.dry_run = access.dry_run
        self.applier = access.applier
        self.processes = access.processes
        self.download = access.download
        # Docker calls are I/O: applying to many containers at once is what makes a
        # 50-container media-mode change take one round trip, not fifty.
        self._pool = ThreadPoolExecutor(max_workers=APPLY_WORKERS, thread_name_prefix="apply")
        self.lease: Lease | None = None
        self.baseline_reason = "no live desired state yet"
        self.started = False
        self.last_applied: dict[str, Settings] = {}
        self.foreign_refusals: list[Refusal] = []
        self._reported: set[tuple[str, str]] = set()
        self._lease_timer: Timer | None = None
        self._reconcile_timer: Timer | None = None
        self._docker_problem: str | None = None
        self._listed: tuple[float, list[docker_view.DockerContainer]] | None = None
        self._pids: dict[str, int] = {}
        self._events: docker_view.EventWatcher | None = None

    def start(self) -> ActuatorService:
        """Subscribe, watch Docker's events, and arm the grace, resync and scan timers."""
        ctx, settings = self.ctx, self.cfg.actuator
        bus, loop = ctx.bus, ctx.loop
        bus.listen(channels.DESIRED, self.on_desired, on_other_host=self.refuse_foreign)
        bus.listen(channels.ACTIONS, self.on_action, on_other_host=self.refuse_foreign)
        bus.listen(channels.AVAILABILITY, self.on_governor_availability, service="governor")
        self._events = docker_view.EventWatcher(
            self.docker.endpoint,
            lambda e: loop.post(self.on_docker_event, e),
            ctx.log,
            on_reconnect=lambda: loop.post(self.resync),
        )
        self._events.start()
        loop.call_later(settings.startup_grace_seconds, self.end_grace)
        loop.call_every(settings.resync_seconds, self.resync, first=settings.resync_seconds)
        if self.cfg.process_groups or self.applier.store.process_items():
            loop.call_every(
                settings.process_scan_seconds,
                self.reconcile_processes,
                first=settings.process_scan_seconds,
            )
        loop.on_stop(self.on_stop)
        return self

    def reload(self, config: WardenConfig) -> None:
        """New tiers and limits: every container is planned again now, and what changed
        is written."""
        self.cfg = config
        self.matcher = config.tier_matcher()
        self.reconcile()

    # --- inputs ----------------------------------------------------------

    def refuse_foreign(self, received: Received[DesiredState] | Received[Action]) -> None:
        """A desired state or action for another host, which the bus kept from the
        handlers: refused, in the same words each time, so a stream of them is one report."""
        message = received.value
        what = "desired state" if isinstance(message, DesiredState) else f"action {message.kind}"
        host = message.host
        self.refuse(Refusal(target=what, reason=f"for host {host!r}, this is {self.cfg.host_id!r}"))

    def on_desired(self, received: Received[DesiredState]) -> None:
        desired = received.value
        if received.retained:
            # Stored by the broker: maybe from a governor long dead. Wait for a renewal.
            self.ctx.log.info(
                "desired.untrusted", seq=desired.seq, reason="retained, not yet renewed"
            )
            return
        if (problem := self.admission.desired(desired)) is not None:
            self.ctx.log.warning(
                "desired.refused",
                seq=desired.seq,
                epoch=desired.signature.epoch if desired.signature else None,
                newest="epoch {} seq {}".format(*self.admission.newest)
                if self.admission.newest
                else None,
                reason=problem,
            )
            self.refuse(Refusal(target="desired state", reason=f"refused: {problem}"))
            return
        renewed = self.lease is None
        lease = Lease(desired, self.ctx.loop.now(), self.cfg.actuator.max_lease_seconds)
        if lease.clamped and (self.lease is None or not self.lease.clamped):
            self.ctx.log.warning(
                "lease.clamped",
                asked_seconds=desired.lease_seconds,
                kept_seconds=lease.seconds,
                reason="longer than actuator.max_lease_seconds",
            )
        self.lease = lease
        if renewed:
            self.ctx.log.info("lease.live", seq=desired.seq, lease_seconds=lease.seconds)
        if self._lease_timer is not None:
            self._lease_timer.cancel()
        self._lease_timer = self.ctx.loop.call_later(lease.seconds, self.check_lease)
        self.started = True
        self.reconcile()

    def on_action(self, received: Received[Action]) -> None:
        action = received.value
        store, log = self.applier.store, self.ctx.log
        if (problem := self.admission.action(action)) is not None:
            self.ctx.log.warning("action.refused", id=action.id, reason=problem)
            self.refuse(Refusal(target=f"action {action.kind}", reason=f"refused: {problem}"))
            return
        if store.seen_action(action.id):
            log.info("action.duplicate", id=action.id, container=action.container)
            return
        history = store.restarts
        # Wall-clock, not the loop's monotonic clock: the restart limits are kept in the
        # state file and must hold across the actuator's own restarts.
        refusal = restart_refusal(
            action.container,
            action.reasons,
            self.matcher,
            history.last_of,
            history.last_any,
            time.time(),
            self.restart_bounds(),
        )
        if refusal is None:
            try:
                if not any(c.name == action.container for c in self._list_containers()):
                    refusal = "no such container"
            except DockerError as exc:
                refusal = f"Docker unavailable: {docker_reason(exc)}"
        reasons = "; ".join(map(str, action.reasons))
        if refusal is not None:
            self.refuse(Refusal(target=action.container, reason=f"restart refused: {refusal}"))
            return
        log.info(
            "apply.restart",
            container=action.container,
            id=action.id,
            reasons=reasons,
            dry_run=self.dry_run,
        )
        if self.dry_run:
            return
        store.record_restart(action.id, action.container, time.time())
        self._pool.submit(self._restart, action)

    def _restart(self, action: Action) -> None:
        """On a pool thread: a restart takes seconds and must not hold the loop."""
        try:
            self.docker.api.restart(action.container, timeout=10)
        except DockerError as exc:
            self.ctx.log.warning(
                "apply.restart_failed", container=action.container, reason=brief(exc)
            )
            self.ctx.loop.post(
                self.publish_event,
                "refusal",
                f"Restart of {action.container} failed: {brief(exc)}",
                "warning",
            )

    def restart_bounds(self) -> RestartBounds:
        cooldown = self.cfg.memory_pressure.restart_cooldown_seconds
        settings = self.cfg.actuator
        return RestartBounds(
            per_container_seconds=settings.restart_container_interval_seconds or cooldown,
            global_seconds=settings.restart_global_interval_seconds or cooldown,
        )

    def on_governor_availability(self, received: Received[str]) -> None:
        if received.value == OFFLINE and self.lease is not None:
            self.drop_lease("governor offline")

    def on_docker_event(self, event: docker_view.ContainerEvent) -> None:
        self._listed = None
        if event.action in REAPPLY_ACTIONS or event.action == "destroy":
            # A new or restarted container starts from Docker's values: apply ours again.
            self.last_applied.pop(event.id, None)
        if event.action == "destroy":
            self.applier.store.forget(event.id)
        self.request_reconcile()

    def request_reconcile(self) -> None:
        """Soon, once: one change of ours makes Docker send an event per container, and
        fifty reconciles queued behind each other would delay the next desired state."""
        if self._reconcile_timer is None:
            self._reconcile_timer = self.ctx.loop.call_later(EVENT_SETTLE_SECONDS, self.reconcile)

    def end_grace(self) -> None:
        if not self.started:
            self.started = True
            self.ctx.log.info("startup.grace_over", reason=self.baseline_reason)
            self.reconcile()

    def check_lease(self) -> None:
        if self.lease is not None and self.lease.expired(self.ctx.loop.now()):
            self.drop_lease(f"lease expired ({self.lease.seconds:g}s without renewal)")

    def drop_lease(self, reason: str) -> None:
        self.ctx.log.warning("lease.lost", reason=reason, action="restoring tier baselines")
        self.lease = None
        self.baseline_reason = reason
        self.publish_event("lease_expired", f"Restoring tier baselines: {reason}", "warning")
        self.reconcile()

    def resync(self) -> None:
        self.last_applied.clear()  # rewrite everything: catches changes made behind our back
        self._listed = None
        self.reconcile()

    # --- reconciling -----------------------------------------------------

    def reconcile(self) -> None:
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
            self._reconcile_timer = None
        if not self.started:
            return
        desired = self.lease.desired if self.lease else None
        errors: list[Refusal] = []
        try:
            containers: list[docker_view.DockerContainer] | None = self._list_containers()
        except DockerError as exc:
            # No Docker (or not now): bare process groups and the download client still count.
            if self._docker_problem != docker_reason(exc):
                self._docker_problem = docker_reason(exc)
                self.ctx.log.warning("reconcile.docker_unavailable", reason=self._docker_problem)
            errors.append(Refusal(target="docker", reason=docker_reason(exc)))
            containers = None
        else:
            self._docker_problem = None
        targets, refusals = plan(containers or [], desired, self.cfg, self.matcher)
        download = None
        if self.download is not None:
            limits = limits_of(desired)
            why = self.baseline_reason if not desired else "no limit"
            if desired is not None and desired.download_client is not None:
                why = "; ".join(map(str, desired.download_client.reasons))
            elif limits is not None:
                why = "media_mode"
            download = self._pool.submit(self.download.apply, limits, why)
        applied: list[AppliedContainer] = []
        reports = self._pool.map(
            lambda t: self.applier.apply(t, self.last_applied.get(t.container.id)), targets
        )
        for target, report in zip(targets, reports, strict=True):
            cid = target.container.id
            if report.errors:
                self.last_applied.pop(cid, None)  # try again next time
                errors.append(
                    Refusal(target=target.container.name, reason="; ".join(report.errors))
                )
            else:
                self.last_applied[cid] = target.settings
            s = target.settings
            applied.append(
                AppliedContainer(
                    name=target.container.name,
                    id=cid,
                    tier=target.tier,
                    paused=target.paused,
                    cpu_weight=s.cpu_weight,
                    io_weight=s.io_weight,
                    memory_high=s.memory_high,
                    memory_max=s.memory_max,
                    cpu_max=s.cpu_max,
                    io_max=s.io_max,
                    cpu_idle=s.cpu_idle,
                    reasons=list(target.reasons),
                )
            )
        if download is not None and (problem := download.result()) is not None:
            errors.append(Refusal(target="download client", reason=problem))
        group_refusals, group_errors = self.reconcile_processes()
        refusals += group_refusals
        errors += group_errors
        if containers is not None:
            live = {c.id for c in containers}
            for cid in set(self.last_applied) - live:
                del self.last_applied[cid]
        for refusal in refusals:
            self.refuse(refusal, publish_applied=False)
        self.publish_applied(desired, applied, refusals + self.foreign_refusals, errors)

    def _list_containers(self) -> list[docker_view.DockerContainer]:
        now = self.ctx.loop.now()
        if self._listed is not None and now - self._listed[0] < LIST_KEPT_SECONDS:
            return self._listed[1]
        containers = docker_view.list_containers(
            self.docker.api, self._pids, self.cfg.actuator.proc_root
        )
        self._listed = (now, containers)
        return containers

    def reconcile_processes(self) -> tuple[list[Refusal], list[Refusal]]:
        """Bring every configured process group to its target; returns refusals and errors."""
        if not self.started:
            return [], []
        desired = self.lease.desired if self.lease else None
        targets, refusals = group_targets(self.cfg, desired)
        found = find_group_processes(
            self.cfg.actuator.proc_root,
            self.cfg.process_groups,
            exclude=(os.getpid(), os.getppid()),
        )
        errors = []
        for target in targets:
            problems = self.processes.apply(target, found[target.group.name])
            if problems:
                errors.append(
                    Refusal(target=f"process group {target.group.name}", reason="; ".join(problems))
                )
        departed = self.processes.settle_departed(p for ms in found.values() for p in ms)
        if departed:
            errors.append(Refusal(target="process groups", reason="; ".join(departed)))
        return refusals, errors

    def refuse(self, refusal: Refusal, publish_applied: bool = True) -> None:
        key = (refusal.target, refusal.reason)
        if key in self._reported:
            return
        self._reported.add(key)
        self.ctx.log.warning("refused", target=refusal.target, reason=refusal.reason)
        self.publish_event("refusal", f"Refused {refusal.target}: {refusal.reason}", "warning")
        if publish_applied:
            self.foreign_refusals = [*self.foreign_refusals[-9:], refusal]
            self.request_reconcile()

    def publish_applied(
        self,
        desired: DesiredState | None,
        containers: list[AppliedContainer],
        refusals: list[Refusal],
        errors: list[Refusal],
    ) -> None:
        applied = Applied(
            host=self.cfg.host_id,
            mode="desired" if desired else "baseline",
            seq=desired.seq if desired else None,
            baseline_reason=None if desired else self.baseline_reason,
            dry_run=self.dry_run,
            containers=containers,
            refusals=refusals,
            errors=errors,
            unsupported=sorted(self.applier.unsupported),
        )
        self.ctx.bus.send(channels.APPLIED, applied)

    def publish_event(self, kind: NotifyEvent, message: str, severity: Severity = "info") -> None:
        event = Event(
            host=self.cfg.host_id,
            kind=kind,
            source="actuator",
            message=message,
            severity=severity,
        )
        self.ctx.bus.send(channels.EVENTS, event)

    def on_stop(self) -> None:
        """Leave nothing paused or squeezed behind us: back to the tier baselines."""
        if self._events is not None:
            self._events.stop()
        self.lease = None
        self.baseline_reason = "actuator stopping"
        self.started = True
        self.reconcile()
        for cid, record in self.applier.store.items():
            if record.paused_by_warden:
                self.applier.unpause(cid, record.name, "actuator stopping")
        self._pool.shutdown()
