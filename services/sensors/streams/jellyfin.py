"""Jellyfin: GET {url}/Sessions, authenticated with `Authorization: MediaBrowser Token=...`.

The answer is a JSON array of SessionInfo. A session is a stream when it has a
NowPlayingItem; PlayState.IsPaused and PlayState.PlayMethod (Transcode,
DirectStream, DirectPlay) classify it, RemoteEndPoint says where the client is.
"""

from __future__ import annotations

from pydantic import RootModel

from services.sensors.streams.common import (
    Reply,
    get_json,
    local_from_address,
    title_of,
    validate_reply,
)
from shared.messages import StreamSession


class PlayStateInfo(Reply):
    IsPaused: bool | None = None
    PlayMethod: str | None = None


class ItemInfo(Reply):
    Name: str | None = None
    SeriesName: str | None = None


class SessionInfo(Reply):
    Id: str
    DeviceId: str | None = None
    UserName: str | None = None
    Client: str | None = None
    DeviceName: str | None = None
    RemoteEndPoint: str | None = None
    NowPlayingItem: ItemInfo | None = None
    PlayState: PlayStateInfo | None = None
    TranscodingInfo: dict[str, object] | None = None


class SessionsReply(RootModel[list[SessionInfo]]):
    pass


def session_of(info: SessionInfo) -> StreamSession | None:
    """One SessionInfo as a stream, or None when it plays nothing."""
    if info.NowPlayingItem is None:
        return None
    play = info.PlayState or PlayStateInfo()
    method = (play.PlayMethod or "").lower()
    # Older servers leave PlayMethod out while transcoding; TranscodingInfo says it then.
    transcode = method == "transcode" or (not method and info.TranscodingInfo is not None)
    client = " / ".join(p for p in (info.Client, info.DeviceName) if p)
    return StreamSession(
        # Webhooks name the device, not the session, so the device is the session's identity.
        id=info.DeviceId or info.Id,
        user=info.UserName or "",
        title=title_of(info.NowPlayingItem.Name, info.NowPlayingItem.SeriesName),
        state="paused" if play.IsPaused else "playing",
        transcode=transcode,
        local=local_from_address(info.RemoteEndPoint),
        client=client,
    )


def parse_sessions(payload: object, what: str = "jellyfin") -> list[StreamSession]:
    reply = validate_reply(SessionsReply, payload, what)
    return [s for s in map(session_of, reply.root) if s is not None]


def fetch(url: str, api_key: str, timeout: float) -> list[StreamSession]:
    payload = get_json(
        f"{url.rstrip('/')}/Sessions",
        what="jellyfin",
        timeout=timeout,
        headers={"Authorization": f'MediaBrowser Token="{api_key}"', "Accept": "application/json"},
        secrets=(api_key,),
    )
    return parse_sessions(payload)
