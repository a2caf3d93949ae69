"""ADRG's general section: the poll interval, logging and where the HTTP API listens."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config.base import Port, Section


class HttpServer(Section):
    ADRG_KEYS = frozenset({"enabled", "host", "port"})

    enabled: bool = Field(
        default=True,
        description="serve ADRG's HTTP API and Warden's (the web service); false: no listener",
    )
    host: str = Field(
        default="127.0.0.1",
        description="address the web service listens on; beyond loopback it needs web tokens",
    )
    port: Port = Field(default=8765, description="TCP port of the HTTP API and dashboard")


class General(Section):
    ADRG_KEYS = frozenset(
        {
            "poll_interval_seconds",
            "state_file",
            "log_file",
            "log_max_bytes",
            "log_backup_count",
            "http_server",
        }
    )

    poll_interval_seconds: Annotated[float, Field(gt=0)] = Field(
        default=5,
        description="seconds between the sensors' readings of containers, usage, temperatures "
        "and GPUs (and pressure, without PSI triggers)",
    )
    state_file: str = Field(
        default="/run/adrg/state.json",
        description="ADRG's state file: accepted so an ADRG config loads, never read "
        "(Warden keeps what it changed in `actuator.state_file`)",
    )
    log_file: str | None = Field(
        default=None,
        description="also log to a rotated file per service (`adrg.log` gives "
        "`adrg.sensors.log`, ...); none: stderr only",
    )
    log_max_bytes: Annotated[int, Field(gt=0)] = Field(
        default=10 * 1024 * 1024, description="rotate `log_file` at this size, in bytes"
    )
    log_backup_count: Annotated[int, Field(ge=0)] = Field(
        default=3, description="rotated log files kept beside `log_file`"
    )
    http_server: HttpServer = Field(default=HttpServer(), description="where the HTTP API listens")
