"""Bare processes in configured groups: nice, ionice, CPU affinity, and pausing, for every
member of the group's process trees (host/processes/view.py's group_trees).

A pause stops a group with SIGSTOP, children before their parents (a parent stopped
first could still be reaped of, or fork, a child), and SIGCONT resumes it parents first;
children forked while the pause was going out are found again and stopped too. Or it
freezes the group's cgroup (host/processes/freezer.py). Every original value is recorded
before the first change, keyed by pid and start time, so a reused pid is never mistaken
for the process Warden changed.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout
from host.processes.freezer import (
    FreezeUnavailable,
    cgroup_of,
    make_own_cgroup,
    move,
    own_cgroup_path,
    remove_if_empty,
    shared_or_own,
)
from host.processes.ioprio import ioprio_get, ioprio_set, ioprio_value
from host.processes.ledger import ProcessLedger, ProcessRecord
from host.processes.plan import GroupTarget
from host.processes.restore import restore_record
from host.processes.view import ProcessIdentity, is_stopped, read_identity
from shared.config.model import ProcessGroup
from shared.logs import Log

# Rounds of looking again for children forked while a pause went out.
RESCAN_ROUNDS = 3
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def uptime_ticks(proc_root: str | Path) -> int:
    """Clock ticks since boot now, as /proc/<pid>/stat counts a process's start."""
    try:
        return int(float((Path(proc_root) / "uptime").read_text().split()[0]) * CLOCK_TICKS)
    except (OSError, ValueError, IndexError):
        return 0


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

    def apply(
        self,
        target: GroupTarget,
        processes: Sequence[ProcessIdentity],
        rescan: Callable[[], Sequence[ProcessIdentity]] | None = None,
    ) -> list[str]:
        """processes: the group's members, parents first. rescan: the members now, asked
        again after a pause went out, so a child forked meanwhile is paused too."""
        errors: list[str] = []
        for process in processes:
            errors += self._settings(target.group, target.effective_nice, process)
        self._pause_or_resume(target, processes, errors)
        for _ in range(RESCAN_ROUNDS if target.paused and rescan is not None else 0):
            assert rescan is not None
            seen = {p.key for p in processes}
            current = rescan()
            late = [p for p in current if p.key not in seen]
            if not late:
                break
            self.log.info(
                "apply.late_members",
                group=target.group.name,
                pids=",".join(str(p.pid) for p in late),
            )
            for process in late:
                errors += self._settings(target.group, target.effective_nice, process)
            processes = current
            self._pause_or_resume(target, processes, errors)
        return errors

    def _pause_or_resume(
        self, target: GroupTarget, processes: Sequence[ProcessIdentity], errors: list[str]
    ) -> None:
        if target.group.pause_with == "freeze" and self._freeze(target, processes, errors):
            return
        # Children first on a pause, parents first on a resume.
        for process in reversed(processes) if target.paused else processes:
            errors += self._signal_pause(target, process)

    def _record(self, group: str, p: ProcessIdentity) -> bool:
        if self.store.process(p.key) is not None:
            return True
        parent = self._changed_parent(group, p)
        try:
            record = ProcessRecord(
                group=group,
                pid=p.pid,
                start_time=p.start_time,
                nice=parent.nice if parent else os.getpriority(os.PRIO_PROCESS, p.pid),
                ioprio=parent.ioprio if parent else ioprio_get(p.pid),
                affinity=parent.affinity if parent else sorted(os.sched_getaffinity(p.pid)),
                since=uptime_ticks(self.proc_root),
            )
        except OSError:
            return False  # gone between the scan and now
        self.store.record_process(p.key, record)
        return True

    def _changed_parent(self, group: str, p: ProcessIdentity) -> ProcessRecord | None:
        """The parent's record, when the process was forked after Warden changed its parent:
        what it has now it inherited from Warden, and its originals are its parent's."""
        parent = read_identity(self.proc_root, p.ppid) if p.ppid > 1 else None
        if parent is None:
            return None
        record = self.store.process(parent.key)
        if record is None or record.group != group or p.start_time < record.since:
            return None
        return record

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
        """True when the group was frozen or thawed through a cgroup; False: use signals."""
        name = target.group.name
        try:
            ours = own_cgroup_path(self.layout, name)
        except FreezeUnavailable as exc:
            return self._cannot_freeze(name, str(exc))
        home = shared_or_own(self.layout, self.proc_root, processes) if processes else None
        if home is not None and home != ours:
            return self._freeze_directory(target, home, errors)
        if not target.paused:
            return self._thaw_own(target, ours, errors)
        if not processes:
            return True
        if self.dry_run:
            self.log.info("apply.freeze", group=name, cgroup=str(ours), moved=True, dry_run=True)
            return True
        try:
            make_own_cgroup(ours)
            self._move_in(name, ours, processes)
        except FreezeUnavailable as exc:
            self._move_out(name, ours, errors)
            return self._cannot_freeze(name, str(exc))
        return self._freeze_directory(target, ours, errors)

    def _cannot_freeze(self, group: str, why: str) -> bool:
        if group not in self._freeze_refused:
            self._freeze_refused.add(group)
            self.log.warning(
                "apply.freeze_unavailable", group=group, reason=why, fallback="SIGSTOP/SIGCONT"
            )
        return False

    def _move_in(self, group: str, ours: Path, processes: Sequence[ProcessIdentity]) -> None:
        """Every member into Warden's cgroup, its own recorded first. FreezeUnavailable when
        the kernel refuses one (the ones moved are then moved back by the caller)."""
        moved = []
        for p in processes:
            original = cgroup_of(self.layout, self.proc_root, p.pid)
            if original is None or original == ours or not self._record(group, p):
                continue  # gone, or already in
            record = self.store.process(p.key)
            if record is not None and record.cgroup is None:
                self.store.set_cgroup(p.key, str(original))
            try:
                move(p.pid, ours)
            except ProcessLookupError:
                continue
            except OSError as exc:
                raise FreezeUnavailable(
                    f"cannot move pid {p.pid} out of {original} into {ours}: {exc.strerror or exc}"
                ) from None
            moved.append(str(p.pid))
        if moved:
            self.log.info("apply.cgroup_move", group=group, cgroup=str(ours), pids=",".join(moved))

    def _move_out(self, group: str, ours: Path, errors: list[str]) -> None:
        """Every member Warden moved back where it came from; Warden's cgroup removed."""
        for key, record in self.store.process_items():
            if record.group != group or record.cgroup is None:
                continue
            identity = read_identity(self.proc_root, record.pid)
            if identity is not None and identity.start_time == record.start_time:
                try:
                    move(record.pid, Path(record.cgroup))
                except FileNotFoundError:
                    self.log.warning(
                        "apply.cgroup_gone", group=group, pid=record.pid, cgroup=record.cgroup
                    )
                except ProcessLookupError:
                    pass
                except OSError as exc:
                    errors.append(f"{group} pid {record.pid}: back to {record.cgroup}: {exc}")
                    continue
            self.store.set_cgroup(key, None)
        remove_if_empty(ours)

    def _thaw_own(self, target: GroupTarget, ours: Path, errors: list[str]) -> bool:
        name = target.group.name
        moved = any(r.group == name and r.cgroup for _, r in self.store.process_items())
        if not moved and not self.store.frozen_by_warden(str(ours)):
            return False  # nothing of the group's is in a cgroup of Warden's
        self._freeze_directory(target, ours, errors)
        if not self.dry_run:
            self._move_out(name, ours, errors)
        return True

    def _freeze_directory(self, target: GroupTarget, directory: Path, errors: list[str]) -> bool:
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
