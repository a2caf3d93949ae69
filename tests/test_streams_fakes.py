"""The fake media servers in tests/support/media_servers.py answer as they were told."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.media_servers import JELLYFIN_SESSIONS, PLEX_EMPTY, FakeMediaServer


@pytest.fixture
def fake_server() -> Iterator[FakeMediaServer]:
    fake = FakeMediaServer()
    yield fake
    fake.close()


def test_fake_answers_what_it_was_told_and_records_requests(fake_server: FakeMediaServer) -> None:
    fake_server.answer(JELLYFIN_SESSIONS)
    reply = requests.get(f"{fake_server.url}/Sessions?x=1", headers={"X-Test": "yes"}, timeout=5)
    assert reply.json() == JELLYFIN_SESSIONS
    assert fake_server.requests[0].path == "/Sessions"
    assert fake_server.requests[0].query == {"x": ["1"]}
    assert fake_server.requests[0].headers["X-Test"] == "yes"


def test_fake_plex_answers_xml_unless_asked_for_json(fake_server: FakeMediaServer) -> None:
    fake_server.answer(PLEX_EMPTY)
    fake_server.plex_xml_unless_json = True
    assert requests.get(f"{fake_server.url}/status/sessions", timeout=5).text.startswith("<?xml")
    asked = requests.get(
        f"{fake_server.url}/status/sessions", headers={"Accept": "application/json"}, timeout=5
    )
    assert asked.json() == PLEX_EMPTY


def test_a_closed_fake_refuses_connections() -> None:
    fake = FakeMediaServer()
    fake.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{fake.url}/Sessions", timeout=5)
