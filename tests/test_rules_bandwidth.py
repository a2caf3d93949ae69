"""Stream-aware bandwidth: the arithmetic, local and remote, the hold and the floor, on a fake
clock."""

from __future__ import annotations

from typing import Any

import pytest

from services.governor.policy import Facts, Memory, decide
from services.governor.rule import Outcome
from services.governor.rules.bandwidth import RULE, BandwidthMemory, is_local, kbps_of
from shared.config.model import Bandwidth, WardenConfig
from shared.messages import StreamSession
from tests.support.views import steps, stream_report, view

MBIT = 125_000  # bytes per second
LINE = Bandwidth(upload_mbps=40, download_mbps=300)


def stream(
    sid: str = "s1",
    kbps: int | None = 4000,
    *,
    state: str = "playing",
    media_type: str | None = "video",
    local: bool | None = None,
    address: str | None = "203.0.113.7",
    height: int | None = None,
) -> StreamSession:
    return StreamSession.model_validate(
        {
            "id": sid,
            "state": state,
            "transcode": False,
            "media_type": media_type,
            "bitrate_kbps": kbps,
            "local": local,
            "address": address,
            "video_height": height,
        }
    )


def config(cfg: Bandwidth = LINE) -> WardenConfig:
    return WardenConfig(host_id="h", bandwidth=cfg)


def once(sessions: list[StreamSession] | None, cfg: Bandwidth = LINE) -> Outcome[BandwidthMemory]:
    return RULE.run(view(config(cfg), 0, sessions=sessions and tuple(sessions)), BandwidthMemory())


def limits(out: Outcome[Any]) -> tuple[float | None, float | None] | None:
    """(upload, download) in Mbps; None: the user's own."""
    intent = out.download_client
    if intent is None:
        return None
    up, down = intent.upload_bps, intent.download_bps
    return (up / MBIT if up else None, down / MBIT if down else None)


# --- the arithmetic ---------------------------------------------------------------------

ARITHMETIC = [
    # No stream, nothing reserved: the user's own limits.
    ([], LINE, None),
    # Two remote streams with bitrates: (4 + 2) Mbps x 2.0 = 12 reserved.
    ([stream("a", 4000), stream("b", 2000)], LINE, (28, 288)),
    # No bitrate: by the video's lines (4K 40, 1080p 12, 720p 6, SD 4) or unknown (12).
    ([stream(kbps=None, height=2160)], LINE, (1, 220)),  # 80 reserved: the upload floor
    ([stream(kbps=None, height=1080)], LINE, (16, 276)),
    ([stream(kbps=None, height=720)], LINE, (28, 288)),
    ([stream(kbps=None, height=480)], LINE, (32, 292)),
    ([stream(kbps=None, height=None)], LINE, (16, 276)),
    ([stream(kbps=None, media_type="audio")], LINE, (39.36, 299.36)),
    # Local by address (a private range), by the server's word without one; unknown: remote.
    ([stream(address="192.168.1.20")], LINE, None),
    ([stream(address="[fd00::5]:8920")], LINE, None),
    ([stream(address="::ffff:10.0.0.9")], LINE, None),
    ([stream(address=None, local=True)], LINE, None),
    ([stream(address=None, local=False)], LINE, (32, 292)),
    ([stream(address=None, local=None)], LINE, (32, 292)),
    # The address wins over the server's word.
    ([stream(address="203.0.113.9", local=True)], LINE, (32, 292)),
    # count_local: local streams reserve too.
    ([stream(address="192.168.1.20")], LINE.model_copy(update={"count_local": True}), (32, 292)),
    # Paused and photos reserve nothing now.
    ([stream(state="paused")], LINE, None),
    ([stream(media_type="photo")], LINE, None),
    ([stream(state="buffering")], LINE, (32, 292)),
    # Only the upload set: the download is the user's own.
    ([stream()], Bandwidth(upload_mbps=20), (12, None)),
    # The floor: never below it, whatever the streams.
    ([stream(kbps=50_000)], Bandwidth(upload_mbps=20, min_upload_mbps=2.5), (2.5, None)),
    # Another factor.
    ([stream(kbps=5000)], LINE.model_copy(update={"stream_factor": 1.0}), (35, 295)),
]


@pytest.mark.parametrize(("sessions", "cfg", "expected"), ARITHMETIC)
def test_limits(
    sessions: list[StreamSession], cfg: Bandwidth, expected: tuple[float | None, ...] | None
) -> None:
    assert limits(once(sessions, cfg)) == expected


def test_bandwidth_not_set_asks_nothing() -> None:
    out = once([stream()], Bandwidth())
    assert out.download_client is None and out.memory == BandwidthMemory()


def test_the_reason_says_what_is_reserved_and_the_limits() -> None:
    out = once([stream("a", 4000), stream("b", 2000)])
    assert out.download_client is not None
    assert [str(r) for r in out.download_client.reasons] == [
        "bandwidth(2 stream(s) reserve 12 Mbps (2x their bitrate): "
        "upload 28 Mbps, download 288 Mbps)"
    ]
    assert out.status == {"reserved_mbps": 12.0}


def test_local_networks_are_the_users() -> None:
    cfg = LINE.model_copy(update={"local_networks": ["203.0.113.0/24"]})
    assert is_local(stream(address="203.0.113.7"), cfg)
    assert not is_local(stream(address="192.168.1.2"), cfg)
    assert kbps_of(stream(kbps=None, height=1440), cfg) == 40_000


def test_alternative_mode_asks_for_it() -> None:
    out = once([stream()], LINE.model_copy(update={"client_mode": "alternative"}))
    assert out.download_client is not None and out.download_client.alternative


# --- the hold ---------------------------------------------------------------------------

HOLDS = LINE.model_copy(
    update={"hold_seconds": LINE.hold_seconds.model_copy(update={"video": 600, "audio": 60})}
)
Timeline = list[tuple[float, list[StreamSession] | None]]


def run(timeline: Timeline, cfg: Bandwidth = HOLDS) -> list[Outcome[BandwidthMemory]]:
    return steps(
        RULE,
        [view(config(cfg), t, sessions=None if s is None else tuple(s)) for t, s in timeline],
    )


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        # A film ends: its reservation holds 600 s, then the user's limits are back.
        ([(0, [stream()]), (100, []), (699, []), (700, [])],
         [(32, 292), (32, 292), (32, 292), None]),
        # Music holds 60 s.
        ([(0, [stream(media_type="audio", kbps=1000)]), (10, []), (70, [])],
         [(38, 298), (38, 298), None]),
        # Paused counts as ended: held, and back to playing before the hold ends.
        ([(0, [stream()]), (10, [stream(state="paused")]), (500, [stream()]), (1200, [stream()])],
         [(32, 292), (32, 292), (32, 292), (32, 292)]),
        # One ends while the other plays: both reserve until the first's hold runs out.
        ([(0, [stream("a"), stream("b")]), (10, [stream("b")]), (610, [stream("b")])],
         [(24, 284), (24, 284), (32, 292)]),
        # Unknown reserves nothing new and releases nothing playing ...
        ([(0, [stream()]), (10, None), (5000, None)],
         [(32, 292), (32, 292), (32, 292)]),
        # ... but a hold already running runs out.
        ([(0, [stream()]), (10, []), (20, None), (610, None)],
         [(32, 292), (32, 292), (32, 292), None]),
        # Unknown from the start: nothing reserved.
        ([(0, None)], [None]),
    ],
)  # fmt: skip
def test_hold(timeline: Timeline, expected: list[tuple[float, float] | None]) -> None:
    assert [limits(o) for o in run(timeline)] == expected


def test_the_hold_wakes_the_governor_when_it_ends() -> None:
    outcomes = run([(0, [stream()]), (100, [])])
    assert outcomes[0].wake_at is None
    assert outcomes[1].wake_at == 700
    reason = outcomes[1].download_client.reasons[0]  # type: ignore[union-attr]
    assert "0 stream(s), 1 held after pausing or ending" in reason.detail


# --- in the policy, beside ADRG's fixed limit ------------------------------------------


def decided(cfg: WardenConfig, forced: bool, sessions: list[StreamSession]) -> Any:
    facts = Facts(streams=len(sessions), streams_seen_at=0, stream_report=stream_report(sessions))
    memory = Memory()
    if forced:
        memory = Memory(switches=memory.switches.model_copy(update={"media_forced": True}))
    return decide(cfg, cfg.tier_matcher(), facts, memory, 0.0)


THROTTLE = {
    "enabled": True,
    "provider": "webhook",
    "download_throttle": {"enabled": True, "limit_mb_per_sec": 5},
}


def test_adrgs_fixed_limit_keeps_its_meaning_without_bandwidth() -> None:
    cfg = WardenConfig.model_validate({"host_id": "h", "media_mode": THROTTLE})
    decision = decided(cfg, True, [stream()])
    assert decision.download_limit_bps == 5 * 1024**2
    assert decision.download_client is None


def test_with_bandwidth_the_tighter_download_limit_wins_and_both_reasons_show() -> None:
    cfg = WardenConfig.model_validate(
        {
            "host_id": "h",
            "media_mode": THROTTLE,
            "bandwidth": {"upload_mbps": 40, "download_mbps": 30},
        }
    )
    decision = decided(cfg, True, [stream()])
    client = decision.download_client
    assert client.download_bps == 22 * MBIT  # 30 - 8 < 5 MiB/s (41.9 Mbps)
    assert client.upload_bps == 32 * MBIT
    assert [r.rule for r in client.reasons] == ["bandwidth", "media_mode"]
    stricter = cfg.model_copy(update={"bandwidth": Bandwidth(upload_mbps=40, download_mbps=300)})
    assert decided(stricter, True, [stream()]).download_client.download_bps == 5 * 1024**2
