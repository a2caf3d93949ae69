"""The engine's socket behind TLS on a TCP port, as `dockerd --tlsverify -H tcp://...:2376`
serves it: stunnel (Debian's stunnel4) terminates TLS, checks the client's certificate
against the test's CA, and forwards to /var/run/docker.sock."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.broker import free_port, wait_for_port
from tests.support.real import missing
from tests.support.tls import Authority, Pair

DOCKER_SOCKET = "/var/run/docker.sock"


class DockerTlsFront:
    def __init__(self, authority: Authority, server: Pair) -> None:
        binary = shutil.which("stunnel4") or shutil.which("stunnel")
        if binary is None:
            missing("stunnel4 is not installed (apt-get install stunnel4)")
        self.workdir = Path(tempfile.mkdtemp(prefix="warden-stunnel-"))
        self.port = free_port()
        conf = self.workdir / "stunnel.conf"
        conf.write_text(
            "foreground = yes\n"
            "pid =\n"
            "[docker]\n"
            f"accept = 127.0.0.1:{self.port}\n"
            f"connect = {DOCKER_SOCKET}\n"
            f"cert = {server.cert}\n"
            f"key = {server.key}\n"
            f"CAfile = {authority.cert}\n"
            "verifyChain = yes\n"
            "requireCert = yes\n"
        )
        self.log = self.workdir / "stunnel.log"
        self.process = subprocess.Popen(
            [binary, str(conf)], stdout=self.log.open("ab"), stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)
