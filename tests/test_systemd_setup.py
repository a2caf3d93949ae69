"""`warden-stack --setup-systemd`, run for real (as root, into a directory standing for /):
run twice it leaves the same files; every secret is root's alone, the broker's files the
broker's; the units it installs score as the shipped ones; and Debian's Mosquitto, given
the snippet, password file and ACL it wrote, refuses anonymous clients and lets each
service write only its own topics."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.systemd import unit_text
from tests.support.acl_broker import Client, refused
from tests.support.broker import free_port, wait_for_port
from tests.support.processes import REPO, wait_until
from tests.support.real import missing
from tests.support.service_users import shared_workdir
from tests.support.systemd_units import LIMITS, SERVICES, exposure, read_unit

Files = dict[str, tuple[str, str, int, str]]


def setup(root: Path) -> subprocess.CompletedProcess[str]:
    """As the README's command, into `root`, the units naming /opt/warden/bin as it says."""
    options = ["--setup-systemd", "--root", str(root), "--bin-dir", "/opt/warden/bin"]
    return subprocess.run(
        [sys.executable, "-m", "services.stack", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files(root: Path) -> Files:
    """path -> (owner, group, mode, content hash) of everything under root."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        owner, group = pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name
        found[str(path.relative_to(root))] = (owner, group, stat.S_IMODE(info.st_mode), digest)
    return found


@pytest.fixture
def installed() -> Iterator[tuple[Path, Files]]:
    if os.geteuid() != 0:
        missing("--setup-systemd makes system users and root's files: needs root")
    if not Path("/usr/sbin/mosquitto").exists():
        missing("Mosquitto is not installed (apt-get install mosquitto)")
    root = shared_workdir("warden-setup-")
    try:
        first = setup(root)
        assert first.returncode == 0, first.stderr
        snapshot = files(root)
        second = setup(root)
        assert second.returncode == 0, second.stderr
        yield root, snapshot
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_setup_twice_leaves_the_same_files(installed: tuple[Path, Files]) -> None:
    root, first = installed
    assert files(root) == first
    secrets = [
        "etc/warden/signing.key",
        "etc/warden/web-admin.token",
        *(f"etc/warden/mqtt/{name}.password" for name in (*SERVICES, "homeassistant")),
        *(f"etc/warden/warden-{name}.env" for name in SERVICES),
    ]
    for path in secrets:
        assert first[path][:3] == ("root", "root", 0o600), path
    assert first["etc/warden/mqtt"][:3] == ("root", "root", 0o700)
    assert first["etc/warden"][:3] == ("root", "warden", 0o750)
    assert first["etc/warden/config.yaml"][:3] == ("root", "warden", 0o640)
    for path in ("etc/mosquitto/warden/passwd", "etc/mosquitto/warden/acl"):
        assert first[path][:3] == ("mosquitto", "mosquitto", 0o600), path
    assert first["var/lib/warden"][:3] == ("root", "root", 0o755)
    assert first["var/lib/warden/web"][:3] == ("warden-web", "warden-web", 0o700)
    assert first["var/lib/warden/notifier"][:3] == ("warden-notifier", "warden-notifier", 0o700)
    # The env file carries the password the broker knows the service by.
    for name in SERVICES:
        password = (root / f"etc/warden/mqtt/{name}.password").read_text().strip()
        env = (root / f"etc/warden/warden-{name}.env").read_text()
        assert f"WARDEN_MQTT_PASSWORD={password}\n" in env


def test_the_installed_units_are_the_shipped_ones(installed: tuple[Path, Files]) -> None:
    root, _files = installed
    for shipped in (REPO / "deploy" / "systemd").iterdir():
        text = (root / "etc/systemd/system" / shipped.name).read_text()
        group = grp.getgrgid(Path("/var/run/docker.sock").stat().st_gid).gr_name
        assert text == unit_text(shipped.read_text(), "/opt/warden/bin", group)
        assert read_unit(root / "etc/systemd/system" / shipped.name)
    for unit, limit in LIMITS.items():
        assert exposure(f"--root={root}", unit) <= limit, unit


def test_the_system_mosquitto_takes_only_the_logins(installed: tuple[Path, Files]) -> None:
    root, _files = installed
    snippet = (root / "etc/mosquitto/conf.d/warden.conf").read_text()
    assert "allow_anonymous false" in snippet
    port = free_port()
    # The snippet as Mosquitto reads it, with its paths under root and a free port.
    conf = root / "mosquitto-test.conf"
    conf.write_text(
        snippet.replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1").replace(
            "/etc/mosquitto/warden/", f"{root}/etc/mosquitto/warden/"
        )
        + "persistence false\n"
    )
    broker = subprocess.Popen(
        ["/usr/sbin/mosquitto", "-c", str(conf)],
        stdout=(root / "mosquitto.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    clients: dict[str, Client] = {}
    try:
        wait_for_port(port, timeout=15)
        assert refused(port, None)
        assert refused(port, "governor", "wrong")
        passwords = {
            name: (root / f"etc/warden/mqtt/{name}.password").read_text().strip()
            for name in ("governor", "actuator", "homeassistant")
        }
        for name, password in passwords.items():
            clients[name] = Client(port, name, password)
        watcher, governor, actuator = (
            clients[n] for n in ("homeassistant", "governor", "actuator")
        )
        watcher.subscribe("warden/#")
        actuator.publish("warden/h/desired", b"forged")
        # Published once the broker acknowledged the forged one: a watcher sees them in
        # the order the broker took them, so the forged one, had it got through, came first.
        governor.publish("warden/h/desired", b"signed")
        wait_until(lambda: ("warden/h/desired", b"signed") in watcher.seen(), what="the governor's")
        assert watcher.received == [("warden/h/desired", b"signed")]
    finally:
        for client in clients.values():
            client.close()
        broker.terminate()
        broker.wait(10)
