"""Plex: GET {url}/status/sessions with `X-Plex-Token` and `Accept: application/json`.

Plex answers XML unless asked for JSON. The JSON is MediaContainer.Metadata[]
(absent when nothing plays), one entry per session: Player.state
(playing/paused/buffering), Player.local, Session.location (lan/wan), and a
TranscodeSession when the server transcodes.
"""

from __future__ import annotations

from services.sensors.streams.common import (
    Reply,
    Text,
    get_json,
    player_state,
    title_of,
    validate_reply,
)
from shared.messages import StreamSession


class PlayerInfo(Reply):
    state: str
    local: bool | None = None
    machineIdentifier: Text | None = None
    title: str | None = None
    product: str | None = None


class UserInfo(Reply):
    title: str | None = None


class SessionInfo(Reply):
    id: Text | None = None
    location: str | None = None


class TranscodeInfo(Reply):
    videoDecision: str | None = None
    audioDecision: str | None = None


class MetadataItem(Reply):
    sessionKey: Text | None = None
    title: str | None = None
    grandparentTitle: str | None = None
    User: UserInfo | None = None
    Player: PlayerInfo
    Session: SessionInfo | None = None
    TranscodeSession: TranscodeInfo | None = None


class Container(Reply):
    size: int = 0
    Metadata: list[MetadataItem] = []


class SessionsReply(Reply):
    MediaContainer: Container


def is_transcode(transcode: TranscodeInfo | None) -> bool:
    if transcode is None:
        return False
    decisions = [d for d in (transcode.videoDecision, transcode.audioDecision) if d]
    # A TranscodeSession that copies every stream is a remux (direct stream), not a transcode.
    return not decisions or any(d != "copy" for d in decisions)


def session_of(item: MetadataItem) -> StreamSession | None:
    state = player_state(item.Player.state)
    if state is None:
        return None
    location = (item.Session.location if item.Session else None) or ""
    local = {"lan": True, "wan": False}.get(location.lower(), item.Player.local)
    # Webhooks name the player (its uuid), not the session, so the player is the identity.
    session_id = (
        item.Player.machineIdentifier
        or (item.Session.id if item.Session else None)
        or item.sessionKey
        or ""
    )
    return StreamSession(
        id=session_id,
        user=(item.User.title if item.User else None) or "",
        title=title_of(item.title, item.grandparentTitle),
        state=state,
        transcode=is_transcode(item.TranscodeSession),
        local=local,
        client=" / ".join(p for p in (item.Player.product, item.Player.title) if p),
    )


def parse_sessions(payload: object) -> list[StreamSession]:
    reply = validate_reply(SessionsReply, payload, "plex")
    return [s for s in map(session_of, reply.MediaContainer.Metadata) if s is not None]


def fetch(url: str, token: str, timeout: float) -> list[StreamSession]:
    payload = get_json(
        f"{url.rstrip('/')}/status/sessions",
        what="plex",
        timeout=timeout,
        headers={"X-Plex-Token": token, "Accept": "application/json"},
        secrets=(token,),
    )
    return parse_sessions(payload)
