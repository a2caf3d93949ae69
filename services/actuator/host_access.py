"""What the actuator reaches the host through, found and connected once at start:
preflight (reported once), the Docker client, the state store and the controls on them."""

from __future__ import annotations

from dataclasses import dataclass

from host.docker.client import Endpoint, Engine
from host.processes.control import ProcessControl
from services.actuator.applier import Applier
from services.actuator.download_clients import client_for
from services.actuator.download_throttle import DownloadThrottleControl
from services.actuator.preflight import run_preflight
from services.actuator.state_store import StateStore
from shared.service import ServiceContext


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
