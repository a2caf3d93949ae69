"""The gate's pure rules (services/web/guard.py) and token parsing (services/web/auth.py),
by tables of cases."""

from __future__ import annotations

import pytest

from services.web.auth import Auth, Refused
from services.web.guard import (
    cross_origin,
    is_loopback_host,
    normal_origin,
    not_loopback,
    origin_of,
)

OWN = "127.0.0.1:8765"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8765", True),
        ("127.1.2.3:80", True),
        ("localhost", True),
        ("LocalHost:8765", True),
        ("[::1]", True),
        ("[::1]:8765", True),
        ("::1", False),  # not a Host header's form
        ("", False),
        (None, False),
        ("attacker.example", False),
        ("attacker.example:8765", False),
        ("localhost.attacker.example", False),
        ("127.0.0.1.nip.io", False),
        ("foo.localhost", False),
        ("192.168.1.10:8765", False),
        ("127.0.0.1:99999", False),
        ("127.0.0.1:8765, attacker.example", False),  # sent twice
        ("attacker.example@127.0.0.1", False),
        ("127.0.0.1/x", False),
        ("[::1", False),
    ],
)
def test_loopback_hosts(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("http", "127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http", "nas:80", "http://nas"),
        ("https", "nas:443", "https://nas"),
        ("https", "NAS:8443", "https://nas:8443"),
        ("http", "[::1]:8765", "http://[::1]:8765"),
        ("http", None, None),
        ("ftp", "nas", None),
    ],
)
def test_own_origin(scheme: str, host: str | None, origin: str | None) -> None:
    assert origin_of(scheme, host) == origin


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("HTTP://NAS:80", "http://nas"),
        ("null", None),
        ("http://nas/path", None),
        ("file://", None),
        ("", None),
    ],
)
def test_normal_origins(given: str, normal: str | None) -> None:
    assert normal_origin(given) == normal


ALLOWED = frozenset({"https://ha.example:8123"})


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        # Not browsers (curl, Home Assistant): no Origin, no Sec-Fetch-Site.
        ("POST", {"host": OWN}, False),
        ("DELETE", {"host": OWN}, False),
        # The service's own page.
        ("POST", {"host": OWN, "origin": "http://127.0.0.1:8765"}, False),
        (
            "POST",
            {"host": OWN, "origin": "http://127.0.0.1:8765", "sec-fetch-site": "same-origin"},
            False,
        ),
        ("POST", {"host": OWN, "sec-fetch-site": "same-origin"}, False),
        ("POST", {"host": OWN, "sec-fetch-site": "none"}, False),
        # Behind a reverse proxy that says how the browser addressed it.
        (
            "POST",
            {
                "host": OWN,
                "origin": "https://warden.example",
                "x-forwarded-host": "warden.example",
                "x-forwarded-proto": "https",
            },
            False,
        ),
        (
            "POST",
            {
                "host": "warden.example",
                "origin": "https://warden.example",
                "x-forwarded-proto": "https",
            },
            False,
        ),
        (
            "POST",
            {
                "host": OWN,
                "origin": "https://evil.example",
                "x-forwarded-host": "warden.example",
                "x-forwarded-proto": "https",
            },
            True,
        ),
        # Configured as allowed.
        (
            "POST",
            {"host": OWN, "origin": "https://ha.example:8123", "sec-fetch-site": "cross-site"},
            False,
        ),
        # Another page.
        ("POST", {"host": OWN, "origin": "http://evil.example"}, True),
        ("POST", {"host": OWN, "origin": "http://127.0.0.1:9999"}, True),  # another port
        ("POST", {"host": OWN, "origin": "https://127.0.0.1:8765"}, True),  # another scheme
        ("PUT", {"host": OWN, "origin": "http://localhost:8765"}, True),  # another name
        ("PATCH", {"host": OWN, "origin": "null"}, True),  # a sandbox, a file
        ("POST", {"origin": "http://127.0.0.1:8765"}, True),  # no Host: no own origin
        ("DELETE", {"host": OWN, "sec-fetch-site": "cross-site"}, True),
        ("POST", {"host": OWN, "sec-fetch-site": "same-site"}, True),
        # Reading is not acting: the browser keeps another page from reading the answer.
        ("GET", {"host": OWN, "origin": "http://evil.example"}, False),
        ("HEAD", {"host": OWN, "sec-fetch-site": "cross-site"}, False),
        ("OPTIONS", {"host": OWN, "origin": "http://evil.example"}, False),
    ],
)
def test_state_changing_requests_come_from_the_own_page(
    method: str, headers: dict[str, str], refused: bool
) -> None:
    why = cross_origin(method, headers, "http", ALLOWED)
    assert (why is not None) is refused, why


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"host": OWN}, None),
        ({"host": "localhost"}, None),
        ({"host": "attacker.example:8765"}, "Host"),
        ({}, "no Host"),
        ({"host": OWN, "x-forwarded-for": "203.0.113.9"}, "x-forwarded-for"),
        ({"host": OWN, "x-forwarded-host": "warden.example"}, "x-forwarded-host"),
        ({"host": OWN, "x-forwarded-proto": "https"}, "x-forwarded-proto"),
        ({"host": OWN, "forwarded": "for=203.0.113.9"}, "forwarded"),
        ({"host": OWN, "x-real-ip": "203.0.113.9"}, "x-real-ip"),
        ({"host": OWN, "via": "1.1 nginx"}, "via"),
    ],
)
def test_loopback_means_straight_from_this_host(headers: dict[str, str], why: str | None) -> None:
    found = not_loopback(headers)
    assert (found is None) if why is None else (found is not None and why in found)


AUTH = Auth(admin_tokens=("admin-token",), read_tokens=("read-token",), loopback=True)


@pytest.mark.parametrize(
    ("header", "role"),
    [
        (None, None),
        ("Bearer admin-token", "admin"),
        ("bearer   admin-token  ", "admin"),
        ("Bearer read-token", "read"),
        ("", 401),
        ("   ", 401),
        ("Bearer", 401),
        ("Bearer ", 401),
        ("Basic YWRtaW46YWRtaW4=", 401),
        ("admin-token", 401),
        ("Bearer admin-token-2", 401),
        ("Bearer \xe9t\xe9", 401),  # non-ASCII: compare_digest refuses such text
        ("Bearer \x00", 401),
        ("Bearer " + "a" * 10000, 401),
    ],
)
def test_any_authorization_header_that_is_no_valid_token_is_a_401(
    header: str | None, role: str | int | None
) -> None:
    if role == 401:
        with pytest.raises(Refused) as refused:
            AUTH.role_of(header)
        assert refused.value.status == 401
    else:
        assert AUTH.role_of(header) == role
