"""A real Mosquitto with a password file and an ACL, and clients that log in to it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

from tests.support.broker import free_port, wait_for_port
from tests.support.real import missing
from tests.support.tls import Pair

# The ACL Warden ships (generated from shared/channels.py), as every broker test uses it.
SHIPPED_ACL = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "acl"


def mosquitto_passwd() -> str | None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    return tool if Path(tool).exists() else None


def write_passwd(path: Path, users: Mapping[str, str]) -> None:
    tool = mosquitto_passwd()
    assert tool is not None
    for index, (user, password) in enumerate(users.items()):
        create = ["-c"] if index == 0 else []
        subprocess.run([tool, *create, "-b", str(path), user, password], check=True)


@dataclass(frozen=True)
class TlsListener:
    ca: Path
    server: Pair
    # A client must show a certificate the CA signed; its common name is its login.
    client_certificates: bool = False

    def config(self, workdir: Path) -> str:
        """The listener's TLS lines; the files are copied where the broker's user reads."""
        copies = {}
        for name, path in (("ca.crt", self.ca), ("server.crt", self.server.cert)):
            copies[name] = shutil.copy(path, workdir / name)
        copies["server.key"] = shutil.copy(self.server.key, workdir / "server.key")
        for copy in copies.values():
            Path(copy).chmod(0o644)
        lines = (
            f"cafile {copies['ca.crt']}\ncertfile {copies['server.crt']}\n"
            f"keyfile {copies['server.key']}\n"
        )
        if self.client_certificates:
            lines += "require_certificate true\nuse_identity_as_username true\n"
        return lines


# A broker's whole mosquitto.conf from its port, password file and ACL file.
ConfText = Callable[[int, Path, Path], str]


class AclBroker:
    """Mosquitto on a free loopback port with `acl` and a password file for `users`.

    Mosquitto drops root for its own user before reading the password and ACL
    files, and pytest's tmp_path is private to root, so they live elsewhere.
    """

    def __init__(
        self,
        acl: Path,
        users: Mapping[str, str],
        allow_anonymous: bool,
        tls: TlsListener | None = None,
        conf: ConfText | None = None,
    ) -> None:
        """tls: the only listener speaks TLS, with these certificates. conf: a shipped
        config with its port and paths moved here, instead of this class's own lines."""
        self.workdir = Path(tempfile.mkdtemp(prefix="warden-acl-"))
        self.workdir.chmod(0o755)
        self.users = dict(users)
        passwd = self.workdir / "passwd"
        if users:
            write_passwd(passwd, users)
        else:
            passwd.write_text("")
        shutil.copy(acl, self.workdir / "acl")
        for file in (passwd, self.workdir / "acl"):
            file.chmod(0o644)
        self.port = free_port()
        anonymous = f"allow_anonymous {'true' if allow_anonymous else 'false'}\n"
        if conf is None:
            text = (
                f"listener {self.port} 127.0.0.1\n"
                + (tls.config(self.workdir) if tls else "")
                + anonymous
                + f"password_file {passwd}\n"
                f"acl_file {self.workdir / 'acl'}\n"
                "persistence false\n"
            )
        else:
            text = conf(self.port, passwd, self.workdir / "acl")
            assert anonymous in text, f"the config does not say {anonymous.strip()}"
        conf_path = self.workdir / "mosquitto.conf"
        conf_path.write_text(text)
        self.log_path = self.workdir / "mosquitto.log"
        self._log = self.log_path.open("ab")
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen(
            [binary, "-c", str(conf_path)], stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_for_port(self.port)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class LoginRefused(Exception):
    """The broker answered a login with a refusal (a CONNACK with a failure code)."""


class Client:
    """One login (or none); records what it receives. Raises LoginRefused where the
    broker refuses the login."""

    def __init__(self, port: int, user: str | None, password: str | None = None) -> None:
        self.name = user or "anonymous"
        self.received: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._accepted = False
        self._acked: set[int] = set()
        self._suback = threading.Condition(self._lock)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        answered = self._answered.wait(10)
        if not (answered and self._accepted):
            self.close()
            if answered:
                raise LoginRefused(self.name)
            raise TimeoutError(f"no answer from the broker to {self.name}'s login")

    def _on_connect(self, _c: object, _u: object, _f: object, reason: object, _p: object) -> None:
        if not self._answered.is_set():
            self._accepted = not getattr(reason, "is_failure", True)
            self._answered.set()

    def _on_subscribe(self, _c: object, _u: object, mid: int, _r: object, _p: object) -> None:
        with self._suback:
            self._acked.add(mid)
            self._suback.notify_all()

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append((message.topic, bytes(message.payload)))

    def seen(self) -> set[tuple[str, bytes]]:
        with self._lock:
            return set(self.received)

    def payloads(self, topic: str) -> list[bytes]:
        with self._lock:
            return [payload for t, payload in self.received if t == topic]

    def subscribe(self, *topics: str) -> None:
        """Returns once the broker has acknowledged each (its SUBACK): from then on it
        forwards every message published to them."""
        for topic in topics:
            result, mid = self.client.subscribe(topic, 1)
            assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None
            assert self._wait_for_suback(mid), f"{self.name}: no SUBACK for {topic}"

    def _wait_for_suback(self, mid: int) -> bool:
        with self._suback:
            return self._suback.wait_for(lambda: mid in self._acked, timeout=10)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def refused(port: int, user: str | None, password: str | None = None) -> bool:
    """Whether the broker refuses this login (None: no login at all)."""
    try:
        client = Client(port, user, password)
    except LoginRefused:
        return True
    client.close()
    return False


def password(user: str) -> str:
    """Each test login's password."""
    return f"{user}-secret"


@contextmanager
def shipped_acl_broker(
    users: Iterable[str],
    allow_anonymous: bool,
    tls: TlsListener | None = None,
    conf: ConfText | None = None,
) -> Iterator[AclBroker]:
    """A broker with the shipped ACL and a login for each user (password(user)); conf as
    AclBroker's."""
    if mosquitto_passwd() is None:
        missing("mosquitto_passwd is not installed (apt-get install mosquitto)")
    broker = AclBroker(SHIPPED_ACL, {u: password(u) for u in users}, allow_anonymous, tls, conf)
    try:
        yield broker
    finally:
        broker.close()


def login(broker: AclBroker, user: str) -> Client:
    """A client logged in as user ("anonymous": none)."""
    if user == "anonymous":
        return Client(broker.port, None)
    return Client(broker.port, user, broker.users[user])


def mqtt_login(broker: AclBroker, user: str) -> dict[str, object]:
    """A service's `mqtt:` section that logs in as user."""
    return {"host": "127.0.0.1", "port": broker.port, "username": user, "password": password(user)}
