"""GPU sharing: a media server's hardware transcode has the GPU; its other users wait."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.config.base import Percent, Section


class GpuShare(Section):
    """While a media server transcodes on a GPU (its sessions say so, or NVML shows its
    processes there), the GPU's other users in tiers 2 and 3 (NVML's processes, and the
    containers and process groups listed in `users`) are paused, until the transcode ends
    plus hold_seconds. NVIDIA through NVML; AMD and Intel from the media server's report
    alone, with `users` naming who uses the GPU."""

    enabled: bool = Field(default=True, description="run the GPU sharing rule")
    mode: Literal["pause", "above_threshold"] = Field(
        default="pause",
        description="`pause`: the other users pause for every hardware transcode; "
        "`above_threshold`: only while the GPU is busier than `utilization_percent` or "
        "fuller than `memory_percent` (once paused, until the transcode ends)",
    )
    utilization_percent: Percent = Field(
        default=80, description="above_threshold: the GPU's utilisation (%) that pauses"
    )
    memory_percent: Percent = Field(
        default=90, description="above_threshold: the GPU's memory use (%) that pauses"
    )
    requested_counts: bool = Field(
        default=True,
        description="a video transcode the server is set to run on a GPU counts, unconfirmed "
        "(Jellyfin never says whether it got one; Plex falls back to software silently)",
    )
    hold_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        default=30,
        description="the pause holds this long (seconds) after the last hardware transcode",
    )
    media_servers: list[Annotated[str, Field(min_length=1)]] = Field(
        default=["*plex*", "*jellyfin*", "*emby*"],
        description="containers or process groups (names or globs) that are media servers: "
        "their processes on a GPU are a transcode",
    )
    users: list[Annotated[str, Field(min_length=1)]] = Field(
        default=[],
        description="containers or process groups (names or globs) that use the GPU, paused "
        "during a transcode whatever NVML shows (AMD and Intel have no per-process use)",
    )
