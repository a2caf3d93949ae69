"""Putting back everything Warden ever changed: the `--cleanup` path.

Reads the state store (originals recorded before each first change), unpauses
what Warden paused, restores Docker's fields where Docker can hold the
original, and writes every cgroup control file back as it was.
"""

from __future__ import annotations

from pathlib import Path

from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout, process_cgroups
from host.docker.client import DockerError, Engine, NotFound
from host.docker.view import inspect
from services.actuator.download_clients import DownloadClient, DownloadClientError
from services.actuator.state_store import ContainerRecord, StateStore
from shared.errors import brief
from shared.logs import Log


def _docker_originals(record: ContainerRecord) -> dict[str, int]:
    """Update arguments that give Docker its original fields back.

    Docker's API reads 0 as "leave unchanged", so an original of 0 (unset)
    cannot be written back: those come back through the cgroup files only.
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
        state = inspect(docker.api, container_id).State
    except NotFound:
        log.info("cleanup.gone", container=record.name)
        return []
    except DockerError as exc:
        return [f"inspect: {brief(exc)}"]
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
    if state.Pid:
        cg = process_cgroups(layout, proc_root, state.Pid)
        errors += cgroup_files.restore(cg, record.cgroup_files)
    if errors:
        log.warning("cleanup.incomplete", container=record.name, errors="; ".join(errors))
    else:
        log.info("cleanup.restored", container=record.name, files=len(record.cgroup_files))
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
