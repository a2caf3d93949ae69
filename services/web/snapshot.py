"""What the dashboard shows of one host, and the server-sent events that carry it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from services.web.backend import Backend
from services.web.fleet_routes import host_decisions_of
from services.web.fleet_status import fleet_summary, host_config, host_status
from services.web.incidents import SHOWN as INCIDENTS_SHOWN
from services.web.incidents import host_incidents
from services.web.models import Thresholds
from services.web.readings_now import resources_now
from services.web.status import container_rows, live_overrides, thresholds_now

SSE_POLL_SECONDS = 0.5
SSE_KEEPALIVE_SECONDS = 15.0


def snapshot(backend: Backend, host: str | None = None) -> dict[str, Any]:
    """What the dashboard shows of one host (default: the own), with the fleet strip."""
    now = time.time()
    host = host or backend.cfg.host_id
    view, cfg = backend.host_view(host), host_config(backend.cfg, host)
    own = host == backend.cfg.host_id
    return {
        "host": host,
        "own": own,
        "status": host_status(view, backend.cfg, host, now).model_dump(),
        "resources": resources_now(view).model_dump(),
        # Another host's thresholds are in its own config, not known here.
        "thresholds": (
            thresholds_now(view, cfg) if own else Thresholds(thresholds=[], crossed=[])
        ).model_dump(),
        "rows": [r.model_dump() for r in container_rows(view, cfg)],
        "decisions": [d.model_dump() for d in host_decisions_of(backend, host, 10)],
        "settings": backend.settings_out(view, cfg).model_dump(),
        "overrides": [o.model_dump() for o in live_overrides(view, now)],
        "streams": view.streams.model_dump() if view.streams else None,
        "incidents": [i.model_dump() for i in host_incidents(backend, host, INCIDENTS_SHOWN)],
        "fleet": {
            h: s.model_dump()
            for h, s in fleet_summary(backend.fleet, backend.cfg.bridge.enabled).items()
        },
    }


async def snapshots(backend: Backend, host: str | None = None) -> AsyncIterator[str]:
    sent_version = -1
    quiet_since = time.monotonic()
    while True:
        # Any host's change: the fleet strip shows them all.
        version = backend.fleet.version + backend.view.version
        if version != sent_version:
            sent_version = version
            quiet_since = time.monotonic()
            yield f"event: snapshot\ndata: {json.dumps(snapshot(backend, host))}\n\n"
        elif time.monotonic() - quiet_since > SSE_KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(SSE_POLL_SECONDS)
