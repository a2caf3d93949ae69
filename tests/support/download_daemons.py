"""Real qbittorrent-nox and transmission-daemon for tests, on loopback only, talking to no one.

DHT, PeX, local peer discovery and port mapping are off and every listener is
bound to 127.0.0.1, so nothing leaves this machine.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.support.broker import free_port, wait_for_port

QBT_USER, QBT_PASSWORD = "warden", "test-password-1"


def _qbt_password_hash(password: str) -> str:
    """qBittorrent's WebUI\\Password_PBKDF2: PBKDF2-HMAC-SHA512, 100000 rounds, salt:key."""
    salt = os.urandom(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


class Daemon:
    def __init__(self, argv: list[str], port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process = subprocess.Popen(argv, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        wait_for_port(port, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_qbittorrent(workdir: Path) -> Daemon:
    binary = shutil.which("qbittorrent-nox")
    if binary is None:
        raise RuntimeError("qbittorrent-nox is not installed (apt-get install qbittorrent-nox)")
    port = free_port()
    config = workdir / "qBittorrent" / "config"
    config.mkdir(parents=True)
    (config / "qBittorrent.conf").write_text(
        "[LegalNotice]\nAccepted=true\n\n"
        "[BitTorrent]\nSession\\DHTEnabled=false\nSession\\PeXEnabled=false\n"
        "Session\\LSDEnabled=false\nSession\\Interface=lo\nSession\\InterfaceName=lo\n"
        "Session\\InterfaceAddress=127.0.0.1\nSession\\Port=0\n\n"
        "[Preferences]\nConnection\\UPnP=false\nWebUI\\Address=127.0.0.1\n"
        f"WebUI\\Port={port}\nWebUI\\Username={QBT_USER}\n"
        f'WebUI\\Password_PBKDF2="{_qbt_password_hash(QBT_PASSWORD)}"\n'
    )
    return Daemon([binary, f"--profile={workdir}"], port, workdir / "qbittorrent.log")


def start_transmission(workdir: Path) -> Daemon:
    binary = shutil.which("transmission-daemon")
    if binary is None:
        raise RuntimeError("transmission-daemon is not installed (apt-get install ...)")
    port = free_port()
    argv = [
        binary,
        "-f",
        "-g",
        str(workdir),
        "-p",
        str(port),
        "-r",
        "127.0.0.1",
        "-a",
        "127.0.0.1",
        "-T",
        "-O",
        "-Y",
        "-M",
        "--no-utp",
        "-P",
        str(free_port()),
        "-i",
        "127.0.0.1",
        "-I",
        "::1",
    ]
    return Daemon(argv, port, workdir / "transmission.log")
