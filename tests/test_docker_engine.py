"""Warden's own Docker Engine API client, against the real engine."""

from __future__ import annotations

import threading

import pytest

from host.docker.engine import (
    ContainerSummary,
    DockerEngine,
    EngineError,
    EngineEvent,
    NotFound,
    connect,
)
from tests.support.docker_env import Containers, engine


def test_lists_and_inspects_what_the_sdk_sees(containers: Containers) -> None:
    cid = containers.run("listed")
    api = engine()
    listed = {c.Id: c for c in api.containers(all=True)}
    assert listed[cid].State == "running"
    assert listed[cid].Names == [f"/{containers.name('listed')}"]
    details = api.inspect_container(cid)
    assert details.State.Pid == containers.pid(cid)
    assert details.HostConfig.model_dump() == {
        k: containers.api.inspect_container(cid)["HostConfig"][k]
        for k in ("CpuShares", "Memory", "MemorySwap")
    }
    assert api.info().DockerRootDir == containers.api.info()["DockerRootDir"]


def test_pause_unpause_and_update_reach_the_engine(containers: Containers) -> None:
    cid = containers.run("changed")
    api = engine()
    api.pause(cid)
    assert containers.state(cid) == "paused"
    assert api.inspect_container(cid).State.Paused
    api.unpause(cid)
    assert containers.state(cid) == "running"
    api.update_container(cid, cpu_shares=512, mem_limit=256 * 1024**2, memswap_limit=-1)
    host_config = containers.api.inspect_container(cid)["HostConfig"]
    assert (host_config["CpuShares"], host_config["Memory"]) == (512, 256 * 1024**2)


def test_an_unknown_container_is_not_found_by_name() -> None:
    with pytest.raises(NotFound, match="no-such-warden-container"):
        engine().inspect_container("no-such-warden-container")


def test_events_arrive_and_close_ends_the_stream_from_another_thread(
    containers: Containers,
) -> None:
    api = connect(engine().url, timeout=None)
    stream = api.events(filters={"type": "container"})  # connected on return
    cid = containers.run("evented")
    seen: list[EngineEvent] = []
    for event in stream:
        seen.append(event)
        if cid == event.Actor.ID and event.Action == "start":
            break
    assert any(e.Action == "create" for e in seen if cid == e.Actor.ID)
    assert (seen[-1].Actor.Attributes or {})["name"] == containers.name("evented")

    again = api.events(filters={"type": "container"})
    threading.Timer(0.2, api.close).start()
    with pytest.raises(EngineError, match="/events"):
        next(again)


@pytest.mark.parametrize(
    "url", ["ssh://host", "tcp://", "tcp://host:notaport", "/var/run/docker.sock"]
)
def test_a_url_it_cannot_use_is_named_on_every_call(url: str) -> None:
    api = DockerEngine(url)  # a service starts without Docker; the call says why
    with pytest.raises(EngineError, match="docker_url"):
        api.info()


def test_an_unreachable_engine_is_an_engine_error(tmp_path: object) -> None:
    with pytest.raises(EngineError, match="GET /info"):
        connect(f"unix://{tmp_path}/absent.sock").info()


def test_a_reply_of_the_wrong_shape_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="unexpected reply"):
        engine()._parse(ContainerSummary, {"Names": ["/x"]}, "GET /containers/json")


def test_a_tcp_url_is_reached_over_tcp() -> None:
    """The engine's TCP listener is off here: a one-reply server stands in for it."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: list[bytes] = []

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            seen.append(conn.recv(65536))
            body = b'{"DockerRootDir": "/srv/docker"}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 32\r\n\r\n" + body)

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert connect(f"tcp://127.0.0.1:{port}").info().DockerRootDir == "/srv/docker"
    finally:
        thread.join(5)
        server.close()
    assert seen[0].startswith(b"GET /v1.41/info HTTP/1.1\r\n")
