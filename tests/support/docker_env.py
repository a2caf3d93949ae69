"""The real Docker engine, with a busybox image imported locally (no registry is reachable)."""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors

from host.docker.client import Endpoint, Engine
from shared.config.docker import DockerAccess


def engine() -> Engine:
    """Warden's way to the engine that docker.APIClient() in the tests talks to."""
    return Engine(Endpoint.of(DockerAccess(), "sensors"))


APPLETS = ("sh", "sleep", "cat", "ls", "echo", "head", "dd")
# Tagged by its contents: a machine that built an older image builds this one anew.
IMAGE = "warden-test-busybox:" + hashlib.sha256(" ".join(APPLETS).encode()).hexdigest()[:12]


def busybox_binary() -> Path:
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    raise RuntimeError("busybox is not installed (apt-get install busybox-static)")


def rootfs_tar() -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.add(busybox_binary(), arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
    return data.getvalue()


def ensure_image(api: docker.APIClient) -> str:
    try:
        api.inspect_image(IMAGE)
    except docker.errors.ImageNotFound:
        repository, tag = IMAGE.split(":")
        api.import_image_from_data(rootfs_tar(), repository=repository, tag=tag)
    return IMAGE


class Containers:
    """Creates busybox containers with unique names and removes them afterwards."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self.prefix = f"wt{uuid.uuid4().hex[:6]}"
        self.ids: list[str] = []

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def run(
        self, suffix: str, command: tuple[str, ...] = ("sleep", "3600"), /, **host: object
    ) -> str:
        """host: Docker's host config (binds, cgroup_parent, ...); positional before it, so
        no host key can be taken for the command."""
        created = self.api.create_container(
            IMAGE,
            list(command),
            name=self.name(suffix),
            host_config=self.api.create_host_config(network_mode="none", **host),
        )
        self.ids.append(created["Id"])
        self.api.start(created["Id"])
        return created["Id"]

    def state(self, container_id: str) -> str:
        return self.api.inspect_container(container_id)["State"]["Status"]

    def in_state(self, container_id: str, state: str) -> Callable[[], bool]:
        """wait_until's condition, bound to this container: a lambda in a loop over
        containers would see the loop's last one."""
        return lambda: self.state(container_id) == state

    def pid(self, container_id: str) -> int:
        return self.api.inspect_container(container_id)["State"]["Pid"]

    def remove_all(self) -> None:
        for cid in self.ids:
            try:
                self.api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                try:
                    self.api.unpause(cid)
                    self.api.remove_container(cid, force=True)
                except docker.errors.APIError:
                    pass

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)


def control_state(containers: Containers, cid: str) -> tuple[dict[str, str], dict[str, int]]:
    """What Warden may change of a running container: every cgroup control file, raw, and
    Docker's own record of its cpu and memory limits."""
    from host.cgroups.control import snapshot
    from host.cgroups.view import detect_layout, process_cgroups

    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))
    host_config = containers.api.inspect_container(cid)["HostConfig"]
    return snapshot(cg), {k: host_config[k] for k in ("CpuShares", "Memory", "MemorySwap")}
