"""Jellyfin: GET {url}/Sessions, authenticated with `Authorization: MediaBrowser Token=...`.

The answer is a JSON array of SessionInfo. A session is a stream when it has a
NowPlayingItem. Its decisions come from the strongest signal there is:
TranscodingInfo.IsVideoDirect and IsAudioDirect when the server runs a
transcode job (both direct is a remux, which Jellyfin labels PlayMethod
"Transcode"), else PlayState.PlayMethod, which the client reports and which is
sometimes wrong (jellyfin-roku#616, jellyfin#1014). RemoteEndPoint says where
the client is. Emby kept this API when Jellyfin forked (emby.py reads it here
too) and adds VideoDecoderIsHardware and VideoEncoderIsHardware.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, RootModel

from services.sensors.streams.classify import (
    PHOTO,
    Decisions,
    Flag,
    Measure,
    address_of,
    decision_of,
    describe,
    first_known,
    hw_requested,
    hw_transcode,
    kbps,
    lines_of,
    media_type_of,
)
from services.sensors.streams.common import (
    Reply,
    get_json,
    local_from_address,
    title_of,
    validate_reply,
)
from shared.messages import StreamSession
from shared.messages.facts import MediaType, StreamDecision


def _reasons(value: object) -> object:
    # A list in Jellyfin 10.8 and later, one comma-separated word in older answers and in
    # the OpenAPI example; anything else says nothing.
    if isinstance(value, str):
        return [w.strip() for w in value.split(",") if w.strip()]
    return value if isinstance(value, list) and all(isinstance(w, str) for w in value) else []


class PlayStateInfo(Reply):
    IsPaused: bool | None = None
    PlayMethod: str | None = None
    AudioStreamIndex: Measure = None


class MediaStreamInfo(Reply):
    Type: str | None = None
    Index: Measure = None
    BitRate: Measure = None
    Height: Measure = None
    IsDefault: Flag = None


class ItemInfo(Reply):
    Name: str | None = None
    SeriesName: str | None = None
    Type: str | None = None
    MediaType: str | None = None
    MediaStreams: list[MediaStreamInfo] | None = None


class TranscodeJob(Reply):
    """SessionInfo.TranscodingInfo: there while the server runs a transcode job."""

    IsVideoDirect: bool | None = None
    IsAudioDirect: bool | None = None
    # Bits per second.
    Bitrate: Measure = None
    # The video the job makes.
    Height: Measure = None
    # Jellyfin: the acceleration the server is set to ask for, echoed even when this job
    # fell back to software (Tracearr#809, jellyfin-web#6043): never proof of a GPU.
    HardwareAccelerationType: str | None = None
    # Emby: what this job actually runs on.
    VideoDecoderIsHardware: Flag = None
    VideoEncoderIsHardware: Flag = None
    TranscodeReasons: Annotated[list[str], BeforeValidator(_reasons)] = []


class SessionInfo(Reply):
    Id: str
    DeviceId: str | None = None
    UserName: str | None = None
    Client: str | None = None
    DeviceName: str | None = None
    RemoteEndPoint: str | None = None
    NowPlayingItem: ItemInfo | None = None
    PlayState: PlayStateInfo | None = None
    TranscodingInfo: TranscodeJob | None = None


class SessionsReply(RootModel[list[SessionInfo]]):
    pass


# --- media type -----------------------------------------------------------------------

# Item types of live TV; its MediaType is "Video", so they are looked at first.
LIVE_TV_TYPES = frozenset({"tvchannel", "livetvchannel", "livetvprogram", "program"})
MEDIA_TYPES: dict[str, MediaType] = {"video": "video", "audio": "audio", "photo": "photo"}
ITEM_TYPES: dict[str, MediaType] = {
    "movie": "video",
    "episode": "video",
    "video": "video",
    "musicvideo": "video",
    "trailer": "video",
    "recording": "video",
    "audio": "audio",
    "audiobook": "audio",
    "photo": "photo",
}


def media_type_of_item(item_type: str | None, media_type: str | None) -> MediaType | None:
    """An item's media type from its Type and MediaType (Jellyfin's and Emby's words)."""
    if (item_type or "").lower() in LIVE_TV_TYPES:
        return "live tv"
    return media_type_of(media_type, MEDIA_TYPES) or media_type_of(item_type, ITEM_TYPES)


# --- decisions ------------------------------------------------------------------------


def _from_flag(direct: bool | None, method: StreamDecision | None) -> StreamDecision:
    if direct is not None:
        # A transcode job that leaves the stream as it is copies it: a direct stream.
        return "direct stream" if direct else "transcode"
    # The job does not say for this stream: the client's word, else err toward a transcode.
    if method == "direct play":
        return "direct stream"
    return method or "transcode"


def decisions_of(
    play_method: str | None,
    transcoding: TranscodeJob | None,
    media_type: MediaType | None,
) -> Decisions:
    if media_type == "photo":
        return PHOTO
    method = decision_of(play_method)
    has_video = media_type != "audio"
    if transcoding is None:
        if method is None:
            return Decisions(None, None, "no PlayMethod or TranscodingInfo")
        return Decisions(
            method if has_video else None,
            method,
            f"PlayMethod {play_method}",
        )
    video = _from_flag(transcoding.IsVideoDirect, method) if has_video else None
    audio = _from_flag(transcoding.IsAudioDirect, method)
    decisions = Decisions(video, audio, "")
    reason = f"TranscodingInfo: {describe(video, audio)}"
    if not decisions.transcode:
        reason += " (a remux)"
    if method is not None and (method == "transcode") != decisions.transcode:
        reason += f", though PlayMethod says {play_method}"
    if decisions.transcode and transcoding.TranscodeReasons:
        reason += f"; {', '.join(transcoding.TranscodeReasons)}"
    return Decisions(video, audio, reason)


def hardware_said(transcoding: TranscodeJob | None) -> bool | None:
    """What the server says of its GPU for this job: Emby's flags, Jellyfin's "none"."""
    if transcoding is None:
        return None
    flags = (transcoding.VideoDecoderIsHardware, transcoding.VideoEncoderIsHardware)
    if True in flags:
        return True
    if flags == (False, False):
        return False
    # Acceleration switched off is software for sure; any other value was only asked for.
    if (transcoding.HardwareAccelerationType or "").lower() == "none":
        return False
    return None


def hardware_asked(transcoding: TranscodeJob | None) -> bool | None:
    """Whether the server is set to ask a GPU for this job (Emby's flags say it did)."""
    if transcoding is None:
        return None
    if hardware_said(transcoding):
        return True
    kind = (transcoding.HardwareAccelerationType or "").lower()
    return None if not kind else kind != "none"


def _source_kbps(item: ItemInfo, audio_index: float | None) -> int | None:
    """The source's video and played audio stream, which a direct play or stream sends as is."""
    streams = item.MediaStreams or []
    video = next((s for s in streams if (s.Type or "").lower() == "video"), None)
    audios = [s for s in streams if (s.Type or "").lower() == "audio"]
    audio = (
        next((s for s in audios if audio_index is not None and s.Index == audio_index), None)
        or next((s for s in audios if s.IsDefault), None)
        or next(iter(audios), None)
    )
    rates = [kbps(s.BitRate, bits_per_second=True) for s in (video, audio) if s is not None]
    known = [r for r in rates if r is not None]
    return sum(known) if known else None


def bitrate_of(
    decisions: Decisions,
    transcoding: TranscodeJob | None,
    item: ItemInfo,
    audio_index: float | None,
) -> int | None:
    job = kbps(transcoding.Bitrate, bits_per_second=True) if transcoding else None
    # A transcode sends what the job makes, which only the job knows.
    source = None if decisions.transcode else _source_kbps(item, audio_index)
    return first_known(job, source)


def height_of(decisions: Decisions, transcoding: TranscodeJob | None, item: ItemInfo) -> int | None:
    """The lines the client gets: the job's where it transcodes video, else the source's."""
    if decisions.video == "transcode" and transcoding is not None:
        return lines_of(transcoding.Height)
    video = next((s for s in item.MediaStreams or [] if (s.Type or "").lower() == "video"), None)
    return lines_of(video.Height) if video is not None else None


def session_of(info: SessionInfo) -> StreamSession | None:
    """One SessionInfo as a stream, or None when it plays nothing."""
    item = info.NowPlayingItem
    if item is None:
        return None
    play = info.PlayState or PlayStateInfo()
    media_type = media_type_of_item(item.Type, item.MediaType)
    decisions = decisions_of(play.PlayMethod, info.TranscodingInfo, media_type)
    client = " / ".join(p for p in (info.Client, info.DeviceName) if p)
    return StreamSession(
        # Webhooks name the device, not the session, so the device is the session's identity.
        id=info.DeviceId or info.Id,
        user=info.UserName or "",
        title=title_of(item.Name, item.SeriesName),
        state="paused" if play.IsPaused else "playing",
        transcode=decisions.transcode,
        video_decision=decisions.video,
        audio_decision=decisions.audio,
        decision_reason=decisions.reason,
        media_type=media_type,
        bitrate_kbps=bitrate_of(decisions, info.TranscodingInfo, item, play.AudioStreamIndex),
        hw_transcode=hw_transcode(decisions, hardware_said(info.TranscodingInfo)),
        hw_requested=hw_requested(decisions, hardware_asked(info.TranscodingInfo)),
        local=local_from_address(info.RemoteEndPoint),
        address=address_of(info.RemoteEndPoint),
        video_height=height_of(decisions, info.TranscodingInfo, item),
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
