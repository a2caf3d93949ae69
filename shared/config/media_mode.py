"""ADRG's media mode: while someone streams, tier 3 pauses and tier 2 is held back."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from shared.config.base import Port, Seconds, Section, lower


class DownloadThrottle(Section):
    ADRG_KEYS = frozenset(
        {"enabled", "provider", "url", "username", "password", "limit_mb_per_sec"}
    )

    enabled: bool = Field(
        default=False, description="cap the download client's speed while media mode is on"
    )
    provider: Annotated[Literal["qbittorrent", "transmission"], BeforeValidator(lower)] = Field(
        default="qbittorrent",
        description="the download client (`transmission` is Warden's addition)",
    )
    url: str = Field(default="http://qbittorrent:8080", description="the download client's web API")
    username: str = Field(default="admin", description="login of the download client's web API")
    password: str = Field(default="", description="its password (use `${VAR}` from the env file)")
    limit_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=5, description="the download limit (MiB/s) while media mode is on"
    )
    timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        default=10, description="HTTP timeout (seconds) for each call to the download client"
    )


# Providers Warden can ask for sessions; "webhook" and "none" are ADRG's trigger-only modes.
MEDIA_SERVER_PROVIDERS = ("jellyfin", "plex", "emby", "tautulli")


class MediaWebhook(Section):
    """The sensors' receiver for media-server webhooks (Plex, Jellyfin plugin, Emby, Tautulli)."""

    # Off unless asked for: it opens a listening port.
    enabled: bool = Field(default=False, description="run the webhook receiver in the sensors")
    host: str = Field(default="127.0.0.1", description="address the webhook receiver listens on")
    port: Port = Field(default=8766, description="TCP port of the webhook receiver")
    # Plex cannot send headers, so the secret travels in the URL (?token= or a last path level).
    token: str | None = Field(
        default=None,
        description="shared secret every webhook URL must carry (`?token=` or a last path "
        "level); none: no check",
    )


class MediaMode(Section):
    ADRG_KEYS = frozenset(
        {
            "enabled",
            "provider",
            "url",
            "api_key",
            "tier2_cpu_max_percent",
            "tier2_io_max_read_mb_per_sec",
            "tier2_io_max_write_mb_per_sec",
            "cooldown_seconds",
            "download_throttle",
        }
    )

    enabled: bool = Field(default=False, description="run media mode")
    provider: Annotated[
        Literal["jellyfin", "plex", "emby", "tautulli", "webhook", "none"],
        BeforeValidator(lower),
    ] = Field(
        default="none",
        description="where streams come from; `webhook` and `none`: only triggers "
        "(`emby` and `tautulli` are Warden's)",
    )
    url: str = Field(default="", description="the media server's URL (needed by a server provider)")
    api_key: str = Field(default="", description="the media server's API key or token")
    tier2_cpu_max_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=20, description="tier 2's cpu.max while streaming, in % of the whole machine"
    )
    tier2_io_max_read_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=10, description="tier 2's read limit (MiB/s per device) while streaming"
    )
    tier2_io_max_write_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=5, description="tier 2's write limit (MiB/s per device) while streaming"
    )
    cooldown_seconds: Seconds = Field(
        default=60, description="media mode stays on this long after the last stream ends"
    )
    download_throttle: DownloadThrottle = Field(
        default=DownloadThrottle(), description="the download client to slow down while streaming"
    )
    # Paused sessions never count and transcodes always do; these two decide the rest.
    count_direct_play: bool = Field(
        default=True,
        description="direct play counts as a stream (transcodes always do, paused never)",
    )
    count_local: bool = Field(
        default=True, description="streams to clients on the local network count"
    )
    # ADRG counts video only (NowPlayingItem.MediaType == "Video"): a song is no reason to
    # hold back the background work.
    count_audio: bool = Field(
        default=False,
        description="music and other audio-only sessions count, as video and live TV do "
        "(photos never)",
    )
    # The slow reconciliation poll beside the webhooks, so a missed webhook cannot stick.
    poll_seconds: Annotated[float, Field(gt=0)] = Field(
        default=60, description="seconds between polls of the media server, beside the webhooks"
    )
    timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        default=5, description="HTTP timeout (seconds) asking the media server"
    )
    webhook: MediaWebhook = Field(
        default=MediaWebhook(), description="the sensors' receiver of media-server webhooks"
    )

    @model_validator(mode="after")
    def _server_needs_url(self) -> MediaMode:
        if self.enabled and self.provider in MEDIA_SERVER_PROVIDERS and not self.url:
            raise ValueError(f"provider {self.provider} needs a url")
        return self

    @property
    def queries_server(self) -> bool:
        return self.enabled and self.provider in MEDIA_SERVER_PROVIDERS
