"""What tests of PSI need from this machine: the kernel's pressure files, a container's own."""

from __future__ import annotations

from pathlib import Path

from host.cgroups.view import detect_layout, process_cgroups
from tests.support.docker_env import Containers
from tests.support.real import missing


def need_psi() -> None:
    if not Path("/proc/pressure/memory").exists():
        missing("this kernel has no PSI (/proc/pressure)")


def container_cgroup(containers: Containers, cid: str) -> Path:
    layout = detect_layout("/sys/fs/cgroup")
    v2 = process_cgroups(layout, "/proc", containers.pid(cid)).v2
    if v2 is None or not (v2 / "memory.pressure").exists():
        missing("no cgroup2 pressure files for containers on this host")
    return v2
