"""systemd's notify protocol (sd_notify(3)), without libsystemd: one datagram per message.

NOTIFY_SOCKET names a unix datagram socket, a path or, with a leading `@`, an
abstract-namespace name. Outside systemd (no NOTIFY_SOCKET) nothing is sent.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


def socket_address(value: str) -> str:
    # `@name` is the abstract namespace, which the kernel spells with a leading NUL.
    return "\0" + value[1:] if value.startswith("@") else value


def notify(message: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send e.g. "READY=1" or "WATCHDOG=1"; False when not under systemd or it failed."""
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(socket_address(address))
            sock.sendall(message.encode())
    except OSError:
        return False
    return True


def watchdog_interval(
    environ: Mapping[str, str] = os.environ, pid: int | None = None
) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of WatchdogSec, as sd_watchdog_enabled(3)
    advises; None when systemd expects none from this process."""
    usec = environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and owner.isdigit() and int(owner) != (os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1_000_000 / 2
