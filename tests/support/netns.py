"""Test hosts as network namespaces on this machine: each its own address, one switch.

A namespace `<prefix>-sw` holds a Linux bridge; every host namespace gets a
veth pair into it, and so does the test process's own namespace, so the
test reaches every host at its address. Addresses come from 198.18.0.0/24
(the range set aside for benchmarking networks): nothing here leaves the
machine. Docker, the cgroups and the file system stay shared by all hosts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Sequence

SUBNET = "198.18.0"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def available() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "iproute2 is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"wtprobe{uuid.uuid4().hex[:6]}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return f"cannot make a network namespace: {result.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


class TestNetwork:
    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        self.prefix = f"wn{uuid.uuid4().hex[:5]}"
        self.switch = f"{self.prefix}-sw"
        self.hosts: dict[str, str] = {}  # name -> address
        self._next = 1
        # Every namespace made, as soon as it is made: close() removes them all.
        self._made: list[str] = [self.switch]
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        # The test process's own leg, last address of the subnet.
        self._plug(None, 0, f"{SUBNET}.254")

    def _plug(self, namespace: str | None, number: int, address: str) -> None:
        # Interface names have at most 15 characters.
        inside, port = f"{self.prefix}v{number}e", f"{self.prefix}v{number}p"
        _ip("link", "add", inside, "type", "veth", "peer", "name", port)
        _ip("link", "set", port, "netns", self.switch)
        _ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        where = ["-n", namespace] if namespace else []
        if namespace:
            _ip("link", "set", inside, "netns", namespace)
            _ip(*where, "link", "set", inside, "name", "eth0")
            inside = "eth0"
            _ip(*where, "link", "set", "lo", "up")
        _ip(*where, "addr", "add", f"{address}/24", "dev", inside)
        _ip(*where, "link", "set", inside, "up")

    def add_host(self, name: str) -> str:
        """A new namespace `<prefix>-<name>` with its own loopback and address; the address."""
        namespace = self.namespace(name)
        _ip("netns", "add", namespace)
        self._made.append(namespace)
        address = f"{SUBNET}.{self._next}"
        self._next += 1
        self._plug(namespace, self._next - 1, address)
        self.hosts[name] = address
        return address

    def namespace(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def wrap(self, name: str) -> list[str]:
        """The argv prefix that runs a command inside host `name`."""
        return ["ip", "netns", "exec", self.namespace(name)]

    def run(self, name: str, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.wrap(name), *argv], capture_output=True, text=True, timeout=30, check=False
        )

    def link(self, name: str, up: bool) -> None:
        """Plug host `name`'s cable in or out (its own side of the veth)."""
        _ip("-n", self.namespace(name), "link", "set", "eth0", "up" if up else "down")

    def close(self) -> None:
        for namespace in reversed(self._made):
            pids = subprocess.run(
                ["ip", "netns", "pids", namespace], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", f"{self.prefix}v0e"], capture_output=True)
