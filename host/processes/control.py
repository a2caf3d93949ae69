"""Bare processes in configured groups: nice, ionice, CPU affinity, and pausing.

A pause stops a group with SIGSTOP (and SIGCONT to resume), or with
cgroup.freeze when the group runs in a cgroup of its own holding nothing else.
Every original value is recorded before the first change, keyed by pid and
start time, so a reused pid is never mistaken for the process Warden changed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path

from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout, process_cgroups
from host.processes.ioprio import ioprio_get, ioprio_set, ioprio_value
from host.processes.ledger import ProcessLedger, ProcessRecord
from host.processes.plan import GroupTarget
from host.processes.restore import restore_record
from host.processes.view import ProcessIdentity, is_stopped
from shared.config.model import ProcessGroup
from shared.logs import Log


class ProcessControl:
    def __init__(
        self,
        proc_root: str | Path,
        layout: CgroupLayout,
        store: ProcessLedger,
        dry_run: bool,
        log: Log,
    ) -> None:
        self.proc_root = proc_root
        self.layout = layout
        self.store = store
        self.dry_run = dry_run
        self.log = log
        self._freeze_refused: set[str] = set()

    def apply(self, target: GroupTarget, processes: Sequence[ProcessIdentity]) -> list[str]:
        errors: list[str] = []
        for process in processes:
            errors += self._settings(target.group, target.effective_nice, process)
        if target.group.pause_with == "freeze" and self._freeze(target, processes, errors):
            return errors
        for process in processes:
            errors += self._signal_pause(target, process)
        return errors

    def _record(self, group: str, p: ProcessIdentity) -> bool:
        if self.store.process(p.key) is not None:
            return True
        try:
            record = ProcessRecord(
                group=group,
                pid=p.pid,
                start_time=p.start_time,
                nice=os.getpriority(os.PRIO_PROCESS, p.pid),
                ioprio=ioprio_get(p.pid),
                affinity=sorted(os.sched_getaffinity(p.pid)),
            )
        except OSError:
            return False  # gone between the scan and now
        self.store.record_process(p.key, record)
        return True

    def _settings(self, group: ProcessGroup, nice: int | None, p: ProcessIdentity) -> list[str]:
        wanted = nice is not None or group.ionice_class or group.cpu_affinity is not None
        if not wanted:
            return []
        if self.dry_run:
            self.log.info(
                "apply.process",
                group=group.name,
                pid=p.pid,
                nice=nice,
                ionice=group.ionice_class,
                affinity=group.cpu_affinity,
                dry_run=True,
            )
            return []
        if not self._record(group.name, p):
            return []
        try:
            if nice is not None and os.getpriority(os.PRIO_PROCESS, p.pid) != nice:
                os.setpriority(os.PRIO_PROCESS, p.pid, nice)
                self.log.info("apply.nice", group=group.name, pid=p.pid, nice=nice)
            if group.ionice_class:
                value = ioprio_value(group.ionice_class, group.ionice_level)
                if ioprio_get(p.pid) != value:
                    ioprio_set(p.pid, value)
                    self.log.info(
                        "apply.ionice",
                        group=group.name,
                        pid=p.pid,
                        ionice=group.ionice_class,
                        level=group.ionice_level,
                    )
            if group.cpu_affinity is not None:
                cpus = set(group.cpu_affinity) & set(range(os.cpu_count() or 1))
                if cpus and os.sched_getaffinity(p.pid) != cpus:
                    os.sched_setaffinity(p.pid, cpus)
                    self.log.info(
                        "apply.affinity",
                        group=group.name,
                        pid=p.pid,
                        cpus=",".join(map(str, sorted(cpus))),
                    )
        except ProcessLookupError:
            return []
        except OSError as exc:
            return [f"{group.name} pid {p.pid}: {exc.strerror or exc}"]
        return []

    def _signal_pause(self, target: GroupTarget, p: ProcessIdentity) -> list[str]:
        record = self.store.process(p.key)
        ours = bool(record and record.stopped_by_warden)
        if target.paused and not is_stopped(self.proc_root, p.pid):
            self.log.info(
                "apply.sigstop",
                group=target.group.name,
                pid=p.pid,
                reasons="; ".join(target.reasons),
                dry_run=self.dry_run,
            )
            if self.dry_run or not self._record(target.group.name, p):
                return []
            self.store.mark_stopped(p.key, True)
            return self._kill(p.pid, signal.SIGSTOP)
        if not target.paused and ours:
            self.log.info("apply.sigcont", group=target.group.name, pid=p.pid, dry_run=self.dry_run)
            if self.dry_run:
                return []
            errors = self._kill(p.pid, signal.SIGCONT)
            self.store.mark_stopped(p.key, False)
            return errors
        return []

    def _kill(self, pid: int, sig: signal.Signals) -> list[str]:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return []
        except OSError as exc:
            return [f"pid {pid}: {sig.name}: {exc.strerror or exc}"]
        return []

    def _freeze(
        self, target: GroupTarget, processes: Sequence[ProcessIdentity], errors: list[str]
    ) -> bool:
        """True when the group was frozen or thawed through its cgroup; False: use signals."""
        directory, why = self._own_cgroup(processes)
        if directory is None:
            if target.group.name not in self._freeze_refused:
                self._freeze_refused.add(target.group.name)
                self.log.warning(
                    "apply.freeze_unavailable",
                    group=target.group.name,
                    reason=why,
                    fallback="SIGSTOP/SIGCONT",
                )
            return False
        frozen = self.store.frozen_by_warden(str(directory))
        if target.paused == frozen:
            return True
        self.log.info(
            "apply.freeze" if target.paused else "apply.thaw",
            group=target.group.name,
            cgroup=str(directory),
            dry_run=self.dry_run,
        )
        if self.dry_run:
            return True
        try:
            if target.paused:
                self.store.mark_frozen(str(directory), True)
                cgroup_files.write(directory / "cgroup.freeze", "1")
            else:
                cgroup_files.write(directory / "cgroup.freeze", "0")
                self.store.mark_frozen(str(directory), False)
        except OSError as exc:
            errors.append(f"{target.group.name}: cgroup.freeze: {exc.strerror or exc}")
        return True

    def _own_cgroup(self, processes: Sequence[ProcessIdentity]) -> tuple[Path | None, str]:
        if not processes:
            return None, "no process running"
        dirs = set()
        for p in processes:
            try:
                dirs.add(process_cgroups(self.layout, self.proc_root, p.pid).v2)
            except OSError:
                continue
        if len(dirs) != 1 or None in dirs:
            return None, "its processes are not in one cgroup2 group"
        directory = dirs.pop()
        assert directory is not None
        if directory == self.layout.v2_mount or not (directory / "cgroup.freeze").exists():
            return None, f"{directory} cannot be frozen"
        members = {int(x) for x in (directory / "cgroup.procs").read_text().split()}
        if not members <= {p.pid for p in processes}:
            return None, f"{directory} also holds processes outside the group"
        return directory, ""

    def settle_departed(self, live: Iterable[ProcessIdentity]) -> list[str]:
        """Records of processes no longer in any group: gone ones are forgotten; ones that
        left their group (or whose group left the config) get their originals back, and a
        SIGCONT if Warden stopped them, so nothing stays stopped without a reason."""
        keys = {p.key for p in live}
        errors = []
        for key, record in self.store.process_items():
            if key not in keys and not self.dry_run:
                errors += restore_record(self.store, self.proc_root, key, record, self.log)
        return errors
