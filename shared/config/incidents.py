"""Incidents: each stall of protected work (or a buffering stream), told so a person can
read it: when, on what, who else was busy, what Warden did and whether it helped."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config.base import Section


class Incidents(Section):
    """An incident opens when a protected container (tier 0, tier 1, protected_containers)
    stalls on a resource past `protect.stall_percent`, or a media server reports a stream
    buffering, and closes when the stall has been gone for close_after_seconds."""

    enabled: bool = Field(default=True, description="open, keep and publish incidents")
    buffering: bool = Field(
        default=True,
        description="a stream the media server reports as buffering opens an incident too",
    )
    # A stall that clears for one reading and comes back is the same stall.
    close_after_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=10,
        description="calm this long (seconds) closes an incident; a stall within it goes on "
        "in the same one",
    )
    window_seconds: Annotated[float, Field(gt=0, le=600)] = Field(
        default=30,
        description="the contenders' use is averaged over this long (seconds) before the start",
    )
    contenders: Annotated[int, Field(ge=1, le=20)] = Field(
        default=5, description="the busiest other containers and process groups kept per incident"
    )
    timeline_points: Annotated[int, Field(ge=10, le=600)] = Field(
        default=60,
        description="points of each incident's timeline kept (the stall share, the "
        "contenders' use); a longer incident keeps every other one",
    )
    keep: Annotated[int, Field(ge=1, le=100)] = Field(
        default=10,
        description="incidents on the retained topic (`warden/<host>/governor/incidents`), "
        "newest first",
    )
    keep_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        default=7, description="an incident older than this (days) leaves the retained topic"
    )
    history_keep: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1000, description="incidents the web service keeps in its database"
    )
    history_keep_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        default=90, description="an incident older than this (days) leaves the web database"
    )
