"""Each provider's client against a local HTTP server: documented answers, errors, garbage.

Every failure is a StreamQueryError naming the server and the problem, which
the sensor publishes as an unknown count; none of them may read as 0 streams,
and none may leak the API key into a log or a fact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from services.sensors.streams import emby, jellyfin, plex, query_sessions, tautulli
from services.sensors.streams.common import StreamQueryError
from shared.config.model import MediaMode
from shared.messages import StreamSession
from tests.support.media_servers import (
    JELLYFIN_SESSIONS,
    PLEX_SESSIONS,
    PLEX_XML,
    TAUTULLI_ACTIVITY,
    TAUTULLI_BAD_KEY,
    FakeMediaServer,
    Seen,
)

KEY = "k3y-s3cret"


@dataclass(frozen=True)
class Provider:
    name: str
    fetch: Callable[[str, str, float], list[StreamSession]]
    documented: object
    path: str
    authenticated: Callable[[Seen], bool]


PROVIDERS = [
    Provider(
        "jellyfin",
        jellyfin.fetch,
        JELLYFIN_SESSIONS,
        "/Sessions",
        lambda seen: seen.headers.get("Authorization") == f'MediaBrowser Token="{KEY}"',
    ),
    Provider(
        "emby",
        emby.fetch,
        JELLYFIN_SESSIONS,
        "/Sessions",
        lambda seen: seen.headers.get("X-Emby-Token") == KEY,
    ),
    Provider(
        "plex",
        plex.fetch,
        PLEX_SESSIONS,
        "/status/sessions",
        lambda seen: (
            seen.headers.get("X-Plex-Token") == KEY
            and seen.headers.get("Accept") == "application/json"
        ),
    ),
    Provider(
        "tautulli",
        tautulli.fetch,
        TAUTULLI_ACTIVITY,
        "/api/v2",
        lambda seen: seen.query == {"apikey": [KEY], "cmd": ["get_activity"]},
    ),
]
IDS = [p.name for p in PROVIDERS]


@pytest.fixture
def server() -> Iterator[FakeMediaServer]:
    fake = FakeMediaServer()
    yield fake
    fake.close()


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_documented_answer_gives_the_sessions(server: FakeMediaServer, provider: Provider) -> None:
    server.answer(provider.documented)
    server.plex_xml_unless_json = provider.name == "plex"
    sessions = provider.fetch(server.url + "/", KEY, 5)
    assert [(s.state, s.transcode, s.local) for s in sessions] == [
        ("playing", True, False),
        ("paused", False, True),
        ("playing", False, True),
    ]
    (seen,) = server.requests
    assert seen.path == provider.path
    assert provider.authenticated(seen)


def failure(provider: Provider, server: FakeMediaServer, timeout: float = 5) -> str:
    with pytest.raises(StreamQueryError) as caught:
        provider.fetch(server.url, KEY, timeout)
    message = str(caught.value)
    assert message.startswith(f"{provider.name}:")
    assert KEY not in message
    return message


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, b"", "HTTP 401 Unauthorized (check media_mode.api_key)"),
        (403, b"Forbidden", "HTTP 403 Forbidden (check media_mode.api_key)"),
        (500, b'{"error": "boom"}', "HTTP 500 Internal Server Error"),
        (503, b"<html>starting up</html>", "HTTP 503"),
        (302, b"", "HTTP 302"),
    ],
)
def test_http_errors(
    server: FakeMediaServer, provider: Provider, status: int, body: bytes, expected: str
) -> None:
    server.answer(body, status=status, content_type="text/html")
    assert expected in failure(provider, server)


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html><body>Bad Gateway</body></html>", "answer is not JSON: '<html>"),
        (b"", "answer is not JSON: ''"),
        (b'[{"Id": "trunc', "answer is not JSON"),
        (b"\xff\xfe\x00garbage", "answer is not JSON"),
        (b'{"unexpected": true}', "unexpected answer"),
        (b"42", "unexpected answer"),
        (b"null", "unexpected answer"),
    ],
)
def test_garbage(server: FakeMediaServer, provider: Provider, body: bytes, expected: str) -> None:
    server.answer(body)
    assert expected in failure(provider, server)


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_timeout(server: FakeMediaServer, provider: Provider) -> None:
    server.answer(provider.documented, delay=3)
    assert "no answer within 0.3s" in failure(provider, server, timeout=0.3)


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_server_down(provider: Provider) -> None:
    server = FakeMediaServer()
    server.close()
    assert "cannot reach" in failure(provider, server)


def test_plex_that_answers_xml_anyway_is_an_error_not_zero(server: FakeMediaServer) -> None:
    server.answer(PLEX_XML, content_type="text/xml")
    assert "not JSON: '<?xml" in failure(PROVIDERS[2], server)


def test_tautulli_refusing_the_key_in_its_envelope(server: FakeMediaServer) -> None:
    server.answer(TAUTULLI_BAD_KEY)
    assert failure(PROVIDERS[3], server) == "tautulli: error: Invalid apikey"


@pytest.mark.parametrize("provider", PROVIDERS, ids=IDS)
def test_query_sessions_asks_the_configured_provider(
    server: FakeMediaServer, provider: Provider
) -> None:
    server.answer(provider.documented)
    media = MediaMode(enabled=True, provider=provider.name, url=server.url, api_key=KEY)  # type: ignore[arg-type]
    assert len(query_sessions(media)) == 3
    assert provider.authenticated(server.requests[0])


def test_trigger_only_providers_have_no_session_api() -> None:
    with pytest.raises(StreamQueryError, match="has no session API"):
        query_sessions(MediaMode(provider="webhook"))
