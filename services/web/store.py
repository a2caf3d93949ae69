"""The web service's SQLite database: settings, history in downsampled tiers, decisions.

History keeps every reading for raw_keep_seconds, then per tier one row per
metric and bucket with min, max, sum and count, so a short spike stays visible
after averaging. Each tier is pruned to its keep_seconds, which bounds the
size: metrics x keep / bucket rows per tier.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from pathlib import Path

from services.web.models import Decision
from shared.config.model import Incidents, WebHistory
from shared.messages import LastDecision
from shared.messages.incidents import Incident
from shared.messages.overrides import Overrides
from shared.messages.settings import ResourceSettings

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raw (metric TEXT NOT NULL, ts REAL NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS raw_by_metric ON raw (metric, ts);
CREATE TABLE IF NOT EXISTS buckets (
  metric TEXT NOT NULL, bucket_seconds REAL NOT NULL, start REAL NOT NULL,
  min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (metric, bucket_seconds, start)
);
CREATE TABLE IF NOT EXISTS decisions (
  ts REAL NOT NULL, container TEXT NOT NULL, action TEXT NOT NULL,
  summary TEXT NOT NULL, reasons TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY, started_at REAL NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_by_start ON incidents (started_at);
"""
# Prune at most this often (seconds of sample time), not on every insert.
PRUNE_EVERY = 30.0


class Store:
    def __init__(
        self,
        path: str | Path,
        history: WebHistory,
        keep_decisions: int,
        incidents: Incidents | None = None,
    ) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the bus thread and the HTTP thread, behind a lock.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._history = history
        self._keep_decisions = keep_decisions
        self._incidents = incidents or Incidents()
        self._last_raw: dict[str, float] = {}
        self._pruned_at = 0.0
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- settings ---------------------------------------------------------------

    def load_settings(self) -> tuple[ResourceSettings | None, str | None]:
        """The resource settings and the preset last saved; None: never set."""
        with self._lock:
            rows = dict(self._db.execute("SELECT key, value FROM settings").fetchall())
        settings = None
        if "resources" in rows:
            settings = ResourceSettings.model_validate_json(rows["resources"])
        return settings, rows.get("preset")

    def save_settings(self, settings: ResourceSettings, preset: str | None) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO settings VALUES ('resources', ?)",
                (settings.model_dump_json(),),
            )
            if preset is not None:
                self._db.execute("INSERT OR REPLACE INTO settings VALUES ('preset', ?)", (preset,))
            self._db.execute("COMMIT")

    def load_overrides(self) -> Overrides | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = 'overrides'").fetchone()
        return Overrides.model_validate_json(row[0]) if row else None

    def save_overrides(self, overrides: Overrides) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO settings VALUES ('overrides', ?)",
                (overrides.model_dump_json(),),
            )

    # --- history --------------------------------------------------------------

    def record(self, samples: dict[str, float], ts: float) -> None:
        h = self._history
        with self._lock:
            self._db.execute("BEGIN")
            for metric, value in samples.items():
                if not math.isfinite(value):
                    continue
                last = self._last_raw.get(metric)
                if h.raw_keep_seconds > 0 and (
                    last is None or ts - last >= h.raw_min_interval_seconds
                ):
                    self._db.execute("INSERT INTO raw VALUES (?, ?, ?)", (metric, ts, value))
                    self._last_raw[metric] = ts
                for tier in h.tiers:
                    start = ts - ts % tier.bucket_seconds
                    self._db.execute(
                        "INSERT INTO buckets VALUES (?, ?, ?, ?, ?, ?, 1) "
                        "ON CONFLICT (metric, bucket_seconds, start) DO UPDATE SET "
                        "min = min(min, excluded.min), max = max(max, excluded.max), "
                        "sum = sum + excluded.sum, count = count + 1",
                        (metric, tier.bucket_seconds, start, value, value, value),
                    )
            if ts - self._pruned_at >= PRUNE_EVERY:
                self._prune(ts)
            self._db.execute("COMMIT")

    def _prune(self, now: float) -> None:
        self._pruned_at = now
        self._db.execute("DELETE FROM raw WHERE ts < ?", (now - self._history.raw_keep_seconds,))
        kept = [t.bucket_seconds for t in self._history.tiers]
        marks = ",".join("?" * len(kept))
        self._db.execute(f"DELETE FROM buckets WHERE bucket_seconds NOT IN ({marks})", kept)
        for tier in self._history.tiers:
            self._db.execute(
                "DELETE FROM buckets WHERE bucket_seconds = ? AND start < ?",
                (tier.bucket_seconds, now - tier.keep_seconds),
            )

    def metrics(self) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT metric FROM buckets UNION SELECT DISTINCT metric FROM raw"
            ).fetchall()
        return sorted(r[0] for r in rows)

    def series(
        self, metric: str, seconds: float, now: float, bucket: float | None = None
    ) -> tuple[float, list[tuple[float, float, float, float]]]:
        """(bucket_seconds, [start, min, mean, max]) over the last `seconds`: raw readings
        when they reach that far back, else the finest tier that does (or `bucket`)."""
        since = now - seconds
        h = self._history
        if bucket is None:
            if seconds <= h.raw_keep_seconds:
                bucket = 0.0
            else:
                reach = [t for t in h.tiers if t.keep_seconds >= seconds]
                covering = sorted(reach, key=lambda t: t.bucket_seconds)
                longest = max(h.tiers, key=lambda t: t.keep_seconds, default=None)
                chosen = covering[0] if covering else longest
                bucket = chosen.bucket_seconds if chosen else 0.0
        with self._lock:
            if bucket == 0.0:
                rows = self._db.execute(
                    "SELECT ts, value, value, value FROM raw "
                    "WHERE metric = ? AND ts >= ? ORDER BY ts",
                    (metric, since),
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT start, min, sum / count, max FROM buckets "
                    "WHERE metric = ? AND bucket_seconds = ? AND start >= ? ORDER BY start",
                    (metric, bucket, since - bucket),
                ).fetchall()
        return bucket, [(r[0], r[1], round(r[2], 3), r[3]) for r in rows]

    def row_count(self) -> int:
        with self._lock:
            raw = self._db.execute("SELECT count(*) FROM raw").fetchone()[0]
            buckets = self._db.execute("SELECT count(*) FROM buckets").fetchone()[0]
        return int(raw) + int(buckets)

    # --- decisions --------------------------------------------------------------

    def add_decision(self, decision: LastDecision) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?)",
                (
                    decision.ts,
                    decision.container,
                    decision.action,
                    decision.summary,
                    json.dumps(decision.reasons),
                ),
            )
            self._db.execute(
                "DELETE FROM decisions WHERE rowid NOT IN "
                "(SELECT rowid FROM decisions ORDER BY ts DESC LIMIT ?)",
                (self._keep_decisions,),
            )

    def decisions(self, limit: int) -> list[Decision]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, container, action, summary, reasons FROM decisions "
                "ORDER BY ts DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Decision(ts=r[0], container=r[1], action=r[2], summary=r[3], reasons=json.loads(r[4]))
            for r in rows
        ]

    # --- incidents ----------------------------------------------------------------

    def keep_incidents(self, incidents: list[Incident], now: float) -> list[str]:
        """Each incident as the governor last told it (an open one grows), the oldest
        past incidents.history_keep or history_keep_days dropped; the ids not kept before."""
        cfg = self._incidents
        with self._lock:
            known = {
                r[0]
                for r in self._db.execute(
                    f"SELECT id FROM incidents WHERE id IN ({','.join('?' * len(incidents))})",
                    [i.id for i in incidents],
                ).fetchall()
            }
            self._db.execute("BEGIN")
            for incident in incidents:
                self._db.execute(
                    "INSERT OR REPLACE INTO incidents VALUES (?, ?, ?)",
                    (incident.id, incident.started_at, incident.model_dump_json()),
                )
            self._db.execute(
                "DELETE FROM incidents WHERE started_at < ?",
                (now - cfg.history_keep_days * 86400,),
            )
            self._db.execute(
                "DELETE FROM incidents WHERE id NOT IN "
                "(SELECT id FROM incidents ORDER BY started_at DESC LIMIT ?)",
                (cfg.history_keep,),
            )
            self._db.execute("COMMIT")
        return [i.id for i in incidents if i.id not in known]

    def incidents(self, limit: int) -> list[Incident]:
        """The latest incidents, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM incidents ORDER BY started_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Incident.model_validate_json(r[0]) for r in rows]

    def incident(self, incident_id: str) -> Incident | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM incidents WHERE id = ?", (incident_id,)
            ).fetchone()
        return Incident.model_validate_json(row[0]) if row else None

    def incident_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT id FROM incidents").fetchall()}
