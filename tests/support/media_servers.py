"""Fake media servers on real sockets, and response bodies as the real servers send them.

The shapes are written by hand from each server's API documentation: Jellyfin's
and Emby's SessionInfo array from GET /Sessions, Plex's MediaContainer from
GET /status/sessions (JSON when asked with Accept: application/json, XML
otherwise), Tautulli's response envelope from GET /api/v2?cmd=get_activity.
tests/test_streams_fakes.py checks the fakes themselves.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# --- Jellyfin / Emby: GET /Sessions ---------------------------------------------

JELLYFIN_TRANSCODE_REMOTE = {
    "PlayState": {
        "PositionTicks": 1234500000,
        "CanSeek": True,
        "IsPaused": False,
        "IsMuted": False,
        "VolumeLevel": 100,
        "AudioStreamIndex": 1,
        "SubtitleStreamIndex": -1,
        "MediaSourceId": "9f3c2b1a",
        "PlayMethod": "Transcode",
        "RepeatMode": "RepeatNone",
        "PlaybackOrder": "Default",
    },
    "AdditionalUsers": [],
    "Capabilities": {"PlayableMediaTypes": ["Audio", "Video"], "SupportsMediaControl": True},
    "RemoteEndPoint": "203.0.113.7",
    "PlayableMediaTypes": ["Audio", "Video"],
    "Id": "5c1e8d2f0a",
    "UserId": "e4b0c7a1",
    "UserName": "alice",
    "Client": "Jellyfin Android",
    "LastActivityDate": "2025-01-10T20:01:02.1234567Z",
    "LastPlaybackCheckIn": "2025-01-10T20:01:00.0000000Z",
    "DeviceName": "Pixel 8",
    "DeviceId": "dev-pixel-8",
    "ApplicationVersion": "2.6.1",
    "NowPlayingItem": {
        "Name": "Good News About Hell",
        "ServerId": "srv1",
        "Id": "item-42",
        "SeriesName": "Severance",
        "Type": "Episode",
        "MediaType": "Video",
        "RunTimeTicks": 34000000000,
    },
    "TranscodingInfo": {
        "AudioCodec": "aac",
        "VideoCodec": "h264",
        "Container": "ts",
        "IsVideoDirect": False,
        "IsAudioDirect": False,
        "Bitrate": 8000000,
        "Width": 1920,
        "Height": 1080,
        "TranscodeReasons": ["VideoCodecNotSupported"],
    },
    "IsActive": True,
    "SupportsMediaControl": True,
    "SupportsRemoteControl": True,
    "NowPlayingQueue": [],
    "HasCustomDeviceName": False,
    "ServerId": "srv1",
    "SupportedCommands": [],
}

JELLYFIN_IDLE = {
    "PlayState": {
        "CanSeek": False,
        "IsPaused": False,
        "IsMuted": False,
        "RepeatMode": "RepeatNone",
    },
    "AdditionalUsers": [],
    "RemoteEndPoint": "192.168.1.30",
    "Id": "7d7d7d7d",
    "UserId": "e4b0c7a1",
    "UserName": "alice",
    "Client": "Jellyfin Web",
    "LastActivityDate": "2025-01-10T19:00:00.0000000Z",
    "DeviceName": "Firefox",
    "DeviceId": "dev-firefox",
    "ApplicationVersion": "10.10.3",
    "IsActive": True,
    "SupportsMediaControl": False,
    "SupportsRemoteControl": False,
    "ServerId": "srv1",
}


def jellyfin_session(
    device: str,
    *,
    paused: bool = False,
    method: str = "DirectPlay",
    address: str = "192.168.1.20",
    user: str = "bob",
) -> dict[str, object]:
    return {
        "PlayState": {
            "PositionTicks": 600000000,
            "CanSeek": True,
            "IsPaused": paused,
            "IsMuted": False,
            "PlayMethod": method,
            "RepeatMode": "RepeatNone",
        },
        "RemoteEndPoint": address,
        "Id": f"session-{device}",
        "UserId": "u-" + user,
        "UserName": user,
        "Client": "Jellyfin Media Player",
        "DeviceName": "Living room",
        "DeviceId": device,
        "NowPlayingItem": {"Name": "Arrival", "Id": "item-7", "Type": "Movie"},
        "IsActive": True,
        "ServerId": "srv1",
    }


JELLYFIN_SESSIONS = [
    JELLYFIN_TRANSCODE_REMOTE,
    JELLYFIN_IDLE,
    jellyfin_session("dev-tv", paused=True),
    jellyfin_session("dev-shield", method="DirectStream", address="::ffff:192.168.1.21"),
]

# --- Plex: GET /status/sessions with Accept: application/json ---------------------

PLEX_TRANSCODE_REMOTE = {
    "addedAt": 1700000000,
    "duration": 3400000,
    "grandparentTitle": "Severance",
    "key": "/library/metadata/123",
    "librarySectionID": "2",
    "ratingKey": "123",
    "sessionKey": "45",
    "title": "Good News About Hell",
    "type": "episode",
    "viewOffset": 60000,
    "Media": [
        {"id": "1", "videoResolution": "1080", "Part": [{"id": "1", "decision": "transcode"}]}
    ],
    "User": {"id": "1", "thumb": "https://plex.tv/users/1/avatar", "title": "alice"},
    "Player": {
        "address": "203.0.113.7",
        "machineIdentifier": "player-pixel",
        "model": "Pixel 8",
        "platform": "Android",
        "platformVersion": "14",
        "product": "Plex for Android (Mobile)",
        "profile": "Android",
        "remotePublicAddress": "203.0.113.7",
        "state": "playing",
        "title": "Pixel 8",
        "version": "10.20.0",
        "local": False,
        "relayed": False,
        "secure": True,
        "userID": 1,
    },
    "Session": {"id": "sess-abc", "bandwidth": 12000, "location": "wan"},
    "TranscodeSession": {
        "key": "/transcode/sessions/xyz",
        "throttled": False,
        "complete": False,
        "progress": 2.6,
        "speed": 1.2,
        "duration": 3400000,
        "context": "streaming",
        "sourceVideoCodec": "hevc",
        "sourceAudioCodec": "eac3",
        "videoDecision": "transcode",
        "audioDecision": "transcode",
        "protocol": "dash",
        "container": "mp4",
        "videoCodec": "h264",
        "audioCodec": "aac",
        "transcodeHwRequested": True,
    },
}


def plex_session(
    player: str,
    *,
    state: str = "playing",
    local: bool = True,
    location: str = "lan",
    transcode: dict[str, object] | None = None,
) -> dict[str, object]:
    item: dict[str, object] = {
        "addedAt": 1700000100,
        "duration": 6960000,
        "key": "/library/metadata/77",
        "ratingKey": "77",
        "sessionKey": 46,
        "title": "Arrival",
        "type": "movie",
        "year": 2016,
        "User": {"id": "2", "title": "bob"},
        "Player": {
            "address": "192.168.1.20",
            "machineIdentifier": player,
            "platform": "Roku",
            "product": "Plex for Roku",
            "state": state,
            "title": "Living room",
            "local": local,
            "relayed": False,
            "secure": False,
        },
        "Session": {"id": f"sess-{player}", "bandwidth": 30000, "location": location},
    }
    if transcode is not None:
        item["TranscodeSession"] = transcode
    return item


PLEX_SESSIONS = {
    "MediaContainer": {
        "size": 3,
        "Metadata": [
            PLEX_TRANSCODE_REMOTE,
            plex_session("player-roku", state="paused"),
            # A remux: the server copies both streams into a new container.
            plex_session(
                "player-shield",
                transcode={
                    "key": "/transcode/sessions/r1",
                    "videoDecision": "copy",
                    "audioDecision": "copy",
                    "protocol": "http",
                },
            ),
        ],
    }
}
PLEX_EMPTY = {"MediaContainer": {"size": 0}}
PLEX_XML = b'<?xml version="1.0" encoding="UTF-8"?>\n<MediaContainer size="0">\n</MediaContainer>\n'

# --- Tautulli: GET /api/v2?apikey=...&cmd=get_activity ------------------------------


def tautulli_session(
    machine: str,
    *,
    state: str = "playing",
    decision: str = "direct play",
    location: str = "lan",
    user: str = "bob",
) -> dict[str, object]:
    return {
        "session_key": "46",
        "session_id": f"sid-{machine}",
        "media_type": "movie",
        "user": user,
        "friendly_name": user.title(),
        "user_id": 2,
        "full_title": "Arrival",
        "title": "Arrival",
        "state": state,
        "transcode_decision": decision,
        "video_decision": "direct play" if decision != "transcode" else "transcode",
        "location": location,
        "local": "1" if location == "lan" else "0",
        "player": "Living room",
        "product": "Plex for Roku",
        "machine_id": machine,
        "ip_address": "192.168.1.20" if location == "lan" else "203.0.113.7",
        "progress_percent": "12",
        "bandwidth": "30000",
    }


TAUTULLI_ACTIVITY = {
    "response": {
        "result": "success",
        "message": None,
        "data": {
            "lan_bandwidth": 30000,
            "wan_bandwidth": 12000,
            "total_bandwidth": 42000,
            "stream_count": "3",
            "stream_count_direct_play": 1,
            "stream_count_direct_stream": 1,
            "stream_count_transcode": 1,
            "sessions": [
                tautulli_session(
                    "player-pixel", decision="transcode", location="wan", user="alice"
                ),
                tautulli_session("player-roku", state="paused"),
                tautulli_session("player-shield", decision="copy"),
            ],
        },
    }
}
TAUTULLI_BAD_KEY = {"response": {"result": "error", "message": "Invalid apikey", "data": {}}}

# --- the fake server ------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class FakeMediaServer:
    """Answers every GET with what the test set; records what it was asked.

    plex_xml_unless_json: answer Plex's XML when the client did not ask for JSON, as Plex does.
    """

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Seen] = []
        self.status = 200
        self.body: bytes = b"[]"
        self.content_type = "application/json"
        self.delay = 0.0
        self.plex_xml_unless_json = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                fake.requests.append(Seen(url.path, parse_qs(url.query), dict(self.headers)))
                if fake.delay:
                    time.sleep(fake.delay)
                status, body, ctype = fake.status, fake.body, fake.content_type
                if fake.plex_xml_unless_json and "json" not in self.headers.get("Accept", ""):
                    body, ctype = PLEX_XML, "text/xml;charset=utf-8"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as a timeout test wants

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        self._closed = False

    def answer(
        self,
        payload: object,
        status: int = 200,
        delay: float = 0.0,
        content_type: str = "application/json",
    ) -> None:
        self.body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.status, self.delay, self.content_type = status, delay, content_type

    def close(self) -> None:
        """The server goes away: its port refuses connections from now on."""
        if not self._closed:
            self._closed = True
            self.server.shutdown()
            self.server.server_close()
