"""Warden's actuator: where it changes the host, and the bounds it keeps whatever it is asked."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config.base import Seconds, Size
from shared.config.docker import DockerAccess
from shared.units import parse_size

DEFAULT_STATE_FILE = "/var/lib/warden/actuator-state.json"


class Actuator(DockerAccess):
    dry_run: bool = Field(
        default=False, description="log what would change and touch nothing (also `--dry-run`)"
    )
    cgroup_root: str = Field(
        default="/sys/fs/cgroup", description="where the actuator finds cgroups"
    )
    proc_root: str = Field(default="/proc", description="where the actuator finds processes")
    state_file: str = Field(
        default=DEFAULT_STATE_FILE,
        description="what Warden changed, with the original values, so a restart (and "
        "`--cleanup`, after a power loss too) can undo it; on persistent storage",
    )
    max_lease_seconds: Annotated[float, Field(ge=2, le=86400)] = Field(
        default=300,
        description="a desired state's lease is never longer than this here, whatever it asks",
    )
    startup_grace_seconds: Seconds = Field(
        default=5,
        description="after a start, wait this long for a live desired state before acting on none",
    )
    min_memory_high: Size = Field(
        default=parse_size("64M"),
        description="memory.high is never set below this, whatever is asked",
    )
    resync_seconds: Annotated[float, Field(gt=0)] = Field(
        default=60, description="re-read the host and re-apply everything this often (seconds)"
    )
    # Restart bounds the actuator enforces whatever the governor asks (ADRG's gates).
    restart_container_interval_seconds: Seconds | None = Field(
        default=None,
        description="at most one restart of a container this often; none: "
        "`memory_pressure.restart_cooldown_seconds`",
    )
    restart_global_interval_seconds: Seconds | None = Field(
        default=None,
        description="at most one restart of any container this often; none: "
        "`memory_pressure.restart_cooldown_seconds`",
    )
    # Bare processes come and go without events, hence a scan.
    process_scan_seconds: Annotated[float, Field(gt=0)] = Field(
        default=2, description="how often (seconds) to look for new process-group members"
    )
