"""Tautulli (Plex's monitor): GET {url}/api/v2?apikey=...&cmd=get_activity.

The answer wraps everything in response: result ("success" or "error"),
message, and data.sessions[], each with state, location (lan/wan), the
decisions Tautulli shows per stream (stream_video_decision and
stream_audio_decision: "direct play", "copy" for a direct stream,
"transcode"; transcode_decision sums them up), media_type and live,
bandwidth and stream_bitrate in kbps, and transcode_hw_decoding and
transcode_hw_encoding (0 or 1, from Plex's hardware codecs). Tautulli sends
most numbers as strings, and "" for one it does not have.
"""

from __future__ import annotations

from services.sensors.streams import plex
from services.sensors.streams.classify import (
    PHOTO,
    Decisions,
    Flag,
    Measure,
    address_of,
    decision_of,
    describe,
    first_known,
    hw_transcode,
    kbps,
    lines_of,
)
from services.sensors.streams.common import (
    Reply,
    StreamQueryError,
    Text,
    get_json,
    player_state,
    validate_reply,
)
from shared.messages import StreamSession
from shared.messages.facts import MediaType


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
    video_decision: str | None = None
    audio_decision: str | None = None
    stream_video_decision: str | None = None
    stream_audio_decision: str | None = None
    media_type: str | None = None
    live: Flag = None
    bandwidth: Measure = None
    stream_bitrate: Measure = None
    transcode_hw_decoding: Flag = None
    transcode_hw_encoding: Flag = None
    location: str | None = None
    local: Text | None = None
    ip_address: str | None = None
    stream_video_resolution: Text | None = None
    stream_video_height: Measure = None
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


def media_type_of_session(media_type: str | None, live: bool | None) -> MediaType | None:
    # Tautulli passes on Plex's own media types.
    return plex.media_type_of_item(media_type, live)


def decisions_of(
    stream_video: str | None,
    stream_audio: str | None,
    overall: str | None,
    media_type: MediaType | None,
) -> Decisions:
    """Tautulli's per-stream words; its overall transcode_decision for a stream without one."""
    if media_type == "photo":
        return PHOTO
    has_video = media_type != "audio"
    own = (decision_of(stream_video) if has_video else None, decision_of(stream_audio))
    whole = decision_of(overall)
    video = own[0] or (whole if has_video else None)
    audio = own[1] or whole
    if own == (None, None):
        reason = f"Tautulli transcode_decision {overall}" if whole else "Tautulli gave no decision"
    else:
        reason = f"Tautulli stream decisions: {describe(video, audio)}"
        if (video, audio) != own:
            reason += f" (transcode_decision {overall} where a stream has none)"
    return Decisions(video, audio, reason)


def hardware_said(decoding: bool | None, encoding: bool | None) -> bool | None:
    if decoding or encoding:
        return True
    return False if (decoding, encoding) == (False, False) else None


def local_of(location: str | None, local: str | None) -> bool | None:
    word = (location or "").lower()
    if word in ("lan", "wan", "cellular"):
        return word == "lan"
    return {"1": True, "0": False}.get(local or "")


def session_of(item: Session) -> StreamSession | None:
    state = player_state(item.state)
    if state is None:
        return None
    media_type = media_type_of_session(item.media_type, item.live)
    decisions = decisions_of(
        item.stream_video_decision or item.video_decision,
        item.stream_audio_decision or item.audio_decision,
        item.transcode_decision,
        media_type,
    )
    return StreamSession(
        id=item.machine_id or item.session_id or item.session_key or "",
        user=item.friendly_name or item.user or "",
        title=item.full_title or item.title or "",
        state=state,
        transcode=decisions.transcode,
        video_decision=decisions.video,
        audio_decision=decisions.audio,
        decision_reason=decisions.reason,
        media_type=media_type,
        bitrate_kbps=first_known(kbps(item.bandwidth), kbps(item.stream_bitrate)),
        hw_transcode=hw_transcode(
            decisions, hardware_said(item.transcode_hw_decoding, item.transcode_hw_encoding)
        ),
        local=local_of(item.location, item.local),
        address=address_of(item.ip_address),
        video_height=lines_of(item.stream_video_height, item.stream_video_resolution)
        if media_type != "audio"
        else None,
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
