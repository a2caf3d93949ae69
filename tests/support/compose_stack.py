"""compose.yaml run for real: the compose command, and the copy of compose.yaml it can read."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
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


# --- images built without a registry ---------------------------------------------

# Debian's python3 is 3.11 (bookworm); mosquitto and haproxy stand in for the
# eclipse-mosquitto and docker-socket-proxy images.
BASE_PACKAGES = ("python3", "python3-pip", "mosquitto", "haproxy")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# eclipse-mosquitto's uid, which the README's `chown 1883:1883` of the password file names.
MOSQUITTO_UID = 1883
SUPPORT = Path(__file__).resolve().parent / "compose"


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


def proxy_tag(base: str) -> str:
    files = b"".join((SUPPORT / n).read_bytes() for n in ("proxy.Dockerfile", "haproxy.cfg"))
    return f"warden-test-proxy:{hashlib.sha256(base.encode() + files).hexdigest()[:12]}"


def build_proxy_image(base: str, tag: str) -> None:
    subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "-f",
            str(SUPPORT / "proxy.Dockerfile"),
            "--build-arg",
            f"BASE_IMAGE={base}",
            "-t",
            tag,
            str(SUPPORT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )


def engine_lacks_sys_resource() -> bool:
    """Docker here runs with our capabilities: without CAP_SYS_RESOURCE, no container
    can be privileged (see compose/override.yaml)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not (int(line.split()[1], 16) >> 24) & 1
    return False
