"""Webhook bodies as Plex, the Jellyfin Webhook plugin and Tautulli send them, parsed. Pure.

The bodies are built by tests/support/webhook_bodies.py, written by hand after
each server's documentation.
"""

from __future__ import annotations

import json

import pytest

from services.sensors.streams.webhooks import WebhookError, WebhookEvent, parse_webhook
from tests.support.webhook_bodies import (
    BOUNDARY,
    jellyfin_body,
    plex_multipart,
    plex_payload,
    tautulli_body,
)

JSON = "application/json"


def parse_json(source: str, body: object) -> WebhookEvent:
    return parse_webhook(source, JSON, json.dumps(body).encode())  # type: ignore[arg-type]


# --- Plex ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "action"),
    [
        ("media.play", "playing"),
        ("media.resume", "playing"),
        ("media.scrobble", "playing"),
        ("media.pause", "paused"),
        ("media.stop", "stopped"),
        ("media.rate", None),
        ("library.new", None),
        ("library.on.deck", None),
        ("admin.database.backup", None),
        ("device.new", None),
    ],
)
def test_plex_events(event: str, action: str | None) -> None:
    parsed = parse_webhook("plex", *plex_multipart(plex_payload(event)))
    assert (parsed.source, parsed.event, parsed.action) == ("plex", event, action)
    if action is not None:
        assert parsed.session is not None
        assert parsed.session.id == "player-pixel"
        assert parsed.session.user == "alice"
        assert parsed.session.title == "Severance - Good News About Hell"
        assert parsed.session.local is False
        assert parsed.session.client == "Pixel 8"


def test_plex_without_thumb_and_with_local_unsaid() -> None:
    payload = plex_payload("media.play", publicAddress="192.168.1.9")
    del payload["Player"]["local"]  # type: ignore[attr-defined]
    parsed = parse_webhook("plex", *plex_multipart(payload, thumb=False))
    assert parsed.session is not None and parsed.session.local is True


def test_plex_library_event_needs_no_player() -> None:
    payload = {"event": "library.new", "user": True, "owner": True, "Metadata": {"title": "x"}}
    assert parse_webhook("plex", *plex_multipart(payload)).action is None


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        (JSON, json.dumps(plex_payload("media.play")).encode(), "expected multipart/form-data"),
        ("", b"payload=x", "expected multipart/form-data"),
        ("multipart/form-data; boundary=other", plex_multipart({})[1], "without parts"),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="thumb"\r\n\r\nx\r\n'
            f"--{BOUNDARY}--\r\n".encode(),
            "no 'payload' part",
        ),
        (*plex_multipart("{not json"), "plex payload: not JSON"),
        (*plex_multipart("[1, 2]"), "expected a JSON object, got list"),
        (*plex_multipart({"Player": {"uuid": "p"}}), "plex payload: event: Field required"),
        (*plex_multipart({"event": "media.play"}), "media.play without a Player"),
        (*plex_multipart({"event": "media.play", "Player": {}}), "Player.uuid: Field required"),
    ],
)
def test_plex_bad_bodies(content_type: str, body: bytes, reason: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_webhook("plex", content_type, body)
    assert reason in str(caught.value)


# --- Jellyfin --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fields", "action"),
    [
        ("PlaybackStart", {}, "playing"),
        ("PlaybackProgress", {}, "playing"),
        ("PlaybackProgress", {"IsPaused": True}, "paused"),
        # Hand-written templates often quote everything; C# prints booleans capitalised.
        ("PlaybackProgress", {"IsPaused": "True"}, "paused"),
        ("PlaybackStop", {"IsPaused": False}, "stopped"),
        ("ItemAdded", {}, None),
        ("SessionStart", {}, None),
        ("UserLockedOut", {}, None),
    ],
)
def test_jellyfin_notifications(kind: str, fields: dict[str, object], action: str | None) -> None:
    parsed = parse_json("jellyfin", jellyfin_body(kind, **fields))
    assert (parsed.event, parsed.action) == (kind, action)
    if action is not None:
        assert parsed.session is not None
        assert parsed.session.id == "dev-pixel-8"
        assert parsed.session.title == "Severance - Good News About Hell"
        assert parsed.session.local is False
        assert parsed.session.client == "Jellyfin Android / Pixel 8"


def test_jellyfin_transcode_when_the_template_sends_play_method() -> None:
    parsed = parse_json("jellyfin", jellyfin_body("PlaybackStart", PlayMethod="Transcode"))
    assert parsed.session is not None and parsed.session.transcode


def test_jellyfin_without_device_uses_user_and_item() -> None:
    body = jellyfin_body("PlaybackStart")
    del body["DeviceId"]
    parsed = parse_json("jellyfin", body)
    assert parsed.session is not None and parsed.session.id == "e4b0c7a1:item-42"


def test_tautulli_bandwidth_fields() -> None:
    """What stream-aware bandwidth reads from the README's template: bitrate, address, lines."""
    body = tautulli_body(
        "play",
        stream_bandwidth="4000",
        ip_address="203.0.113.7",
        stream_video_resolution="4k",
        media_type="movie",
    )
    session = parse_json("tautulli", body).session
    assert session is not None
    assert (session.bitrate_kbps, session.address, session.video_height) == (
        4000,
        "203.0.113.7",
        2160,
    )
    # Tautulli renders a field it has no value for as "".
    empty = parse_json("tautulli", tautulli_body("play", ip_address="", stream_bandwidth=""))
    assert empty.session is not None
    assert (empty.session.address, empty.session.bitrate_kbps) == (None, None)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"NotificationType=PlaybackStart", "jellyfin body: not JSON"),
        (b"", "jellyfin body: not JSON"),
        (b"[]", "expected a JSON object, got list"),
        (json.dumps({"Name": "x"}).encode(), "NotificationType: Field required"),
        (
            json.dumps({"NotificationType": "PlaybackStart", "IsPaused": "maybe"}).encode(),
            "IsPaused",
        ),
        (
            json.dumps({"NotificationType": "PlaybackStart", "Name": "x"}).encode(),
            "without DeviceId",
        ),
    ],
)
def test_jellyfin_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_webhook("jellyfin", JSON, body)
    assert reason in str(caught.value)


# --- Tautulli --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("play", "playing"),
        ("resume", "playing"),
        ("watched", "playing"),
        ("buffer", "buffering"),
        ("pause", "paused"),
        ("stop", "stopped"),
        ("created", None),
        ("intdown", None),
    ],
)
def test_tautulli_actions(action: str, expected: str | None) -> None:
    parsed = parse_json("tautulli", tautulli_body(action))
    assert parsed.action == expected
    if expected is not None:
        assert parsed.session is not None
        assert (parsed.session.id, parsed.session.local, parsed.session.transcode) == (
            "player-roku",
            True,
            False,
        )


def test_tautulli_transcode_and_session_key_fallback() -> None:
    parsed = parse_json(
        "tautulli", tautulli_body("play", machine_id="", transcode_decision="transcode")
    )
    assert parsed.session is not None
    assert (parsed.session.id, parsed.session.transcode) == ("46", True)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"action=play", "tautulli body: not JSON"),
        (json.dumps({"event": "play"}).encode(), "action: Field required"),
        (json.dumps({"action": "play"}).encode(), "without machine_id or session_key"),
        (json.dumps({"action": 5}).encode(), "action: Input should be a valid string"),
    ],
)
def test_tautulli_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_webhook("tautulli", JSON, body)
    assert reason in str(caught.value)
