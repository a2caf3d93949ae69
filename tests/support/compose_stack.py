"""compose.yaml run for real: the compose command, and images built without a registry."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

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


# Each Warden service's uid and gid under compose: the Dockerfile's users, compose.yaml's
# `user:`, and the owner scripts/compose-setup gives the service's secret files.
SERVICE_UIDS = {"sensors": 10011, "governor": 10012, "actuator": 0, "notifier": 10013, "web": 10014}


# --- images built without a registry ---------------------------------------------

# Debian's python3 is 3.11 (bookworm); with mosquitto and haproxy, the one image is
# also the broker's (eclipse-mosquitto's stand-in) and the Docker proxy's (haproxy's).
BASE_PACKAGES = ("python3", "python3-pip", "mosquitto", "haproxy")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# eclipse-mosquitto's uid, which the README's `chown 1883:1883` of the password file names.
MOSQUITTO_UID = 1883


def python_requirements() -> list[str]:
    """What `pip install .` needs, so the image builds with --no-index."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [*project["build-system"]["requires"], "wheel", *project["project"]["dependencies"]]


def base_tag() -> str:
    recipe = json.dumps([BASE_PACKAGES, SUITE, python_requirements(), MOSQUITTO_UID])
    return f"warden-test-debian:{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"


def image_exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def build_base_image(tag: str, workdir: Path, debootstrap: str) -> None:
    """debootstrap --variant=minbase | docker import, with the Python dependencies inside."""
    root = workdir / "root"
    subprocess.run(
        [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(BASE_PACKAGES)}",
            SUITE,
            str(root),
            MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    wheels = root / "tmp" / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheels), *python_requirements()],
        check=True,
        capture_output=True,
        timeout=300,
    )
    inside = (
        "PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install -q --no-index /tmp/wheels/*.whl"
        " && rm -rf /tmp/wheels /var/cache/apt/archives/*.deb /var/lib/apt/lists/*"
        f" && usermod -u {MOSQUITTO_UID} mosquitto && groupmod -g {MOSQUITTO_UID} mosquitto"
        f" && install -d -o {MOSQUITTO_UID} -g {MOSQUITTO_UID} /mosquitto/data /mosquitto/config"
    )
    subprocess.run(["chroot", str(root), "sh", "-c", inside], check=True, timeout=300)
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    subprocess.run(
        ["docker", "import", "-c", f"ENV {path}", "-", tag],
        stdin=tar.stdout,
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert tar.wait(60) == 0
    shutil.rmtree(root, ignore_errors=True)
