"""Bearer tokens: admin and read-only, as Optimizarr has.

Bound to loopback only, reading and ADRG's /trigger are open (as ADRG's are);
bound beyond it, every route but /health needs a token, and triggers an admin
one. Settings changes need an admin token always. Tokens travel only in the
Authorization header: never in a URL, never in a log line.
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
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        # Compare against every token, in constant time, so timing tells nothing.
        admin = any(hmac.compare_digest(token, t) for t in self.admin_tokens)
        read = any(hmac.compare_digest(token, t) for t in self.read_tokens)
        return "admin" if admin else "read" if read else None

    def check(self, access: Access, authorization: str | None) -> Role | None:
        """The caller's role, or Refused (401: no valid token, 403: read-only token)."""
        role = self.role_of(authorization)
        if authorization and role is None:
            raise Refused(401, "the bearer token is not valid")
        if access == "admin" or (access == "act" and not self.loopback):
            if role is None:
                raise Refused(401, "an admin bearer token is required")
            if role != "admin":
                raise Refused(403, "a read-only token may not change anything")
            return role
        if role is None and not self.loopback:
            raise Refused(401, "a bearer token is required")
        return role
