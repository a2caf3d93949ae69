"""Warden's web service: API tokens, its database and the history it keeps."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from shared.config.base import Section, Size

# Where an admin token is found on each install path: the dashboard names them when it
# asks for one, and scripts/run writes the file (mode 0600) where this says.
ADMIN_TOKEN_ENV = "WARDEN_WEB_ADMIN_TOKEN"
ADMIN_TOKEN_FILE = "run/web-admin.token"
# ... and `warden-stack --setup-systemd` here (the web unit loads it as a credential).
SYSTEMD_ADMIN_TOKEN_FILE = "/etc/warden/web-admin.token"
# warden-stack and the systemd unit hand the web service that file's path in this variable:
# its token counts as one of web.admin_tokens.
ADMIN_TOKEN_FILE_ENV = "WARDEN_WEB_ADMIN_TOKEN_FILE"
# A bearer token is printable ASCII without spaces (RFC 6750 allows less still): anything
# else could never arrive intact in an Authorization header.
TOKEN = re.compile(r"^[\x21-\x7e]+$")


class HistoryTier(Section):
    """One downsampled tier of the web service's history: min, mean and max per bucket."""

    bucket_seconds: Annotated[float, Field(ge=1, le=86400)] = Field(
        description="one min, mean and max per metric per this many seconds"
    )
    keep_seconds: Annotated[float, Field(gt=0, le=90 * 86400)] = Field(
        description="buckets are kept this long (seconds)"
    )


class WebHistory(Section):
    raw_keep_seconds: Annotated[float, Field(ge=0, le=86400)] = Field(
        default=3600, description="every reading as it came is kept this long (seconds)"
    )
    raw_min_interval_seconds: Annotated[float, Field(ge=0.1, le=3600)] = Field(
        default=1, description="at most one raw reading per metric this often (seconds)"
    )
    tiers: Annotated[list[HistoryTier], Field(max_length=6)] = Field(
        default=[
            HistoryTier(bucket_seconds=60, keep_seconds=86400),
            HistoryTier(bucket_seconds=600, keep_seconds=7 * 86400),
        ],
        description="downsampled history, coarser per tier (at most 6)",
    )


class Web(Section):
    """The web service; where it listens is ADRG's general.http_server."""

    # Empty strings (an unset ${VAR}) count as no token.
    admin_tokens: list[str] = Field(
        default=[],
        description="bearer tokens that may change settings and act (`${VAR}` from the env file)",
    )
    read_tokens: list[str] = Field(default=[], description="bearer tokens that may only look")
    database: str = Field(
        default="/var/lib/warden/web.sqlite3",
        description="settings, history and decisions of the web service (left at the "
        "default under systemd, warden-stack or compose: `web.sqlite3` in the service's own "
        "`$STATE_DIRECTORY`, /var/lib/warden/web)",
    )
    history: WebHistory = Field(
        default=WebHistory(), description="the history of readings it keeps"
    )
    recent_decisions: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=200, description="how many of the governor's decisions the API and the page keep"
    )
    max_body_bytes: Annotated[Size, Field(ge=1024, le=16 * 2**20)] = Field(
        default=64 * 1024,
        description="a request body larger than this is refused (413) before it is read",
    )
    allowed_origins: list[str] = Field(
        default=[],
        description="other origins (`https://ha.example:8123`) whose pages may POST, PUT or "
        "DELETE here; the service's own origin always may",
    )

    @field_validator("admin_tokens", "read_tokens")
    @classmethod
    def _drop_empty(cls, value: list[str]) -> list[str]:
        tokens = [token for token in value if token]
        for token in tokens:
            if not TOKEN.match(token):
                # Never the token itself: it must not reach a log line.
                raise ValueError("a token must be printable ASCII without spaces")
        return tokens

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.match(r"^https?://[^/?#\s]+$", origin):
                raise ValueError(f"{origin[:100]!r} is not an origin (scheme://host[:port])")
        return value
