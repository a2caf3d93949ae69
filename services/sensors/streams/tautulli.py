"""Tautulli (Plex's monitor): GET {url}/api/v2?apikey=...&cmd=get_activity.

The answer wraps everything in response: result ("success" or "error"),
message, and data.sessions[], each with state, transcode_decision
("transcode", "copy" for a direct stream, "direct play") and location
(lan/wan). Tautulli sends most numbers as strings.
"""

from __future__ import annotations

from services.sensors.streams.common import (
    Reply,
    StreamQueryError,
    Text,
    get_json,
    player_state,
    validate_reply,
)
from shared.messages import StreamSession


class Session(Reply):
    session_key: Text | None = None
    session_id: Text | None = None
    machine_id: Text | None = None
    user: str | None = None
    friendly_name: str | None = None
    full_title: str | None = None
    title: str | None = None
    state: str | None = None
    transcode_decision: str | None = None
    location: str | None = None
    local: Text | None = None
    player: str | None = None
    product: str | None = None


class Activity(Reply):
    sessions: list[Session]


class Envelope(Reply):
    result: str
    message: str | None = None
    data: object = None


class ActivityReply(Reply):
    response: Envelope


def session_of(item: Session) -> StreamSession | None:
    state = player_state(item.state)
    if state is None:
        return None
    location = (item.location or "").lower()
    local: bool | None
    if location in ("lan", "wan", "cellular"):
        local = location == "lan"
    else:
        local = {"1": True, "0": False}.get(item.local or "")
    return StreamSession(
        id=item.machine_id or item.session_id or item.session_key or "",
        user=item.friendly_name or item.user or "",
        title=item.full_title or item.title or "",
        state=state,
        transcode=(item.transcode_decision or "").lower() == "transcode",
        local=local,
        client=" / ".join(p for p in (item.product, item.player) if p),
    )


def parse_activity(payload: object) -> list[StreamSession]:
    reply = validate_reply(ActivityReply, payload, "tautulli")
    if reply.response.result != "success":
        raise StreamQueryError(
            f"tautulli: {reply.response.result}: {reply.response.message or 'no message'}"
        )
    activity = validate_reply(Activity, reply.response.data, "tautulli")
    return [s for s in map(session_of, activity.sessions) if s is not None]


def fetch(url: str, api_key: str, timeout: float) -> list[StreamSession]:
    payload = get_json(
        f"{url.rstrip('/')}/api/v2",
        what="tautulli",
        timeout=timeout,
        params={"apikey": api_key, "cmd": "get_activity"},
        headers={"Accept": "application/json"},
        secrets=(api_key,),
    )
    return parse_activity(payload)
