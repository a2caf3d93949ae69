"""Warden's web service: API tokens, its database and the history it keeps."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from shared.config.base import Section


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
        description="settings, history and decisions of the web service",
    )
    history: WebHistory = Field(
        default=WebHistory(), description="the history of readings it keeps"
    )
    recent_decisions: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=200, description="how many of the governor's decisions the API and the page keep"
    )

    @field_validator("admin_tokens", "read_tokens")
    @classmethod
    def _drop_empty(cls, value: list[str]) -> list[str]:
        return [token for token in value if token]
