"""The HTTP face: ADRG's /status and /trigger where ADRG has them, Warden's own routes
under /api/v1 (every host seen on the broker under /api/v1/hosts), /metrics, /health,
and the dashboard at /."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, get_args

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web.auth import Access, Refused
from services.web.backend import Backend, OverrideError, OverrideLimit, UnknownHost
from services.web.fleet_routes import add_routes as add_fleet_routes
from services.web.guard import normal_origin
from services.web.incidents import add_routes as add_incident_routes
from services.web.middleware import GateRules, WardenApp
from services.web.models import (
    ContainerRow,
    Decision,
    Health,
    HistoryMetrics,
    HistorySeries,
    OverrideIn,
    OverrideOut,
    Problem,
    ResourceSettingsIn,
    ResourceSettingsOut,
    ResourcesNow,
    Status,
    Thresholds,
    TriggerAccepted,
    TriggerProblem,
)
from services.web.optimizarr import add_routes as add_optimizarr_routes
from services.web.page import dashboard_page
from services.web.readings_now import resources_now
from services.web.route_parts import (
    ACT_REFUSALS,
    API,
    BEARER,
    REFUSALS,
    TRIGGER_BODY,
    read_trigger,
)
from services.web.snapshot import snapshots
from services.web.status import build_status, container_rows, live_overrides, thresholds_now
from shared import __version__
from shared.messages.triggers import TriggerEvent

TRIGGER_EVENTS: tuple[str, ...] = get_args(TriggerEvent)


def create_app(backend: Backend) -> FastAPI:
    app = WardenApp(
        title="Warden",
        version=__version__,
        summary="ADRG's /status and /trigger, Optimizarr's /api/resources and "
        "/api/settings/resources, and Warden's API under /api/v1",
        # The schema is served (and kept in the repository); the interactive pages are not,
        # since they load their JavaScript from elsewhere.
        docs_url=None,
        redoc_url=None,
    )

    app.gate_rules = lambda: GateRules(
        auth=backend.auth,
        max_body_bytes=backend.cfg.web.max_body_bytes,
        allowed_origins=frozenset(
            o for o in map(normal_origin, backend.cfg.web.allowed_origins) if o is not None
        ),
    )

    def allow(access: Access) -> Callable[..., None]:
        # The gate checks the same before the body is read; this keeps a route safe
        # wherever it is mounted, and puts the bearer scheme in the schema.
        def dependency(
            request: Request,
            _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
        ) -> None:
            backend.auth.check(access, request.headers.get("authorization"))

        dependency.access = access  # type: ignore[attr-defined]
        return dependency

    read, act, admin = Depends(allow("read")), Depends(allow("act")), Depends(allow("admin"))

    @app.exception_handler(Refused)
    async def refused(_request: Request, exc: Refused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return JSONResponse({"error": f"{where}: {first.get('msg')}{more}"}, 422)

    @app.exception_handler(UnknownHost)
    async def unknown_host(_request: Request, exc: UnknownHost) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code)

    # --- ADRG ---------------------------------------------------------------

    @app.get("/health", response_model=Health, tags=["adrg"])
    def health() -> Health:
        """Always open: whether the service runs and its bus is connected."""
        return Health(bus_connected=backend.bus_connected())

    @app.get(
        "/status", response_model=Status, dependencies=[read], responses=REFUSALS, tags=["adrg"]
    )
    def status() -> Status:
        """ADRG's /status, with Warden's own fields beside ADRG's."""
        return build_status(backend.view, backend.cfg, time.time())

    @app.post(
        "/trigger",
        response_model=TriggerAccepted,
        dependencies=[act],
        responses={
            **ACT_REFUSALS,
            400: {"model": TriggerProblem, "description": "unknown event"},
        },
        tags=["adrg"],
        openapi_extra=TRIGGER_BODY,
    )
    async def trigger(request: Request) -> JSONResponse:
        """ADRG's /trigger: `{"event": "..."}` (any content type, as ADRG's curl examples
        send it) or the bare word; published on warden/<host>/trigger."""
        parsed = await read_trigger(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        accepted = backend.trigger(parsed)
        return JSONResponse(accepted.model_dump(), 200)

    # --- Optimizarr's, at its own paths (services/web/optimizarr.py) -------------

    add_optimizarr_routes(app, backend, read, admin)

    # --- Warden's own, versioned ----------------------------------------------

    @app.get(f"{API}/status", response_model=Status, dependencies=[read], responses=REFUSALS)
    def status_v1() -> Status:
        return build_status(backend.view, backend.cfg, time.time())

    @app.get(
        f"{API}/resources/current",
        response_model=ResourcesNow,
        dependencies=[read],
        responses=REFUSALS,
    )
    def current() -> ResourcesNow:
        """CPU, memory, GPU (null: none), disk I/O, temperatures, PSI; also flat numbers."""
        return resources_now(backend.view)

    @app.get(
        f"{API}/resources/thresholds",
        response_model=Thresholds,
        dependencies=[read],
        responses=REFUSALS,
    )
    def thresholds() -> Thresholds:
        """Which host and process-group thresholds are crossed now, and by what."""
        return thresholds_now(backend.view, backend.cfg)

    @app.get(
        f"{API}/settings/resources",
        response_model=ResourceSettingsOut,
        dependencies=[read],
        responses=REFUSALS,
    )
    def get_settings() -> ResourceSettingsOut:
        return backend.settings_out()

    @app.post(
        f"{API}/settings/resources",
        response_model=ResourceSettingsOut,
        dependencies=[admin],
        responses={**ACT_REFUSALS, 422: {"model": Problem, "description": "invalid settings"}},
    )
    def post_settings(change: ResourceSettingsIn) -> ResourceSettingsOut:
        """Change the resource settings (admin): published to the governor, kept in SQLite."""
        return backend.change_settings(change)

    @app.get(
        f"{API}/overrides",
        response_model=list[OverrideOut],
        dependencies=[read],
        responses=REFUSALS,
    )
    def overrides() -> list[OverrideOut]:
        """Timed overrides in force, with the seconds left."""
        return live_overrides(backend.view, time.time())

    @app.post(
        f"{API}/overrides",
        response_model=OverrideOut,
        status_code=201,
        dependencies=[act],
        responses={
            **ACT_REFUSALS,
            409: {"model": Problem, "description": "as many overrides in force as may be"},
            422: {"model": Problem, "description": "invalid override"},
        },
    )
    def add_override(wanted: OverrideIn) -> JSONResponse:
        """Pause tier 3, or let one container run unthrottled, for `minutes`: the governor
        carries it out as a reason with an expiry, and it ends by itself."""
        try:
            added = backend.add_override(wanted)
        except OverrideLimit as exc:
            return JSONResponse({"error": str(exc)}, 409)
        except OverrideError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse(added.model_dump(), 201)

    @app.delete(
        f"{API}/overrides/{{override_id}}",
        status_code=204,
        dependencies=[act],
        responses={**ACT_REFUSALS, 404: {"model": Problem, "description": "no such override"}},
    )
    def end_override(override_id: str) -> Response:
        """End an override before its time."""
        if not backend.end_override(override_id):
            return JSONResponse({"error": f"no override {override_id[:64]!r} in force"}, 404)
        return Response(status_code=204)

    @app.get(
        f"{API}/containers",
        response_model=list[ContainerRow],
        dependencies=[read],
        responses=REFUSALS,
    )
    def containers() -> list[ContainerRow]:
        """Every managed container and process group: tier, state, limits, reasons."""
        return container_rows(backend.view, backend.cfg)

    @app.get(
        f"{API}/decisions", response_model=list[Decision], dependencies=[read], responses=REFUSALS
    )
    def decisions(limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[Decision]:
        """The governor's latest changes, newest first."""
        return backend.store.decisions(limit)

    add_incident_routes(app, backend, read)

    @app.get(
        f"{API}/history", response_model=HistoryMetrics, dependencies=[read], responses=REFUSALS
    )
    def history_metrics() -> HistoryMetrics:
        h = backend.cfg.web.history
        return HistoryMetrics(
            metrics=backend.store.metrics(),
            raw_keep_seconds=h.raw_keep_seconds,
            tiers=[(t.bucket_seconds, t.keep_seconds) for t in h.tiers],
        )

    @app.get(
        f"{API}/history/{{metric}}",
        response_model=HistorySeries,
        dependencies=[read],
        responses=REFUSALS,
    )
    def history(
        metric: str,
        seconds: Annotated[float, Query(gt=0, le=90 * 86400)] = 86400,
        bucket_seconds: Annotated[float | None, Query(ge=0, le=86400)] = None,
    ) -> HistorySeries:
        """min / mean / max per bucket over the last `seconds`, from the finest tier that
        reaches back that far (raw readings within raw_keep_seconds)."""
        bucket, points = backend.store.series(metric, seconds, time.time(), bucket_seconds)
        return HistorySeries(metric=metric, bucket_seconds=bucket, points=points)

    @app.get(
        f"{API}/stream", dependencies=[read], responses=REFUSALS, response_class=StreamingResponse
    )
    async def stream(
        host: Annotated[
            str | None, Query(description="the host to show (default: this service's own)")
        ] = None,
    ) -> StreamingResponse:
        """Server-sent events: a `snapshot` event (what the dashboard shows) on every change.
        Behind a reverse proxy, turn off buffering and compression for text/event-stream."""
        shown = host or backend.cfg.host_id
        backend.host_view(shown)  # an unknown host: 404 now, not an empty stream
        return StreamingResponse(
            snapshots(backend, shown),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # --- the fleet: every host this service sees on its broker ------------------

    add_fleet_routes(app, backend, read, act)

    @app.get("/metrics", dependencies=[read], responses=REFUSALS, response_class=Response)
    def metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(backend.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    page, page_csp = dashboard_page()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        # The page itself holds no data: it asks for a token when the API wants one.
        return HTMLResponse(
            page, headers={"Cache-Control": "no-cache", "Content-Security-Policy": page_csp}
        )

    return app
