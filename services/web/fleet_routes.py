"""The fleet's routes: every host this service sees on its broker (on a central broker,
every bridged host), under /api/v1/hosts."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.params import Depends
from fastapi.responses import JSONResponse

from services.web.backend import Backend
from services.web.fleet_status import fleet_summary, host_config, host_status
from services.web.models import (
    ContainerRow,
    Decision,
    Hosts,
    Problem,
    ResourcesNow,
    Status,
    TriggerAccepted,
    TriggerProblem,
)
from services.web.readings_now import resources_now
from services.web.route_parts import ACT_REFUSALS, API, REFUSALS, TRIGGER_BODY, read_trigger
from services.web.status import container_rows


def host_decisions_of(backend: Backend, host: str, limit: int) -> list[Decision]:
    view = backend.host_view(host)
    if host == backend.cfg.host_id:
        return backend.store.decisions(limit)
    seen = view.decisions[::-1][:limit]
    return [
        Decision(
            ts=d.ts, container=d.container, action=d.action, summary=d.summary, reasons=d.reasons
        )
        for d in seen
    ]


def add_routes(app: FastAPI, backend: Backend, read: Depends, act: Depends) -> None:
    unknown: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem, "description": "no such host; the known ones named"}
    }

    @app.get(f"{API}/hosts", response_model=Hosts, dependencies=[read], responses=REFUSALS)
    def hosts() -> Hosts:
        """Every host seen on the broker (on a central broker: the fleet), own host first:
        online or gone, media mode, paused and throttled counts, last applied, pressure."""
        return Hosts(
            default=backend.cfg.host_id,
            hosts=fleet_summary(backend.fleet, backend.cfg.bridge.enabled),
        )

    @app.get(
        f"{API}/hosts/{{host}}/status",
        response_model=Status,
        dependencies=[read],
        responses={**REFUSALS, **unknown},
    )
    def host_status_v1(host: str) -> Status:
        """/api/v1/status, for any host seen on the broker."""
        return host_status(backend.host_view(host), backend.cfg, host, time.time())

    @app.get(
        f"{API}/hosts/{{host}}/resources/current",
        response_model=ResourcesNow,
        dependencies=[read],
        responses={**REFUSALS, **unknown},
    )
    def host_current(host: str) -> ResourcesNow:
        return resources_now(backend.host_view(host))

    @app.get(
        f"{API}/hosts/{{host}}/containers",
        response_model=list[ContainerRow],
        dependencies=[read],
        responses={**REFUSALS, **unknown},
    )
    def host_containers(host: str) -> list[ContainerRow]:
        view = backend.host_view(host)
        return container_rows(view, host_config(backend.cfg, host))

    @app.get(
        f"{API}/hosts/{{host}}/decisions",
        response_model=list[Decision],
        dependencies=[read],
        responses={**REFUSALS, **unknown},
    )
    def host_decisions(
        host: str, limit: Annotated[int, Query(ge=1, le=1000)] = 10
    ) -> list[Decision]:
        """The host's latest changes, newest first: the own host's from the database, another's
        as seen on the bus since this service started (the last 10)."""
        return host_decisions_of(backend, host, limit)

    @app.post(
        f"{API}/hosts/{{host}}/trigger",
        response_model=TriggerAccepted,
        dependencies=[act],
        responses={
            **ACT_REFUSALS,
            **unknown,
            400: {"model": TriggerProblem, "description": "unknown event"},
        },
        openapi_extra=TRIGGER_BODY,
    )
    async def host_trigger(host: str, request: Request) -> JSONResponse:
        """/trigger for one host seen on the broker: published on warden/<host>/trigger."""
        backend.host_view(host)
        parsed = await read_trigger(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        return JSONResponse(backend.trigger_host(host, parsed).model_dump(), 200)
