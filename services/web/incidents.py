"""The incidents: each stall of protected work (or buffering stream) as the governor told it,
the own host's from the database (kept longer than the retained topic), another host's as
last seen on the bus.

    GET /api/v1/incidents                   the latest, newest first, a line each
    GET /api/v1/incidents/<id>              one, whole: contenders, actions, timeline
    GET /api/v1/hosts/<host>/incidents      another host's, as its governor last said
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.params import Depends
from fastapi.responses import JSONResponse

from services.web.backend import Backend
from services.web.models import IncidentSummary, Problem
from services.web.route_parts import API, REFUSALS
from shared.messages.incidents import Incident

# What the dashboard shows, whole, with their timelines.
SHOWN = 5
Limit = Annotated[int, Query(ge=1, le=1000, description="how many, newest first")]


def summary(incident: Incident) -> IncidentSummary:
    action = incident.first_action
    return IncidentSummary(
        id=incident.id,
        kind=incident.kind,
        resource=incident.resource,
        started_at=incident.started_at,
        ended_at=incident.ended_at,
        waiters=[w.name for w in incident.waiters],
        peak_percent=incident.peak_percent,
        top_contender=incident.contenders[0].name if incident.contenders else None,
        first_action=f"{action.target}: {action.what}" if action else None,
        time_to_action_seconds=incident.time_to_action_seconds,
        cleared_after_action=incident.cleared_after_action,
        sentence=incident.sentence,
    )


def host_incidents(backend: Backend, host: str, limit: int) -> list[Incident]:
    """The host's latest incidents, newest first (UnknownHost for a host never heard of)."""
    view = backend.host_view(host)
    if host == backend.cfg.host_id:
        return backend.store.incidents(limit)
    return view.incidents.incidents[:limit] if view.incidents else []


def add_routes(
    app: FastAPI,
    backend: Backend,
    read: Depends,
) -> None:
    @app.get(
        f"{API}/incidents",
        response_model=list[IncidentSummary],
        dependencies=[read],
        responses=REFUSALS,
    )
    def incidents(limit: Limit = 50) -> list[IncidentSummary]:
        """The latest incidents, newest first, each in a line and a sentence: when a
        protected container stalled (or a stream buffered), who else was busy, what Warden
        did and when, and whether the stall ended."""
        return [summary(i) for i in host_incidents(backend, backend.cfg.host_id, limit)]

    @app.get(
        f"{API}/incidents/{{incident_id}}",
        response_model=Incident,
        dependencies=[read],
        responses={**REFUSALS, 404: {"model": Problem, "description": "no such incident"}},
    )
    def incident(incident_id: str) -> Incident | JSONResponse:
        """One incident whole: the waiters and their peaks, the streams, the contenders'
        use over the window before, every action and when, the timeline, the sentence."""
        found = backend.store.incident(incident_id)
        if found is None:
            return JSONResponse({"error": f"no incident {incident_id[:80]!r}"}, 404)
        return found

    @app.get(
        f"{API}/hosts/{{host}}/incidents",
        response_model=list[IncidentSummary],
        dependencies=[read],
        responses={
            **REFUSALS,
            404: {"model": Problem, "description": "no such host; the known ones named"},
        },
    )
    def incidents_of_host(host: str, limit: Limit = 50) -> list[IncidentSummary]:
        """/api/v1/incidents for any host seen on the broker: another host's as its
        governor last published them (its own web service keeps more)."""
        return [summary(i) for i in host_incidents(backend, host, limit)]
