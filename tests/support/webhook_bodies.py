"""Webhook bodies as Plex, the Jellyfin Webhook plugin and Tautulli send them.

The bodies are written by hand after each server's documentation: Plex's
multipart POST with a JSON `payload` part (and a `thumb` JPEG for some
events), the Jellyfin plugin's Generic destination with "Send All
Properties", and the Tautulli Webhook agent with the JSON data the README
gives.
"""

from __future__ import annotations

import json

BOUNDARY = "------------------------7a1f0c2e9d3b4a55"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def plex_payload(event: str, **player: object) -> dict[str, object]:
    return {
        "event": event,
        "user": True,
        "owner": True,
        "Account": {"id": 1, "thumb": "https://plex.tv/users/1f2e/avatar?c=1", "title": "alice"},
        "Server": {"title": "nas", "uuid": "8c3d6f0a5e1b2c7d9e4f"},
        "Player": {
            "local": False,
            "publicAddress": "203.0.113.7",
            "title": "Pixel 8",
            "uuid": "player-pixel",
            **player,
        },
        "Metadata": {
            "librarySectionType": "show",
            "ratingKey": "123",
            "key": "/library/metadata/123",
            "guid": "plex://episode/5d9c0874ffd9ef001e99607a",
            "type": "episode",
            "title": "Good News About Hell",
            "grandparentTitle": "Severance",
            "parentTitle": "Season 1",
            "index": 1,
            "parentIndex": 1,
            "librarySectionID": 2,
        },
    }


def plex_multipart(payload: object, thumb: bool = True) -> tuple[str, bytes]:
    """A body as Plex Media Server posts it: multipart/form-data, `payload` first."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    body = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="payload"\r\n'
        "Content-Type: application/json\r\n\r\n"
        f"{text}\r\n"
    ).encode()
    if thumb:
        body += (
            (
                f"--{BOUNDARY}\r\n"
                'Content-Disposition: form-data; name="thumb"; filename="image.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + JPEG
            + b"\r\n"
        )
    body += f"--{BOUNDARY}--\r\n".encode()
    return f"multipart/form-data; boundary={BOUNDARY}", body


def jellyfin_body(kind: str, **fields: object) -> dict[str, object]:
    """The plugin's Generic destination with "Send All Properties" on."""
    return {
        "ServerId": "3c1ba0fa7b8d4e1c",
        "ServerName": "nas",
        "ServerVersion": "10.10.3",
        "ServerUrl": "http://nas:8096",
        "NotificationType": kind,
        "Timestamp": "2025-01-10T21:00:00.0000000+01:00",
        "UtcTimestamp": "2025-01-10T20:00:00.0000000Z",
        "Name": "Good News About Hell",
        "ItemId": "item-42",
        "ItemType": "Episode",
        "RunTimeTicks": 34000000000,
        "RunTime": "00:56:40",
        "SeriesName": "Severance",
        "SeasonNumber": 1,
        "EpisodeNumber": 1,
        "PlaybackPositionTicks": 600000000,
        "PlaybackPosition": "00:01:00",
        "MediaSourceId": "9f3c2b1a",
        "IsPaused": False,
        "IsAutomated": False,
        "DeviceId": "dev-pixel-8",
        "DeviceName": "Pixel 8",
        "ClientName": "Jellyfin Android",
        "RemoteEndPoint": "203.0.113.7",
        "NotificationUsername": "alice",
        "UserId": "e4b0c7a1",
        **fields,
    }


def tautulli_body(action: str, **fields: object) -> dict[str, object]:
    """What the README's Tautulli template renders to."""
    return {
        "action": action,
        "machine_id": "player-roku",
        "session_key": "46",
        "user": "bob",
        "title": "Arrival",
        "player": "Living room",
        "transcode_decision": "direct play",
        "stream_local": "1",
        **fields,
    }
