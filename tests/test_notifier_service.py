"""The notifier process on a real Mosquitto, against local HTTP servers, through Apprise:
bursts collapse, a failing destination is reported once and tells none of its secrets,
and what was not delivered survives a restart.

One local server plays ntfy and, as the HTTPS proxy Apprise's Discord goes
through (tests/support/fake_https.py), Discord; another plays a private ntfy,
named by an Apprise URL, that refuses its token and says so.
"""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.notifier.outbox import OutboxFile
from shared.messages import Event
from tests.support.broker import Mosquitto
from tests.support.fake_https import Authority, make_authority
from tests.support.http_capture import Reply, Scripted
from tests.support.probe import Probe
from tests.support.processes import REPO, Service, wait_until, write_config

WEBHOOK = "https://discord.com/api/webhooks/112233445566778899/Zx9-webhook_SECRET_token-Q7"
DISCORD_PATH = WEBHOOK.removeprefix("https://discord.com")
NTFY_TOKEN = "tk_privateSECRETtoken77"
SECRETS = ("Zx9-webhook_SECRET_token-Q7", NTFY_TOKEN)


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca", "discord.com")


@pytest.fixture
def server(authority: Authority) -> Iterator[Scripted]:
    s = Scripted(tls=authority.server_context())
    yield s
    s.close()


@pytest.fixture
def private() -> Iterator[Scripted]:
    refusal = json.dumps({"code": 40101, "http": 401, "error": f"token {NTFY_TOKEN} unknown"})
    s = Scripted(then=Reply(401, body=refusal.encode()))
    yield s
    s.close()


def notifier_config(
    tmp_path: Path, broker: Mosquitto, host_id: str, url: str, private: str = ""
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "notifications": {
                "notify_on": [],  # every event, this one's own failure report included
                "ntfy_url": f"{url}/alerts",
                "discord_webhook_url": WEBHOOK,
                "urls": [f"ntfy://{private}/private?token={NTFY_TOKEN}"] if private else [],
                "outbox_file": str(tmp_path / "outbox.json"),
                "retry_initial_seconds": 0.2,
                "retry_max_seconds": 0.5,
                "retry_max_attempts": 1000,
                "dedup_window_seconds": 2,
                "timeout_seconds": 2,
            },
        },
    )


def test_bursts_failures_and_restart(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    host_id: str,
    server: Scripted,
    private: Scripted,
    authority: Authority,
) -> None:
    # Discord is down and says so with the URL it was asked, token and all; ntfy is up;
    # the private ntfy refuses its token, quoting it.
    server.by_path[DISCORD_PATH] = Reply(500, body=f"no route for {DISCORD_PATH}".encode())
    config = notifier_config(
        tmp_path, broker, host_id, server.url, private.url.removeprefix("http://")
    )
    env = authority.proxy_env(server.url)
    notifier = Service("notifier", config, tmp_path, env=env)
    try:
        probe.wait_for(f"warden/{host_id}/notifier/availability", lambda s: s.text == "online")
        for _ in range(30):  # media mode flapping
            flap = Event(
                host=host_id, kind="media_mode_activated", source="governor", message="Stream"
            )
            probe.publish(f"warden/{host_id}/events", flap.model_dump_json())

        def ntfy_bodies() -> list[str]:
            return [json.loads(h.body)["message"] for h in server.delivered() if h.path == "/"]

        wait_until(lambda: any("repeated" in b for b in ntfy_bodies()), what="the summary")
        flaps = [b for b in ntfy_bodies() if b.startswith("Stream")]
        assert flaps == ["Stream", "Stream (repeated 29 times in 2 s)"]

        # Discord failing, the private ntfy refusing: each said once, on the bus and through
        # the destinations that work, with the reason and without the secret.
        private_name = f"ntfy://t...7@{private.url.removeprefix('http://')}/private"

        def failure_reports() -> dict[str, Event]:
            events = [
                Event.model_validate_json(s.payload)
                for s in probe.messages(f"warden/{host_id}/events")
            ]
            return {
                str(e.details["destination"]): e
                for e in events
                if e.kind == "notifier_channel_failed"
            }

        wait_until(lambda: len(failure_reports()) == 2, what="both failures on the bus")
        reports = failure_reports()
        assert set(reports) == {"discord", private_name}
        assert all(r.source == "notifier" for r in reports.values())
        # The detail's first name, kept for automations that read it.
        assert all(r.details["channel"] == name for name, r in reports.items())
        assert "error=500" in reports["discord"].message
        assert "token **** unknown" in reports[private_name].message
        wait_until(lambda: any("discord are failing" in b for b in ntfy_bodies()), what="told")
        told = [json.loads(s.payload) for s in probe.messages(f"warden/{host_id}/ha/notify")]
        assert [t["message"] for t in told if t["kind"] == "media_mode_activated"] == [
            "Stream",
            "Stream (repeated 29 times in 2 s)",
        ]
        wait_until(
            lambda: len([h for h in server.hits if h.path == DISCORD_PATH]) >= 3,
            what="discord retried",
        )
        kinds = [
            Event.model_validate_json(s.payload).kind
            for s in probe.messages(f"warden/{host_id}/events")
        ]
        assert kinds.count("notifier_channel_failed") == 2  # once each, not once per retry
        on_the_bus = " ".join(s.text for s in probe.messages(f"warden/{host_id}/events"))
        assert not [s for s in SECRETS if s in on_the_bus]
    finally:
        assert notifier.stop() == 0

    # Stopped with Discord still down: its messages wait in the file, which only Warden's
    # user may read, and which holds no secret.
    outbox = tmp_path / "outbox.json"
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
    assert not [s for s in SECRETS if s in outbox.read_text()]
    stored = OutboxFile.model_validate_json(outbox.read_text())
    waiting = sorted(e.note.body for e in stored.entries if e.destination == "discord")
    assert [w for w in waiting if w.startswith("Stream")] == [
        "Stream",
        "Stream (repeated 29 times in 2 s)",
    ]
    errors = [e.last_error for e in stored.entries if e.last_error]
    assert errors and all("error=500" in e for e in errors)
    assert "notify.destination_failed" in notifier.output()
    assert not [s for s in SECRETS if s in notifier.output()]

    server.by_path[DISCORD_PATH] = Reply(200)
    notifier = Service("notifier", config, tmp_path, env=env)
    try:
        wait_until(
            lambda: (
                sorted(
                    h.body.decode()
                    for h in server.delivered()
                    if h.path == DISCORD_PATH and b"Stream" in h.body
                )
                != []
            ),
            what="discord delivered after the restart",
        )
        wait_until(
            lambda: (
                OutboxFile.model_validate_json((tmp_path / "outbox.json").read_text()).entries == []
            ),
            what="outbox emptied",
        )
        # Apprise escapes Markdown in a plain text body; Discord shows it as written.
        descriptions = [
            json.loads(h.body)["embeds"][0]["description"].replace("\\", "")
            for h in server.delivered()
            if h.path == DISCORD_PATH
        ]
        assert [d for d in descriptions if d.startswith("Stream")] == [
            "Stream",
            "Stream (repeated 29 times in 2 s)",
        ]
    finally:
        notifier.kill(signal.SIGTERM)
    assert "Traceback" not in notifier.output(), notifier.output()


def test_a_url_apprise_cannot_read_fails_the_config(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    """At start and in --check-config: the key named, the secret not."""
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "notifications": {
                "urls": ["json://127.0.0.1:9/ok", "gotify://gotify.lan/"],
                "discord_webhook_url": "https://example.com/hook/Zx9-webhook_SECRET_token-Q7",
                "outbox_file": str(tmp_path / "outbox.json"),
            },
        },
    )
    for extra in ([], ["--check-config"]):
        run = subprocess.run(
            [sys.executable, "-m", "services.notifier", "--config", str(config), *extra],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2, run.stderr
        assert "notifications.discord_webhook_url: not a Discord webhook URL" in run.stderr
        assert "notifications.urls.1: Apprise cannot use it" in run.stderr
        assert "urls.0" not in run.stderr
        assert not [s for s in SECRETS if s in run.stdout + run.stderr]


def test_a_reload_with_a_url_apprise_cannot_read_is_refused(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, server: Scripted
) -> None:
    def config(urls: list[str]) -> Path:
        return write_config(
            tmp_path / "config.yaml",
            {
                "host_id": host_id,
                "mqtt": {"host": broker.host, "port": broker.port},
                "notifications": {"urls": urls, "outbox_file": str(tmp_path / "outbox.json")},
            },
        )

    notifier = Service(
        "notifier", config([f"json://{server.url.removeprefix('http://')}/a"]), tmp_path
    )
    try:
        probe.wait_for(f"warden/{host_id}/notifier/availability", lambda s: s.text == "online")
        config(["pover://SECRETuserKEY"])  # no application token
        notifier.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "config.reload_refused" in notifier.output(), what="refused")
        assert "key=notifications.urls.0" in notifier.output()
        assert "SECRETuserKEY" not in notifier.output()

        config([f"json://{server.url.removeprefix('http://')}/b"])
        notifier.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "config.reloaded" in notifier.output(), what="reloaded")
        event = Event(host=host_id, kind="media_mode_activated", source="governor", message="m")
        probe.publish(f"warden/{host_id}/events", event.model_dump_json())
        wait_until(lambda: [h.path for h in server.delivered()] == ["/b"], what="the new URL")
    finally:
        assert notifier.stop() == 0
