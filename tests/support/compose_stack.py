"""compose.yaml run for real: the compose command, and the copy of compose.yaml it can read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.support.processes import REPO


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def is_compose_v1(command: list[str]) -> bool:
    return command == ["docker-compose"]


def compose_file_for(command: list[str], directory: Path) -> Path:
    """compose.yaml as shipped, except what the compose at hand cannot read.

    docker-compose 1.29 (Debian's) rejects `cgroup: host`, and an override file
    cannot remove a key, so that one key is dropped from this copy; on a cgroup
    v1 or hybrid host Docker's default cgroup namespace is the host's anyway.
    """
    data = yaml.safe_load((REPO / "compose.yaml").read_text())
    if is_compose_v1(command):
        data["services"]["actuator"].pop("cgroup", None)
    path = directory / "compose.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
