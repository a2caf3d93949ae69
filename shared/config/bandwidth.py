"""Warden's stream-aware bandwidth: the download client gets what the streams leave."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from shared.addresses import LOCAL_NETWORKS
from shared.config.base import Seconds, Section

Mbps = Annotated[float, Field(gt=0)]
# The ranges a home network uses; a client in them streams over the LAN, not the line.


class StreamDefaults(Section):
    """What a stream reserves when its server reports no bitrate (Speedarr's numbers)."""

    uhd_4k: Mbps = Field(default=40, description="video above 1080 lines (Mbps)")
    hd_1080: Mbps = Field(default=12, description="video above 720 lines, up to 1080 (Mbps)")
    hd_720: Mbps = Field(default=6, description="video above 576 lines, up to 720 (Mbps)")
    sd: Mbps = Field(default=4, description="video of 576 lines or fewer (Mbps)")
    audio: Mbps = Field(default=0.32, description="an audio stream (Mbps)")
    unknown: Mbps = Field(
        default=12, description="video whose resolution the server does not say (Mbps)"
    )


class StreamHolds(Section):
    """How long a stream's reservation outlives it (paused, or ended), per media type."""

    video: Seconds = Field(default=600, description="a film or episode (seconds)")
    live_tv: Seconds = Field(default=600, description="live TV (seconds)")
    audio: Seconds = Field(default=120, description="music (seconds)")
    unknown: Seconds = Field(
        default=600, description="a stream whose media type the server does not say (seconds)"
    )


class Bandwidth(Section):
    """Set upload_mbps and/or download_mbps to turn it on."""

    upload_mbps: Mbps | None = Field(
        default=None,
        description="the line's upload (Mbps); set: the download client's upload limit is this "
        "less what the streams reserve",
    )
    download_mbps: Mbps | None = Field(
        default=None,
        description="the line's download (Mbps); set: the download client's download limit is "
        "this less what the streams reserve",
    )
    stream_factor: Annotated[float, Field(ge=1, le=10)] = Field(
        default=2.0,
        description="each stream reserves its bitrate times this (2: 100 % headroom)",
    )
    min_upload_mbps: Mbps = Field(default=1, description="the upload limit never goes below this")
    min_download_mbps: Mbps = Field(
        default=1, description="the download limit never goes below this"
    )
    count_local: bool = Field(
        default=False, description="streams to local clients reserve bandwidth too"
    )
    local_networks: list[str] = Field(
        default=list(LOCAL_NETWORKS),
        description="client addresses in these CIDRs are local; where the server names no "
        "address, its own word (Plex's lan/wan) decides; unknown: remote",
    )
    hold_seconds: StreamHolds = Field(
        default=StreamHolds(), description="how long a reservation outlives its stream"
    )
    default_mbps: StreamDefaults = Field(
        default=StreamDefaults(), description="a stream's bitrate when its server says none"
    )
    client_mode: Literal["limits", "alternative"] = Field(
        default="limits",
        description="`limits`: the client's global limits; `alternative`: its alternative "
        "speed limits (qBittorrent) or turtle mode (Transmission), switched on while streams "
        "reserve, the global ones left as they are",
    )

    @field_validator("local_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError as exc:
                raise ValueError(f"{text!r} is not a network: {exc}") from None
        return value

    @model_validator(mode="after")
    def _floors_below_the_line(self) -> Bandwidth:
        if self.upload_mbps is not None and self.min_upload_mbps > self.upload_mbps:
            raise ValueError("min_upload_mbps is above upload_mbps")
        if self.download_mbps is not None and self.min_download_mbps > self.download_mbps:
            raise ValueError("min_download_mbps is above download_mbps")
        return self

    @property
    def active(self) -> bool:
        return self.upload_mbps is not None or self.download_mbps is not None
