"""One vocabulary for every server's session: per-stream decisions, hardware, bitrate. Pure.

Each server says what it does with a session in its own words (Plex's `copy`,
Jellyfin's IsVideoDirect, Tautulli's `direct play`); the provider modules
read them into these terms, so counting and the rules that read a session
never see a server's dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator, ValidationError, WrapValidator

from shared.messages.facts import MediaType, StreamDecision

# A server's word for one stream's decision, spaces and case dropped.
_DECISION_WORDS: dict[str, StreamDecision] = {
    "directplay": "direct play",
    "directstream": "direct stream",
    # Plex and Tautulli: the stream is copied into a new container, a remux.
    "copy": "direct stream",
    "transcode": "transcode",
}


def decision_of(word: str | None) -> StreamDecision | None:
    """A server's decision word as Warden's; None for a word it does not know or none."""
    return _DECISION_WORDS.get((word or "").replace(" ", "").replace("_", "").lower())


@dataclass(frozen=True)
class Decisions:
    """What the server does with a session's video and audio, and the signal it rests on."""

    video: StreamDecision | None
    audio: StreamDecision | None
    reason: str

    @property
    def transcode(self) -> bool:
        return "transcode" in (self.video, self.audio)


# A photo has neither stream; no server's decision words apply to it.
PHOTO = Decisions(None, None, "a photo: no video or audio stream")


def describe(video: StreamDecision | None, audio: StreamDecision | None) -> str:
    """'video direct stream, audio transcode', naming only the streams that are known."""
    parts = [f"{name} {d}" for name, d in (("video", video), ("audio", audio)) if d]
    return ", ".join(parts) or "no stream decision"


def hw_transcode(decisions: Decisions, said: bool | None) -> bool | None:
    """Whether a GPU does this session's transcode.

    Media servers put only video on a GPU, so a session whose video is not
    transcoded uses none (False); one whose video is takes the server's word.
    """
    if decisions.video == "transcode":
        return said
    if decisions.video is None and decisions.audio is None:
        return None
    return False


def hw_requested(decisions: Decisions, asked: bool | None) -> bool | None:
    """Whether the server was set to run this session's video transcode on a GPU."""
    return hw_transcode(decisions, asked)


def kbps(value: float | None, *, bits_per_second: bool = False) -> int | None:
    """A bitrate in kbps; None for none or zero, which no playing stream has."""
    if value is None or value <= 0:
        return None
    return round(value / 1000) if bits_per_second else round(value)


# Resolution words (Plex's videoResolution, Tautulli's stream_video_resolution) as lines.
RESOLUTIONS = {"4k": 2160, "uhd": 2160, "2160": 2160, "1440": 1440, "1080": 1080, "720": 720}
SD_LINES = 480


def lines_of(height: float | None, resolution: str | None = None) -> int | None:
    """A video's lines, from its height, else a resolution word ("1080", "4k", "sd");
    None: not said."""
    if height is not None and 0 < height <= 10_000:
        return round(height)
    word = (resolution or "").strip().lower().removesuffix("p")
    if not word:
        return None
    if word in RESOLUTIONS:
        return RESOLUTIONS[word]
    if word == "sd" or (word.isdigit() and int(word) < 720):
        return SD_LINES if not word.isdigit() else int(word)
    return None


def address_of(text: str | None) -> str | None:
    """A client address as the server gave it, cut to what a fact keeps."""
    text = (text or "").strip()
    return text[:100] or None


def first_known(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def media_type_of(word: str | None, words: dict[str, MediaType]) -> MediaType | None:
    return words.get((word or "").replace(" ", "").lower())


# --- reading details leniently ---------------------------------------------------------


def _blank_is_none(value: object) -> object:
    # Tautulli sends "" for every number it does not have.
    return None if value == "" else value


def _unknown_if_invalid(value: object, handler: Callable[[object], object]) -> object:
    # A detail (a bitrate, a hardware flag) that cannot be read is unknown: it is never a
    # reason to drop the whole reading, which media mode counts on.
    try:
        return handler(value)
    except ValidationError:
        return None


# Numbers and flags servers send as numbers, strings, "" or booleans.
Measure = Annotated[
    float | None, BeforeValidator(_blank_is_none), WrapValidator(_unknown_if_invalid)
]
Flag = Annotated[bool | None, BeforeValidator(_blank_is_none), WrapValidator(_unknown_if_invalid)]
