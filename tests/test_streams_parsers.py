"""Pure parts of the streams sensor: parsers, classification and counting, as tables."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from services.sensors.streams import emby, jellyfin, plex, tautulli
from services.sensors.streams.classify import lines_of
from services.sensors.streams.common import (
    StreamQueryError,
    count_streams,
    local_from_address,
    player_state,
)
from shared.config.model import MediaMode
from shared.messages import StreamSession
from shared.messages.facts import StreamState
from tests.support.media_servers import (
    JELLYFIN_IDLE,
    JELLYFIN_SESSIONS,
    PLEX_EMPTY,
    PLEX_SESSIONS,
    TAUTULLI_ACTIVITY,
    TAUTULLI_BAD_KEY,
    jellyfin_session,
    plex_session,
)


def summary(sessions: list[StreamSession]) -> list[tuple[str, str, bool, bool | None]]:
    return [(s.id, s.state, s.transcode, s.local) for s in sessions]


# --- Jellyfin and Emby --------------------------------------------------------------


@pytest.mark.parametrize("parse", [jellyfin.parse_sessions, emby.parse_sessions])
def test_jellyfin_and_emby_sessions_with_something_playing_are_streams(
    parse: Callable[[object], list[StreamSession]],
) -> None:
    sessions = parse(JELLYFIN_SESSIONS)
    assert summary(sessions) == [
        ("dev-pixel-8", "playing", True, False),  # Transcode from a public address
        ("dev-tv", "paused", False, True),  # DirectPlay, paused, on the LAN
        ("dev-shield", "playing", False, True),  # DirectStream (a remux) is not a transcode
    ]
    first = sessions[0]
    assert first.user == "alice"
    assert first.title == "Severance - Good News About Hell"
    assert first.client == "Jellyfin Android / Pixel 8"
    # What stream-aware bandwidth reads: where the client is, and the job's lines.
    assert (first.address, first.video_height) == ("203.0.113.7", 1080)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"PlayState": {"IsPaused": False, "PlayMethod": "Transcode"}}, ("playing", True)),
        ({"PlayState": {"IsPaused": True, "PlayMethod": "Transcode"}}, ("paused", True)),
        ({"PlayState": {"IsPaused": False, "PlayMethod": "DirectPlay"}}, ("playing", False)),
        # Older servers: no PlayMethod, but a TranscodingInfo.
        (
            {"PlayState": {"IsPaused": False}, "TranscodingInfo": {"VideoCodec": "h264"}},
            ("playing", True),
        ),
        ({"PlayState": {}}, ("playing", False)),
        ({"PlayState": None}, ("playing", False)),
    ],
)
def test_jellyfin_play_state_and_method(
    changes: dict[str, object], expected: tuple[str, bool]
) -> None:
    raw = {**jellyfin_session("d"), **changes}
    (session,) = jellyfin.parse_sessions([raw])
    assert (session.state, session.transcode) == expected


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("192.168.1.20", True),
        ("10.0.0.5", True),
        ("172.16.3.4", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::12", True),
        ("::ffff:192.168.1.21", True),
        ("192.168.1.20:52311", True),
        ("[2001:db8::5]:8096", False),
        ("203.0.113.7", False),
        ("8.8.8.8", False),
        # Carrier-grade NAT (a Tailscale client): the stream crosses the uplink.
        ("100.101.102.103", False),
        ("2a00:1450:4001:80b::200e", False),
        ("", None),
        (None, None),
        ("not-an-address", None),
    ],
)
def test_local_from_address(address: str | None, local: bool | None) -> None:
    assert local_from_address(address) is local


def test_jellyfin_without_remote_endpoint_has_unknown_location() -> None:
    raw = jellyfin_session("d")
    del raw["RemoteEndPoint"]
    (session,) = jellyfin.parse_sessions([raw])
    assert session.local is None


def test_jellyfin_session_id_falls_back_to_the_session_when_no_device() -> None:
    raw = jellyfin_session("d")
    del raw["DeviceId"]
    (session,) = jellyfin.parse_sessions([raw])
    assert session.id == "session-d"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"Sessions": []}, "unexpected answer"),
        ([{"UserName": "no id"}], "0.Id: Field required"),
        ([{**JELLYFIN_IDLE, "PlayState": {"IsPaused": "sometimes"}}], "0.PlayState.IsPaused"),
        ("[]", "unexpected answer"),
        (None, "unexpected answer"),
        ([1, 2], "unexpected answer"),
    ],
)
def test_jellyfin_wrong_shapes_are_errors_not_zero(payload: object, reason: str) -> None:
    with pytest.raises(StreamQueryError) as caught:
        jellyfin.parse_sessions(payload)
    assert reason in str(caught.value) and str(caught.value).startswith("jellyfin:")


def test_emby_errors_name_emby() -> None:
    with pytest.raises(StreamQueryError, match=r"^emby: unexpected answer"):
        emby.parse_sessions({"Items": []})


def test_no_sessions_is_zero_streams() -> None:
    assert jellyfin.parse_sessions([]) == []
    assert jellyfin.parse_sessions([JELLYFIN_IDLE]) == []


# --- Plex ------------------------------------------------------------------------------


def test_plex_sessions() -> None:
    sessions = plex.parse_sessions(PLEX_SESSIONS)
    assert summary(sessions) == [
        ("player-pixel", "playing", True, False),
        ("player-roku", "paused", False, True),
        ("player-shield", "playing", False, True),  # copy + copy: a remux, not a transcode
    ]
    assert sessions[0].title == "Severance - Good News About Hell"
    assert sessions[0].user == "alice"
    assert sessions[0].client == "Plex for Android (Mobile) / Pixel 8"
    assert (sessions[0].address, sessions[0].video_height) == ("203.0.113.7", 1080)


def test_plex_empty_container_has_no_metadata_key() -> None:
    assert plex.parse_sessions(PLEX_EMPTY) == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [("playing", "playing"), ("paused", "paused"), ("buffering", "buffering"), ("stopped", None)],
)
def test_plex_player_states(state: str, expected: str | None) -> None:
    sessions = plex.parse_sessions(
        {"MediaContainer": {"Metadata": [plex_session("p", state=state)]}}
    )
    assert [s.state for s in sessions] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("transcode", "expected"),
    [
        (None, False),
        ({"videoDecision": "transcode", "audioDecision": "copy"}, True),
        ({"videoDecision": "copy", "audioDecision": "transcode"}, True),
        ({"videoDecision": "copy", "audioDecision": "copy"}, False),
        ({"audioDecision": "copy"}, False),  # music: audio only, copied
        ({"key": "/transcode/sessions/1"}, True),  # present without decisions: a transcode
    ],
)
def test_plex_transcode_session(transcode: dict[str, object] | None, expected: bool) -> None:
    item = plex_session("p", transcode=transcode)
    (session,) = plex.parse_sessions({"MediaContainer": {"Metadata": [item]}})
    assert session.transcode is expected


@pytest.mark.parametrize(
    ("location", "player_local", "expected"),
    [
        ("lan", False, True),  # Session.location wins over Player.local
        ("wan", True, False),
        ("", True, True),
        ("", False, False),
    ],
)
def test_plex_location(location: str, player_local: bool, expected: bool) -> None:
    item = plex_session("p", local=player_local, location=location)
    (session,) = plex.parse_sessions({"MediaContainer": {"Metadata": [item]}})
    assert session.local is expected


def test_plex_player_local_as_xml_style_text() -> None:
    item = copy.deepcopy(plex_session("p", location=""))
    item["Player"]["local"] = "1"  # type: ignore[index]
    del item["Session"]
    (session,) = plex.parse_sessions({"MediaContainer": {"Metadata": [item]}})
    assert session.local is True and session.id == "p"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "MediaContainer: Field required"),
        ({"MediaContainer": {"Metadata": [{"title": "no player"}]}}, "Player: Field required"),
        ({"MediaContainer": {"Metadata": {"not": "a list"}}}, "MediaContainer.Metadata"),
        ([], "unexpected answer"),
    ],
)
def test_plex_wrong_shapes(payload: object, reason: str) -> None:
    with pytest.raises(StreamQueryError) as caught:
        plex.parse_sessions(payload)
    assert reason in str(caught.value)


# --- Tautulli -------------------------------------------------------------------------


def test_tautulli_activity() -> None:
    sessions = tautulli.parse_activity(TAUTULLI_ACTIVITY)
    assert summary(sessions) == [
        ("player-pixel", "playing", True, False),
        ("player-roku", "paused", False, True),
        ("player-shield", "playing", False, True),  # "copy": a direct stream
    ]
    assert sessions[0].user == "Alice" and sessions[0].title == "Arrival"
    assert sessions[0].address == "203.0.113.7"


def test_tautulli_error_result_is_an_error_with_its_message() -> None:
    with pytest.raises(StreamQueryError, match="tautulli: error: Invalid apikey"):
        tautulli.parse_activity(TAUTULLI_BAD_KEY)


@pytest.mark.parametrize(
    "payload",
    [
        {"result": "success"},
        {"response": {"result": "success", "data": {"stream_count": "0"}}},
        {"response": {"result": "success", "data": {"sessions": "none"}}},
        {"response": {"data": {"sessions": []}}},
    ],
)
def test_tautulli_wrong_shapes(payload: object) -> None:
    with pytest.raises(StreamQueryError, match=r"^tautulli: unexpected answer"):
        tautulli.parse_activity(payload)


@pytest.mark.parametrize(
    ("word", "state"),
    [
        ("playing", "playing"),
        ("Paused", "paused"),
        ("buffering", "buffering"),
        ("stopped", None),
        # Unknown words and none at all count as playing: err toward the stream.
        ("", "playing"),
        (None, "playing"),
        ("transitioning", "playing"),
    ],
)
def test_player_state_words(word: str | None, state: str | None) -> None:
    assert player_state(word) == state


# --- counting -------------------------------------------------------------------------


def s(
    state: StreamState = "playing", transcode: bool = False, local: bool | None = None
) -> StreamSession:
    return StreamSession(id="x", state=state, transcode=transcode, local=local)


@pytest.mark.parametrize(
    ("session", "direct", "local", "counts"),
    [
        # paused never counts
        (s("paused", transcode=True), True, True, False),
        (s("paused"), True, True, False),
        # transcodes always count, whatever the switches
        (s(transcode=True, local=True), False, False, True),
        (s("buffering", transcode=True), False, False, True),
        # direct play counts only when count_direct_play
        (s(local=False), True, True, True),
        (s(local=False), False, True, False),
        (s("buffering", local=False), True, True, True),
        # local direct play counts only when count_local too
        (s(local=True), True, True, True),
        (s(local=True), True, False, False),
        (s(local=False), True, False, True),
        # an unknown location counts as remote
        (s(local=None), True, False, True),
    ],
)
def test_count_policy(session: StreamSession, direct: bool, local: bool, counts: bool) -> None:
    policy = MediaMode(count_direct_play=direct, count_local=local)
    assert count_streams([session], policy) == int(counts)


def test_counting_every_fixture_with_the_defaults_and_strictly() -> None:
    defaults = MediaMode()
    strict = MediaMode(count_direct_play=False)
    lan_ignored = MediaMode(count_local=False)
    for sessions in (
        jellyfin.parse_sessions(JELLYFIN_SESSIONS),
        plex.parse_sessions(PLEX_SESSIONS),
        tautulli.parse_activity(TAUTULLI_ACTIVITY),
    ):
        # one remote transcode, one paused, one local direct stream
        assert count_streams(sessions, defaults) == 2
        assert count_streams(sessions, strict) == 1
        assert count_streams(sessions, lan_ignored) == 1


@pytest.mark.parametrize(
    ("height", "resolution", "lines"),
    [
        (1080, None, 1080),
        (None, "4k", 2160),
        (None, "1080p", 1080),
        (None, "720", 720),
        (None, "sd", 480),
        (None, "576", 576),
        (None, "", None),
        (None, "weird", None),
        (0, "720", 720),  # a zero height says nothing
    ],
)
def test_lines_of(height: float | None, resolution: str | None, lines: int | None) -> None:
    assert lines_of(height, resolution) == lines
