"""What media servers really sent, read: one table per server over published captures.

The payloads are under tests/fixtures/media/ (tests/support/published.py), each
citing where it was published. Each row says, for one session: its video and
audio decision, its media type, whether media mode counts it (default
settings), its bitrate in kbps, its hardware-transcode flag and its locality.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from services.sensors.streams import emby, jellyfin, plex, tautulli
from services.sensors.streams.common import counts
from services.sensors.streams.webhooks import parse_webhook
from shared.config.model import MediaMode
from shared.messages import StreamSession
from tests.support import published
from tests.support.processes import REPO
from tests.support.webhook_bodies import plex_multipart

Row = tuple[str | None, str | None, str | None, bool, int | None, bool | None, bool | None]


def row(session: StreamSession, policy: MediaMode | None = None) -> Row:
    return (
        session.video_decision,
        session.audio_decision,
        session.media_type,
        counts(session, policy or MediaMode()),
        session.bitrate_kbps,
        session.hw_transcode,
        session.local,
    )


def by_id(sessions: list[StreamSession]) -> dict[str, StreamSession]:
    return {s.id: s for s in sessions}


def test_every_fixture_cites_where_it_comes_from() -> None:
    names = published.names()
    assert len(names) >= 12
    for name in names:
        header = published.header(name)
        assert "Our own copy" in header or "NOT a published capture" in header, name
        # A repository and a path (owner/name path/...), or the thread's address.
        assert re.search(r"\b[\w.-]+/[\w.-]+ [\w./-]+", header) or "github.com" in header, name


# --- Jellyfin (and Emby, which shares the API) -------------------------------------------

HA_JELLYFIN = "jellyfin_sessions_home_assistant.json"


@pytest.mark.parametrize("parse", [jellyfin.parse_sessions, emby.parse_sessions])
@pytest.mark.parametrize(
    ("session_id", "expected"),
    [
        # PlayMethod Transcode, TranscodingInfo both direct: a remux, not a transcode. Paused.
        ("DEVICE-UUID", ("direct stream", "direct stream", "video", False, None, False, None)),
        # The same remux, playing, to a client whose RemoteEndPoint is not an address:
        # counted as a direct stream to a remote client. Bitrate 0 is not said.
        ("DEVICE-UUID-TWO", ("direct stream", "direct stream", "video", True, None, False, None)),
        # A 256 kbps MP3 played directly on the LAN: music, not counted by default.
        ("DEVICE-UUID-FOUR", (None, "direct play", "audio", False, 256, False, True)),
    ],
)
def test_home_assistants_jellyfin_sessions(parse: Any, session_id: str, expected: Row) -> None:
    sessions = by_id(parse(published.load(HA_JELLYFIN)))
    # The third session runs a transcode job but plays nothing: not a stream.
    assert set(sessions) == {"DEVICE-UUID", "DEVICE-UUID-TWO", "DEVICE-UUID-FOUR"}
    assert row(sessions[session_id]) == expected


def test_a_jellyfin_remux_says_why_it_is_not_a_transcode() -> None:
    remux = by_id(jellyfin.parse_sessions(published.load(HA_JELLYFIN)))["DEVICE-UUID-TWO"]
    assert remux.transcode is False
    assert "remux" in remux.decision_reason and "PlayMethod says Transcode" in remux.decision_reason


def test_music_counts_with_count_audio() -> None:
    music = by_id(jellyfin.parse_sessions(published.load(HA_JELLYFIN)))["DEVICE-UUID-FOUR"]
    assert counts(music, MediaMode(count_audio=True))
    assert not counts(music, MediaMode(count_audio=True, count_local=False))


def ha_jellyfin_movie(**changes: Any) -> dict[str, Any]:
    """Home Assistant's playing movie session, with its TranscodingInfo and PlayState changed."""
    session = copy.deepcopy(published.load(HA_JELLYFIN)[1])  # type: ignore[index]
    for key, value in changes.items():
        if value is None:
            session.pop(key, None)
        elif isinstance(value, dict):
            session[key] = {**session.get(key, {}), **value}
        else:
            session[key] = value
    return session


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # A real transcode: the job's bitrate (bps) as kbps; AMF is only what was asked for.
        (
            {"TranscodingInfo": {"IsVideoDirect": False, "Bitrate": 8_000_000}},
            ("transcode", "direct stream", "video", True, 8000, None, None),
        ),
        # Acceleration off is software for sure.
        (
            {"TranscodingInfo": {"IsVideoDirect": False, "HardwareAccelerationType": "none"}},
            ("transcode", "direct stream", "video", True, None, False, None),
        ),
        # Emby says what the job runs on.
        (
            {"TranscodingInfo": {"IsVideoDirect": False, "VideoEncoderIsHardware": True}},
            ("transcode", "direct stream", "video", True, None, True, None),
        ),
        (
            {
                "TranscodingInfo": {
                    "IsVideoDirect": False,
                    "VideoDecoderIsHardware": False,
                    "VideoEncoderIsHardware": False,
                }
            },
            ("transcode", "direct stream", "video", True, None, False, None),
        ),
        # Only the audio is transcoded: a GPU transcodes video only.
        (
            {"TranscodingInfo": {"IsAudioDirect": False}},
            ("direct stream", "transcode", "video", True, None, False, None),
        ),
        # After a server restart, DirectPlay without TranscodingInfo (jellyfin#16815).
        (
            {"TranscodingInfo": None, "PlayState": {"PlayMethod": "DirectPlay"}},
            ("direct play", "direct play", "video", True, None, False, None),
        ),
        # The client says Transcode and no job says otherwise: a transcode.
        (
            {"TranscodingInfo": None, "RemoteEndPoint": "192.168.1.9"},
            ("transcode", "transcode", "video", True, None, None, True),
        ),
        # Live TV plays a TvChannel, whose MediaType is Video.
        (
            {"NowPlayingItem": {"Type": "TvChannel", "MediaType": "Video"}},
            ("direct stream", "direct stream", "live tv", True, None, False, None),
        ),
        (
            {"NowPlayingItem": {"Type": "Photo", "MediaType": "Photo"}},
            (None, None, "photo", False, None, None, None),
        ),
        # A detail that cannot be read is unknown, the reading stands.
        (
            {"TranscodingInfo": {"IsVideoDirect": False, "Bitrate": "fast"}},
            ("transcode", "direct stream", "video", True, None, None, None),
        ),
    ],
)
def test_jellyfin_and_emby_signals(changes: dict[str, Any], expected: Row) -> None:
    (session,) = jellyfin.parse_sessions([ha_jellyfin_movie(**changes)])
    assert row(session) == expected


def test_a_direct_play_sends_its_source_streams() -> None:
    streams = [
        {"Type": "Video", "Index": 0, "BitRate": 7_500_000},
        {"Type": "Audio", "Index": 1, "BitRate": 640_000, "IsDefault": True},
        {"Type": "Audio", "Index": 2, "BitRate": 192_000},
        {"Type": "Subtitle", "Index": 3},
    ]
    raw = ha_jellyfin_movie(
        TranscodingInfo=None,
        PlayState={"PlayMethod": "DirectPlay", "AudioStreamIndex": 2},
        NowPlayingItem={"MediaStreams": streams},
    )
    (session,) = jellyfin.parse_sessions([raw])
    # The video and the audio track the client chose (index 2), not the default one.
    assert session.bitrate_kbps == 7692


# --- Plex ---------------------------------------------------------------------------------


def plex_item(name: str) -> dict[str, Any]:
    return copy.deepcopy(published.load(name)["MediaContainer"]["Metadata"][0])  # type: ignore[index]


def plex_read(*items: dict[str, Any]) -> list[StreamSession]:
    return plex.parse_sessions({"MediaContainer": {"size": len(items), "Metadata": list(items)}})


def transient_with_plexapi_job() -> dict[str, Any]:
    """Home Assistant's transient session with python-plexapi's hardware job nested in it."""
    item = plex_item("plex_session_transient_home_assistant.json")
    job = published.load("plex_transcode_sessions_plexapi.json")
    item["TranscodeSession"] = job["MediaContainer"]["TranscodeSession"][0]  # type: ignore[index]
    return item


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        # Video copied, DTS audio transcoded, and no TranscodeSession: a transcode.
        (
            lambda: plex_item("plex_session_base_home_assistant.json"),
            ("direct stream", "transcode", "video", True, 7000, False, True),
        ),
        (
            lambda: plex_item("plex_session_transient_home_assistant.json"),
            ("transcode", "transcode", "video", True, 1981, None, True),
        ),
        # Paused: not counted, whatever it transcodes.
        (
            lambda: plex_item("plex_session_homarr.json"),
            ("direct stream", "transcode", "video", False, 21560, False, True),
        ),
        # DXVA2 decoding and QuickSync encoding: on hardware.
        (transient_with_plexapi_job, ("transcode", "transcode", "video", True, 1981, True, True)),
        # Live TV: the TranscodeSession is inside Media.
        (
            lambda: plex_item("plex_session_live_tv.json"),
            ("transcode", "direct stream", "live tv", True, 4400, True, True),
        ),
    ],
)
def test_plex_sessions(item: Any, expected: Row) -> None:
    (session,) = plex_read(item())
    assert row(session) == expected


@pytest.mark.parametrize(
    ("change", "expected", "requested"),
    [
        # Requested alone proves nothing (but says the server was set to); not requested
        # is software.
        ({"transcodeHwRequested": True}, None, True),
        ({"transcodeHwRequested": False}, False, False),
        ({"transcodeHwRequested": True, "transcodeHwEncoding": "nvenc"}, True, True),
        ({"transcodeHwRequested": True, "transcodeHwDecoding": "vaapi"}, True, True),
        ({}, None, None),
    ],
)
def test_plex_hardware_flags(
    change: dict[str, Any], expected: bool | None, requested: bool | None
) -> None:
    item = transient_with_plexapi_job()
    job = item["TranscodeSession"]
    for key in ("transcodeHwRequested", "transcodeHwDecoding", "transcodeHwEncoding"):
        job.pop(key)
    job.update(change)
    (session,) = plex_read(item)
    assert (session.hw_transcode, session.hw_requested) == (expected, requested)


def test_plex_music_and_photos_are_not_counted() -> None:
    track = plex_item("plex_session_base_home_assistant.json")
    track["type"] = "track"
    photo = {**plex_item("plex_session_base_home_assistant.json"), "type": "photo"}
    music, picture = plex_read(track, photo)
    assert (music.media_type, counts(music, MediaMode())) == ("audio", False)
    assert counts(music, MediaMode(count_audio=True))
    assert (picture.media_type, counts(picture, MediaMode(count_audio=True))) == ("photo", False)


# --- Tautulli -------------------------------------------------------------------------------

HA_TAUTULLI = "tautulli_get_activity_home_assistant.json"


def tautulli_with(**changes: object) -> list[StreamSession]:
    payload = copy.deepcopy(published.load(HA_TAUTULLI))
    payload["response"]["data"]["sessions"][0].update(changes)  # type: ignore[index]
    return tautulli.parse_activity(payload)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("direct play", "direct play", "video", True, 587, False, True)),
        (
            {
                "stream_video_decision": "transcode",
                "transcode_decision": "transcode",
                "transcode_hw_decoding": 1,
                "transcode_hw_encoding": 1,
                "location": "wan",
            },
            ("transcode", "direct play", "video", True, 587, True, False),
        ),
        (
            {"stream_video_decision": "transcode", "transcode_hw_requested": 1},
            ("transcode", "direct play", "video", True, 587, False, True),
        ),
        # A remux ("copy") is direct.
        (
            {"stream_video_decision": "copy", "bandwidth": ""},
            ("direct stream", "direct play", "video", True, 326, False, True),
        ),
        ({"live": 1}, ("direct play", "direct play", "live tv", True, 587, False, True)),
        (
            {"media_type": "track", "stream_video_decision": ""},
            (None, "direct play", "audio", False, 587, False, True),
        ),
    ],
)
def test_tautulli_activity(changes: dict[str, object], expected: Row) -> None:
    (session,) = tautulli_with(**changes)
    assert row(session) == expected


# --- webhooks -------------------------------------------------------------------------------

WebhookRow = tuple[str | None, str, str | None, bool | None, bool | None]


def emby_multipart(body: bytes) -> tuple[str, bytes]:
    boundary = "EmbyBoundary1a2b3c"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n'.encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", form


def scrobblex_22() -> tuple[str, bytes]:
    name = "plex_webhook_pause_scrobblex_22.multipart"
    content_type = re.search(r"Content-Type: (.*)", published.header(name))
    assert content_type
    return content_type.group(1), published.raw(name)


JSON = "application/json"


@pytest.mark.parametrize(
    ("source", "body", "expected"),
    [
        (
            "emby",
            lambda: (JSON, published.raw("emby_webhook_playback_start_moviepilot.json")),
            ("playing", "30239450-1748-4855-9799-de3544fc2744", "video", True, True),
        ),
        (
            "emby",
            lambda: emby_multipart(published.raw("emby_webhook_playback_start_moviepilot.json")),
            ("playing", "30239450-1748-4855-9799-de3544fc2744", "video", True, True),
        ),
        (
            "emby",
            lambda: (JSON, published.raw("emby_webhook_playback_stop_moviepilot.json")),
            ("stopped", "30239450-1748-4855-9799-de3544fc2744", "video", True, False),
        ),
        (
            "jellyfin",
            lambda: (JSON, published.raw("jellyfin_webhook_playback_start_moviepilot.json")),
            ("playing", "TW96aWxsxxxxxjA", "video", None, True),
        ),
        (
            "plex",
            lambda: plex_multipart(published.raw("plex_webhook_scrobble_moviepilot.json").decode()),
            ("playing", "wu0uoa1ujfq90t0c5p9f7fw0", "video", False, True),
        ),
        ("plex", scrobblex_22, ("paused", "23423424", "video", True, False)),
    ],
)
def test_published_webhook_bodies(source: str, body: Any, expected: WebhookRow) -> None:
    event = parse_webhook(source, *body())  # type: ignore[arg-type]
    assert event.session is not None
    session = event.session
    counted = counts(session, MediaMode()) if event.action != "stopped" else False
    assert (event.action, session.id, session.media_type, session.local, counted) == expected
    # None of these says how the stream is played: the query each triggers will.
    assert (session.video_decision, session.audio_decision, session.transcode) == (
        None,
        None,
        False,
    )


def test_an_old_jellyfin_plugins_body_is_incomplete() -> None:
    body = published.raw("jellyfin_webhook_playback_start_moviepilot.json")
    event = parse_webhook("jellyfin", JSON, body)
    assert event.incomplete == ("PlayMethod", "RemoteEndPoint")
    current = {**json.loads(body), "PlayMethod": "DirectStream", "RemoteEndPoint": "10.0.0.9"}
    event = parse_webhook("jellyfin", JSON, json.dumps(current).encode())
    assert event.incomplete == ()
    assert event.session is not None
    assert (event.session.video_decision, event.session.local) == ("direct stream", True)


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("playback.start", "playing"),
        ("playback.unpause", "playing"),
        ("playback.pause", "paused"),
        ("playback.stop", "stopped"),
        ("library.new", None),
        ("system.notificationtest", None),
    ],
)
def test_emby_events(event: str, action: str | None) -> None:
    body = json.loads(published.raw("emby_webhook_playback_start_moviepilot.json"))
    parsed = parse_webhook("emby", JSON, json.dumps({**body, "Event": event}).encode())
    assert (parsed.source, parsed.event, parsed.action) == ("emby", event, action)


def tautulli_template() -> str:
    guide = (REPO / "docs" / "guides" / "media-streams.md").read_text()
    section = guide.split("- Tautulli (Notification agent Webhook", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, flags=re.S)
    assert block
    return block.group(1)


def test_the_readmes_tautulli_template_gives_what_the_parser_reads() -> None:
    """Tautulli fills each {parameter} of the template in as text; these are its names."""
    session = published.load(HA_TAUTULLI)["response"]["data"]["sessions"][0]  # type: ignore[index]
    values = {
        "action": "play",
        "username": session["user"],
        "stream_bandwidth": session["bandwidth"],
        "stream_local": str(session["local"]),
        **{k: str(v) for k, v in session.items()},
        "video_decision": "transcode",
        "transcode_decision": "transcode",
        "transcode_hw_decoding": "0",
        "transcode_hw_encoding": "1",
    }
    rendered = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], tautulli_template())
    event = parse_webhook("tautulli", JSON, rendered.encode())
    assert event.session is not None
    assert row(event.session) == ("transcode", "direct play", "video", True, 587, True, True)
