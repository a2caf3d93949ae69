"""What a webhook parser makes of a body, and the pieces every parser shares. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message as MimeMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Literal

from pydantic import ValidationError

from services.sensors.streams.classify import Decisions
from shared.messages import StreamSession
from shared.messages.base import describe_validation_error
from shared.messages.facts import MediaType

WebhookSource = Literal["plex", "jellyfin", "emby", "tautulli"]
WEBHOOK_SOURCES: tuple[WebhookSource, ...] = ("plex", "jellyfin", "emby", "tautulli")
# What a webhook says happened to a session.
PlaybackAction = Literal["playing", "paused", "buffering", "stopped"]

# Webhooks that do not say how the server plays the stream; the query they trigger will.
UNSAID = Decisions(None, None, "the webhook does not say")


class WebhookError(ValueError):
    """A body that cannot be used; the message says why (it goes back as the 400's body)."""


@dataclass(frozen=True)
class WebhookEvent:
    source: WebhookSource
    # The server's own name for it, for the logs.
    event: str
    # None: not about playback, nothing to do.
    action: PlaybackAction | None = None
    # Set whenever action is: the session as the webhook describes it.
    session: StreamSession | None = None
    # Fields a current sender includes that this body lacks (an old plugin): what the
    # session says in their place is a default, not the server's word.
    incomplete: tuple[str, ...] = ()


def reason_of(exc: ValidationError, what: str) -> str:
    return f"{what}: {describe_validation_error(exc, 'body')}"


def json_object(data: bytes, what: str) -> dict[str, object]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError(f"{what}: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise WebhookError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def multipart_field(content_type: str, body: bytes, name: str) -> bytes:
    """The named part of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise WebhookError(f"expected multipart/form-data, got {content_type or 'no content type'}")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: MimeMessage = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise WebhookError("multipart body without parts (wrong boundary?)")
    for part in message.iter_parts():  # type: ignore[attr-defined]
        if part.get_param("name", header="content-disposition") == name:
            data = part.get_payload(decode=True)
            return data if isinstance(data, bytes) else b""
    raise WebhookError(f"multipart body has no {name!r} part")


def session(
    action: PlaybackAction,
    session_id: str,
    user: str | None,
    title: str,
    local: bool | None,
    client: str,
    *,
    media_type: MediaType | None = None,
    decisions: Decisions = UNSAID,
    bitrate_kbps: int | None = None,
    hw_transcode: bool | None = None,
    address: str | None = None,
    video_height: int | None = None,
) -> StreamSession:
    return StreamSession(
        id=session_id,
        user=user or "",
        title=title,
        # A stopped session is about to be removed; its state is never counted.
        state="paused" if action == "stopped" else action,
        transcode=decisions.transcode,
        video_decision=decisions.video,
        audio_decision=decisions.audio,
        decision_reason=decisions.reason,
        media_type=media_type,
        bitrate_kbps=bitrate_kbps,
        hw_transcode=hw_transcode,
        local=local,
        address=address,
        video_height=video_height,
        client=client,
    )
