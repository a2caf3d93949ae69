"""Webhook bodies from Plex, Jellyfin's Webhook plugin, Emby and Tautulli, as playback events. Pure.

- Plex: multipart/form-data with a `payload` part holding JSON: event
  (media.play, media.resume, media.pause, media.stop, media.scrobble, ...),
  Account.title, Player {uuid, title, local, publicAddress}, Metadata.
- Jellyfin (Webhook plugin, Generic destination, JSON): NotificationType
  (PlaybackStart, PlaybackProgress, PlaybackStop, ...), DeviceId, IsPaused,
  NotificationUsername, Name, SeriesName, ItemType, ClientName, DeviceName,
  as the plugin's variables are named; PlayMethod from plugin v12 and
  RemoteEndPoint from v16 on (an older plugin's body is read, and said to be
  incomplete).
- Emby (Webhooks, JSON, or multipart/form-data with a `data` part): Event
  (playback.start, playback.pause, playback.unpause, playback.stop, ...),
  User.Name, Item {Name, SeriesName, Type, MediaType}, Session {DeviceId, Id,
  RemoteEndPoint, Client, DeviceName}.
- Tautulli (Webhook agent, JSON data docs/guides/media-streams.md documents): action
  (play, pause, resume, buffer, stop, watched, ...), machine_id or
  session_key, user, title, player, the decisions, media_type and live,
  stream_bandwidth and stream_bitrate, the hardware flags, stream_local.

A body that is not what its server sends raises WebhookError with the reason;
an event that is not about playback (library.new, ItemAdded) parses to an
event with no action, which changes nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from pydantic import ValidationError

from services.sensors.streams import jellyfin, plex, tautulli
from services.sensors.streams.classify import (
    Decisions,
    Flag,
    Measure,
    address_of,
    first_known,
    hw_transcode,
    kbps,
    lines_of,
)
from services.sensors.streams.common import Reply, Text, local_from_address, title_of
from services.sensors.streams.webhook_event import (
    WEBHOOK_SOURCES,
    PlaybackAction,
    WebhookError,
    WebhookEvent,
    WebhookSource,
    json_object,
    multipart_field,
    reason_of,
    session,
)

__all__ = [
    "WEBHOOK_SOURCES",
    "WebhookError",
    "WebhookEvent",
    "WebhookSource",
    "multipart_field",
    "parse_webhook",
]

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
    type: str | None = None
    live: Flag = None


class PlexPayload(Reply):
    event: str
    Account: PlexAccount | None = None
    Player: PlexPlayer | None = None
    Metadata: PlexMetadata | None = None


def parse_plex(content_type: str, body: bytes) -> WebhookEvent:
    data = json_object(multipart_field(content_type, body, "payload"), "plex payload")
    try:
        payload = PlexPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(reason_of(exc, "plex payload")) from None
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
        session(
            action,
            payload.Player.uuid,
            payload.Account.title if payload.Account else None,
            title_of(meta.title, meta.grandparentTitle),
            local=local if local is not None else local_from_address(payload.Player.publicAddress),
            address=address_of(payload.Player.publicAddress),
            client=payload.Player.title or "",
            media_type=plex.media_type_of_item(meta.type, meta.live),
        ),
    )


# --- Jellyfin -----------------------------------------------------------------


class JellyfinPayload(Reply):
    NotificationType: str
    DeviceId: Text | None = None
    UserId: Text | None = None
    ItemId: Text | None = None
    ItemType: str | None = None
    NotificationUsername: str | None = None
    Name: str | None = None
    SeriesName: str | None = None
    IsPaused: bool | None = None
    ClientName: str | None = None
    DeviceName: str | None = None
    RemoteEndPoint: str | None = None
    PlayMethod: str | None = None


JELLYFIN_PLAYBACK = ("PlaybackStart", "PlaybackProgress", "PlaybackStop")
# What the plugin sends on playback from v16 on (PlayMethod since v12, RemoteEndPoint v16).
JELLYFIN_CURRENT_FIELDS = ("PlayMethod", "RemoteEndPoint")


def parse_jellyfin(content_type: str, body: bytes) -> WebhookEvent:
    data = json_object(body, "jellyfin body")
    try:
        payload = JellyfinPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(reason_of(exc, "jellyfin body")) from None
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
    media_type = jellyfin.media_type_of_item(payload.ItemType, None)
    said = jellyfin.decisions_of(payload.PlayMethod, None, media_type)
    return WebhookEvent(
        "jellyfin",
        kind,
        action,
        session(
            action,
            session_id,
            payload.NotificationUsername,
            title_of(payload.Name, payload.SeriesName),
            local=local_from_address(payload.RemoteEndPoint),
            address=address_of(payload.RemoteEndPoint),
            client=" / ".join(p for p in (payload.ClientName, payload.DeviceName) if p),
            media_type=media_type,
            decisions=Decisions(said.video, said.audio, f"webhook: {said.reason}"),
        ),
        incomplete=tuple(f for f in JELLYFIN_CURRENT_FIELDS if data.get(f) is None),
    )


# --- Emby ---------------------------------------------------------------------

EMBY_ACTIONS: dict[str, PlaybackAction] = {
    "playback.start": "playing",
    "playback.unpause": "playing",
    "playback.pause": "paused",
    "playback.stop": "stopped",
}


class EmbyUser(Reply):
    Name: str | None = None


class EmbyItem(Reply):
    Name: str | None = None
    SeriesName: str | None = None
    Type: str | None = None
    MediaType: str | None = None


class EmbySession(Reply):
    Id: Text | None = None
    DeviceId: Text | None = None
    RemoteEndPoint: str | None = None
    Client: str | None = None
    DeviceName: str | None = None


class EmbyPayload(Reply):
    Event: str
    User: EmbyUser | None = None
    Item: EmbyItem | None = None
    Session: EmbySession | None = None


def emby_data(content_type: str, body: bytes) -> bytes:
    """The JSON of an Emby webhook: the body, or its `data` field when sent as a form."""
    kind = content_type.lower()
    if kind.startswith("multipart/form-data"):
        return multipart_field(content_type, body, "data")
    if kind.startswith("application/x-www-form-urlencoded"):
        try:
            fields = parse_qs(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise WebhookError(f"emby body: form not UTF-8: {exc}") from None
        if "data" not in fields:
            raise WebhookError("emby body: form without a 'data' field")
        return fields["data"][0].encode()
    return body


def parse_emby(content_type: str, body: bytes) -> WebhookEvent:
    data = json_object(emby_data(content_type, body), "emby body")
    try:
        payload = EmbyPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(reason_of(exc, "emby body")) from None
    action = EMBY_ACTIONS.get(payload.Event)
    if action is None:
        return WebhookEvent("emby", payload.Event)
    where = payload.Session or EmbySession()
    # The device, as the /Sessions query names the session.
    session_id = where.DeviceId or where.Id
    if not session_id:
        raise WebhookError(f"emby body: {payload.Event} without Session.DeviceId or Session.Id")
    item = payload.Item or EmbyItem()
    return WebhookEvent(
        "emby",
        payload.Event,
        action,
        session(
            action,
            session_id,
            payload.User.Name if payload.User else None,
            title_of(item.Name, item.SeriesName),
            local=local_from_address(where.RemoteEndPoint),
            address=address_of(where.RemoteEndPoint),
            client=" / ".join(p for p in (where.Client, where.DeviceName) if p),
            media_type=jellyfin.media_type_of_item(item.Type, item.MediaType),
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
    video_decision: str | None = None
    audio_decision: str | None = None
    media_type: str | None = None
    live: Flag = None
    # Kilobits per second.
    stream_bandwidth: Measure = None
    stream_bitrate: Measure = None
    transcode_hw_decoding: Flag = None
    transcode_hw_encoding: Flag = None
    stream_local: Text | None = None
    ip_address: str | None = None
    stream_video_resolution: Text | None = None


def parse_tautulli(content_type: str, body: bytes) -> WebhookEvent:
    data = json_object(body, "tautulli body")
    try:
        payload = TautulliPayload.model_validate(data)
    except ValidationError as exc:
        raise WebhookError(reason_of(exc, "tautulli body")) from None
    action = TAUTULLI_ACTIONS.get(payload.action.lower())
    if action is None:
        return WebhookEvent("tautulli", payload.action)
    session_id = payload.machine_id or payload.session_key
    if not session_id:
        raise WebhookError(f"tautulli body: {payload.action} without machine_id or session_key")
    media_type = tautulli.media_type_of_session(payload.media_type, payload.live)
    decisions = tautulli.decisions_of(
        payload.video_decision, payload.audio_decision, payload.transcode_decision, media_type
    )
    hw = tautulli.hardware_said(payload.transcode_hw_decoding, payload.transcode_hw_encoding)
    return WebhookEvent(
        "tautulli",
        payload.action,
        action,
        session(
            action,
            session_id,
            payload.user,
            payload.title or "",
            local={"1": True, "0": False}.get(payload.stream_local or ""),
            client=payload.player or "",
            media_type=media_type,
            decisions=decisions,
            bitrate_kbps=first_known(kbps(payload.stream_bandwidth), kbps(payload.stream_bitrate)),
            hw_transcode=hw_transcode(decisions, hw),
            address=address_of(payload.ip_address),
            video_height=lines_of(None, payload.stream_video_resolution)
            if media_type != "audio"
            else None,
        ),
    )


PARSERS = {
    "plex": parse_plex,
    "jellyfin": parse_jellyfin,
    "emby": parse_emby,
    "tautulli": parse_tautulli,
}


def parse_webhook(source: WebhookSource, content_type: str, body: bytes) -> WebhookEvent:
    return PARSERS[source](content_type, body)
