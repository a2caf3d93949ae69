"""Plex: GET {url}/status/sessions with `X-Plex-Token` and `Accept: application/json`.

Plex answers XML unless asked for JSON; the JSON has the same elements, each
attribute a key. MediaContainer.Metadata[] (absent when nothing plays) holds
one entry per session: Player.state (playing/paused/buffering), Player.local,
Session.location (lan/wan) and Session.bandwidth (kbps), the Media played with
its Part and Stream elements, and a TranscodeSession while the transcoder runs:
on the entry itself, or inside Media for Live TV.

Decisions are read per stream, as Plex's own clients and Tautulli read them:
each Stream's `decision` (copy, transcode) first, since Plex attaches a
TranscodeSession even to some direct plays (Dashboarr#407, #410) and an audio
transcode can come without one; then the TranscodeSession's videoDecision and
audioDecision.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

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
    Text,
    get_json,
    player_state,
    title_of,
    validate_reply,
)
from shared.messages import StreamSession
from shared.messages.facts import MediaType, StreamDecision

VIDEO_STREAM, AUDIO_STREAM = 1, 2


def _first(value: object) -> object:
    # One element in Plex's JSON is an object; some clients' JSON makes every element a list.
    if isinstance(value, list):
        return value[0] if value else None
    return value


class PlayerInfo(Reply):
    state: str
    local: bool | None = None
    # Where the client connects from (its LAN address, or a public one), and the public one.
    address: str | None = None
    remotePublicAddress: str | None = None
    machineIdentifier: Text | None = None
    title: str | None = None
    product: str | None = None


class UserInfo(Reply):
    title: str | None = None


class SessionInfo(Reply):
    id: Text | None = None
    location: str | None = None
    # Kilobits per second Plex reserves for this client.
    bandwidth: Measure = None


class TranscodeInfo(Reply):
    videoDecision: str | None = None
    audioDecision: str | None = None
    transcodeHwRequested: Flag = None
    # The acceleration actually used ("vaapi", "nvdec", "qsv"); absent in software.
    transcodeHwDecoding: Text | None = None
    transcodeHwEncoding: Text | None = None


Nested = Annotated[TranscodeInfo | None, BeforeValidator(_first)]


class StreamInfo(Reply):
    streamType: Measure = None
    decision: str | None = None
    # Kilobits per second.
    bitrate: Measure = None
    selected: Flag = None


class PartInfo(Reply):
    decision: str | None = None
    Stream: list[StreamInfo] = []
    TranscodeSession: Nested = None


class MediaInfo(Reply):
    selected: Flag = None
    # The source's lines and resolution word ("1080", "4k", "sd").
    height: Measure = None
    videoResolution: Text | None = None
    Part: list[PartInfo] = []
    TranscodeSession: Nested = None


class MetadataItem(Reply):
    sessionKey: Text | None = None
    type: str | None = None
    live: Flag = None
    title: str | None = None
    grandparentTitle: str | None = None
    User: UserInfo | None = None
    Player: PlayerInfo
    Session: SessionInfo | None = None
    Media: list[MediaInfo] = []
    TranscodeSession: Nested = None


class Container(Reply):
    size: int = 0
    Metadata: list[MetadataItem] = []


class SessionsReply(Reply):
    MediaContainer: Container


TYPES: dict[str, MediaType] = {
    "movie": "video",
    "episode": "video",
    "clip": "video",
    "video": "video",
    "track": "audio",
    "photo": "photo",
}


def media_type_of_item(item_type: str | None, live: bool | None) -> MediaType | None:
    # Live TV plays as an episode or a movie that is marked live.
    return "live tv" if live else media_type_of(item_type, TYPES)


# --- what the session plays -----------------------------------------------------------


class Played:
    """The selected Media of a session, its video and audio stream, and its TranscodeSession."""

    def __init__(self, item: MetadataItem) -> None:
        media = next((m for m in item.Media if m.selected), None) or next(iter(item.Media), None)
        self.media = media
        self.parts = media.Part if media else []
        streams = [s for part in self.parts for s in part.Stream]
        self.video = next((s for s in streams if s.streamType == VIDEO_STREAM), None)
        audios = [s for s in streams if s.streamType == AUDIO_STREAM]
        self.audio = next((s for s in audios if s.selected), None) or next(iter(audios), None)
        # On the entry, or nested below it (inside Media for Live TV).
        places: list[tuple[TranscodeInfo | None, str]] = [(item.TranscodeSession, "")]
        places += [(media.TranscodeSession, "Media")] if media else []
        places += [(part.TranscodeSession, "Part") for part in self.parts]
        found = [(ts, where) for ts, where in places if ts is not None]
        self.transcode: TranscodeInfo | None = found[0][0] if found else None
        self.transcode_in = found[0][1] if found else ""


def _decide(
    exists: bool,
    stream: StreamInfo | None,
    direct_play_part: bool,
    job_word: str | None,
    job_silent: bool,
) -> tuple[StreamDecision | None, str]:
    """One stream's decision and where it came from."""
    if not exists:
        return None, ""
    own = decision_of(stream.decision) if stream else None
    if own:
        return own, "stream"
    if direct_play_part:
        return "direct play", "part"
    job = decision_of(job_word)
    if job:
        return job, "job"
    # A transcoder running that names no decision: err toward the transcode.
    return ("transcode", "job") if job_silent else ("direct play", "")


def decisions_of(played: Played, media_type: MediaType | None) -> Decisions:
    if media_type == "photo":
        return PHOTO
    ts = played.transcode
    job_silent = ts is not None and not (ts.videoDecision or ts.audioDecision)
    direct_play_part = any(decision_of(p.decision) == "direct play" for p in played.parts)
    has_video = media_type != "audio" or played.video is not None
    video, video_from = _decide(
        has_video,
        played.video,
        direct_play_part,
        ts.videoDecision if ts else None,
        job_silent,
    )
    audio, audio_from = _decide(
        True,  # every session but a photo's has audio
        played.audio,
        direct_play_part,
        ts.audioDecision if ts else None,
        job_silent,
    )
    sources = {video_from, audio_from} - {""}
    job = f"TranscodeSession{f' (in {played.transcode_in})' if played.transcode_in else ''}"
    said = {"stream": "stream decisions", "part": "Part decision directplay", "job": job}
    if job_silent and "job" in sources:
        reason = f"{job} that names no decision"
    elif sources:
        reason = f"{' and '.join(said[s] for s in sorted(sources, key=list(said).index))}: "
        reason += describe(video, audio)
    else:
        reason = "no TranscodeSession or stream decision: direct play"
    return Decisions(video, audio, reason)


def hardware_said(ts: TranscodeInfo | None) -> bool | None:
    if ts is None:
        return None
    if ts.transcodeHwDecoding or ts.transcodeHwEncoding:
        return True
    # Requested alone proves nothing (Plex falls back to software silently); not even
    # requested is software for sure.
    return False if ts.transcodeHwRequested is False else None


def bitrate_of(item: MetadataItem, played: Played) -> int | None:
    bandwidth = kbps(item.Session.bandwidth) if item.Session else None
    rates = [kbps(s.bitrate) for s in (played.video, played.audio) if s is not None]
    known = [r for r in rates if r is not None]
    return first_known(bandwidth, sum(known) if known else None)


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
    media_type = media_type_of_item(item.type, item.live)
    played = Played(item)
    decisions = decisions_of(played, media_type)
    return StreamSession(
        id=session_id,
        user=(item.User.title if item.User else None) or "",
        title=title_of(item.title, item.grandparentTitle),
        state=state,
        transcode=decisions.transcode,
        video_decision=decisions.video,
        audio_decision=decisions.audio,
        decision_reason=decisions.reason,
        media_type=media_type,
        bitrate_kbps=bitrate_of(item, played),
        hw_transcode=hw_transcode(decisions, hardware_said(played.transcode)),
        hw_requested=hw_requested(
            decisions,
            (played.transcode.transcodeHwRequested or hardware_said(played.transcode))
            if played.transcode
            else None,
        ),
        local=local,
        address=address_of(item.Player.address or item.Player.remotePublicAddress),
        video_height=lines_of(played.media.height, played.media.videoResolution)
        if played.media is not None and media_type != "audio"
        else None,
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
