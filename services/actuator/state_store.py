"""What Warden changed on the host, recorded before it changes it, so it can all be put back.

For each container Warden touches: the original Docker fields and the raw
contents of every cgroup control file, taken once, before the first change,
and whether Warden paused it. Written atomically (temp file, fsync, rename),
so a SIGKILL at any moment leaves either the old record or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from host.processes.ledger import ProcessRecord
from shared.config.actuator import DEFAULT_STATE_FILE
from shared.errors import brief
from shared.logs import Log

# The Docker fields Warden may change through the API.
DOCKER_FIELDS = ("CpuShares", "Memory", "MemorySwap")


class ContainerRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    docker: dict[str, int] = {}
    cgroup_files: dict[str, str] = {}
    paused_by_warden: bool = False
    # False: written for a pause before the originals were read (a pause changes none
    # of them); they are filled in before anything else is changed.
    complete: bool = True


class RestartHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Wall-clock times: they must survive the actuator's own restart.
    last_of: dict[str, float] = {}
    last_any: float | None = None
    # Action ids already acted on, newest last, so a redelivery never acts twice.
    action_ids: list[str] = []


ACTION_IDS_KEPT = 500


class DownloadRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str
    url: str
    original: dict[str, bool | int]


class StoreFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    containers: dict[str, ContainerRecord] = {}
    restarts: RestartHistory = RestartHistory()
    download: DownloadRecord | None = None
    # Keyed "pid:start_time", so a reused pid never matches.
    processes: dict[str, ProcessRecord] = {}
    # cgroup directories Warden froze.
    frozen: list[str] = []
    # (epoch, seq) of the newest signed desired state admitted: the replay guard.
    admitted: tuple[int, int] | None = None


# Where the record was kept before it moved to persistent storage: a tmpfs, lost with a
# power cut. A record found there (an upgrade without a reboot) is moved once.
LEGACY_PATH = Path("/run/warden/actuator-state.json")


class StateStore:
    def __init__(self, path: str | Path | None, log: Log) -> None:
        """path None: keep the record in memory only (dry-run)."""
        self._path = Path(path) if path else None
        self._log = log
        self._data = StoreFile()
        # The actuator applies to many containers at once, from a thread pool.
        self._lock = threading.RLock()
        if self._path is not None:
            if str(self._path) == DEFAULT_STATE_FILE:
                self._move_legacy(LEGACY_PATH)
            self._load()

    def _move_legacy(self, legacy: Path) -> None:
        assert self._path is not None
        if self._path.exists() or not legacy.is_file():
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._path.write_bytes(legacy.read_bytes())
            legacy.unlink()
        except OSError as exc:
            self._log.error("state.not_moved", source=str(legacy), reason=brief(exc))
            return
        self._log.warning("state.moved", source=str(legacy), path=str(self._path))

    @property
    def path(self) -> Path | None:
        return self._path

    def _load(self) -> None:
        assert self._path is not None
        try:
            self._data = StoreFile.model_validate_json(self._path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValidationError, ValueError) as exc:
            # Keep the unreadable file for a human: never overwrite evidence of what to restore.
            backup = self._path.with_suffix(".unreadable")
            self._log.error(
                "state.unreadable", path=str(self._path), reason=brief(exc), kept_as=str(backup)
            )
            with contextlib.suppress(OSError):
                os.replace(self._path, backup)

    def _save(self) -> None:
        if self._path is None:
            return
        with self._lock:
            self._write()

    def _write(self) -> None:
        assert self._path is not None
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".state-")
        with os.fdopen(fd, "w") as f:
            f.write(self._data.model_dump_json(indent=1))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)

    # --- the replay guard ---------------------------------------------------

    @property
    def admitted(self) -> tuple[int, int] | None:
        return self._data.admitted

    def note_admitted(self, key: tuple[int, int]) -> None:
        with self._lock:
            self._data.admitted = key
            self._save()

    # --- recording ---------------------------------------------------------

    def recorded(self, container_id: str) -> bool:
        """The originals are on record (not only a pause)."""
        record = self._data.containers.get(container_id)
        return record is not None and record.complete

    def record(
        self, container_id: str, name: str, docker: dict[str, int], cgroup_files: dict[str, str]
    ) -> None:
        """Before the first change to a container; later calls keep the first record."""
        with self._lock:
            existing = self._data.containers.get(container_id)
            if existing is not None and existing.complete:
                return
            self._data.containers[container_id] = ContainerRecord(
                name=name,
                docker=docker,
                cgroup_files=cgroup_files,
                paused_by_warden=existing is not None and existing.paused_by_warden,
            )
            self._save()

    def original_docker(self, container_id: str) -> dict[str, int] | None:
        """Docker's record before Warden (DOCKER_FIELDS); None when not on record."""
        record = self._data.containers.get(container_id)
        return dict(record.docker) if record is not None and record.complete else None

    def original_files(self, container_id: str) -> dict[str, str]:
        """The recorded cgroup files (snapshot()'s contents); empty when none are."""
        record = self._data.containers.get(container_id)
        return dict(record.cgroup_files) if record is not None else {}

    def note_pause(self, container_id: str, name: str) -> None:
        """Paused by Warden, written before the pause, with no originals read yet if none are."""
        with self._lock:
            record = self._data.containers.get(container_id)
            if record is None:
                record = ContainerRecord(name=name, complete=False)
                self._data.containers[container_id] = record
            elif record.paused_by_warden:
                return
            record.paused_by_warden = True
            self._save()

    def mark_paused(self, container_id: str, paused: bool) -> None:
        with self._lock:
            record = self._data.containers.get(container_id)
            if record is not None and record.paused_by_warden != paused:
                record.paused_by_warden = paused
                self._save()

    def paused_by_warden(self, container_id: str) -> bool:
        record = self._data.containers.get(container_id)
        return bool(record and record.paused_by_warden)

    def forget(self, container_id: str) -> None:
        with self._lock:
            if self._data.containers.pop(container_id, None) is not None:
                self._save()

    def items(self) -> list[tuple[str, ContainerRecord]]:
        with self._lock:
            return list(self._data.containers.items())

    # --- restarts ----------------------------------------------------------

    @property
    def restarts(self) -> RestartHistory:
        return self._data.restarts

    def seen_action(self, action_id: str) -> bool:
        return action_id in self._data.restarts.action_ids

    def record_restart(self, action_id: str, name: str, at: float) -> None:
        """Before restarting: after a crash the redelivered action is a duplicate."""
        with self._lock:
            history = self._data.restarts
            history.action_ids = [*history.action_ids, action_id][-ACTION_IDS_KEPT:]
            history.last_of[name] = at
            history.last_any = at
            self._save()

    # --- the download client -------------------------------------------------

    @property
    def download(self) -> DownloadRecord | None:
        return self._data.download

    def record_download(self, provider: str, url: str, original: dict[str, bool | int]) -> None:
        """The client's settings before Warden's first change; to a record that lacks some
        (kept by an older Warden), only those it lacks are added."""
        with self._lock:
            record = self._data.download
            if record is None:
                self._data.download = DownloadRecord(provider=provider, url=url, original=original)
                self._save()
            elif missing := {k: v for k, v in original.items() if k not in record.original}:
                record.original = {**record.original, **missing}
                self._save()

    def forget_download(self) -> None:
        with self._lock:
            if self._data.download is not None:
                self._data.download = None
                self._save()

    # --- bare processes ------------------------------------------------------

    def process(self, key: str) -> ProcessRecord | None:
        return self._data.processes.get(key)

    def process_items(self) -> list[tuple[str, ProcessRecord]]:
        with self._lock:
            return list(self._data.processes.items())

    def record_process(self, key: str, record: ProcessRecord) -> None:
        with self._lock:
            if key not in self._data.processes:
                self._data.processes[key] = record
                self._save()

    def mark_stopped(self, key: str, stopped: bool) -> None:
        with self._lock:
            record = self._data.processes.get(key)
            if record is not None and record.stopped_by_warden != stopped:
                record.stopped_by_warden = stopped
                self._save()

    def set_cgroup(self, key: str, directory: str | None) -> None:
        with self._lock:
            record = self._data.processes.get(key)
            if record is not None and record.cgroup != directory:
                record.cgroup = directory
                self._save()

    def forget_process(self, key: str) -> None:
        with self._lock:
            if self._data.processes.pop(key, None) is not None:
                self._save()

    def frozen_by_warden(self, directory: str) -> bool:
        return directory in self._data.frozen

    def frozen_directories(self) -> list[str]:
        with self._lock:
            return list(self._data.frozen)

    def mark_frozen(self, directory: str, frozen: bool) -> None:
        with self._lock:
            present = directory in self._data.frozen
            if frozen and not present:
                self._data.frozen.append(directory)
            elif not frozen and present:
                self._data.frozen.remove(directory)
            else:
                return
            self._save()
