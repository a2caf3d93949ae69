"""Delivery that never holds up the bus and never forgets: one thread per destination,
retries with backoff, and a file that keeps what is undelivered across a restart.

Apprise sends (destinations.py); this decides when. Each destination sends its
messages in order on its own thread, so one that hangs until its timeout delays
nobody else. A failed message stays at the head of its destination's queue and
is tried again after an exponential backoff, or after the wait the server's
Retry-After asked for where that is longer (at most an hour: failures.py), until
it is delivered, has been tried retry_max_attempts times, or is older than
retry_max_age_seconds. The server's wait is filed with the message and holds
across a restart; the backoff is Warden's own and starts afresh. A
refusal that no retry can mend (a 4xx other than 408/425/429: a wrong URL or
token) drops it at once. The file is the user's only (mode 0600), and every
error in it has been redacted by its destination.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from services.notifier.destinations import DeliveryError, Destination
from services.notifier.failures import RETRY_AFTER_MAX_SECONDS
from services.notifier.render import Notification
from shared.config.model import Notifications
from shared.errors import brief
from shared.logs import Log
from shared.state_dir import state_file

# Only the user Warden runs as may read it: it names destinations and quotes their errors.
FILE_MODE = 0o600


class OutboxEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    # The destination's name (ADRG's "discord", "ntfy", "gotify", or an Apprise private URL);
    # a file written before Warden called them destinations names it `channel`.
    destination: str = Field(validation_alias=AliasChoices("destination", "channel"))
    note: Notification
    # Wall-clock: the age limit must hold across a restart, which a monotonic clock does not.
    created: float
    attempts: int = 0
    last_error: str | None = None
    # Wall-clock: no try before this, as the server's Retry-After asked (None: it did not).
    not_before: float | None = None


class OutboxFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[2] = 2
    entries: list[OutboxEntry] = []


def migrated(data: Any) -> Any:
    """Version 1 (before Apprise) kept each message's Discord colour, and no severity."""
    if not isinstance(data, dict) or data.get("schema_version") != 1:
        return data
    for entry in data.get("entries", []):
        note = entry.get("note") if isinstance(entry, dict) else None
        if isinstance(note, dict):
            note.pop("colour", None)
            tags = note.get("tags") or []
            severity = "warning" if "warning" in tags else "info"
            note["severity"] = "critical" if "rotating_light" in tags else severity
    return {**data, "schema_version": 2}


def backoff_seconds(attempts: int, initial: float, cap: float) -> float:
    """Wait before try number attempts+1: initial, 2x, 4x, ... up to cap."""
    return min(cap, initial * 2 ** max(0, attempts - 1))


def give_up_reason(entry: OutboxEntry, now: float, cfg: Notifications) -> str | None:
    if entry.attempts >= cfg.retry_max_attempts:
        return f"not delivered after {entry.attempts} attempts: {entry.last_error}"
    age = now - entry.created
    if age > cfg.retry_max_age_seconds:
        return f"older than {cfg.retry_max_age_seconds:g} s ({age:.0f} s): {entry.last_error}"
    return None


class OutboxStore:
    """The undelivered entries, written atomically on every change (thread-safe)."""

    def __init__(self, path: str, log: Log) -> None:
        self._path = Path(path)
        self._log = log
        self._lock = threading.Lock()
        self._entries: dict[str, OutboxEntry] = {}
        self._unwritable_reported = False

    def load(self) -> list[OutboxEntry]:
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return []
        except OSError as exc:
            self._log.warning("notify.outbox_unreadable", path=str(self._path), reason=str(exc))
            return []
        try:
            stored = OutboxFile.model_validate(migrated(json.loads(text)))
        except (ValueError, ValidationError) as exc:
            # Keep the bad file for a human; start afresh rather than not at all.
            with contextlib.suppress(OSError):
                self._path.replace(self._path.with_name(self._path.name + ".corrupt"))
            self._log.warning(
                "notify.outbox_corrupt", path=str(self._path), reason=str(exc).splitlines()[0]
            )
            return []
        with self._lock:
            self._entries = {e.id: e for e in stored.entries}
        return sorted(stored.entries, key=lambda e: e.created)

    def tighten(self) -> None:
        """An older Warden wrote the file with the umask's mode; only its user may read it."""
        with contextlib.suppress(OSError):
            if stat.S_IMODE(self._path.stat().st_mode) & ~FILE_MODE:
                self._path.chmod(FILE_MODE)

    def put(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._entries[entry.id] = entry
            self._save()

    def remove(self, entry: OutboxEntry) -> None:
        with self._lock:
            if self._entries.pop(entry.id, None) is not None:
                self._save()

    def entries(self) -> list[OutboxEntry]:
        with self._lock:
            return list(self._entries.values())

    def _save(self) -> None:
        data = OutboxFile(entries=list(self._entries.values())).model_dump_json(indent=1)
        tmp = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Created 0600 (and made so, whatever the umask or a stale file's mode).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), FILE_MODE)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            # A crash mid-write leaves the old file whole: rename is atomic.
            os.replace(tmp, self._path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            if not self._unwritable_reported:
                self._unwritable_reported = True
                self._log.warning(
                    "notify.outbox_unwritable",
                    path=str(self._path),
                    reason=str(exc.strerror or exc),
                    effect="undelivered notifications will not survive a restart",
                )


class DestinationWorker:
    def __init__(
        self,
        destination: Destination,
        cfg: Notifications,
        store: OutboxStore,
        log: Log,
        on_failed: Callable[[str, str], None],
        on_recovered: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.destination = destination
        self._cfg = cfg
        self._store = store
        self._log = log
        self._on_failed = on_failed
        self._on_recovered = on_recovered
        self._clock = clock
        self._wall = wall
        self._queue: collections.deque[OutboxEntry] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._abandoned = False
        self._ready_at = 0.0
        self.failing = False
        self._thread = threading.Thread(
            target=self._run, name=f"notify-{destination.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def enqueue(self, entry: OutboxEntry) -> None:
        with self._cond:
            self._queue.append(entry)
            if entry.not_before is not None:
                # Filed before a restart: the monotonic clock has started again. A wall
                # clock set back since is no reason to wait longer than a server may ask.
                wait = min(entry.not_before - self._wall(), RETRY_AFTER_MAX_SECONDS)
                self._ready_at = max(self._ready_at, self._clock() + wait)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def abandon(self) -> None:
        with self._cond:
            self._abandoned = True
            self._cond.notify()

    def _next(self) -> OutboxEntry | None:
        with self._cond:
            while not self._abandoned:
                wait = self._ready_at - self._clock()
                # Stopping still sends what is ready; what waits for a retry waits in the file.
                if self._queue and wait <= 0:
                    return self._queue[0]
                if self._stopping:
                    return None
                self._cond.wait(wait if self._queue else None)
            return None

    def _drop(self, entry: OutboxEntry, reason: str) -> None:
        with self._cond:
            if self._queue and self._queue[0] is entry:
                self._queue.popleft()
        self._store.remove(entry)
        self._log.warning(
            "notify.dropped",
            destination=self.destination.name,
            event=entry.note.kind,
            reason=reason,
        )

    def _run(self) -> None:
        while (entry := self._next()) is not None:
            if reason := give_up_reason(entry, self._wall(), self._cfg):
                self._drop(entry, reason)
                continue
            try:
                self.destination.send(entry.note)
            except DeliveryError as exc:
                self._failed(entry, exc)
            except Exception as exc:  # a bug must not kill its thread, nor tell a secret
                self._failed(entry, DeliveryError(self.destination.redact(brief(repr(exc)))))
            else:
                with self._cond:
                    self._queue.popleft()
                self._store.remove(entry)
                self._log.info(
                    "notify.sent",
                    destination=self.destination.name,
                    event=entry.note.kind,
                    attempts=entry.attempts + 1,
                )
                if self.failing:
                    self.failing = False
                    self._on_recovered(self.destination.name)

    def _failed(self, entry: OutboxEntry, exc: DeliveryError) -> None:
        entry.attempts += 1
        entry.last_error = exc.reason
        if exc.permanent:
            self._drop(entry, f"refused: {exc.reason}")
        else:
            delay = backoff_seconds(
                entry.attempts, self._cfg.retry_initial_seconds, self._cfg.retry_max_seconds
            )
            asked = exc.wait.seconds
            # The server's wait is a floor, not the schedule: Warden's backoff still
            # spreads retry_max_attempts over time when a server asks for little or
            # nothing ("Retry-After: 0"), and a server asking for more is given it, even
            # past retry_max_seconds.
            if asked is not None:
                delay = max(delay, asked)
            entry.not_before = None if asked is None else self._wall() + asked
            with self._cond:
                self._ready_at = self._clock() + delay
            self._store.put(entry)
            told: dict[str, object] = {"retry_after": asked} if asked is not None else {}
            if exc.wait.note is not None:
                told["retry_after_note"] = exc.wait.note
            self._log.info(
                "notify.retry",
                destination=self.destination.name,
                event=entry.note.kind,
                attempt=entry.attempts,
                in_seconds=round(delay, 2),
                reason=exc.reason,
                **told,
            )
            if reason := give_up_reason(entry, self._wall(), self._cfg):
                self._drop(entry, reason)
        # Being asked to slow down is not a failure, unless it cost a message.
        dropped = not self._queue or self._queue[0] is not entry
        if not self.failing and (not exc.rate_limited or dropped):
            self.failing = True
            self._on_failed(self.destination.name, exc.reason)


class Outbox:
    def __init__(
        self,
        destinations: list[Destination],
        cfg: Notifications,
        log: Log,
        on_failed: Callable[[str, str], None] = lambda _d, _r: None,
        on_recovered: Callable[[str], None] = lambda _d: None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._log = log
        self._wall = wall
        self._store = OutboxStore(state_file(cfg, "outbox_file"), log)
        self._workers = {
            d.name: DestinationWorker(d, cfg, self._store, log, on_failed, on_recovered, wall=wall)
            for d in destinations
        }
        carried = 0
        self._store.tighten()
        for entry in self._store.load():
            worker = self._workers.get(entry.destination)
            if worker is None:
                self._store.remove(entry)
                self._log.warning(
                    "notify.dropped",
                    destination=entry.destination,
                    event=entry.note.kind,
                    reason="destination no longer configured",
                )
                continue
            if entry.last_error is not None:
                # An older Warden filed errors as the server gave them, tokens and all.
                entry.last_error = worker.destination.redact(entry.last_error)
                self._store.put(entry)
            worker.enqueue(entry)
            carried += 1
        if carried:
            self._log.info("notify.outbox_restored", undelivered=carried)
        for worker in self._workers.values():
            worker.start()

    def put(self, note: Notification) -> None:
        for name, worker in self._workers.items():
            if name == note.about_destination:
                continue
            entry = OutboxEntry(destination=name, note=note, created=self._wall())
            self._store.put(entry)
            worker.enqueue(entry)

    def undelivered(self) -> list[OutboxEntry]:
        return self._store.entries()

    def close(self, timeout: float = 5.0) -> None:
        """Send what is ready (up to timeout), then stop; the rest stays in the file."""
        for worker in self._workers.values():
            worker.stop()
        deadline = time.monotonic() + timeout
        for worker in self._workers.values():
            worker.join(max(0.0, deadline - time.monotonic()))
        for worker in self._workers.values():
            worker.abandon()
