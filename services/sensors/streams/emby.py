"""Emby: GET {url}/Sessions with the `X-Emby-Token` header.

Jellyfin forked from Emby and kept its session API: the same SessionInfo
array (NowPlayingItem, PlayState.IsPaused, PlayState.PlayMethod,
TranscodingInfo, RemoteEndPoint), so the same parser reads both. Emby's
TranscodingInfo also says what the job runs on (VideoDecoderIsHardware,
VideoEncoderIsHardware), which jellyfin.hardware_said reads.
"""

from __future__ import annotations

from services.sensors.streams import jellyfin
from services.sensors.streams.common import get_json
from shared.messages import StreamSession


def parse_sessions(payload: object) -> list[StreamSession]:
    return jellyfin.parse_sessions(payload, what="emby")


def fetch(url: str, api_key: str, timeout: float) -> list[StreamSession]:
    payload = get_json(
        f"{url.rstrip('/')}/Sessions",
        what="emby",
        timeout=timeout,
        headers={"X-Emby-Token": api_key, "Accept": "application/json"},
        secrets=(api_key,),
    )
    return parse_sessions(payload)
