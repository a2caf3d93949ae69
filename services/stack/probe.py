"""What warden-stack looks up on the host before it plans: the Docker socket, the cgroup
tree, a broker already listening, and the programs it starts."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from shared.config.docker import LOCAL_SOCKET

# The engine the read-only proxy fronts (deploy/docker-proxy/haproxy.cfg, `server docker`).
PROXIED_SOCKET = LOCAL_SOCKET.removeprefix("unix://")


def docker_socket_ok(docker_url: str) -> bool:
    """False only when a local Docker socket exists and we cannot use it.

    No socket at all means no Docker on this host: not a privilege problem, the
    actuator still manages bare processes and its preflight reports the rest.
    A tcp:// or ssh:// engine cannot be judged from file permissions.
    """
    if not docker_url.startswith("unix://"):
        return True
    socket_path = docker_url.removeprefix("unix://")
    if not os.path.exists(socket_path):
        return True
    return os.access(socket_path, os.R_OK | os.W_OK)


def proxied_engine(docker_url: str) -> bool:
    """Whether the sensors' engine is the local socket the read-only proxy can stand in
    front of (and it is there). Another engine (tcp://, ssh://, a rootless socket) is
    reached as the config says."""
    if not docker_url.startswith("unix://"):
        return False
    path = Path(docker_url.removeprefix("unix://"))
    return path.exists() and path.resolve() == Path(PROXIED_SOCKET).resolve()


def cgroup_writable(cgroup_root: str | Path) -> bool:
    """Can we move processes in the hierarchy (v2 root, or a v1/hybrid controller)?

    On hybrid hosts the root is a tmpfs, often read-only, with the writable
    hierarchies one level down, so the root directory alone proves nothing.
    """
    root = Path(cgroup_root)
    if not root.is_dir():
        return False
    candidates = [root, *(child for child in root.iterdir() if child.is_dir())]
    return any(os.access(c / "cgroup.procs", os.W_OK) for c in candidates)


def port_taken(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def find_supervisord() -> str | None:
    beside_python = Path(sys.executable).parent / "supervisord"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("supervisord")


def find_sbin(name: str) -> str | None:
    """mosquitto, haproxy: /usr/sbin is often not on a normal user's PATH."""
    found = shutil.which(name)
    if found:
        return found
    fallback = Path("/usr/sbin") / name
    return str(fallback) if fallback.exists() else None
