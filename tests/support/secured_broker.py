"""A real Mosquitto as deploy/ ships it for compose: per-service users and the shipped ACL."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.broker import free_port, wait_for_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto"


def shipped_conf(port: int, workdir: Path) -> str:
    """deploy/mosquitto/compose.conf with only its paths and port moved here."""
    replacements = {
        "listener": f"listener {port} 127.0.0.1",
        "password_file": f"password_file {workdir / 'passwd'}",
        "acl_file": f"acl_file {workdir / 'acl'}",
        "persistence": "persistence false",
        "persistence_location": "",
    }
    lines = []
    for line in (DEPLOY / "compose.conf").read_text().splitlines():
        key = line.split(" ", 1)[0]
        lines.append(replacements.get(key, line) if not line.startswith("#") else line)
    return "\n".join(lines) + "\n"


class SecuredMosquitto:
    """Every user logs in with the password `<name>-secret`."""

    def __init__(self, users: tuple[str, ...]) -> None:
        passwd_tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not (Path(passwd_tool).exists() and Path(binary).exists()):
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        # Mosquitto drops root for its own user before reading the password and ACL
        # files, and pytest's tmp_path is private to root, so these live elsewhere.
        self.workdir = Path(tempfile.mkdtemp(prefix="warden-acl-"))
        self.workdir.chmod(0o755)
        self.passwords = {name: f"{name}-secret" for name in users}
        passwd = self.workdir / "passwd"
        for index, (user, password) in enumerate(self.passwords.items()):
            create = ["-c"] if index == 0 else []
            subprocess.run([passwd_tool, *create, "-b", str(passwd), user, password], check=True)
        shutil.copy(DEPLOY / "acl", self.workdir / "acl")
        for file in (passwd, self.workdir / "acl"):
            file.chmod(0o644)
        self.host = "127.0.0.1"
        self.port = free_port()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(shipped_conf(self.port, self.workdir))
        self._log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)

    def login(self, user: str) -> dict[str, object]:
        """The config's mqtt section for a service logged in as user."""
        return {
            "host": self.host,
            "port": self.port,
            "username": user,
            "password": self.passwords[user],
        }

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
