"""Stream-aware bandwidth: the download client gets the line less what the streams need.

With `bandwidth.upload_mbps` and/or `download_mbps` set, each stream that plays
(or buffers) to a remote client reserves its bitrate times `stream_factor`:
the server's own bitrate where it reports one, else a default by the video's
lines (4K 40, 1080p 12, 720p 6, SD 4 Mbps; audio 0.32), as Speedarr does. The
download client's upload and download limits are the line less the sum, never
below the floors. A client is local when its address is in `local_networks`
(the private ranges), or, where the server names no address, when the server
says so; unknown is remote: a stall would hurt it. Local streams reserve only
with `count_local`; photos never.

A stream that pauses or ends keeps its reservation for its media type's hold
(the viewer may come back), so limits do not jump between episodes. When
nothing is reserved the rule asks nothing, and the user's own limits are back.
Unknown streams (the sensors cannot ask the server, or fell silent) reserve
nothing new and release nothing still playing; holds already running run out.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.governor.rule import Outcome, Rule, View
from shared import addresses
from shared.config.model import Bandwidth, WardenConfig
from shared.messages import DownloadClientIntent, Reason, ReasonCard, StreamSession
from shared.messages.base import Strict
from shared.messages.facts import MediaType

NAME = "bandwidth"
ACTIVE_STATES = ("playing", "buffering")
# Bytes per second in one megabit per second.
BYTES_PER_MBIT = 125_000


class Reservation(Strict):
    """One stream's share: its kbps (before the factor), while it plays and in its hold."""

    kbps: int
    media_type: MediaType | None = None
    # Wall-clock time it stopped playing (paused or ended); None while it plays.
    ended_at: float | None = None


class BandwidthMemory(Strict):
    # Session id -> its reservation.
    streams: dict[str, Reservation] = {}


def is_local(session: StreamSession, cfg: Bandwidth) -> bool:
    """By its address in local_networks; with none, by the server's word; unknown: remote."""
    by_address = addresses.is_local(session.address, cfg.local_networks)
    return by_address if by_address is not None else session.local is True


def reserves(session: StreamSession, cfg: Bandwidth) -> bool:
    if session.state not in ACTIVE_STATES or session.media_type == "photo":
        return False
    return cfg.count_local or not is_local(session, cfg)


def kbps_of(session: StreamSession, cfg: Bandwidth) -> int:
    """The server's bitrate, else the default by media type and lines."""
    if session.bitrate_kbps:
        return session.bitrate_kbps
    defaults = cfg.default_mbps
    height = session.video_height
    if session.media_type == "audio":
        mbps = defaults.audio
    elif height is None:
        mbps = defaults.unknown
    elif height > 1080:
        mbps = defaults.uhd_4k
    elif height > 720:
        mbps = defaults.hd_1080
    elif height > 576:
        mbps = defaults.hd_720
    else:
        mbps = defaults.sd
    return round(mbps * 1000)


def hold_of(media_type: MediaType | None, cfg: Bandwidth) -> float:
    holds = cfg.hold_seconds
    if media_type == "audio":
        return holds.audio
    if media_type == "live tv":
        return holds.live_tv
    if media_type == "video":
        return holds.video
    return holds.unknown


def step(
    cfg: Bandwidth,
    held: dict[str, Reservation],
    sessions: Sequence[StreamSession] | None,
    now: float,
) -> tuple[dict[str, Reservation], float | None]:
    """The reservations after this reading, and when the next hold runs out."""
    result = dict(held)
    if sessions is not None:
        playing = {s.id: s for s in sessions if reserves(s, cfg)}
        for sid, reservation in held.items():
            if sid not in playing and reservation.ended_at is None:
                result[sid] = reservation.model_copy(update={"ended_at": now})
        for sid, session in playing.items():
            result[sid] = Reservation(kbps=kbps_of(session, cfg), media_type=session.media_type)
    ends = {
        sid: r.ended_at + hold_of(r.media_type, cfg)
        for sid, r in result.items()
        if r.ended_at is not None
    }
    for sid, end in ends.items():
        if now >= end:
            del result[sid]
    live_ends = [end for end in ends.values() if end > now]
    return result, min(live_ends, default=None)


def limit_bps(line_mbps: float | None, floor_mbps: float, reserved_mbps: float) -> int | None:
    if line_mbps is None:
        return None
    return int(max(floor_mbps, line_mbps - reserved_mbps) * BYTES_PER_MBIT)


def _mbps(bps: int | None) -> str:
    return "-" if bps is None else f"{bps / BYTES_PER_MBIT:g} Mbps"


def limits_text(intent: DownloadClientIntent) -> str:
    """The limits in a few words, for the decision log: `upload 8 Mbps, download 88 Mbps`."""
    ways = (("upload", intent.upload_bps), ("download", intent.download_bps))
    text = ", ".join(f"{way} {_mbps(bps)}" for way, bps in ways if bps is not None)
    return text + (" (alternative speed)" if intent.alternative else "")


def bandwidth(view: View, memory: BandwidthMemory) -> Outcome[BandwidthMemory]:
    cfg = view.cfg.bandwidth
    if not cfg.active:
        return Outcome(BandwidthMemory())
    streams, wake_at = step(cfg, memory.streams, view.sessions, view.now)
    updated = BandwidthMemory(streams=streams)
    reserved = sum(r.kbps for r in streams.values()) * cfg.stream_factor / 1000
    if not streams:
        return Outcome(updated, status={"reserved_mbps": 0.0})
    upload = limit_bps(cfg.upload_mbps, cfg.min_upload_mbps, reserved)
    download = limit_bps(cfg.download_mbps, cfg.min_download_mbps, reserved)
    playing = sum(1 for r in streams.values() if r.ended_at is None)
    held = len(streams) - playing
    counted = f"{playing} stream(s)" + (f", {held} held after pausing or ending" if held else "")
    reason = Reason(
        rule=NAME,
        detail=f"{counted} reserve {reserved:g} Mbps ({cfg.stream_factor:g}x their bitrate): "
        f"upload {_mbps(upload)}, download {_mbps(download)}",
    )
    intent = DownloadClientIntent(
        download_bps=download,
        upload_bps=upload,
        alternative=cfg.client_mode == "alternative",
        reasons=[reason],
    )
    return Outcome(
        updated,
        download_client=intent,
        wake_at=wake_at,
        status={"reserved_mbps": round(reserved, 3)},
        readings={"bandwidth": "; ".join(f"{sid}: {r.kbps} kbps" for sid, r in streams.items())},
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    hold = ", ".join(
        f"{kind} {s:g} s" for kind, s in cfg.bandwidth.hold_seconds.model_dump().items()
    )
    return [
        ReasonCard(
            reason=NAME,
            rule="bandwidth",
            title="streams reserve bandwidth: the download client's limits lowered",
            controls={"any": ["download_limit"]},
            ends=f"when no stream reserves any, after its hold ({hold})",
            enabled=cfg.bandwidth.active,
        )
    ]


RULE = Rule("bandwidth", BandwidthMemory, bandwidth, cards)
