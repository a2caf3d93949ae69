"""Warden's way to the engine (the Docker SDK, host/docker/) against the real engine:
replies validated, the API version negotiated, the config's and the environment's
endpoints, TLS with a client certificate, and the event stream's windows, watchdog and
reconnect."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from pydantic import ValidationError

from host.docker import view
from host.docker.client import DockerError, Endpoint, Engine, NotFound, reason
from host.docker.replies import ContainerSummary, ReplyError, parse
from shared.config.docker import DockerAccess
from shared.errors import SetupError
from shared.logs import Log
from tests.support.docker_env import Containers, engine
from tests.support.docker_tls import DOCKER_SOCKET, DockerTlsFront
from tests.support.processes import wait_until
from tests.support.socket_proxy import SocketProxy
from tests.support.tls import Authority


def test_lists_and_inspects_what_the_sdk_sees(containers: Containers) -> None:
    cid = containers.run("listed")
    api = engine().api
    listed = {c.id: c for c in view.list_containers(api)}
    assert listed[cid].state == "running"
    assert listed[cid].name == containers.name("listed")
    assert listed[cid].pid == containers.pid(cid)
    details = view.inspect(api, cid)
    assert details.State.Pid == containers.pid(cid)
    assert details.HostConfig.model_dump() == {
        k: containers.api.inspect_container(cid)["HostConfig"][k]
        for k in ("CpuShares", "Memory", "MemorySwap")
    }
    assert view.info(api).DockerRootDir == containers.api.info()["DockerRootDir"]


def test_the_api_version_is_the_engines_own(docker_api: docker.APIClient) -> None:
    assert engine().api.api_version == docker_api.version()["ApiVersion"]


def test_an_unknown_container_is_not_found() -> None:
    with pytest.raises(NotFound, match="no-such-warden-container"):
        view.inspect(engine().api, "no-such-warden-container")


def test_a_reply_of_the_wrong_shape_is_a_docker_error() -> None:
    with pytest.raises(ReplyError, match="unexpected reply") as caught:
        parse(ContainerSummary, {"Names": ["/x"]}, "list containers")
    assert isinstance(caught.value, DockerError)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("/var/run/docker.sock", "expected unix"),
        ("tcp://", "names no host"),
        ("tcp://host:notaport", "not a number"),
        ("unix://", "socket's path"),
        ("ftp://host", "expected unix"),
    ],
)
def test_a_url_it_cannot_use_fails_the_config(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        DockerAccess(docker_url=url)


@pytest.mark.parametrize(
    ("config", "environ", "url", "tls"),
    [
        ({}, {}, "unix:///var/run/docker.sock", False),
        ({}, {"DOCKER_HOST": "tcp://10.0.0.2:2375"}, "tcp://10.0.0.2:2375", False),
        (
            {"docker_url": "unix:///run/d.sock"},
            {"DOCKER_HOST": "tcp://x:1"},
            "unix:///run/d.sock",
            False,
        ),
        ({"docker_url": "ssh://me@nas"}, {}, "ssh://me@nas", False),
    ],
)
def test_where_the_engine_is(
    config: dict[str, str], environ: dict[str, str], url: str, tls: bool
) -> None:
    endpoint = Endpoint.of(DockerAccess.model_validate(config), "sensors", environ)
    assert (endpoint.url, endpoint.tls is not None) == (url, tls)


def test_docker_cert_path_and_tls_verify_are_read_as_docker_reads_them(
    tmp_path: Path, authority: Authority
) -> None:
    client = authority.issue("client", server=False)
    for name, path in (("ca.pem", authority.cert), ("cert.pem", client.cert)):
        (tmp_path / name).write_bytes(path.read_bytes())
    (tmp_path / "key.pem").write_bytes(client.key.read_bytes())
    environ = {
        "DOCKER_HOST": "tcp://127.0.0.1:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
    }
    endpoint = Endpoint.of(DockerAccess(), "sensors", environ)
    assert endpoint.tls is not None and endpoint.tls.verify
    assert endpoint.tls.ca_cert == str(tmp_path / "ca.pem")
    assert endpoint.tls.cert == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))


def test_a_missing_certificate_is_a_setup_error_naming_the_key(tmp_path: Path) -> None:
    access = DockerAccess.model_validate(
        {
            "docker_url": "tcp://127.0.0.1:2376",
            "docker_tls": {
                "client_cert": str(tmp_path / "absent.pem"),
                "client_key": str(tmp_path / "absent.key"),
            },
        }
    )
    with pytest.raises(SetupError) as caught:
        Endpoint.of(access, "actuator", {})
    assert caught.value.key == "actuator.docker_tls"


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    (tmp_path / "ca").mkdir()
    return Authority(tmp_path / "ca")


@pytest.fixture
def front(authority: Authority) -> Iterator[DockerTlsFront]:
    tls_front = DockerTlsFront(authority, authority.issue("dockerd", server=True))
    yield tls_front
    tls_front.close()


def tls_access(front: DockerTlsFront, authority: Authority, ca: Path) -> DockerAccess:
    client = authority.issue("warden", server=False)
    return DockerAccess.model_validate(
        {
            "docker_url": front.url,
            "docker_tls": {
                "ca_cert": str(ca),
                "client_cert": str(client.cert),
                "client_key": str(client.key),
            },
        }
    )


def test_an_engine_behind_tls_is_reached_with_a_client_certificate(
    front: DockerTlsFront,
    authority: Authority,
    containers: Containers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Many hosts set it; the CA the config names must win over it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    cid = containers.run("over-tls")
    api = Engine(Endpoint.of(tls_access(front, authority, authority.cert), "actuator")).api
    api.pause(cid)
    assert containers.state(cid) == "paused"
    api.unpause(cid)
    assert containers.state(cid) == "running"


def test_an_engine_whose_certificate_another_ca_signed_is_refused_with_the_reason(
    front: DockerTlsFront, authority: Authority, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    stranger = Authority(tmp_path / "other", name="Another CA")
    engine_ = Engine(Endpoint.of(tls_access(front, authority, stranger.cert), "actuator"))
    with pytest.raises(DockerError) as caught:
        _ = engine_.api
    assert "certificate verify failed" in reason(caught.value)


def test_an_absent_engine_is_a_docker_error_until_it_comes(tmp_path: Path) -> None:
    socket_path = tmp_path / "docker.sock"
    engine_ = Engine(Endpoint.of(DockerAccess(docker_url=f"unix://{socket_path}"), "sensors"))
    with pytest.raises(DockerError) as caught:
        _ = engine_.api
    assert "No such file or directory" in reason(caught.value)
    relay = UnixRelay(socket_path)
    try:
        assert view.info(engine_.api).DockerRootDir
    finally:
        relay.close()


class UnixRelay:
    """A unix socket at `path` that leads to the engine's: the engine arriving late."""

    def __init__(self, path: Path) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(DOCKER_SOCKET)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass


class Events:
    def __init__(self) -> None:
        self.seen: list[view.ContainerEvent] = []
        self.reconnects = 0

    def watcher(self, endpoint: Endpoint) -> view.EventWatcher:
        return view.EventWatcher(endpoint, self.seen.append, Log("test.events"), self._again)

    def _again(self) -> None:
        self.reconnects += 1


def test_events_come_across_windows_without_a_reconnect(
    containers: Containers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "EVENT_WINDOW_SECONDS", 1.0)
    events = Events()
    watcher = events.watcher(engine().endpoint)
    watcher.start()
    try:
        wait_until(lambda: watcher.stream == 1, what="the stream open")
        first = containers.run("early")
        wait_until(lambda: any(e.id == first for e in events.seen), what="the first event")
        # Three windows later, on the same connection: the windows chain (since = until).
        wait_until(lambda: _windows(watcher) >= 3, timeout=20, what="three windows")
        late = containers.run("late")
        wait_until(
            lambda: any(e.id == late and e.action == "start" for e in events.seen),
            what="an event in a later window",
        )
        assert watcher.stream == 1 and events.reconnects == 0
        name = next(e.name for e in events.seen if e.id == late)
        assert name == containers.name("late")
    finally:
        watcher.stop()


def _windows(watcher: view.EventWatcher) -> int:
    return watcher.windows


def test_a_stream_gone_silent_is_given_up_and_reopened(
    containers: Containers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "EVENT_WINDOW_SECONDS", 1.0)
    monkeypatch.setattr(view, "EVENT_GRACE_SECONDS", 1.0)
    proxy = SocketProxy(unix=DOCKER_SOCKET)
    events = Events()
    watcher = events.watcher(Endpoint.of(DockerAccess(docker_url=proxy.url), "sensors", {}))
    watcher.start()
    try:
        wait_until(lambda: watcher.stream == 1, what="the stream open")
        proxy.stall()  # the window never ends: nothing comes through
        wait_until(lambda: watcher.stream is None, timeout=20, what="the silence noticed")
        proxy.resume()
        wait_until(lambda: watcher.stream == 2, timeout=20, what="a new stream")
        assert events.reconnects == 1  # the caller re-lists: events may have been missed
        cid = containers.run("after")
        wait_until(lambda: any(e.id == cid for e in events.seen), what="events again")
    finally:
        watcher.stop()
        proxy.close()
