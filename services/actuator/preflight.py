"""What this host lets the actuator do, found once at start and reported once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from host.block_devices import devices_backing
from host.cgroups.view import CgroupLayout, detect_layout
from host.docker.client import DockerError, Engine, reason
from host.docker.view import info
from shared.config.model import Actuator


@dataclass
class Preflight:
    layout: CgroupLayout
    docker_problem: str | None
    docker_root: str | None
    io_devices: list[str]
    problems: list[str] = field(default_factory=list)


def run_preflight(settings: Actuator, docker: Engine) -> Preflight:
    layout = detect_layout(settings.cgroup_root)
    problems: list[str] = []
    docker_problem = docker_root = None
    try:
        docker_root = info(docker.api).DockerRootDir
    except DockerError as exc:
        docker_problem = f"Docker API at {docker.url} unreachable: {reason(exc)}"
        problems.append(docker_problem)
    if layout.v2_mount is None and not layout.v1_mounts:
        problems.append(f"no cgroup hierarchy under {settings.cgroup_root}")
    else:
        writable = [
            p for p in [layout.v2_mount, *layout.v1_mounts.values()] if p and os.access(p, os.W_OK)
        ]
        if not writable:
            problems.append(
                f"cgroup files under {settings.cgroup_root} are not writable (not root?)"
            )
        if layout.kind != "v2" and "memory" not in layout.v1_mounts:
            problems.append("no memory controller: memory.high cannot be applied")
    io_devices = devices_backing(docker_root) if docker_root else []
    if docker_root and not io_devices:
        problems.append(f"no block device found behind {docker_root}: io.max cannot be applied")
    return Preflight(layout, docker_problem, docker_root, io_devices, problems)
