"""What the routes share: the API's prefix, the refusals every route may answer (in
the schema too), the bearer scheme, and ADRG's trigger body."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from services.web.models import Problem
from shared.messages import TriggerError, parse_trigger
from shared.messages.triggers import Trigger, TriggerEvent

TRIGGER_EVENTS: tuple[str, ...] = get_args(TriggerEvent)

API = "/api/v1"
# ADRG's bodies are a line of JSON; anything much larger is not a trigger.
MAX_TRIGGER_BYTES = 4096

BEARER = HTTPBearer(auto_error=False, description="an admin or read-only token")

REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid bearer token"},
    403: {"model": Problem, "description": "a read-only token where admin is needed"},
}
# What every POST and DELETE may also meet (services/web/middleware.py).
ACT_REFUSALS: dict[int | str, dict[str, Any]] = {
    **REFUSALS,
    403: {
        "model": Problem,
        "description": "a read-only token where admin is needed, or sent by another origin's page",
    },
    413: {"model": Problem, "description": "a body larger than web.max_body_bytes"},
}


TRIGGER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": Trigger.model_json_schema()},
            "text/plain": {"schema": {"type": "string", "example": "tier3_pause"}},
        },
    }
}


async def read_trigger(request: Request) -> Trigger | JSONResponse:
    """ADRG's trigger body, or the answer that refuses it."""
    body = await request.body()
    if len(body) > MAX_TRIGGER_BYTES:
        return JSONResponse({"error": f"body larger than {MAX_TRIGGER_BYTES} bytes"}, 413)
    try:
        return parse_trigger(body)
    except TriggerError as exc:
        return JSONResponse({"error": str(exc), "valid_events": list(TRIGGER_EVENTS)}, 400)
