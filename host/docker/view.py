"""A read-only view of Docker: which containers exist, their state and init pid, and events."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import docker

from host.docker.client import DockerError, Endpoint, NotFound, reason
from host.docker.replies import (
    ContainerDetails,
    ContainerSummary,
    EngineEvent,
    EngineInfo,
    ReplyError,
    parse,
    parse_list,
)
from shared.config.check import ContainerLister
from shared.config.model import WardenConfig
from shared.errors import SetupError
from shared.logs import Log

# Docker reports these on the container event stream; each can change what we manage.
INVENTORY_ACTIONS = frozenset(
    {"create", "start", "restart", "die", "stop", "destroy", "pause", "unpause", "rename", "oom"}
)
# Each event stream asks the engine to end it this far ahead (`until`), and the next one
# starts where it ended (`since`): no event is missed between the two, and a connection
# that died without a word is noticed within a window and a grace.
EVENT_WINDOW_SECONDS = 60.0
EVENT_GRACE_SECONDS = 15.0


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


def inspect(api: docker.APIClient, container_id: str) -> ContainerDetails:
    return parse(ContainerDetails, api.inspect_container(container_id), "inspect container")


def info(api: docker.APIClient) -> EngineInfo:
    return parse(EngineInfo, api.info(), "engine info")


def engine_time(api: docker.APIClient) -> float:
    """The engine's clock now, as seconds since the epoch."""
    raw = parse(EngineInfo, api.info(), "engine info").SystemTime
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise ReplyError(f"engine info: SystemTime {raw[:40]!r} is not a time") from None


def _still_its_pid(proc_root: str, pid: int, container_id: str) -> bool:
    """The pid is alive and in the container's cgroup (a restart gives it a new one)."""
    try:
        return container_id in Path(proc_root, str(pid), "cgroup").read_text()
    except OSError:
        return False


def list_containers(
    api: docker.APIClient, known_pids: dict[str, int] | None = None, proc_root: str = "/proc"
) -> list[DockerContainer]:
    """known_pids: container id -> init pid from an earlier call, kept up to date here; a pid
    still alive in its container's cgroup saves an inspect call per container."""
    result = []
    seen: dict[str, int] = {}
    for summary in parse_list(ContainerSummary, api.containers(all=True), "list containers"):
        names = summary.Names or [summary.Id[:12]]
        state = summary.State
        pid = None
        if state in ("running", "paused"):
            cid = summary.Id
            pid = known_pids.get(cid) if known_pids is not None else None
            if pid is None or not _still_its_pid(proc_root, pid, cid):
                try:
                    pid = inspect(api, cid).State.Pid or None
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
    """Streams Docker container events on a thread, in windows the engine ends itself,
    reconnecting when dockerd comes back (on_reconnect: events may have been missed)."""

    def __init__(
        self,
        endpoint: Endpoint,
        on_event: Callable[[ContainerEvent], None],
        log: Log,
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._on_event = on_event
        self._on_reconnect = on_reconnect
        self._log = log
        self._stop = threading.Event()
        self._stream: object | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="docker-events", daemon=True)
        # Counts the event streams opened; None while there is none. A list taken while the
        # same stream is open misses nothing the stream does not bring.
        self.stream: int | None = None
        self._opened = 0
        # Windows asked for, on every stream: they chain on one connection.
        self.windows = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._close_stream()

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()  # type: ignore[attr-defined]

    def _run(self) -> None:
        delay = 1.0
        first = True
        while not self._stop.is_set():
            opened = self._opened
            try:
                api = self._endpoint.client(timeout=None)
                try:
                    self._follow(api, first)
                finally:
                    api.close()
            except DockerError as exc:
                if self._stop.is_set():
                    return
                if self._opened != opened:
                    delay = 1.0  # it was connected: a new outage starts
                # Said once per outage: a host without Docker would otherwise log forever.
                log = self._log.warning if delay == 1.0 else self._log.debug
                log("docker.events_lost", reason=reason(exc), retry_in=delay)
            except Exception:
                if self._stop.is_set():
                    return
                self._log.exception("docker.events_failed")
            first = False
            self.stream = None
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, 30.0)
        self.stream = None

    def _follow(self, api: docker.APIClient, first: bool) -> None:
        """One connection: windows back to back until it fails or the watcher stops. The
        windows are on the engine's clock, which on another host may differ from ours."""
        skew = engine_time(api) - time.time()
        since: float | None = None
        while not self._stop.is_set():
            until = max(time.time() + skew, since or 0.0) + EVENT_WINDOW_SECONDS
            stream = api.events(
                since=since, until=until, filters={"type": "container"}, decode=True
            )
            self.windows += 1
            with self._lock:
                self._stream = stream
            # A connection that died silently never ends its window: close it for the engine.
            ends_here = until - skew + EVENT_GRACE_SECONDS
            watchdog = threading.Timer(ends_here - time.time(), self._close_stream)
            watchdog.daemon = True
            watchdog.start()
            try:
                if since is None:
                    self._opened += 1
                    self.stream = self._opened
                    if not first and self._on_reconnect:
                        self._on_reconnect()  # events were missed while we were away
                for raw in stream:
                    self._deliver(parse(EngineEvent, raw, "events"))
            except (OSError, ValueError, AttributeError) as exc:
                # The stream closed under its read: by stop(), or by the watchdog.
                if not self._stop.is_set():
                    raise docker.errors.DockerException(f"event stream cut: {exc!r}") from None
            finally:
                watchdog.cancel()
            if self._stop.is_set():
                return
            if time.time() >= ends_here:
                raise docker.errors.DockerException("the event stream went silent past its end")
            since = until

    def _deliver(self, event: EngineEvent) -> None:
        # "exec_start: sh -c ...": the action is the part before the colon.
        action = event.Action.split(":")[0]
        if action in INVENTORY_ACTIONS:
            name = (event.Actor.Attributes or {}).get("name", "")
            self._on_event(ContainerEvent(action, event.Actor.ID, name))


# --- --check-config ----------------------------------------------------------------------


def running_names(endpoint: Endpoint, timeout: float = 5) -> list[str]:
    """The running containers' names, read-only (one list call). Raises DockerError."""
    api = endpoint.client(timeout)
    try:
        summaries = parse_list(ContainerSummary, api.containers(), "list containers")
    finally:
        api.close()
    return sorted((s.Names or [s.Id[:12]])[0].lstrip("/") for s in summaries)


def container_lister(section: Literal["sensors", "actuator"]) -> ContainerLister:
    """How --check-config asks Docker, through the config section's own way to the engine:
    (its address, the running names or why it could not be asked)."""

    def lister(cfg: WardenConfig) -> tuple[str, list[str] | str]:
        access = cfg.sensors if section == "sensors" else cfg.actuator
        try:
            endpoint = Endpoint.of(access, section)
        except SetupError as exc:
            return access.resolved_url(os.environ), str(exc)
        try:
            return endpoint.url, running_names(endpoint)
        except DockerError as exc:
            return endpoint.url, reason(exc)

    return lister
