"""Putting bare processes back as they were before Warden changed them; thawing what it froze."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from host.cgroups import control as cgroup_files
from host.processes.freezer import move, remove_if_empty
from host.processes.ioprio import ioprio_set
from host.processes.ledger import ProcessLedger, ProcessRecord
from host.processes.view import read_identity
from shared.logs import Log


def restore_record(
    store: ProcessLedger, proc_root: str | Path, key: str, record: ProcessRecord, log: Log
) -> list[str]:
    identity = read_identity(proc_root, record.pid)
    if identity is None or identity.start_time != record.start_time:
        store.forget_process(key)  # gone; its pid may belong to someone else now
        return []
    try:
        if record.cgroup is not None:
            _back_to(record)
        os.setpriority(os.PRIO_PROCESS, record.pid, record.nice)
        ioprio_set(record.pid, record.ioprio)
        os.sched_setaffinity(record.pid, record.affinity)
        if record.stopped_by_warden:
            os.kill(record.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    except OSError as exc:
        return [f"{record.group} pid {record.pid}: {exc.strerror or exc}"]
    log.info("restore.process", group=record.group, pid=record.pid)
    store.forget_process(key)
    return []


def _back_to(record: ProcessRecord) -> None:
    """Out of Warden's cgroup, back into the one it came from (if that still exists)."""
    assert record.cgroup is not None
    with contextlib.suppress(FileNotFoundError):  # its cgroup is gone: it stays, thawed
        move(record.pid, Path(record.cgroup))


def restore_processes(store: ProcessLedger, proc_root: str | Path, log: Log) -> list[str]:
    """Put every recorded process back as it was, and thaw what Warden froze."""
    errors = []
    thawed = store.frozen_directories()
    for directory in thawed:
        try:
            cgroup_files.write(Path(directory) / "cgroup.freeze", "0")
        except FileNotFoundError:
            pass  # the group is gone, and its freeze with it
        except OSError as exc:
            errors.append(f"thaw {directory}: {exc.strerror or exc}")
            continue
        store.mark_frozen(directory, False)
    for key, record in store.process_items():
        errors += restore_record(store, proc_root, key, record, log)
    for directory in thawed:
        remove_if_empty(Path(directory))
    return errors
