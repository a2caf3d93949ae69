"""TLS on the real parts: a Mosquitto that listens only on TLS with the shipped ACL and
password logins (and one that logs clients in by their certificates), the Docker engine
behind a TLS front that checks the client's certificate. Certificates are the test's own."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.acl_broker import SHIPPED_ACL, AclBroker, TlsListener, mosquitto_passwd
from tests.support.broker import free_port
from tests.support.docker_env import Containers
from tests.support.docker_tls import DockerTlsFront
from tests.support.probe import Probe
from tests.support.processes import SERVICES, Service, wait_until, write_config
from tests.support.real import missing
from tests.support.tls import Authority


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


def tls_broker(authority: Authority, users: dict[str, str], **kw: bool) -> AclBroker:
    if mosquitto_passwd() is None:
        missing("mosquitto_passwd is not installed (apt-get install mosquitto)")
    listener = TlsListener(authority.cert, authority.issue("broker", server=True), **kw)
    return AclBroker(SHIPPED_ACL, users, allow_anonymous=False, tls=listener)


@pytest.fixture
def docker_front(authority: Authority) -> Iterator[DockerTlsFront]:
    front = DockerTlsFront(authority, authority.issue("dockerd", server=True))
    yield front
    front.close()


def config(
    tmp_path: Path, name: str, host_id: str, mqtt: dict[str, object], **sections: object
) -> Path:
    return write_config(
        tmp_path / f"{name}.yaml",
        {
            "host_id": host_id,
            "mqtt": mqtt,
            "io_pressure": {"enabled": False},
            "general": {"http_server": {"host": "127.0.0.1", "port": free_port()}},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            **sections,
        },
    )


def test_the_five_services_on_a_tls_only_broker_pause_through_a_tls_engine(
    tmp_path: Path,
    authority: Authority,
    docker_front: DockerTlsFront,
    containers: Containers,
    host_id: str,
) -> None:
    """Every service logs in as itself over TLS (the shipped ACL), the actuator reaches
    Docker over TLS with a client certificate, and a trigger pauses and resumes tier 3."""
    users = {name: f"{name}-secret" for name in (*SERVICES, "homeassistant")}
    broker = tls_broker(authority, users)
    t3 = containers.run("t3")
    client = authority.issue("warden-actuator", server=False)
    tls = {"ca_certs": str(authority.cert)}
    services = []
    try:
        for name in SERVICES:
            mqtt = {"host": "127.0.0.1", "port": broker.port, "tls": tls}
            mqtt |= {"username": name, "password": users[name]}
            sections: dict[str, object] = {"tiers": {3: {"containers": [containers.name("t3")]}}}
            if name == "actuator":
                sections["actuator"] = {
                    "state_file": str(tmp_path / "state.json"),
                    "startup_grace_seconds": 1,
                    "docker_url": docker_front.url,
                    "docker_tls": {
                        "ca_cert": str(authority.cert),
                        "client_cert": str(client.cert),
                        "client_key": str(client.key),
                    },
                }
            services.append(
                Service(name, config(tmp_path, name, host_id, mqtt, **sections), tmp_path)
            )
        probe = Probe(
            "127.0.0.1",
            broker.port,
            username="homeassistant",
            password=users["homeassistant"],
            tls={"ca_certs": str(authority.cert)},
        )
        for name in SERVICES:
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        probe.publish(f"warden/{host_id}/trigger", "tier3_pause")
        wait_until(lambda: containers.state(t3) == "paused", what="paused over TLS")
        probe.publish(f"warden/{host_id}/trigger", "tier3_resume")
        wait_until(lambda: containers.state(t3) == "running", what="resumed over TLS")
        probe.close()
        for service in services:
            assert "bus.connect_failed" not in service.output(), service.name
    finally:
        for service in services:
            service.kill(signal.SIGTERM)
        broker.close()


def test_a_client_certificate_is_a_login(
    tmp_path: Path, authority: Authority, host_id: str
) -> None:
    """No password at all: the broker takes the certificate's common name as the user, and
    the shipped ACL lets the governor write its own availability."""
    broker = tls_broker(authority, {}, client_certificates=True)
    governor_cert = authority.issue("governor", server=False)
    mqtt = {
        "host": "127.0.0.1",
        "port": broker.port,
        "tls": {
            "ca_certs": str(authority.cert),
            "certfile": str(governor_cert.cert),
            "keyfile": str(governor_cert.key),
        },
    }
    governor = Service("governor", config(tmp_path, "governor", host_id, mqtt), tmp_path)
    reader = authority.issue("homeassistant", server=False)
    try:
        probe = Probe(
            "127.0.0.1",
            broker.port,
            tls={
                "ca_certs": str(authority.cert),
                "certfile": str(reader.cert),
                "keyfile": str(reader.key),
            },
        )
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        probe.close()
    finally:
        governor.kill(signal.SIGTERM)
        broker.close()


def test_a_wrong_ca_is_said_once_with_the_reason_and_the_service_keeps_trying(
    tmp_path: Path, authority: Authority, host_id: str
) -> None:
    broker = tls_broker(authority, {"notifier": "n"})
    (tmp_path / "other").mkdir()
    stranger = Authority(tmp_path / "other", name="Another CA")
    mqtt = {
        "host": "127.0.0.1",
        "port": broker.port,
        "username": "notifier",
        "password": "n",
        "tls": {"ca_certs": str(stranger.cert)},
        "reconnect_min_seconds": 0.2,
        "reconnect_max_seconds": 0.4,
    }
    notifier = Service("notifier", config(tmp_path, "notifier", host_id, mqtt), tmp_path)
    try:
        # The broker sees attempt after attempt fail its handshake ...
        wait_until(
            lambda: broker.log_path.read_text().count("OpenSSL Error") >= 3,
            what="three refused handshakes",
        )
        out = notifier.output()
        # ... the service said why once, and lives on.
        assert out.count("bus.connect_failed") == 1
        assert "CERTIFICATE_VERIFY_FAILED" in out
        assert notifier.process.poll() is None
    finally:
        notifier.kill(signal.SIGTERM)
        broker.close()


def test_plain_mqtt_to_port_8883_is_warned_about(tmp_path: Path, host_id: str) -> None:
    mqtt = {"host": "127.0.0.1", "port": 8883}
    notifier = Service("notifier", config(tmp_path, "notifier", host_id, mqtt), tmp_path)
    try:
        wait_until(lambda: "bus.connect_failed" in notifier.output(), what="the first failure")
        out = notifier.output()
        assert "bus.tls_port_without_tls" in out
        assert "mqtt.tls" in out
    finally:
        notifier.kill(signal.SIGTERM)


def test_a_missing_certificate_file_stops_the_start_naming_the_key(
    tmp_path: Path, host_id: str
) -> None:
    mqtt = {"host": "127.0.0.1", "port": 8883, "tls": {"ca_certs": str(tmp_path / "nope.pem")}}
    notifier = Service("notifier", config(tmp_path, "notifier", host_id, mqtt), tmp_path)
    assert notifier.process.wait(30) == 2
    assert "mqtt.tls.ca_certs" in notifier.output()


@pytest.mark.parametrize("trusted", [True, False], ids=["ca-in-the-system-store", "ca-unknown"])
def test_tls_true_checks_the_broker_against_the_systems_certificate_authorities(
    tmp_path: Path, authority: Authority, host_id: str, trusted: bool
) -> None:
    """`mqtt.tls: true`: no file of Warden's, OpenSSL's own store, which SSL_CERT_FILE
    points at here (as a CA installed with update-ca-certificates would be found)."""
    broker = tls_broker(authority, {"notifier": "n"})
    (tmp_path / "other").mkdir()
    store = authority.cert if trusted else Authority(tmp_path / "other", name="Another CA").cert
    mqtt = {
        "host": "127.0.0.1",
        "port": broker.port,
        "username": "notifier",
        "password": "n",
        "tls": True,
    }
    notifier = Service(
        "notifier",
        config(tmp_path, "notifier", host_id, mqtt),
        tmp_path,
        env={"SSL_CERT_FILE": str(store), "SSL_CERT_DIR": str(tmp_path / "no-such-dir")},
    )
    try:
        said = "bus.connected" if trusted else "CERTIFICATE_VERIFY_FAILED"
        wait_until(lambda: said in notifier.output(), what=said)
        assert notifier.process.poll() is None
    finally:
        notifier.kill(signal.SIGTERM)
        broker.close()
