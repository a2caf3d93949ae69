"""History in SQLite: raw readings for a while, then min / mean / max per bucket, bounded."""

from __future__ import annotations

from pathlib import Path

from services.web.store import Store
from shared.config.model import HistoryTier, WebHistory

HISTORY = WebHistory(
    raw_keep_seconds=60,
    raw_min_interval_seconds=1,
    tiers=[
        HistoryTier(bucket_seconds=10, keep_seconds=300),
        HistoryTier(bucket_seconds=100, keep_seconds=3000),
    ],
)
T0 = 1_000_000.0  # a multiple of every bucket


def test_a_short_spike_stays_visible_after_averaging(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3", HISTORY, 10)
    for i in range(100):  # one reading a second, a spike of one second
        store.record({"cpu_percent": 90.0 if i == 42 else 10.0}, T0 + i)
    bucket, points = store.series("cpu_percent", 300, T0 + 100)
    assert bucket == 10
    spike = next(p for p in points if p[0] == T0 + 40)
    assert spike == (T0 + 40, 10.0, 18.0, 90.0)
    bucket, points = store.series("cpu_percent", 3000, T0 + 100)
    assert bucket == 100 and points == [(T0, 10.0, 10.8, 90.0)]
    bucket, raw = store.series("cpu_percent", 30, T0 + 100)
    assert bucket == 0 and len(raw) == 30 and raw[-1] == (T0 + 99, 10.0, 10.0, 10.0)


def test_raw_readings_are_thinned_and_every_tier_is_pruned_to_its_keep(tmp_path: Path) -> None:
    store = Store(tmp_path / "h.sqlite3", HISTORY, 10)
    for i in range(0, 20_000):
        store.record({"a": float(i), "b": 1.0}, T0 + i * 0.5)  # two a second, 10 000 s
    end = T0 + 10_000
    # Bounded, per metric: raw 60 s at one a second, 300 s of 10 s buckets and 3000 s of
    # 100 s buckets, each plus what accrues between two prunes (PRUNE_EVERY, 30 s).
    per_metric = (60 + 30) + ((300 + 30) // 10 + 1) + ((3000 + 30) // 100 + 1)
    assert store.row_count() <= 2 * per_metric
    _, raw = store.series("a", 60, end)
    assert len(raw) <= 61 and all(p[0] >= end - 60 for p in raw)
    assert store.metrics() == ["a", "b"]


def test_decisions_are_kept_to_the_configured_number(tmp_path: Path) -> None:
    from shared.messages import LastDecision

    store = Store(tmp_path / "h.sqlite3", HISTORY, 3)
    for i in range(5):
        store.add_decision(
            LastDecision(host="h", ts=T0 + i, container=f"c{i}", action="enforce", summary="s")
        )
    assert [d.container for d in store.decisions(10)] == ["c4", "c3", "c2"]
