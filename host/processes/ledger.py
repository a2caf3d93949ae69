"""What a process was before Warden changed it, and the ledger that keeps those records.

The actuator's state store is the ledger (services/actuator/state_store.py); the
protocol names what process control needs of it, so host/ never imports a service.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class ProcessRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str
    pid: int
    start_time: int
    nice: int
    ioprio: int
    affinity: list[int]
    stopped_by_warden: bool = False
    # Clock ticks after boot when it was recorded: a child started later inherited what
    # Warden set, and takes its parent's originals as its own.
    since: int = 0
    # The cgroup2 directory it was in before Warden moved it into one of its own to freeze
    # it (host/processes/freezer.py); None: never moved.
    cgroup: str | None = None


class ProcessLedger(Protocol):
    """Records keyed "pid:start_time" (so a reused pid never matches), and the cgroup
    directories Warden froze. Each change is durable before it returns."""

    def process(self, key: str) -> ProcessRecord | None: ...

    def process_items(self) -> list[tuple[str, ProcessRecord]]: ...

    def record_process(self, key: str, record: ProcessRecord) -> None: ...

    def mark_stopped(self, key: str, stopped: bool) -> None: ...

    def set_cgroup(self, key: str, directory: str | None) -> None: ...

    def forget_process(self, key: str) -> None: ...

    def frozen_by_warden(self, directory: str) -> bool: ...

    def frozen_directories(self) -> list[str]: ...

    def mark_frozen(self, directory: str, frozen: bool) -> None: ...
