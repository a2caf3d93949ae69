"""Notifier delivery against local HTTP servers that accept, fail, time out and rate-limit.

The pure parts (backoff, Retry-After, give-up, burst collapsing, rendering) are
tables; the Outbox runs its real threads against real sockets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.notifier.channels import Discord, Gotify, Ntfy, retry_after_seconds
from services.notifier.dedup import Debouncer
from services.notifier.outbox import (
    Outbox,
    OutboxEntry,
    OutboxFile,
    backoff_seconds,
    give_up_reason,
)
from services.notifier.render import Notification, render, repeated
from shared.config.model import Notifications
from shared.logs import Log
from shared.messages import Event
from tests.support.http_capture import Reply, Scripted
from tests.support.processes import wait_until


@pytest.fixture
def servers() -> Iterator[list[Scripted]]:
    made: list[Scripted] = []
    yield made
    for s in made:
        s.close()


def serve(servers: list[Scripted], *script: Reply, then: Reply | None = None) -> Scripted:
    s = Scripted(*script, then=then)
    servers.append(s)
    return s


def note(kind: str = "media_mode_activated", body: str = "Media mode on") -> Notification:
    return render(Event(host="nas", kind=kind, source="governor", message=body))  # type: ignore[arg-type]


def settings(tmp_path: Path, **overrides: object) -> Notifications:
    base: dict[str, object] = {
        "outbox_file": str(tmp_path / "outbox.json"),
        "timeout_seconds": 0.5,
        "retry_initial_seconds": 0.05,
        "retry_max_seconds": 0.4,
        "retry_max_attempts": 6,
    }
    return Notifications(**{**base, **overrides})  # type: ignore[arg-type]


class Reports:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []
        self.recovered: list[str] = []

    def on_failed(self, channel: str, reason: str) -> None:
        self.failed.append((channel, reason))

    def on_recovered(self, channel: str) -> None:
        self.recovered.append(channel)


def outbox(cfg: Notifications, channels: list, reports: Reports | None = None) -> Outbox:  # type: ignore[type-arg]
    reports = reports or Reports()
    return Outbox(
        channels, cfg, Log("test"), on_failed=reports.on_failed, on_recovered=reports.on_recovered
    )


# --- pure tables -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (7, 100.0), (20, 100.0)],
)
def test_backoff_doubles_up_to_the_cap(attempts: int, expected: float) -> None:
    assert backoff_seconds(attempts, initial=2, cap=100) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),  # an HTTP date, 40 s after "now" = 60
        ("Thu, 01 Jan 1970 00:00:30 GMT", 0.0),  # already past
    ],
)
def test_retry_after(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, now=60.0) == expected


@pytest.mark.parametrize(
    ("attempts", "age", "gives_up"),
    [(0, 0, None), (2, 10, None), (3, 10, "after 3 attempts"), (1, 101, "older than 100 s")],
)
def test_give_up(attempts: int, age: float, gives_up: str | None) -> None:
    cfg = Notifications(retry_max_attempts=3, retry_max_age_seconds=100)
    entry = OutboxEntry(channel="ntfy", note=note(), created=1000, attempts=attempts)
    reason = give_up_reason(entry, 1000 + age, cfg)
    assert (reason is None) if gives_up is None else (gives_up in (reason or ""))


def test_thirty_flaps_are_one_message_and_one_count() -> None:
    bursts: Debouncer[str, str] = Debouncer(window=60)
    sent = [bursts.offer("flap", f"v{i}", now=float(i)) for i in range(30)]
    assert sent == [True] + [False] * 29
    assert bursts.due(now=59.0) == []
    assert bursts.due(now=60.0) == [("v29", 29)]
    # The burst is over: the window closes without another message.
    assert bursts.due(now=120.0) == []
    assert bursts.next_due() is None
    assert bursts.offer("flap", "again", now=121.0) is True


@pytest.mark.parametrize(
    ("offers", "checks", "summaries"),
    [
        # different keys never collapse into each other
        ([("a", 0), ("b", 1)], [61], []),
        # a burst that keeps going: one summary per window, not one per flap
        ([("a", 0), ("a", 10), ("a", 70), ("a", 80)], [60, 120, 180], [1, 2]),
        # window 0: nothing collapses
        ([], [], []),
    ],
)
def test_bursts(offers: list[tuple[str, float]], checks: list[float], summaries: list[int]) -> None:
    bursts: Debouncer[str, str] = Debouncer(window=60)
    got: list[int] = []
    events = sorted([(t, "offer", k) for k, t in offers] + [(t, "due", "") for t in checks])
    for t, what, key in events:
        if what == "offer":
            bursts.offer(key, key, now=t)
        else:
            got += [n for _v, n in bursts.due(now=t)]
    assert got == summaries


def test_window_zero_sends_everything() -> None:
    bursts: Debouncer[str, str] = Debouncer(window=0)
    assert all(bursts.offer("a", "a", now=1.0) for _ in range(5))


@pytest.mark.parametrize(
    ("kind", "severity", "ntfy", "gotify", "tags"),
    [
        ("memory_emergency_restart", "critical", "urgent", 10, ["rotating_light"]),
        ("thermal_stage2", "warning", "high", 7, ["warning"]),
        ("media_mode_activated", "info", "default", 4, []),
        ("daemon_start", "info", "low", 3, []),
        ("notifier_channel_failed", "warning", "high", 6, ["warning"]),
    ],
)
def test_render(kind: str, severity: str, ntfy: str, gotify: int, tags: list[str]) -> None:
    event = Event(host="nas", kind=kind, source="governor", message="m", severity=severity)  # type: ignore[arg-type]
    rendered = render(event)
    assert (rendered.ntfy_priority, rendered.gotify_priority, rendered.tags) == (ntfy, gotify, tags)
    assert rendered.title == f"Warden (nas): {kind.replace('_', ' ').title()}"
    assert repeated(rendered, 29, 60).body == "m (repeated 29 times in 60 s)"


# --- each service's HTTP shape ----------------------------------------------------


def test_channels_speak_each_services_http(servers: list[Scripted]) -> None:
    server = serve(servers)
    message = note("thermal_stage1", "Hot: 76 °C")
    Ntfy(f"{server.url}/topic", "tk", priority="5", tags=("server",)).send(message, 2)
    Ntfy(f"{server.url}/plain").send(message, 2)
    Discord(f"{server.url}/discord").send(message, 2)
    Gotify(f"{server.url}/gotify/", "gt").send(message, 2)
    ntfy, plain, discord, gotify = server.hits
    assert ntfy.headers["Authorization"] == "Bearer tk"
    assert ntfy.headers["Priority"] == "5" and ntfy.headers["Tags"] == "server"
    assert ntfy.body.decode() == "Hot: 76 °C"
    assert plain.headers["Priority"] == "high" and "Authorization" not in plain.headers
    assert json.loads(discord.body)["embeds"][0]["description"] == "Hot: 76 °C"
    assert gotify.path == "/gotify/message" and gotify.headers["X-Gotify-Key"] == "gt"
    assert json.loads(gotify.body)["priority"] == 7


# --- the outbox on real sockets ---------------------------------------------------


def test_failing_server_is_retried_with_backoff_and_reported_once(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers, Reply(500), Reply(502), Reply(503))
    reports = Reports()
    box = outbox(settings(tmp_path), [Ntfy(f"{server.url}/t")], reports)
    try:
        box.put(note())
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after three failures")
        gaps = [b.at - a.at for a, b in zip(server.hits, server.hits[1:], strict=False)]
        # 0.05, 0.1, 0.2: each wait at least the backoff (a little slack for clock reads).
        assert [g >= d * 0.9 for g, d in zip(gaps, (0.05, 0.1, 0.2), strict=True)] == [True] * 3
        wait_until(lambda: reports.recovered == ["ntfy"], what="recovery reported")
        assert len(reports.failed) == 1 and "HTTP 500" in reports.failed[0][1]
        wait_until(lambda: box.undelivered() == [], what="outbox emptied")
    finally:
        box.close()


def test_rate_limit_honours_retry_after(servers: list[Scripted], tmp_path: Path) -> None:
    server = serve(servers, Reply(429, {"Retry-After": "1"}))
    reports = Reports()
    box = outbox(settings(tmp_path), [Discord(f"{server.url}/d")], reports)
    try:
        box.put(note())
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after the 429")
        limited, delivered = server.hits
        assert delivered.at - limited.at >= 0.95  # not the 0.05 s backoff: the server's 1 s
        assert reports.failed == []  # being asked to slow down is not a failure
    finally:
        box.close()


def test_timeout_is_retried_and_does_not_hold_up_other_channels(
    servers: list[Scripted], tmp_path: Path
) -> None:
    hang = 3.0
    slow = serve(servers, Reply(200, delay=hang), Reply(200, delay=hang))
    fast = serve(servers)
    reports = Reports()
    box = outbox(settings(tmp_path), [Ntfy(f"{slow.url}/t"), Discord(f"{fast.url}/d")], reports)
    try:
        box.put(note(body="one"))
        box.put(note(body="two"))
        wait_until(lambda: len(fast.hits) == 2, what="the fast channel")
        wait_until(lambda: len(slow.hits) >= 1, what="the slow channel asked")
        # Never waited behind the hanging server: both were in before its first answer.
        assert fast.hits[-1].at < slow.hits[0].at + hang
        wait_until(lambda: len(slow.hits) >= 4, timeout=20, what="the slow channel retried")
        wait_until(lambda: box.undelivered() == [], timeout=20, what="both delivered")
        assert [json.loads(h.body)["embeds"][0]["description"] for h in fast.hits] == [
            "one",
            "two",
        ]
        # in order, despite the retries
        assert [h.body for h in slow.hits if h.status == 200][-2:] == [b"one", b"two"]
        assert reports.failed == [("ntfy", "no answer within 0.5 s")]
    finally:
        box.close()


def test_permanent_refusal_drops_at_once_and_reports_once(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers, then=Reply(401))
    reports = Reports()
    box = outbox(settings(tmp_path), [Gotify(server.url, "bad")], reports)
    try:
        for i in range(3):
            box.put(note(body=f"m{i}"))
        wait_until(lambda: len(server.hits) == 3 and box.undelivered() == [], what="3 refusals")
        assert len(reports.failed) == 1 and reports.failed[0][1].startswith("HTTP 401")
    finally:
        box.close()


def test_gives_up_after_max_attempts(servers: list[Scripted], tmp_path: Path) -> None:
    server = serve(servers, then=Reply(500))
    box = outbox(settings(tmp_path, retry_max_attempts=3), [Ntfy(f"{server.url}/t")])
    try:
        box.put(note())
        wait_until(lambda: box.undelivered() == [], what="dropped")
        assert len(server.hits) == 3
    finally:
        box.close()


def test_undelivered_survive_a_restart(servers: list[Scripted], tmp_path: Path) -> None:
    down = serve(servers, then=Reply(503))
    cfg = settings(tmp_path, retry_initial_seconds=30, retry_max_seconds=60)
    box = outbox(cfg, [Ntfy(f"{down.url}/t")])
    box.put(note(body="first"))
    box.put(note(body="second"))
    wait_until(lambda: len(down.hits) == 1, what="first attempt")
    box.close(timeout=1)
    stored = OutboxFile.model_validate_json(Path(cfg.outbox_file).read_text())
    assert sorted(e.note.body for e in stored.entries) == ["first", "second"]

    up = serve(servers)
    box = outbox(cfg, [Ntfy(f"{up.url}/t")])  # same channel name, new address
    try:
        wait_until(lambda: len(up.hits) == 2, what="delivered after the restart")
        assert [h.body for h in up.hits] == [b"first", b"second"]
        wait_until(
            lambda: OutboxFile.model_validate_json(Path(cfg.outbox_file).read_text()).entries == [],
            what="file emptied",
        )
    finally:
        box.close()


def test_a_corrupt_outbox_file_is_kept_aside(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    Path(cfg.outbox_file).write_text("{not json")
    box = outbox(cfg, [])
    box.close()
    assert (tmp_path / "outbox.json.corrupt").read_text() == "{not json"


def test_a_message_about_a_channel_skips_that_channel(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers)
    box = outbox(settings(tmp_path), [Ntfy(f"{server.url}/n"), Discord(f"{server.url}/d")])
    try:
        event = Event(
            host="nas",
            kind="notifier_channel_failed",
            source="notifier",
            message="Notifications to discord are failing",
            details={"channel": "discord"},
        )
        box.put(render(event))
        wait_until(lambda: len(server.hits) == 1, what="ntfy told")
        assert server.hits[0].path == "/n"
        assert box.undelivered() == []
    finally:
        box.close()
