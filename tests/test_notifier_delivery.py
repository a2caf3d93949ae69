"""Notifier delivery through Apprise, against local HTTP servers that accept, fail, time out
and rate-limit.

The pure parts (ADRG's keys as Apprise URLs, redaction, what a failure means,
backoff, give-up, burst collapsing, rendering) are tables; Apprise itself and
the Outbox's threads run against real sockets. Discord, whose address Apprise
fixes, is reached through the local server acting as its HTTPS proxy with a
certificate from a test authority (tests/support/fake_https.py).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests

from services.notifier.adrg_keys import adrg_destinations, gotify_level
from services.notifier.dedup import Debouncer
from services.notifier.destinations import check, configured
from services.notifier.failures import (
    RETRY_AFTER_MAX_SECONDS,
    Wait,
    asked_wait,
    cause,
    explain,
    retry_after,
)
from services.notifier.outbox import (
    Outbox,
    OutboxEntry,
    OutboxFile,
    backoff_seconds,
    give_up_reason,
)
from services.notifier.redaction import MASK, destination_name, redact, url_secrets
from services.notifier.render import Notification, render, repeated
from services.notifier.replies import Reply as HeardReply
from services.notifier.replies import install, listening
from shared.config.model import Notifications
from shared.logs import Log, LogfmtFormatter
from shared.messages import Event
from shared.messages.events import NotifyEvent, Severity
from tests.support.fake_https import Authority, make_authority
from tests.support.http_capture import Reply, Scripted
from tests.support.processes import wait_until

WEBHOOK_ID = "112233445566778899"
WEBHOOK_TOKEN = "Zx9-webhook_SECRET_token-Q7"
DISCORD_URL = f"https://discord.com/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
DISCORD_PATH = f"/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"
NTFY_TOKEN = "tk_ntfySECRETtoken0042"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return make_authority(tmp_path_factory.mktemp("ca"), "discord.com")


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


@pytest.fixture
def discord(
    servers: list[Scripted], authority: Authority, monkeypatch: pytest.MonkeyPatch
) -> Scripted:
    """A server Apprise's Discord reaches: it is https://discord.com's proxy."""
    server = Scripted(tls=authority.server_context())
    servers.append(server)
    for key, value in authority.proxy_env(server.url).items():
        monkeypatch.setenv(key, value)
    return server


def note(
    kind: NotifyEvent = "media_mode_activated",
    body: str = "Media mode on",
    severity: Severity = "info",
) -> Notification:
    event = Event(host="nas", kind=kind, source="governor", message=body, severity=severity)
    return render(event)


def settings(tmp_path: Path, **overrides: object) -> Notifications:
    base: dict[str, object] = {
        "outbox_file": str(tmp_path / "outbox.json"),
        "timeout_seconds": 0.5,
        "retry_initial_seconds": 0.05,
        "retry_max_seconds": 0.4,
        "retry_max_attempts": 6,
    }
    return Notifications(**{**base, **overrides})  # type: ignore[arg-type]


def host(server: Scripted) -> str:
    return server.url.removeprefix("http://")


class Reports:
    def __init__(self) -> None:
        self.failed: list[tuple[str, str]] = []
        self.recovered: list[str] = []

    def on_failed(self, destination: str, reason: str) -> None:
        self.failed.append((destination, reason))

    def on_recovered(self, destination: str) -> None:
        self.recovered.append(destination)


def outbox(cfg: Notifications, reports: Reports | None = None) -> Outbox:
    reports = reports or Reports()
    return Outbox(
        configured(cfg),
        cfg,
        Log("test"),
        on_failed=reports.on_failed,
        on_recovered=reports.on_recovered,
    )


# --- pure tables -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (7, 100.0), (20, 100.0)],
)
def test_backoff_doubles_up_to_the_cap(attempts: int, expected: float) -> None:
    assert backoff_seconds(attempts, initial=2, cap=100) == expected


@pytest.mark.parametrize(
    ("attempts", "age", "gives_up"),
    [(0, 0, None), (2, 10, None), (3, 10, "after 3 attempts"), (1, 101, "older than 100 s")],
)
def test_give_up(attempts: int, age: float, gives_up: str | None) -> None:
    cfg = Notifications(retry_max_attempts=3, retry_max_age_seconds=100)
    entry = OutboxEntry(destination="ntfy", note=note(), created=1000, attempts=attempts)
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
def test_render(
    kind: NotifyEvent, severity: Severity, ntfy: str, gotify: int, tags: list[str]
) -> None:
    rendered = note(kind, "m", severity)
    assert (rendered.ntfy_priority, rendered.gotify_priority, rendered.tags) == (ntfy, gotify, tags)
    assert rendered.severity == severity
    assert rendered.title == f"Warden (nas): {kind.replace('_', ' ').title()}"
    assert repeated(rendered, 29, 60).body == "m (repeated 29 times in 60 s)"


@pytest.mark.parametrize(
    ("keys", "message", "url"),
    [
        (
            {"discord_webhook_url": "https://discord.com/api/webhooks/123/ab-C_d"},
            note(),
            "discord://Warden@123/ab-C_d?format=markdown&avatar=no",
        ),
        (
            {"discord_webhook_url": "https://discordapp.com/api/webhooks/123/tok?thread_id=77"},
            note(),
            "discord://Warden@123/tok?format=markdown&avatar=no&thread=77",
        ),
        (
            {"ntfy_url": "https://ntfy.sh/alerts", "ntfy_token": "tk_1"},
            note("memory_emergency_restart", severity="critical"),
            "ntfys://ntfy.sh/alerts?mode=private&image=no&priority=max"
            "&tags=computer%2Crotating_light&token=tk_1",
        ),
        (
            {"ntfy_url": "http://ntfy.lan:8080/t/", "ntfy_priority": 2, "ntfy_tags": []},
            note("thermal_stage1", severity="warning"),
            "ntfy://ntfy.lan:8080/t?mode=private&image=no&priority=2&tags=warning",
        ),
        (
            {"gotify_url": "https://gotify.lan/sub/", "gotify_token": "A.b/c"},
            note("thermal_stage1"),
            "gotifys://gotify.lan/sub/A.b%2Fc?priority=normal",
        ),
        # ADRG sends to Gotify only with both the URL and the token
        ({"gotify_url": "https://gotify.lan"}, note(), None),
    ],
)
def test_adrg_keys_as_apprise_urls(
    keys: dict[str, object], message: Notification, url: str | None
) -> None:
    found, problems = adrg_destinations(Notifications(**keys))  # type: ignore[arg-type]
    assert problems == []
    assert [d.url_for(message) for d in found] == ([url] if url else [])


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (
            "discord_webhook_url",
            "https://example.com/api/webhooks/1/SECRET",
            "not a Discord webhook",
        ),
        ("ntfy_url", "https://ntfy.example/base/SECRET", "one topic"),
        ("ntfy_url", "https://ntfy.example", "one topic"),
        ("ntfy_url", "ntfy.example/SECRET", "expected http(s)://SERVER/TOPIC"),
        ("gotify_url", "gotify.lan", "expected http(s)://SERVER"),
    ],
)
def test_adrg_keys_that_are_no_destination(key: str, value: str, reason: str) -> None:
    _found, problems = adrg_destinations(
        Notifications(**{key: value, "gotify_token": "t"})  # type: ignore[arg-type]
    )
    assert [k for k, _r in problems] == [f"notifications.{key}"]
    assert reason in problems[0][1] and "SECRET" not in problems[0][1]


@pytest.mark.parametrize(
    ("priority", "level"),
    [(10, "emergency"), (8, "high"), (7, "normal"), (4, "normal"), (3, "moderate"), (0, "low")],
)
def test_gotify_levels_keep_gotifys_bands(priority: int, level: str) -> None:
    assert gotify_level(priority) == level


@pytest.mark.parametrize(
    ("full", "private", "secrets"),
    [
        ("discord://W@123/TOK/?a=b", "discord://W@1...3/T...K/?a=b", {"123", "TOK"}),
        ("mailtos://me:P%40ss%20w@ex.com/?x=1", "mailtos://me:****@ex.com/?x=1", {"P@ss w"}),
        ("tgram://12%3AAB/42/", "tgram://1...B/42/", {"12:AB"}),
        ("json://h/p?method=POST&%3AX-Key=HK", "json://h/p?method=POST&%3AX-Key=HK", {"HK"}),
    ],
)
def test_url_secrets_are_what_apprise_masks(full: str, private: str, secrets: set[str]) -> None:
    assert url_secrets(full, private) == secrets


def test_redact_every_spelling() -> None:
    text = "POST /bot123:ABC/send 123%3AABC pass P@ss w and P%40ss%20w"
    assert redact(text, {"123:ABC", "P@ss w"}) == (
        f"POST /bot{MASK}/send {MASK} pass {MASK} and {MASK}"
    )
    # a short secret only where it stands alone
    assert redact("token t: the test at t/x", {"t"}) == f"token {MASK}: the test at {MASK}/x"
    assert destination_name("json://u:****@h:9/p/?method=POST&%3AX-Key=HK") == "json://u:****@h:9/p"


# Apprise's own words, as its plugins log them while failing.
REFUSED = (
    "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /x "
    "(Caused by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=9): Failed to "
    'establish a new connection: [Errno 111] Connection refused"))'
)
BAD_CERT = (
    "HTTPSConnectionPool(host='api.telegram.org', port=443): Max retries exceeded with url: "
    '/botTOKEN/sendMessage (Caused by SSLError(SSLCertVerificationError(1, "[SSL: '
    "CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, certificate is "
    "not valid for 'api.telegram.org'. (_ssl.c:1006)\")))"
)


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (REFUSED, "[Errno 111] Connection refused"),
        (
            "HTTPConnectionPool(host='h', port=1): Read timed out. (read timeout=0.5)",
            "Read timed out. (read timeout=0.5)",
        ),
        (BAD_CERT, "Hostname mismatch, certificate is not valid for 'api.telegram.org'."),
    ],
)
def test_cause(exception: str, expected: str) -> None:
    assert cause(exception) == expected


@pytest.mark.parametrize(
    ("lines", "status", "permanent", "rate_limited", "reason"),
    [
        (
            [("WARNING", "Failed to send ntfy notification: Internal server error., error=500.")],
            500, False, False, "Internal server error., error=500.",
        ),
        (
            [("WARNING", "Failed to send Gotify notification: Verification Failed., error=401.")],
            401, True, False, "error=401",
        ),
        (
            [("WARNING", "Failed to send ntfy notification: unauthorized, error=40101.")],
            401, True, False, "unauthorized",
        ),
        (
            [
                ("WARNING", "Discord rate limiting in effect; blocking for 1.00 second(s)"),
                ("WARNING", "Failed to send Discord notification: error=429."),
            ],
            429, False, True, "rate limiting",
        ),
        ([("WARNING", "Failed to send JSON POST notification: error=408.")], 408, False, False, ""),
        (
            [
                ("DEBUG", "JSON Payload: {...}"),
                ("WARNING", "A Connection error occurred sending JSON notification to 127.0.0.1."),
                ("DEBUG", f"Socket Exception: {REFUSED}"),
            ],
            None, False, False, "127.0.0.1. ([Errno 111] Connection refused)",
        ),
        ([], None, False, False, "Apprise said no more"),
    ],
)  # fmt: skip
def test_explain(
    lines: list[tuple[str, str]],
    status: int | None,
    permanent: bool,
    rate_limited: bool,
    reason: str,
) -> None:
    failure = explain(lines)
    assert (failure.status, failure.permanent, failure.rate_limited) == (
        status,
        permanent,
        rate_limited,
    )
    assert reason in failure.reason


NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
IGNORED = "neither seconds nor an HTTP-date"


@pytest.mark.parametrize(
    ("value", "seconds", "note"),
    [
        ("3", 3.0, None),
        (" 120 ", 120.0, None),
        ("0", 0.0, None),
        ("3600", 3600.0, None),
        # an HTTP-date: IMF-fixdate, and the two obsolete forms RFC 9110 still accepts
        (formatdate(NOW + 90, usegmt=True), 90.0, None),
        ("Tue, 14 Nov 2023 22:14:50 GMT", 90.0, None),
        ("Tuesday, 14-Nov-23 22:14:50 GMT", 90.0, None),
        ("Tue Nov 14 22:14:50 2023", 90.0, None),
        # a date gone by: now
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, None),
        # too long: an hour, and said so
        ("3601", RETRY_AFTER_MAX_SECONDS, "cut to 3600 s"),
        ("9" * 5000, RETRY_AFTER_MAX_SECONDS, "cut to 3600 s"),
        (formatdate(NOW + 86400, usegmt=True), RETRY_AFTER_MAX_SECONDS, "cut to 3600 s"),
        # nonsense: ignored, and said so
        ("-5", None, IGNORED),
        ("3.5", None, IGNORED),
        ("soon", None, IGNORED),
        ("", None, IGNORED),
        ("٣", None, IGNORED),  # a digit, but not an ASCII one
        ("Mon, 32 Oct 2023 07:28:00 GMT", None, IGNORED),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None, IGNORED),
    ],
)  # fmt: skip
def test_retry_after(value: str, seconds: float | None, note: str | None) -> None:
    wait = retry_after(value, NOW)
    assert wait.seconds == seconds
    assert (wait.note is None) if note is None else (note in (wait.note or ""))


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([], Wait()),
        ([(200, None)], Wait()),
        ([(429, None)], Wait()),
        ([(429, "3")], Wait(3.0)),
        ([(503, "30")], Wait(30.0)),
        # a redirect's wait is about following it, which requests has done
        ([(307, "60"), (429, "3")], Wait(3.0)),
        # every server that asked is waited for
        ([(429, "3"), (429, "7")], Wait(7.0)),
        ([(429, "soon"), (429, "7")], Wait(7.0, f"ignored Retry-After 'soon': {IGNORED}")),
        ([(429, "soon")], Wait(None, f"ignored Retry-After 'soon': {IGNORED}")),
    ],
)  # fmt: skip
def test_asked_wait(replies: list[tuple[int, str | None]], expected: Wait) -> None:
    assert asked_wait(replies, NOW) == expected


# --- Apprise, for real --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("tgram://123456789:AAHbotSECRET/987654321", ["123456789:AAHbotSECRET"]),
        ("pover://USERkeySECRET@APPtokenSECRET", ["USERkeySECRET", "APPtokenSECRET"]),
        ("mailtos://me:Pa%24%24word@example.com?to=you@example.com", ["Pa$$word"]),
        ("json://me:PwSECRET@127.0.0.1:9/h?:X-Api-Key=HeaderSECRET", ["PwSECRET", "HeaderSECRET"]),
        (DISCORD_URL, [WEBHOOK_TOKEN]),
    ],
)  # fmt: skip
def test_a_destination_tells_none_of_its_secrets(url: str, secrets: list[str]) -> None:
    (destination,) = configured(Notifications(urls=[url]))
    said = destination.redact(f"{url} failed: {' '.join(secrets)}")
    assert not [s for s in secrets if s in said] and MASK in said
    assert not [s for s in secrets if s in destination.name]


def test_replies_are_heard_only_by_the_send_that_listens(servers: list[Scripted]) -> None:
    """requests is wrapped once for the process, and passes everything through."""
    server = serve(servers, Reply(429, {"Retry-After": "3"}), Reply(503))
    install()
    install()
    # install() wraps with functools.wraps, which keeps what it wrapped as __wrapped__.
    wrapped = vars(requests.Session.send)["__wrapped__"]
    assert not getattr(wrapped, "_warden_hears_replies", False)
    with listening() as heard:
        assert requests.post(f"{server.url}/a", timeout=5).status_code == 429
    assert requests.post(f"{server.url}/b", timeout=5).status_code == 503
    assert heard == [HeardReply(429, "3")]


def test_config_check_names_the_key_and_never_the_secret() -> None:
    cfg = Notifications(
        discord_webhook_url="https://example.com/hook/SECRETa",
        urls=["tgram://123:SECRETb/42", "nosuch://user:SECRETc@host/x", "gotify://host"],
    )
    problems = check(cfg)
    assert [key for key, _ in problems] == [
        "notifications.discord_webhook_url",
        "notifications.urls.1",
        "notifications.urls.2",
    ]
    assert not [r for _k, r in problems if "SECRET" in r]
    assert "Apprise cannot use it" in problems[1][1] and "Gotify Token" in problems[2][1]
    assert check(Notifications()) == []


def test_each_service_receives_what_it_should(
    servers: list[Scripted], discord: Scripted, tmp_path: Path
) -> None:
    server = serve(servers)
    cfg = settings(
        tmp_path,
        discord_webhook_url=DISCORD_URL,
        ntfy_url=f"{server.url}/alerts",
        ntfy_token=NTFY_TOKEN,
        ntfy_tags=["server"],
        gotify_url=f"{server.url}/gotify/",
        gotify_token="gotifySECRET",
        urls=[f"json://{host(server)}/hook"],
    )
    message = note("thermal_stage1", "Hot: 76 °C", "warning")
    for destination in configured(cfg):
        destination.send(message)

    (hook,) = discord.delivered()
    assert hook.path == DISCORD_PATH
    posted = json.loads(hook.body)
    assert posted["username"] == "Warden"
    (embed,) = posted["embeds"]
    assert (embed["title"], embed["description"]) == (message.title, "Hot: 76 °C")
    assert embed["color"] == 0xFF8C00  # ADRG's orange, for a warning

    ntfy, gotify, generic = server.hits
    assert ntfy.path == "/" and ntfy.headers["Authorization"] == f"Bearer {NTFY_TOKEN}"
    assert json.loads(ntfy.body) == {
        "topic": "alerts",
        "title": message.title,
        "message": "Hot: 76 °C",
    }
    assert (ntfy.headers["X-Priority"], ntfy.headers["X-Tags"]) == ("high", "server,warning")
    assert gotify.path == "/gotify/message" and gotify.headers["X-Gotify-Key"] == "gotifySECRET"
    assert json.loads(gotify.body) == {
        "title": message.title,
        "message": "Hot: 76 °C",
        "priority": 5,
    }
    assert generic.path == "/hook"
    sent = json.loads(generic.body)
    assert (sent["title"], sent["message"], sent["type"]) == (
        message.title,
        "Hot: 76 °C",
        "warning",
    )


def test_ntfy_priority_from_the_config_or_the_event(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers)
    by_event = configured(settings(tmp_path, ntfy_url=f"{server.url}/t"))[0]
    by_event.send(note("memory_emergency_restart", "m", "critical"))
    by_event.send(note("daemon_start"))
    fixed = configured(settings(tmp_path, ntfy_url=f"{server.url}/t", ntfy_priority="min"))[0]
    fixed.send(note("memory_emergency_restart", "m", "critical"))
    assert [h.headers.get("X-Priority") for h in server.hits] == ["max", "low", "min"]


# --- the outbox on real sockets ---------------------------------------------------


def test_failing_server_is_retried_with_backoff_and_reported_once(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers, Reply(500), Reply(502), Reply(503))
    reports = Reports()
    box = outbox(settings(tmp_path, gotify_url=server.url, gotify_token="t"), reports)
    try:
        box.put(note())
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after three failures")
        gaps = [b.at - a.at for a, b in zip(server.hits, server.hits[1:], strict=False)]
        # 0.05, 0.1, 0.2: each wait at least the backoff (a little slack for clock reads).
        assert [g >= d * 0.9 for g, d in zip(gaps, (0.05, 0.1, 0.2), strict=True)] == [True] * 3
        wait_until(lambda: reports.recovered == ["gotify"], what="recovery reported")
        assert len(reports.failed) == 1 and "error=500" in reports.failed[0][1]
        wait_until(lambda: box.undelivered() == [], what="outbox emptied")
    finally:
        box.close()


def retries(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fields of each notify.retry line Warden logged."""
    return [
        getattr(r, "warden_fields", {})
        for r in caplog.records
        if r.name == "test" and r.getMessage() == "notify.retry"
    ]


def test_rate_limit_waits_as_long_as_retry_after_says(
    servers: list[Scripted], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two webhooks answer 429 at the same time, one asking for 3 s and one for none: each
    retry waits for what its own server asked (the backoff here is 0.05 s)."""
    slow = serve(servers, Reply(429, {"Retry-After": "3"}))
    soon = serve(servers, Reply(429, {"Retry-After": "0"}))
    urls = [f"json://{host(slow)}/hook", f"json://{host(soon)}/hook"]
    reports = Reports()
    caplog.set_level(logging.INFO)
    box = outbox(settings(tmp_path, urls=urls), reports)
    try:
        box.put(note())
        wait_until(lambda: len(soon.delivered()) == 1, what="the other webhook's delivery")
        wait_until(lambda: len(slow.delivered()) == 1, what="delivery after the 429")
        assert [h.status for h in slow.hits] == [429, 200]
        assert slow.hits[1].at - slow.hits[0].at >= 3
        assert reports.failed == []  # being asked to slow down is not a failure
    finally:
        box.close()
    asked = {f["destination"]: f["retry_after"] for f in retries(caplog)}
    assert asked == {urls[0]: 3.0, urls[1]: 0.0}


def test_retry_after_as_a_date(servers: list[Scripted], tmp_path: Path) -> None:
    """Gotify's shape, answering 429 with an HTTP-date four whole seconds on."""
    when = int(time.time()) + 4
    # The same moment on the clock that Scripted stamps each request with.
    when_monotonic = time.monotonic() + (when - time.time())
    server = serve(servers, Reply(429, {"Retry-After": formatdate(when, usegmt=True)}))
    box = outbox(settings(tmp_path, gotify_url=server.url, gotify_token="t"))
    try:
        box.put(note())
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after the 429")
        assert [h.status for h in server.hits] == [429, 200]
        # Not before the date (less a hair for reading two clocks one after the other).
        assert server.hits[1].at >= when_monotonic - 0.05
    finally:
        box.close()


def test_nonsense_retry_after_is_ignored_and_logged(
    servers: list[Scripted], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(servers, Reply(503, {"Retry-After": "soon"}), Reply(429, {"Retry-After": "-1"}))
    caplog.set_level(logging.INFO)
    box = outbox(settings(tmp_path, urls=[f"json://{host(server)}/hook"]))
    try:
        box.put(note())
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after the backoff")
    finally:
        box.close()
    told = retries(caplog)
    assert ["retry_after" in f for f in told] == [False, False]
    assert [f["retry_after_note"] for f in told] == [
        f"ignored Retry-After 'soon': {IGNORED}",
        f"ignored Retry-After '-1': {IGNORED}",
    ]


def test_retry_after_holds_across_a_restart(servers: list[Scripted], tmp_path: Path) -> None:
    server = serve(servers, Reply(429, {"Retry-After": "3"}))
    cfg = settings(tmp_path, urls=[f"json://{host(server)}/hook"])
    path = Path(cfg.outbox_file)
    before = time.time()
    box = outbox(cfg)
    box.put(note())
    wait_until(lambda: len(server.hits) == 1, what="the 429")

    def filed() -> list[OutboxEntry]:
        return OutboxFile.model_validate_json(path.read_text()).entries if path.exists() else []

    wait_until(lambda: [e.attempts for e in filed()] == [1], what="the 429 filed")
    box.close(timeout=1)
    (entry,) = filed()
    assert entry.not_before is not None and entry.not_before >= before + 3

    box = outbox(cfg)
    try:
        wait_until(lambda: len(server.delivered()) == 1, what="delivery after the restart")
        assert server.hits[1].at - server.hits[0].at >= 3
    finally:
        box.close()


def test_discord_rate_limit_is_apprises_to_honour(discord: Scripted, tmp_path: Path) -> None:
    discord.script = [Reply(429, {"Retry-After": "0"})]
    reports = Reports()
    box = outbox(settings(tmp_path, discord_webhook_url=DISCORD_URL), reports)
    try:
        box.put(note())
        wait_until(lambda: len(discord.delivered()) == 1, what="delivery after the 429")
        assert [h.status for h in discord.hits] == [429, 200]
        assert reports.failed == []
    finally:
        box.close()


def test_timeout_is_retried_and_does_not_hold_up_other_destinations(
    servers: list[Scripted], tmp_path: Path
) -> None:
    hang = 3.0
    slow = serve(servers, Reply(200, delay=hang), Reply(200, delay=hang))
    fast = serve(servers)
    reports = Reports()
    cfg = settings(
        tmp_path, gotify_url=slow.url, gotify_token="t", urls=[f"json://{host(fast)}/hook"]
    )
    box = outbox(cfg, reports)
    try:
        box.put(note(body="one"))
        box.put(note(body="two"))
        wait_until(lambda: len(fast.hits) == 2, what="the fast destination")
        wait_until(lambda: len(slow.hits) >= 1, what="the slow destination asked")
        # Never waited behind the hanging server: both were in before its first answer.
        assert fast.hits[-1].at < slow.hits[0].at + hang
        wait_until(lambda: len(slow.hits) >= 4, timeout=20, what="the slow destination retried")
        wait_until(lambda: box.undelivered() == [], timeout=20, what="both delivered")
        assert [json.loads(h.body)["message"] for h in fast.hits] == ["one", "two"]
        # in order, despite the retries
        bodies = [json.loads(h.body)["message"] for h in slow.hits if h.status == 200]
        assert bodies[-2:] == ["one", "two"]
        assert len(reports.failed) == 1 and "Read timed out" in reports.failed[0][1]
    finally:
        box.close()


def test_permanent_refusal_drops_at_once_and_reports_once(
    servers: list[Scripted], tmp_path: Path
) -> None:
    server = serve(servers, then=Reply(401))
    reports = Reports()
    box = outbox(settings(tmp_path, gotify_url=server.url, gotify_token="bad"), reports)
    try:
        for i in range(3):
            box.put(note(body=f"m{i}"))
        wait_until(lambda: len(server.hits) == 3 and box.undelivered() == [], what="3 refusals")
        assert len(reports.failed) == 1 and "error=401" in reports.failed[0][1]
    finally:
        box.close()


def test_gives_up_after_max_attempts(servers: list[Scripted], tmp_path: Path) -> None:
    server = serve(servers, then=Reply(500))
    box = outbox(settings(tmp_path, retry_max_attempts=3, urls=[f"json://{host(server)}/x"]))
    try:
        box.put(note())
        wait_until(lambda: box.undelivered() == [], what="dropped")
        assert len(server.hits) == 3
    finally:
        box.close()


def test_undelivered_survive_a_restart(servers: list[Scripted], tmp_path: Path) -> None:
    down = serve(servers, then=Reply(503))
    cfg = settings(tmp_path, retry_initial_seconds=30, retry_max_seconds=60, gotify_token="t")
    box = outbox(cfg.model_copy(update={"gotify_url": down.url}))
    box.put(note(body="first"))
    box.put(note(body="second"))
    wait_until(lambda: len(down.hits) == 1, what="first attempt")
    box.close(timeout=1)
    stored = OutboxFile.model_validate_json(Path(cfg.outbox_file).read_text())
    assert sorted(e.note.body for e in stored.entries) == ["first", "second"]

    up = serve(servers)
    box = outbox(cfg.model_copy(update={"gotify_url": up.url}))  # same name, new address
    try:
        wait_until(lambda: len(up.hits) == 2, what="delivered after the restart")
        assert [json.loads(h.body)["message"] for h in up.hits] == ["first", "second"]
        wait_until(
            lambda: OutboxFile.model_validate_json(Path(cfg.outbox_file).read_text()).entries == [],
            what="file emptied",
        )
    finally:
        box.close()


def test_a_corrupt_outbox_file_is_kept_aside(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    Path(cfg.outbox_file).write_text("{not json")
    box = outbox(cfg)
    box.close()
    assert (tmp_path / "outbox.json.corrupt").read_text() == "{not json"


def test_an_older_wardens_file_is_read_redacted_and_closed(
    servers: list[Scripted], discord: Scripted, tmp_path: Path
) -> None:
    """Before Apprise: schema 1, a Discord colour per message, the file as the umask made it,
    and the webhook token in an error as requests wrote it."""
    cfg = settings(
        tmp_path, discord_webhook_url=DISCORD_URL, retry_initial_seconds=30, retry_max_seconds=60
    )
    leaked = f"ConnectionError: Max retries exceeded with url: {DISCORD_PATH}"
    old = {
        "schema_version": 1,
        "entries": [
            {
                "id": "a1",
                "channel": "discord",
                "created": 4102444800.0,  # in 2100: not too old to send
                "attempts": 1,
                "last_error": leaked,
                "note": {
                    "kind": "thermal_stage2",
                    "title": "Warden (nas): Thermal Stage2",
                    "body": "Hot",
                    "ntfy_priority": "high",
                    "gotify_priority": 7,
                    "colour": 0xFF8C00,
                    "tags": ["warning"],
                    "about_channel": None,
                },
            }
        ],
    }
    path = Path(cfg.outbox_file)
    path.write_text(json.dumps(old))
    path.chmod(0o644)
    discord.then = Reply(503)
    box = outbox(cfg)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert WEBHOOK_TOKEN not in path.read_text()
        wait_until(lambda: len(discord.hits) == 1, what="the old message tried")
        (entry,) = box.undelivered()
        assert entry.note.severity == "warning"
        assert (entry.destination, entry.note.about_destination) == ("discord", None)
        (kept,) = json.loads(path.read_text())["entries"]
        assert kept["destination"] == "discord" and "channel" not in kept
    finally:
        box.close()


@pytest.mark.parametrize(
    "details",
    [{"destination": "ntfy", "channel": "ntfy"}, {"channel": "ntfy"}, {"destination": "ntfy"}],
)
def test_a_failure_report_names_the_destination_it_is_about(
    details: dict[str, str | int | float | bool | None],
) -> None:
    """As this notifier publishes it (both keys), and as an older one did (`channel`)."""
    event = Event(
        host="nas",
        kind="notifier_channel_failed",
        source="notifier",
        message="Notifications to ntfy are failing",
        details=details,
    )
    assert render(event).about_destination == "ntfy"


def test_an_outbox_written_before_destinations_had_their_name_reads() -> None:
    """Schema 2 with `channel` and `about_channel`: read as they were, written anew."""
    entry = {
        "id": "b2",
        "channel": "ntfy",
        "created": 1000.0,
        "note": {**note().model_dump(exclude={"about_destination"}), "about_channel": "discord"},
    }
    stored = OutboxFile.model_validate({"schema_version": 2, "entries": [entry]})
    (read,) = stored.entries
    assert (read.destination, read.note.about_destination) == ("ntfy", "discord")
    (written,) = json.loads(stored.model_dump_json())["entries"]
    assert written["destination"] == "ntfy" and written["note"]["about_destination"] == "discord"
    assert "channel" not in written and "about_channel" not in written["note"]


def test_a_message_about_a_destination_skips_it(servers: list[Scripted], tmp_path: Path) -> None:
    server = serve(servers)
    other = serve(servers)
    cfg = settings(tmp_path, ntfy_url=f"{server.url}/n", urls=[f"json://{host(other)}/d"])
    box = outbox(cfg)
    try:
        event = Event(
            host="nas",
            kind="notifier_channel_failed",
            source="notifier",
            message="Notifications to ntfy are failing",
            details={"channel": "ntfy"},
        )
        box.put(render(event))
        wait_until(lambda: len(other.hits) == 1, what="the other told")
        assert server.hits == [] and box.undelivered() == []
    finally:
        box.close()


def test_a_failing_destination_tells_no_secret(
    servers: list[Scripted], discord: Scripted, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord (the webhook token in its URL) answers 500, 429 with Retry-After, 401, each
    with a body that repeats the token; ntfy refuses with the token in its error text, which
    Apprise quotes. No token in what is reported, logged or filed; the file is 0600."""
    echo = f"rejected POST {DISCORD_PATH}".encode()
    discord.script = [
        Reply(500, body=echo),
        Reply(429, {"Retry-After": "1"}, body=echo),
        Reply(401, body=echo),
    ]
    ntfy = serve(
        servers,
        then=Reply(
            401, body=json.dumps({"code": 40101, "error": f"token {NTFY_TOKEN} unknown"}).encode()
        ),
    )
    secrets = (WEBHOOK_TOKEN, NTFY_TOKEN)
    cfg = settings(
        tmp_path,
        discord_webhook_url=DISCORD_URL,
        urls=[f"ntfy://{host(ntfy)}/alerts?token={NTFY_TOKEN}"],
        retry_initial_seconds=1,
        retry_max_seconds=1,
    )
    path = Path(cfg.outbox_file)
    reports = Reports()
    caplog.set_level(logging.DEBUG)
    old_umask = os.umask(0o022)
    box = outbox(cfg, reports)
    try:
        box.put(note("thermal_stage2", "Hot", "warning"))
        wait_until(
            lambda: path.exists() and '"last_error": "Failed to send Discord' in path.read_text(),
            what="the 500 filed",
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not [s for s in secrets if s in path.read_text()]
        wait_until(lambda: len(discord.hits) == 3 and box.undelivered() == [], what="refused")
        wait_until(lambda: len(reports.failed) == 2, what="both reported")
    finally:
        box.close()
        os.umask(old_umask)
    said = {name: reason for name, reason in reports.failed}
    ntfy_name = f"ntfy://t...2@{host(ntfy)}/alerts"
    assert set(said) == {"discord", ntfy_name}
    assert "error=500" in said["discord"]
    assert f"token {MASK} unknown" in said[ntfy_name]
    # Warden's own lines, as its log writes them (pytest also hears Apprise's, which
    # Warden keeps out of its log: see destinations.py).
    formatter = LogfmtFormatter()
    logged = "\n".join(formatter.format(r) for r in caplog.records if r.name == "test")
    assert "error=401" in logged and "error=40101" in logged
    assert not [s for s in secrets if s in logged + " ".join(said.values()) + path.read_text()]
