"""The webhook receiver on a real socket: server bodies POSTed for real, and every refusal."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest
import requests

from services.sensors.streams.receiver import WebhookReceiver, route
from services.sensors.streams.webhooks import WebhookEvent
from shared.logs import Log
from tests.support import published
from tests.support.webhook_bodies import jellyfin_body, plex_multipart, plex_payload, tautulli_body


class Events:
    def __init__(self) -> None:
        self.items: list[WebhookEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: WebhookEvent) -> None:
        with self._lock:
            self.items.append(event)


def start(token: str | None = None, max_body: int = 1024 * 1024) -> tuple[WebhookReceiver, Events]:
    events = Events()
    receiver = WebhookReceiver("127.0.0.1", 0, token, events, Log("test"), max_body=max_body)
    receiver.start()
    return receiver, events


@pytest.fixture
def receiver() -> Iterator[tuple[str, Events]]:
    running, events = start()
    yield f"http://127.0.0.1:{running.port}", events
    running.stop()


def post_json(url: str, body: object) -> requests.Response:
    return requests.post(url, json=body, timeout=5)


def test_plex_play_as_plex_posts_it(receiver: tuple[str, Events]) -> None:
    url, events = receiver
    content_type, body = plex_multipart(plex_payload("media.play"))
    reply = requests.post(
        f"{url}/webhook/plex", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    assert reply.status_code == 202
    assert reply.json() == {"accepted": "media.play", "action": "playing"}
    (event,) = events.items
    assert event.source == "plex" and event.session is not None
    assert event.session.id == "player-pixel"


def test_plex_through_requests_own_multipart(receiver: tuple[str, Events]) -> None:
    url, events = receiver
    payload = json.dumps(plex_payload("media.stop"))
    # (filename, content[, content type]) per part, as requests takes them.
    files: dict[str, tuple[str | None, str] | tuple[str, bytes, str]] = {
        "payload": (None, payload),
        "thumb": ("image.jpg", b"\xff\xd8\xff", "image/jpeg"),
    }
    reply = requests.post(f"{url}/webhook/plex", files=files, timeout=5)
    assert reply.status_code == 202 and events.items[0].action == "stopped"


def test_jellyfin_and_tautulli(receiver: tuple[str, Events]) -> None:
    url, events = receiver
    assert post_json(f"{url}/webhook/jellyfin", jellyfin_body("PlaybackStart")).status_code == 202
    assert post_json(f"{url}/webhook/tautulli", tautulli_body("pause")).status_code == 202
    assert [(e.source, e.action) for e in events.items] == [
        ("jellyfin", "playing"),
        ("tautulli", "paused"),
    ]


def test_events_not_about_playback_are_answered_and_change_nothing(
    receiver: tuple[str, Events],
) -> None:
    url, events = receiver
    reply = post_json(f"{url}/webhook/jellyfin", jellyfin_body("ItemAdded"))
    assert reply.status_code == 200 and reply.json()["ignored"] == "ItemAdded"
    content_type, body = plex_multipart(plex_payload("library.new"))
    reply = requests.post(
        f"{url}/webhook/plex", data=body, headers={"Content-Type": content_type}, timeout=5
    )
    assert reply.status_code == 200
    assert events.items == []


@pytest.mark.parametrize(
    ("path", "content_type", "body", "reason"),
    [
        ("/webhook/plex", "application/json", b"{}", "expected multipart/form-data"),
        ("/webhook/jellyfin", "application/json", b"<xml/>", "not JSON"),
        ("/webhook/jellyfin", "application/json", b'{"Name": "x"}', "NotificationType"),
        ("/webhook/tautulli", "application/json", b'{"action": "play"}', "without machine_id"),
    ],
)
def test_bad_bodies_are_400_with_the_reason(
    receiver: tuple[str, Events], path: str, content_type: str, body: bytes, reason: str
) -> None:
    url, events = receiver
    reply = requests.post(url + path, data=body, headers={"Content-Type": content_type}, timeout=5)
    assert reply.status_code == 400
    assert reason in reply.json()["error"]
    assert events.items == []


@pytest.mark.parametrize(
    "path", ["/webhook/kodi", "/webhook", "/", "/webhook/plex/a/b", "/hook/plex"]
)
def test_other_paths_are_404(receiver: tuple[str, Events], path: str) -> None:
    url, events = receiver
    assert post_json(url + path, jellyfin_body("PlaybackStart")).status_code == 404
    assert events.items == []


def test_get_is_405(receiver: tuple[str, Events]) -> None:
    url, _ = receiver
    reply = requests.get(f"{url}/webhook/plex", timeout=5)
    assert reply.status_code == 405 and reply.headers["Allow"] == "POST"


def raw_request(port: int, headers: dict[str, str], body: bytes = b"") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.putrequest("POST", "/webhook/jellyfin", skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders(body or None)
    return conn.getresponse()


def test_a_body_over_the_limit_is_413_without_being_read() -> None:
    running, events = start()
    try:
        # Only the headers go out: the receiver must answer from Content-Length alone.
        reply = raw_request(
            running.port,
            {"Content-Type": "application/json", "Content-Length": str(2 * 1024 * 1024)},
        )
        assert reply.status == 413
        assert "over 1048576" in json.loads(reply.read())["error"]
    finally:
        running.stop()
    assert events.items == []


def test_a_body_at_the_limit_is_read() -> None:
    running, events = start(max_body=4096)
    try:
        body = json.dumps(jellyfin_body("PlaybackStart", Overview="x" * 2000)).encode()
        assert len(body) <= 4096
        url = f"http://127.0.0.1:{running.port}/webhook/jellyfin"
        assert requests.post(url, data=body, timeout=5).status_code == 202
        big = json.dumps(jellyfin_body("PlaybackStart", Overview="x" * 5000)).encode()
        assert requests.post(url, data=big, timeout=5).status_code == 413
    finally:
        running.stop()
    assert len(events.items) == 1


def test_no_content_length_is_411() -> None:
    running, events = start()
    try:
        reply = raw_request(
            running.port,
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            b"0\r\n\r\n",
        )
        assert reply.status == 411
    finally:
        running.stop()
    assert events.items == []


def test_the_token_in_the_query_or_the_path() -> None:
    running, events = start(token="s3cret")
    base = f"http://127.0.0.1:{running.port}/webhook/jellyfin"
    body = jellyfin_body("PlaybackStart")
    try:
        assert post_json(base, body).status_code == 401
        assert post_json(f"{base}?token=wrong", body).status_code == 401
        assert post_json(f"{base}/wrong", body).status_code == 401
        assert events.items == []
        assert post_json(f"{base}?token=s3cret", body).status_code == 202
        assert post_json(f"{base}/s3cret", body).status_code == 202
    finally:
        running.stop()
    assert len(events.items) == 2


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/webhook/plex", ("plex", None)),
        ("/webhook/plex/", ("plex", None)),
        ("/webhook/jellyfin?token=t", ("jellyfin", "t")),
        ("/webhook/tautulli/t2", ("tautulli", "t2")),
        # Emby's route, which issue 33 added (it was a 404 before).
        ("/webhook/emby/t3", ("emby", "t3")),
        ("/webhook/kodi", (None, None)),
        ("/webhook", (None, None)),
    ],
)
def test_route(target: str, expected: tuple[str | None, str | None]) -> None:
    assert route(target) == expected


def test_a_port_in_use_is_an_oserror() -> None:
    running, _ = start()
    try:
        with pytest.raises(OSError):
            WebhookReceiver("127.0.0.1", running.port, None, lambda _e: None, Log("test"))
    finally:
        running.stop()


def test_emby_as_emby_posts_it(receiver: tuple[str, Events]) -> None:
    """Emby's webhook body, published by MoviePilot, as JSON and as a form's `data` field."""
    url, events = receiver
    body = published.raw("emby_webhook_playback_start_moviepilot.json")
    as_json = requests.post(
        f"{url}/webhook/emby", data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    as_form = requests.post(f"{url}/webhook/emby", files={"data": (None, body)}, timeout=5)
    assert (as_json.status_code, as_form.status_code) == (202, 202)
    assert as_json.json() == {"accepted": "playback.start", "action": "playing"}
    assert [(e.source, e.action) for e in events.items] == [("emby", "playing")] * 2
    # Jellyfin's body is not Emby's: a 400 with the reason, not a silent default.
    reply = post_json(f"{url}/webhook/emby", jellyfin_body("PlaybackStart"))
    assert reply.status_code == 400 and "Event: Field required" in reply.json()["error"]
