"""The streams sensor in-process: a real service loop, a fake server on a socket, real webhooks.

Covers the shell's promises: the poll publishes every reading, a webhook
makes an immediate query and publish, a server that cannot be asked makes
the count unknown with the error, webhooks still count while it cannot be
asked, and a hanging server never stalls the loop.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator

import pytest
import requests

from services.sensors.streams.watcher import StreamWatcher
from shared.config.model import MediaMode
from shared.logs import Log
from shared.messages import StreamsFact
from shared.runtime import ServiceLoop
from tests.support import published
from tests.support.broker import free_port
from tests.support.media_servers import FakeMediaServer, jellyfin_session
from tests.support.webhook_bodies import jellyfin_body


class Published:
    def __init__(self) -> None:
        self.facts: list[StreamsFact] = []
        self._cond = threading.Condition()

    def __call__(self, fact: StreamsFact) -> None:
        with self._cond:
            self.facts.append(fact)
            self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[StreamsFact], bool], after: int = 0, timeout: float = 15
    ) -> StreamsFact:
        """The first fact published after the first `after` ones for which predicate holds."""
        with self._cond:
            found: list[StreamsFact] = []

            def ready() -> bool:
                found[:] = [f for f in self.facts[after:] if predicate(f)]
                return bool(found)

            if not self._cond.wait_for(ready, timeout):
                raise TimeoutError(f"no such fact; published: {self.facts}")
            return found[0]

    def __len__(self) -> int:
        with self._cond:
            return len(self.facts)


class Running:
    def __init__(self, media: MediaMode) -> None:
        self.loop = ServiceLoop(Log("test"))
        self.published = Published()
        self.watcher = StreamWatcher(media, "h", self.loop, Log("test"), self.published)
        self.watcher.start()  # before the loop runs, as the service does
        self.loop.on_stop(self.watcher.stop)
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()
        port = self.watcher.receiver.port if self.watcher.receiver else None
        self.hook_url = f"http://127.0.0.1:{port}/webhook" if port else ""

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(10)


@pytest.fixture
def server() -> Iterator[FakeMediaServer]:
    fake = FakeMediaServer()
    yield fake
    fake.close()


@pytest.fixture
def run() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(url: str, **settings: object) -> Running:
        media = MediaMode.model_validate(
            {
                "enabled": True,
                "provider": "jellyfin",
                "url": url,
                "api_key": "k",
                "timeout_seconds": 2,
                "poll_seconds": 600,
                "webhook": {"enabled": True, "port": free_port()},
                **settings,
            }
        )
        started.append(Running(media))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def test_the_poll_publishes_the_servers_sessions(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.answer([jellyfin_session("tv"), jellyfin_session("pc", paused=True)])
    running = run(server.url, poll_seconds=0.2)
    fact = running.published.wait_for(lambda f: True)
    assert (fact.count, len(fact.sessions), fact.source, fact.error) == (1, 2, "jellyfin api", None)
    assert fact.provider == "jellyfin" and fact.host == "h"
    # Every poll publishes, changed or not: the governor judges staleness by arrival.
    running.published.wait_for(lambda f: f.count == 1, after=3)


def test_a_webhook_makes_an_immediate_query_and_publish(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.answer([])
    running = run(server.url)
    running.published.wait_for(lambda f: f.count == 0)
    asked = len(server.requests)
    server.answer([jellyfin_session("tv")])
    seen = len(running.published)
    reply = requests.post(
        f"{running.hook_url}/jellyfin",
        json=jellyfin_body("PlaybackStart", DeviceId="tv"),
        timeout=5,
    )
    assert reply.status_code == 202
    fact = running.published.wait_for(lambda f: True, after=seen)
    assert (fact.count, fact.source, fact.error) == (1, "jellyfin api", None)
    assert len(server.requests) == asked + 1


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        ("down", "cannot reach"),
        ("500", "HTTP 500"),
        ("401", "HTTP 401"),
        ("garbage", "not JSON"),
        ("shape", "unexpected answer"),
        ("slow", "no answer within 2s"),
    ],
)
def test_a_server_that_cannot_be_asked_makes_the_count_unknown(
    server: FakeMediaServer, run: Callable[..., Running], breakage: str, reason: str
) -> None:
    server.answer([jellyfin_session("tv")])
    running = run(server.url, poll_seconds=0.3)
    running.published.wait_for(lambda f: f.count == 1)
    if breakage == "down":
        server.close()
    elif breakage in ("500", "401"):
        server.answer(b"", status=int(breakage))
    elif breakage == "garbage":
        server.answer(b"<html>proxy error</html>", content_type="text/html")
    elif breakage == "shape":
        server.answer({"Sessions": "none"})
    else:
        server.answer([], delay=4)
    fact = running.published.wait_for(lambda f: f.count is None)
    assert fact.error is not None and reason in fact.error
    assert fact.sessions == [] and fact.source == "jellyfin api"


def test_webhooks_count_while_the_server_cannot_be_asked(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.answer([jellyfin_session("a")])
    running = run(server.url)
    running.published.wait_for(lambda f: f.count == 1)
    server.answer(b"", status=500)

    def send(kind: str, device: str) -> StreamsFact:
        seen = len(running.published)
        body = jellyfin_body(kind, DeviceId=device)
        assert requests.post(f"{running.hook_url}/jellyfin", json=body, timeout=5).ok
        return running.published.wait_for(lambda f: True, after=seen)

    fact = send("PlaybackStart", "b")
    assert (fact.count, fact.source) == (2, "jellyfin webhook")
    assert fact.error is not None and "HTTP 500" in fact.error
    assert send("PlaybackStop", "a").count == 1
    assert send("PlaybackProgress", "b").count == 1
    assert send("PlaybackStop", "b").count == 0


def test_a_stop_webhook_cannot_make_an_unknown_count_known(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.close()
    running = run(server.url)
    running.published.wait_for(lambda f: f.count is None)
    seen = len(running.published)
    body = jellyfin_body("PlaybackStop")
    assert requests.post(f"{running.hook_url}/jellyfin", json=body, timeout=5).ok
    fact = running.published.wait_for(lambda f: True, after=seen)
    assert (fact.count, fact.source) == (None, "jellyfin webhook")


def test_a_hanging_server_does_not_stall_the_loop(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.answer([], delay=1.5)
    running = run(server.url)
    ran = threading.Event()
    running.loop.post(ran.set)
    assert ran.wait(10)
    # Had the loop waited on the server, the reading would have gone out first.
    assert len(running.published) == 0
    running.published.wait_for(lambda f: f.count == 0)


def test_a_webhook_port_in_use_leaves_the_poll_working(
    server: FakeMediaServer, run: Callable[..., Running]
) -> None:
    server.answer([jellyfin_session("tv")])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        running = run(server.url, webhook={"enabled": True, "port": taken.getsockname()[1]})
        assert running.watcher.receiver is None
        assert running.published.wait_for(lambda f: True).count == 1


def test_an_old_jellyfin_plugins_body_is_said_to_be_incomplete_once(
    server: FakeMediaServer, run: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    server.answer([])
    running = run(server.url)
    running.published.wait_for(lambda f: True)
    # A body from a plugin before v16, as MoviePilot published one: no PlayMethod, no
    # RemoteEndPoint. Each one is still taken.
    old = published.raw("jellyfin_webhook_playback_start_moviepilot.json")
    for _ in range(3):
        seen = len(running.published)
        reply = requests.post(f"{running.hook_url}/jellyfin", data=old, timeout=5)
        assert reply.status_code == 202
        running.published.wait_for(lambda f: True, after=seen)
    told = [r for r in caplog.records if r.getMessage() == "webhook.incomplete"]
    assert len(told) == 1
    assert "PlayMethod,RemoteEndPoint" in str(told[0].__dict__) and "v16" in str(told[0].__dict__)
