"""Bearer tokens: admin and read-only, as Optimizarr has.

Bound to loopback only, reading and ADRG's /trigger are open (as ADRG's are) to
requests straight from this host (services/web/guard.py says which); bound beyond
it, every route but /health needs a token, and triggers an admin one. Settings
changes need an admin token always. Tokens travel only in the Authorization
header: never in a URL, never in a log line. services/web/middleware.py checks
all this before a body is read; the routes check it again.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from typing import Literal

Role = Literal["read", "admin"]
Access = Literal["read", "act", "admin"]


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: assume it is reachable from elsewhere


@dataclass(frozen=True)
class Auth:
    admin_tokens: tuple[str, ...]
    read_tokens: tuple[str, ...]
    # Bound to loopback only: reads and triggers need no token.
    loopback: bool

    def role_of(self, authorization: str | None) -> Role | None:
        """None: no Authorization header at all. Refused (401): a header that is not
        `Bearer <a token configured here>`, however malformed (empty, another scheme,
        bytes no token has)."""
        if authorization is None:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Refused(401, "the Authorization header is not `Bearer <token>`")
        # Bytes, not str: compare_digest refuses non-ASCII text (a 500, once). Compared
        # against every token, in constant time, so timing tells nothing.
        given = token.encode("utf-8", "surrogateescape")
        admin = any(hmac.compare_digest(given, t.encode()) for t in self.admin_tokens)
        read = any(hmac.compare_digest(given, t.encode()) for t in self.read_tokens)
        if not (admin or read):
            raise Refused(401, "the bearer token is not valid")
        return "admin" if admin else "read"

    def check(self, access: Access, authorization: str | None) -> Role | None:
        """The caller's role, or Refused (401: no valid token, 403: read-only token)."""
        role = self.role_of(authorization)
        if access == "admin" or (access == "act" and not self.loopback):
            if role is None:
                raise Refused(401, "an admin bearer token is required")
            if role != "admin":
                raise Refused(403, "a read-only token may not change anything")
            return role
        if role is None and not self.loopback:
            raise Refused(401, "a bearer token is required")
        return role
