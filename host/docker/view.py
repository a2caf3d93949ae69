"""A read-only view of Docker: which containers exist, their state and init pid, and events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from host.docker.engine import DockerEngine, EngineError, NotFound
from host.docker.engine import connect as connect
from shared.errors import brief
from shared.logs import Log

# Docker reports these on the container event stream; each can change what we manage.
INVENTORY_ACTIONS = frozenset(
    {"create", "start", "restart", "die", "stop", "destroy", "pause", "unpause", "rename", "oom"}
)
DockerError = EngineError


@dataclass(frozen=True)
class DockerContainer:
    id: str
    name: str
    state: str
    # The container's init process on the host; None when it is not running.
    pid: int | None
    # Host paths mounted into it (volumes, binds): their disks carry its I/O.
    mounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerEvent:
    action: str
    id: str
    name: str


def _still_its_pid(proc_root: str, pid: int, container_id: str) -> bool:
    """The pid is alive and in the container's cgroup (a restart gives it a new one)."""
    try:
        return container_id in Path(proc_root, str(pid), "cgroup").read_text()
    except OSError:
        return False


def list_containers(
    api: DockerEngine, known_pids: dict[str, int] | None = None, proc_root: str = "/proc"
) -> list[DockerContainer]:
    """known_pids: container id -> init pid from an earlier call, kept up to date here; a pid
    still alive in its container's cgroup saves an inspect call per container."""
    result = []
    seen: dict[str, int] = {}
    for summary in api.containers(all=True):
        names = summary.Names or [summary.Id[:12]]
        state = summary.State
        pid = None
        if state in ("running", "paused"):
            cid = summary.Id
            pid = known_pids.get(cid) if known_pids is not None else None
            if pid is None or not _still_its_pid(proc_root, pid, cid):
                try:
                    pid = api.inspect_container(cid).State.Pid or None
                except NotFound:
                    continue  # removed between the list and the inspect
            if pid:
                seen[cid] = pid
        mounts = tuple(m.Source for m in summary.Mounts or [] if m.Source)
        result.append(DockerContainer(summary.Id, names[0].lstrip("/"), state, pid, mounts))
    if known_pids is not None:
        known_pids.clear()
        known_pids.update(seen)
    return result


class EventWatcher:
    """Streams Docker container events on a thread, reconnecting when dockerd comes back."""

    def __init__(
        self,
        url: str,
        on_event: Callable[[ContainerEvent], None],
        log: Log,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._url = url
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self._log = log
        self._stop = threading.Event()
        self._api: DockerEngine | None = None
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        # Counts the event streams opened; None while there is none. A list taken while the
        # same stream is open misses nothing the stream does not bring.
        self.stream: int | None = None
        self._opened = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._api is not None:
            self._api.close()

    def _run(self) -> None:
        delay = 1.0
        first = True
        while not self._stop.is_set():
            try:
                self._api = connect(self._url, timeout=None)
                stream = self._api.events(filters={"type": "container"})
                self._opened += 1
                self.stream = self._opened
                if not first and self._on_reconnect:
                    self._on_reconnect()  # events were missed while we were away
                first = False
                delay = 1.0
                for raw in stream:
                    # "exec_start: sh -c ...": the action is the part before the colon.
                    action = raw.Action.split(":")[0]
                    if action in INVENTORY_ACTIONS:
                        name = (raw.Actor.Attributes or {}).get("name", "")
                        self._on_event(ContainerEvent(action, raw.Actor.ID, name))
            except DockerError as exc:
                if self._stop.is_set():
                    return
                # Said once per outage: a host without Docker would otherwise log forever.
                log = self._log.warning if delay == 1.0 else self._log.debug
                log("docker.events_lost", reason=brief(exc), retry_in=delay)
            except Exception:
                if self._stop.is_set():
                    return
                self._log.exception("docker.events_failed")
            self.stream = None
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)
