"""Wiring: reconcile the host to the live desired state, or to the baseline when there is none.

Reconciles on every desired-state renewal, every Docker container event, the
lease running out, the governor going offline, and a slow resync timer. What a
reconcile does is reconcile.py's; restart actions are restart_actions.py's; how the
host is reached, host_access.py's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from host.docker import view as docker_view
from services.actuator.admission import Admission
from services.actuator.host_access import HostAccess, connect_host
from services.actuator.lease import Lease
from services.actuator.reconcile import Reconciler
from services.actuator.restart_actions import RestartActions
from services.actuator.restore import restore_everything
from shared import channels
from shared.bus import Received
from shared.config import WardenConfig
from shared.config.model import NotifyEvent
from shared.messages import Action, Applied, AppliedContainer, DesiredState, Event, Refusal
from shared.messages.events import Severity
from shared.runtime import Timer
from shared.service import ServiceContext
from shared.topics import OFFLINE

APPLY_WORKERS = 16
# Docker events arriving within this long are handled by one reconcile.
EVENT_SETTLE_SECONDS = 0.05


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
        self.dry_run = access.dry_run
        self.applier = access.applier
        self.download = access.download
        self._docker = access.docker
        # A deliberate stop (SIGTERM, SIGINT) puts everything back as before Warden.
        self.cleanup_on_stop = bool(getattr(ctx.args, "cleanup_on_stop", False))
        # Docker calls are I/O: applying to many containers at once is what makes a
        # 50-container media-mode change take one round trip, not fifty.
        self._pool = ThreadPoolExecutor(max_workers=APPLY_WORKERS, thread_name_prefix="apply")
        self.reconciler = Reconciler(access, self._pool, ctx.log)
        self.restarts = RestartActions(
            access.docker, store, self._pool, ctx.log, self.dry_run, self._restart_failed
        )
        self.lease: Lease | None = None
        self.baseline_reason = "no live desired state yet"
        self.started = False
        self.foreign_refusals: list[Refusal] = []
        self._reported: set[tuple[str, str]] = set()
        self._lease_timer: Timer | None = None
        self._reconcile_timer: Timer | None = None
        self._events: docker_view.EventWatcher | None = None

    def start(self) -> ActuatorService:
        """Subscribe, watch Docker's events, and arm the grace, resync and scan timers."""
        ctx, settings = self.ctx, self.cfg.actuator
        bus, loop = ctx.bus, ctx.loop
        bus.listen(channels.DESIRED, self.on_desired, on_other_host=self.refuse_foreign)
        bus.listen(channels.ACTIONS, self.on_action, on_other_host=self.refuse_foreign)
        bus.listen(channels.AVAILABILITY, self.on_governor_availability, service="governor")
        self._events = docker_view.EventWatcher(
            self._docker.endpoint,
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
        if (problem := self.admission.action(action)) is not None:
            self.ctx.log.warning("action.refused", id=action.id, reason=problem)
            self.refuse(Refusal(target=f"action {action.kind}", reason=f"refused: {problem}"))
            return
        now = self.ctx.loop.now()
        refusal = self.restarts.take(
            action, self.cfg, self.matcher, lambda: self.reconciler.containers(self.cfg, now)
        )
        if refusal is not None:
            self.refuse(Refusal(target=action.container, reason=f"restart refused: {refusal}"))

    def _restart_failed(self, container: str, reason: str) -> None:
        """From a pool thread: said on the loop."""
        self.ctx.loop.post(
            self.publish_event, "refusal", f"Restart of {container} failed: {reason}", "warning"
        )

    def on_governor_availability(self, received: Received[str]) -> None:
        if received.value == OFFLINE and self.lease is not None:
            self.drop_lease("governor offline")

    def on_docker_event(self, event: docker_view.ContainerEvent) -> None:
        self.reconciler.on_docker_event(event)
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
        self.reconciler.resync()
        self.reconcile()

    # --- reconciling -----------------------------------------------------

    def reconcile(self) -> None:
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
            self._reconcile_timer = None
        if not self.started:
            return
        desired = self.lease.desired if self.lease else None
        done = self.reconciler.run(
            self.cfg, self.matcher, desired, self.baseline_reason, self.ctx.loop.now()
        )
        for refusal in done.refusals:
            self.refuse(refusal, publish_applied=False)
        self.publish_applied(
            desired, done.containers, done.refusals + self.foreign_refusals, done.errors
        )

    def reconcile_processes(self) -> None:
        """The process-scan timer: new members of a group brought to its target."""
        if not self.started:
            return
        desired = self.lease.desired if self.lease else None
        # Said by the next full reconcile, which the same scan would only repeat.
        self.reconciler.processes(self.cfg, desired)

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
        """The loop stops only on SIGTERM or SIGINT: a deliberate stop. With
        --cleanup-on-stop, everything goes back to how Warden found it (an uninstall:
        `docker compose down`, `systemctl stop`); without it, to the tier baselines, with
        Warden's pauses undone and the originals kept for the next start. A crash or
        SIGKILL never gets here: the next start finds Warden's values and their record."""
        if self._events is not None:
            self._events.stop()
        if self.cleanup_on_stop and not self.dry_run:
            self._pool.shutdown()  # no apply still running while everything is put back
            self.clean_up()
            return
        self.lease = None
        self.baseline_reason = "actuator stopping"
        self.started = True
        self.reconcile()
        for cid, record in self.applier.store.items():
            if record.paused_by_warden:
                self.applier.unpause(cid, record.name, "actuator stopping")
        self._pool.shutdown()

    def clean_up(self) -> None:
        store, applier, log = self.applier.store, self.applier, self.ctx.log
        log.info(
            "stop.cleanup",
            containers=len(store.items()),
            processes=len(store.process_items()),
            reason="deliberate stop with --cleanup-on-stop",
        )
        failures = restore_everything(
            store,
            applier.docker,
            applier.layout,
            applier.proc_root,
            log,
            self.download.client if self.download is not None else None,
        )
        for failure in failures:
            log.warning("stop.not_restored", what=failure)
        log.info("stop.cleaned_up", failures=len(failures))
