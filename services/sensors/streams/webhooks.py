"""Webhook bodies from Plex, the Jellyfin Webhook plugin and Tautulli, as playback events. Pure.

- Plex: multipart/form-data with a `payload` part holding JSON: event
  (media.play, media.resume, media.pause, media.stop, media.scrobble, ...),
  Account.title, Player {uuid, title, local, publicAddress}, Metadata.
- Jellyfin (Webhook plugin, Generic destination, JSON): NotificationType
  (PlaybackStart, PlaybackProgress, PlaybackStop, ...), DeviceId, IsPaused,
  NotificationUsername, Name, SeriesName, ClientName, DeviceName,
  RemoteEndPoint, PlayMethod, as the plugin's variables are named.
- Tautulli (Webhook agent, JSON data we document in the README): action
  (play, pause, resume, buffer, stop, watched, ...), machine_id or
  session_key, user, title, player, transcode_decision, stream_local.

A body that is not what its server sends raises WebhookError with the reason;
an event that is not about playback (library.new, ItemAdded) parses to an
event with no action, which changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message as MimeMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Literal

from pydantic import ValidationError

from services.sensors.streams.common import (
    Reply,
    Text,
    local_from_address,
    title_of,
)
from shared.messages import StreamSession
from shared.messages.base import describe_validation_error

WebhookSource = Literal["plex", "jellyfin", "tautulli"]
WEBHOOK_SOURCES: tuple[WebhookSource, ...] = ("plex", "jellyfin", "tautulli")
# What a webhook says happened to a session.
PlaybackAction = Literal["playing", "paused", "buffering", "stopped"]


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


def _reason(exc: ValidationError, what: str) -> str:
    return f"{what}: {describe_validation_error(exc, 'body')}"


def _json_object(data: bytes, what: str) -> object:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError(f"{what}: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise WebhookError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _session(
    action: PlaybackAction,
    session_id: str,
    user: str | None,
    title: str,
    transcode: bool,
    local: bool | None,
    client: str,
) -> StreamSession:
    return StreamSession(
        id=session_id,
        user=user or "",
        title=title,
        # A stopped session is about to be removed; its state is never counted.
        state="paused" if action == "stopped" else action,
        transcode=transcode,
        local=local,
        client=client,
    )


# --- Plex ---------------------------------------------------------------------

PLEX_ACTIONS: dict[str, PlaybackAction] = {
    "media.play": "playing",
    "media.resume": "playing",
    # Scrobble: watched past 90%, still playing.
    "media.scrobble": "playing",
    "media.pause": "paused",
    "media.stop": "stopped",
}


class PlexAccount(Reply):
    title: str | None = None


class PlexPlayer(Reply):
    uuid: Text
    title: str | None = None
    local: bool | None = None
    publicAddress: str | None = None


class PlexMetadata(Reply):
    title: str | None = None
    grandparentTitle: str | None = None


class PlexPayload(Reply):
    event: str
    Account: PlexAccount | None = None
    Player: PlexPlayer | None = None
    Metadata: PlexMetadata | None = None


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


def parse_plex(content_type: str, body: bytes) -> WebhookEvent:
    data = _json_object(multipart_field(content_type, body, "payload"), "plex payload")
    try:
        payload = PlexPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(_reason(exc, "plex payload")) from None
    action = PLEX_ACTIONS.get(payload.event)
    if action is None:
        return WebhookEvent("plex", payload.event)
    if payload.Player is None:
        raise WebhookError(f"plex payload: {payload.event} without a Player")
    meta = payload.Metadata or PlexMetadata()
    local = payload.Player.local
    return WebhookEvent(
        "plex",
        payload.event,
        action,
        _session(
            action,
            payload.Player.uuid,
            payload.Account.title if payload.Account else None,
            title_of(meta.title, meta.grandparentTitle),
            # The webhook does not say; the next query will.
            transcode=False,
            local=local if local is not None else local_from_address(payload.Player.publicAddress),
            client=payload.Player.title or "",
        ),
    )


# --- Jellyfin -----------------------------------------------------------------


class JellyfinPayload(Reply):
    NotificationType: str
    DeviceId: Text | None = None
    UserId: Text | None = None
    ItemId: Text | None = None
    NotificationUsername: str | None = None
    Name: str | None = None
    SeriesName: str | None = None
    IsPaused: bool | None = None
    ClientName: str | None = None
    DeviceName: str | None = None
    RemoteEndPoint: str | None = None
    PlayMethod: str | None = None


JELLYFIN_PLAYBACK = ("PlaybackStart", "PlaybackProgress", "PlaybackStop")


def parse_jellyfin(content_type: str, body: bytes) -> WebhookEvent:
    data = _json_object(body, "jellyfin body")
    try:
        payload = JellyfinPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(_reason(exc, "jellyfin body")) from None
    kind = payload.NotificationType
    if kind not in JELLYFIN_PLAYBACK:
        return WebhookEvent("jellyfin", kind)
    session_id = payload.DeviceId or (
        f"{payload.UserId}:{payload.ItemId}" if payload.UserId and payload.ItemId else None
    )
    if session_id is None:
        raise WebhookError(f"jellyfin body: {kind} without DeviceId (or UserId and ItemId)")
    action: PlaybackAction = (
        "stopped" if kind == "PlaybackStop" else "paused" if payload.IsPaused else "playing"
    )
    return WebhookEvent(
        "jellyfin",
        kind,
        action,
        _session(
            action,
            session_id,
            payload.NotificationUsername,
            title_of(payload.Name, payload.SeriesName),
            transcode=(payload.PlayMethod or "").lower() == "transcode",
            local=local_from_address(payload.RemoteEndPoint),
            client=" / ".join(p for p in (payload.ClientName, payload.DeviceName) if p),
        ),
    )


# --- Tautulli -----------------------------------------------------------------

TAUTULLI_ACTIONS: dict[str, PlaybackAction] = {
    "play": "playing",
    "resume": "playing",
    "watched": "playing",
    "buffer": "buffering",
    "pause": "paused",
    "stop": "stopped",
}


class TautulliPayload(Reply):
    action: str
    machine_id: Text | None = None
    session_key: Text | None = None
    user: str | None = None
    title: str | None = None
    player: str | None = None
    transcode_decision: str | None = None
    stream_local: Text | None = None


def parse_tautulli(content_type: str, body: bytes) -> WebhookEvent:
    data = _json_object(body, "tautulli body")
    try:
        payload = TautulliPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(_reason(exc, "tautulli body")) from None
    action = TAUTULLI_ACTIONS.get(payload.action.lower())
    if action is None:
        return WebhookEvent("tautulli", payload.action)
    session_id = payload.machine_id or payload.session_key
    if not session_id:
        raise WebhookError(f"tautulli body: {payload.action} without machine_id or session_key")
    return WebhookEvent(
        "tautulli",
        payload.action,
        action,
        _session(
            action,
            session_id,
            payload.user,
            payload.title or "",
            transcode=(payload.transcode_decision or "").lower() == "transcode",
            local={"1": True, "0": False}.get(payload.stream_local or ""),
            client=payload.player or "",
        ),
    )


PARSERS = {"plex": parse_plex, "jellyfin": parse_jellyfin, "tautulli": parse_tautulli}


def parse_webhook(source: WebhookSource, content_type: str, body: bytes) -> WebhookEvent:
    return PARSERS[source](content_type, body)
