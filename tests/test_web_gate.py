"""The gate in front of every route (services/web/middleware.py), on the real web service
process and the real broker: on loopback a foreign Host or a proxy needs a token; a
page of another origin may not act; a body is refused by its size or its missing token
before it is read; a malformed Authorization header is a 401; every answer carries the
security headers; a limit is a 409, never a 500."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.web.backend import MAX_OVERRIDES
from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.probe import Probe
from tests.support.processes import Service
from tests.support.web import ADMIN, InProcessWeb, RawAnswer, raw_http, rss_bytes, web_config

MIB = 2**20


def gate_config(tmp_path: Path, broker: Mosquitto, host_id: str, port: int, **web: object) -> Path:
    return web_config(tmp_path, broker, host_id, port, web)


@pytest.fixture
def web(tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str) -> Iterator[tuple[int, int]]:
    """The web service as a process on loopback, with an admin token configured (so
    reads and triggers are open, settings need the token): (port, pid)."""
    port = free_port()
    service = Service(
        "web", gate_config(tmp_path, broker, host_id, port, admin_tokens=[ADMIN]), tmp_path
    )
    try:
        probe.wait_for(f"warden/{host_id}/web/availability", lambda s: s.text == "online")
        wait_for_port(port)
        yield port, service.process.pid
    finally:
        service.kill(signal.SIGTERM)


def bearer(token: str) -> tuple[bytes, bytes]:
    return b"Authorization", f"Bearer {token}".encode()


def acted(probe: Probe, host_id: str) -> list[str]:
    """What the web service has published that acts: triggers, overrides, settings."""
    leaves = ("trigger", "overrides", "settings", "preset/set")
    return [s.topic for leaf in leaves for s in probe.messages(f"warden/{host_id}/{leaf}")]


def marker(port: int, probe: Probe, host_id: str) -> None:
    """A trigger from a legitimate client (no Origin, as curl) after the refused attempts:
    once it has arrived, anything they had published would have arrived before it."""
    sent = raw_http(port, "POST", "/trigger", [(b"Content-Type", b"text/plain")], b"media_stop")
    assert sent.status == 200, sent.body
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"media_stop" in s.payload)


def error(answer: RawAnswer) -> str:
    return str(json.loads(answer.body)["error"])


def test_on_loopback_a_foreign_host_or_a_proxy_needs_a_token(
    web: tuple[int, int], probe: Probe, host_id: str
) -> None:
    port, _ = web
    for host in (b"127.0.0.1:%d" % port, b"localhost:%d" % port, b"[::1]:%d" % port, b"localhost"):
        assert raw_http(port, "GET", "/status", [(b"Host", host)]).status == 200, host

    # A rebound DNS name, and every kind of proxy header: nothing read, nothing done.
    foreign = [
        [(b"Host", b"attacker.example:%d" % port)],
        [(b"Host", b"localhost.attacker.example")],
        [(b"Host", b"127.0.0.1.nip.io:%d" % port)],
        [(b"X-Forwarded-For", b"203.0.113.9")],
        [(b"X-Forwarded-Host", b"warden.example")],
        [(b"X-Forwarded-Proto", b"https")],
        [(b"Forwarded", b"for=203.0.113.9;proto=https")],
        [(b"X-Real-IP", b"203.0.113.9")],
    ]
    for headers in foreign:
        for method, path, body in (
            ("GET", "/status", b""),
            ("GET", "/api/v1/stream", b""),
            ("POST", "/trigger", b'{"event": "tier3_pause"}'),
            ("POST", "/api/v1/overrides", b'{"kind": "pause_tier3", "minutes": 30}'),
        ):
            json_body = [(b"Content-Type", b"application/json")] if body else []
            refused = raw_http(port, method, path, headers + json_body, body)
            assert refused.status == 401, (headers, path, refused.body)
            assert "token" in error(refused) and "loopback" in error(refused)
    # The page itself holds no data: it is served, and then asks for a token.
    page = raw_http(port, "GET", "/", [(b"Host", b"attacker.example:%d" % port)])
    assert page.status == 200 and b"Token needed" in page.body
    # With the token, a proxy in front is fine.
    proxied = raw_http(
        port, "GET", "/status", [(b"X-Forwarded-For", b"203.0.113.9"), bearer(ADMIN)]
    )
    assert proxied.status == 200

    marker(port, probe, host_id)
    assert acted(probe, host_id) == [f"warden/{host_id}/trigger"]


def test_a_state_changing_request_from_another_origin_does_nothing(
    web: tuple[int, int], probe: Probe, host_id: str
) -> None:
    port, _ = web
    own = b"http://127.0.0.1:%d" % port
    others = [
        [(b"Origin", b"http://evil.example")],
        [(b"Origin", b"http://127.0.0.1:%d" % (port + 1))],  # another port of this host
        [(b"Origin", b"http://localhost:%d" % port)],
        [(b"Origin", b"null")],
        [(b"Sec-Fetch-Site", b"cross-site")],
        [(b"Sec-Fetch-Site", b"same-site")],
        [(b"Origin", b"http://evil.example"), bearer(ADMIN)],  # a token does not help
    ]
    attempts = [
        ("POST", "/trigger", b"text/plain", b'{"event": "tier3_pause"}'),
        ("POST", "/trigger", b"application/x-www-form-urlencoded", b"tier3_pause"),
        ("POST", f"/api/v1/hosts/{host_id}/trigger", b"text/plain", b"tier3_pause"),
        (
            "POST",
            "/api/v1/overrides",
            b"application/json",
            b'{"kind": "pause_tier3", "minutes": 5}',
        ),
        ("POST", "/api/v1/settings/resources", b"application/json", b'{"preset": "aggressive"}'),
        ("DELETE", "/api/v1/overrides/abcd", b"text/plain", b""),
    ]
    for headers in others:
        for method, path, kind, body in attempts:
            refused = raw_http(port, method, path, [*headers, (b"Content-Type", kind)], body)
            assert refused.status == 403, (headers, path, refused.body)
            assert "refused" in error(refused)
    # The service's own page may.
    mine = [(b"Origin", own), (b"Sec-Fetch-Site", b"same-origin"), (b"Content-Type", b"text/plain")]
    assert raw_http(port, "POST", "/trigger", mine, b"tier3_resume").status == 200
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"tier3_resume" in s.payload)

    marker(port, probe, host_id)
    assert [
        json.loads(s.payload)["event"] for s in probe.messages(f"warden/{host_id}/trigger")
    ] == [
        "tier3_resume",
        "media_stop",
    ]
    assert acted(probe, host_id) == [f"warden/{host_id}/trigger"] * 2


def test_a_50_mib_body_is_refused_before_it_is_read(
    web: tuple[int, int], probe: Probe, host_id: str
) -> None:
    port, pid = web
    json_type = (b"Content-Type", b"application/json")
    # Once, so that what the first request loads is not counted.
    assert raw_http(port, "POST", "/trigger", [json_type], b"x" * (65 * 1024)).status == 413
    before = rss_bytes(pid)

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            yield b"x" * MIB

    big = b"x" * (50 * MIB)
    cases: list[tuple[str, list[tuple[bytes, bytes]], bytes | Iterator[bytes], int]] = [
        # Open on loopback (triggers, overrides): refused by its size.
        ("/trigger", [json_type], big, 413),
        ("/trigger", [json_type], chunks(), 413),
        ("/api/v1/overrides", [json_type], big, 413),
        ("/api/v1/overrides", [json_type], chunks(), 413),
        # Settings need the admin token: refused by its absence.
        ("/api/v1/settings/resources", [json_type], big, 401),
        ("/api/v1/settings/resources", [json_type], chunks(), 401),
        ("/api/v1/settings/resources", [json_type, bearer("wrong")], big, 401),
    ]
    for path, headers, body, status in cases:
        answer = raw_http(port, "POST", path, headers, body)
        assert answer.status == status, (path, answer.body)
        if status == 413:
            assert "web.max_body_bytes" in error(answer)
    grown = rss_bytes(pid) - before
    assert grown < 10 * MIB, f"the web service grew by {grown / MIB:.1f} MiB"
    # Within the limit, all is as before.
    fine = raw_http(port, "POST", "/trigger", [json_type], b'{"event": "media_stop"}')
    assert fine.status == 200
    probe.wait_for(f"warden/{host_id}/trigger", lambda s: b"media_stop" in s.payload)
    assert acted(probe, host_id) == [f"warden/{host_id}/trigger"]


MALFORMED = [
    b"",
    b" ",
    b"Bearer",
    b"Bearer ",
    b"Basic YWRtaW46YWRtaW4=",
    b"Token " + ADMIN.encode(),
    ADMIN.encode(),
    b"Bearer " + ADMIN.encode() + b"x",
    b"Bearer \xc3\xa9t\xc3\xa9",  # UTF-8
    b"Bearer \xff\xfe\x80",  # no encoding at all
    b"Bearer " + ADMIN.encode()[:-1] + b"\xe9",
    b"Bearer " + b"a" * 8000,
]


def test_every_malformed_authorization_header_is_a_401(
    web: tuple[int, int], probe: Probe, host_id: str
) -> None:
    port, _ = web
    for value in MALFORMED:
        for method, path, body in (
            ("GET", "/status", b""),
            ("GET", "/api/v1/settings/resources", b""),
            ("POST", "/trigger", b"tier3_pause"),
            ("POST", "/api/v1/settings/resources", b'{"preset": "aggressive"}'),
        ):
            answer = raw_http(
                port,
                method,
                path,
                [(b"Authorization", value), (b"Content-Type", b"application/json")],
                body,
            )
            assert answer.status == 401, (value, path, answer.status, answer.body)
            assert answer.headers["www-authenticate"] == "Bearer"
            assert ADMIN not in answer.body.decode()
    marker(port, probe, host_id)
    assert acted(probe, host_id) == [f"warden/{host_id}/trigger"]


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def test_every_answer_carries_the_security_headers(web: tuple[int, int], host_id: str) -> None:
    port, _ = web
    schema = json.loads(raw_http(port, "GET", "/openapi.json").body)
    requests: list[tuple[str, str, list[tuple[bytes, bytes]], bytes]] = [
        ("GET", "/", [], b""),
        ("GET", "/no/such/page", [], b""),  # 404
        ("PUT", "/status", [], b""),  # 405
        ("GET", "/status", [bearer("wrong")], b""),  # 401
        ("POST", "/trigger", [(b"Origin", b"http://evil.example")], b"tier3_pause"),  # 403
        ("POST", "/trigger", [], b"x" * 70000),  # 413
        ("POST", "/trigger", [], b"no_such_event"),  # 400
        ("POST", "/api/v1/overrides", [(b"Content-Type", b"application/json")], b"{}"),  # 422
    ]
    for path, operations in schema["paths"].items():
        concrete = (
            path.replace("{host}", host_id)
            .replace("{metric}", "cpu_percent")
            .replace("{override_id}", "none")
        )
        for method in operations:
            requests.append((method.upper(), concrete, [bearer(ADMIN)], b""))
    statuses = set()
    for method, path, headers, body in requests:
        answer = raw_http(port, method, path, headers, body, head_only=path.endswith("/stream"))
        statuses.add(answer.status)
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (method, path, name)
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, (method, path)
    assert {200, 400, 401, 403, 404, 405, 413, 422} <= statuses


def test_the_101st_override_is_a_409_with_a_message(
    tmp_path: Path, broker: Mosquitto, host_id: str
) -> None:
    cfg = gate_config(tmp_path, broker, host_id, free_port())
    web = InProcessWeb(cfg).start()
    try:
        http = web.http()
        for _ in range(MAX_OVERRIDES):
            added = http.post("/api/v1/overrides", json={"kind": "pause_tier3", "minutes": 60})
            assert added.status_code == 201, added.text
        refused = http.post("/api/v1/overrides", json={"kind": "pause_tier3", "minutes": 60})
        assert refused.status_code == 409
        assert "end one first" in refused.json()["error"]
        assert len(http.get("/api/v1/overrides").json()) == MAX_OVERRIDES
        # Ending one makes room again.
        first = http.get("/api/v1/overrides").json()[0]["id"]
        assert http.delete(f"/api/v1/overrides/{first}").status_code == 204
        assert (
            http.post("/api/v1/overrides", json={"kind": "pause_tier3", "minutes": 60}).status_code
            == 201
        )
    finally:
        web.stop()
