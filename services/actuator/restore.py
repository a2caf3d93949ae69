"""Putting back everything Warden ever changed: `--cleanup`, and a deliberate stop with
`--cleanup-on-stop`.

Reads the state store (originals recorded before each first change), unpauses
what Warden paused, gives Docker's record its own values back through the API
(Warden wrote there only where the container had a value of its own: see the
applier), and writes every cgroup control file back as it was.
"""

from __future__ import annotations

from pathlib import Path

from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout, process_cgroups
from host.docker.client import DockerError, Engine, NotFound
from host.docker.view import inspect
from host.processes.restore import restore_processes
from services.actuator.download_clients import DownloadClient, DownloadClientError
from services.actuator.state_store import ContainerRecord, StateStore
from shared.errors import brief
from shared.logs import Log


def _docker_originals(record: ContainerRecord) -> dict[str, int]:
    """Update arguments that give Docker its original fields back.

    Docker's API reads 0 as "leave unchanged" (and refuses -1 for memory), so an
    original of 0 (unset) cannot be written back: Warden keeps out of those fields,
    and what it did there goes back through the cgroup files.
    """
    original = record.docker
    kwargs: dict[str, int] = {}
    if original.get("CpuShares"):
        kwargs["cpu_shares"] = original["CpuShares"]
    if original.get("Memory"):
        kwargs["mem_limit"] = original["Memory"]
        kwargs["memswap_limit"] = original.get("MemorySwap") or -1
    return kwargs


def restore_container(
    docker: Engine,
    layout: CgroupLayout,
    proc_root: str | Path,
    container_id: str,
    record: ContainerRecord,
    log: Log,
) -> list[str]:
    errors: list[str] = []
    try:
        details = inspect(docker.api, container_id)
    except NotFound:
        log.info("cleanup.gone", container=record.name)
        return []
    except DockerError as exc:
        return [f"inspect: {brief(exc)}"]
    state = details.State
    if record.paused_by_warden and state.Paused:
        try:
            docker.api.unpause(container_id)
            log.info("cleanup.unpause", container=record.name)
        except DockerError as exc:
            errors.append(f"unpause: {brief(exc)}")
    kwargs = _docker_originals(record)
    if kwargs:
        try:
            docker.api.update_container(container_id, **kwargs)
        except DockerError as exc:
            errors.append(f"docker update: {brief(exc)}")
    now = details.HostConfig.model_dump()
    # Written by a Warden from before it kept out of unset fields: no API call can
    # unset them again; only recreating the container clears them.
    kept = {k: now[k] for k, v in record.docker.items() if not v and now.get(k)}
    if kept:
        log.warning(
            "cleanup.docker_record_kept",
            container=record.name,
            fields=",".join(f"{k}={v}" for k, v in kept.items()),
            reason="Docker cannot unset a value through its API",
            fix="recreate the container (docker rm, then create it again)",
        )
    if state.Pid:
        cg = process_cgroups(layout, proc_root, state.Pid)
        errors += cgroup_files.restore(cg, record.cgroup_files)
    if errors:
        log.warning("cleanup.incomplete", container=record.name, errors="; ".join(errors))
    else:
        log.info(
            "cleanup.restored",
            container=record.name,
            files=len(record.cgroup_files),
            docker=",".join(f"{k}={v}" for k, v in record.docker.items()) or None,
        )
    return errors


def cleanup(
    store: StateStore,
    docker: Engine,
    layout: CgroupLayout,
    proc_root: str | Path,
    log: Log,
    download_client: DownloadClient | None = None,
) -> list[str]:
    """Restore every recorded container and the download client's limit; forget what was
    fully restored. Returns the failures."""
    failures = []
    if (download := store.download) is not None:
        if download_client is None:
            failures.append(
                f"{download.provider} at {download.url}: no client configured to restore"
            )
        else:
            try:
                download_client.restore(download.original)
                store.forget_download()
                log.info(
                    "cleanup.download_limit", client=download.provider, original=download.original
                )
            except DownloadClientError as exc:
                failures.append(f"{download.provider}: {exc}")
    for container_id, record in store.items():
        errors = restore_container(docker, layout, proc_root, container_id, record, log)
        if errors:
            failures.append(f"{record.name}: {'; '.join(errors)}")
        else:
            store.forget(container_id)
    return failures


def restore_everything(
    store: StateStore,
    docker: Engine,
    layout: CgroupLayout,
    proc_root: str | Path,
    log: Log,
    download_client: DownloadClient | None = None,
) -> list[str]:
    """Containers, the download client, and every bare process and frozen cgroup: all of
    Warden's marks. Returns the failures; what was put back is forgotten."""
    failures = cleanup(store, docker, layout, proc_root, log, download_client)
    return failures + restore_processes(store, proc_root, log)
