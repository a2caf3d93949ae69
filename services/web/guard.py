"""What a request must show before the web service reads its body, looks up a token's
rights or acts: pure rules on its method and headers, tested with tables of cases.

- A state-changing request (POST, PUT, PATCH, DELETE) from a browser comes from this
  service's own page: a page elsewhere (another site, another port of this host, a
  rebound DNS name) can make a browser send one, `text/plain` forms included, and a
  browser says where it came from in `Origin` and `Sec-Fetch-Site`. Clients that are not
  browsers (curl, Home Assistant's rest_command) send neither and are let through.
- Bound to loopback, where no token is asked for, the loopback address is the only thing
  that keeps strangers out: a `Host` that is not a loopback name means a page reached it
  through a name of its own (DNS rebinding), and a proxy's headers mean the request came
  from wherever that proxy listens. Either needs a token.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# What a browser says of a request another page made it send.
NOT_OWN_PAGE = frozenset({"cross-site", "same-site"})
# Headers a proxy adds; any X-Forwarded-* counts too.
PROXY_HEADERS = ("forwarded", "x-real-ip", "via")

# Headers: lower-case names; a header sent twice joined with ", " (so never a valid host
# or origin).
Headers = Mapping[str, str]


def split_host(value: str) -> tuple[str, int | None] | None:
    """A Host header's (host, port), the host lower-case and IPv6 without brackets;
    None when it is no host[:port]."""
    if not value or any(c in value for c in "/?#@ \t,\\"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    return (host, port) if host else None


def is_loopback_host(value: str | None) -> bool:
    """127.0.0.0/8, [::1] or localhost, with or without a port."""
    split = split_host(value or "")
    if split is None:
        return False
    host = split[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(scheme: str, host: str | None) -> str | None:
    """scheme://host[:port], the port left out where it is the scheme's own."""
    split = split_host(host or "")
    if split is None or scheme not in DEFAULT_PORTS:
        return None
    name, port = split
    name = f"[{name}]" if ":" in name else name
    return f"{scheme}://{name}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def normal_origin(origin: str) -> str | None:
    """An Origin header (or a configured origin) as origin_of writes it; None: not one."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.path or parts.query or parts.fragment or not parts.netloc:
        return None
    return origin_of(parts.scheme.lower(), parts.netloc)


def own_origins(scheme: str, headers: Headers) -> set[str]:
    """The origins this request was sent to: as it arrived, and as a reverse proxy in
    front says the browser addressed it (X-Forwarded-Host, X-Forwarded-Proto). A page
    cannot add those headers to a request to another origin (they are not CORS-safelisted,
    and this service answers no preflight), so they cannot make a foreign page's own."""
    found = {origin_of(scheme, headers.get("host"))}
    proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() or scheme
    host = headers.get("x-forwarded-host", "").split(",")[0].strip() or headers.get("host")
    found.add(origin_of(proto, host))
    return {o for o in found if o is not None}


def cross_origin(method: str, headers: Headers, scheme: str, allowed: frozenset[str]) -> str | None:
    """Why a state-changing request came from another page, or None: it may act.

    allowed: origins as normal_origin writes them, besides the request's own."""
    if method.upper() not in STATE_CHANGING:
        return None
    origin = headers.get("origin")
    if origin is not None:
        own = own_origins(scheme, headers)
        given = normal_origin(origin)
        if given is not None and (given in own or given in allowed):
            return None
        shown, mine = origin[:100], " or ".join(sorted(own)) or "unknown: no valid Host"
        return f"Origin {shown!r} is not this service's own ({mine})"
    site = headers.get("sec-fetch-site", "").lower()
    if site in NOT_OWN_PAGE:
        return f"Sec-Fetch-Site is {site}: another page sent it"
    return None


def proxy_header(headers: Headers) -> str | None:
    """The first header that shows a proxy in front (its name), or None."""
    for name in headers:
        if name in PROXY_HEADERS or name.startswith("x-forwarded-"):
            return name
    return None


def not_loopback(headers: Headers) -> str | None:
    """Why a request to a service bound to loopback did not come straight from this host
    (a foreign Host, a proxy's header), or None."""
    proxy = proxy_header(headers)
    if proxy is not None:
        return f"it came through a proxy ({proxy} header)"
    host = headers.get("host")
    if not is_loopback_host(host):
        return f"its Host {host[:100]!r} is not a loopback name" if host else "it has no Host"
    return None
