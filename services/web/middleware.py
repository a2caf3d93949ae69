"""The gate every request passes before a route sees it, as raw ASGI: the token, the
origin rules (services/web/guard.py) and the size are checked before one byte of the body
is read, and every answer, refusals and errors included, carries the security headers.

FastAPI reads a JSON body before it runs a route's dependencies, so the token check the
routes declare comes too late to keep an unauthenticated 50 MiB body out of memory: this
checks the same declaration (the route's Access) first. The routes check again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.web.auth import Access, Auth, Refused
from services.web.guard import cross_origin, not_loopback

# Pages and answers that are not the dashboard load nothing and are never framed.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"content-security-policy", API_CSP.encode()),
)
TOKEN_HELP = "send a bearer token (web.admin_tokens or web.read_tokens; none configured: set one)"


class BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class GateRules:
    auth: Auth
    max_body_bytes: int
    # Besides the request's own, as guard.normal_origin writes them.
    allowed_origins: frozenset[str]


def header_map(scope: Scope) -> dict[str, str]:
    """Lower-case names; a header sent twice joined with ", "; bytes as latin-1, as
    HTTP carries them (a token of other bytes is then simply not a token)."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


async def answer(send: Send, status: int, error: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers += [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": headers}
        await send(message)

    return sending


class Gate:
    """ASGI middleware around the whole app (outside Starlette's error handler, so its
    500s carry the headers too). access_of: the Access a route declares, None: open."""

    def __init__(
        self,
        app: ASGIApp,
        rules: GateRules,
        routes: Callable[[], list[BaseRoute]],
        access_of: Callable[[BaseRoute], Access | None],
    ) -> None:
        self.app, self.rules, self.routes, self.access_of = app, rules, routes, access_of

    def access(self, scope: Scope) -> tuple[bool, Access | None]:
        """(whether a route takes the request, the Access it declares)."""
        for route in self.routes():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return True, self.access_of(route)
        return False, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = with_security_headers(send)
        refusal = self.refusal(scope)
        if refusal is not None:
            await answer(send, *refusal)
            return
        try:
            body = await self.read_body(scope, receive)
        except BodyTooLarge as exc:
            await answer(send, 413, str(exc))
            return
        if body is None:
            return  # the client went away

        replayed = False

        async def replay() -> Message:
            # The body once, then the server's own messages (a disconnect, for the stream).
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def refusal(self, scope: Scope) -> tuple[int, str, dict[str, str] | None] | None:
        """(status, error, headers) when the request may go no further."""
        headers = header_map(scope)
        method = scope["method"]
        why = cross_origin(method, headers, scope["scheme"], self.rules.allowed_origins)
        if why is not None:
            return 403, f"{method} refused: {why}; only this service's own page may act", None
        matched, access = self.access(scope)
        if not matched or access is None:
            return None  # open (the page, /health) or no route: nothing to read or act on
        authorization = headers.get("authorization")
        auth = self.rules.auth
        try:
            role = auth.role_of(authorization)
            if auth.loopback and role is None and (why := not_loopback(headers)):
                raise Refused(
                    401,
                    f"this service is bound to loopback and lets it in without a token, but "
                    f"{why}: {TOKEN_HELP}",
                )
            auth.check(access, authorization)
        except Refused as exc:
            extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return exc.status, exc.message, extra
        return None

    async def read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, counted as it comes (Content-Length or chunked), never more
        than the limit in memory; None: the client went away."""
        limit = self.rules.max_body_bytes
        too_large = f"the request body is larger than {limit} bytes (web.max_body_bytes)"
        length = header_map(scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge(too_large)
        chunks: list[bytes] = []
        size = 0
        while True:
            message: MutableMapping[str, Any] = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(too_large)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


class WardenApp(FastAPI):
    """FastAPI behind the Gate: the gate outside Starlette's own error handler, so that
    even a 500 carries the security headers."""

    # Made at the first request (the schema is made without a backend).
    gate_rules: Callable[[], GateRules]

    def build_middleware_stack(self) -> ASGIApp:
        inner = super().build_middleware_stack()
        return Gate(inner, self.gate_rules(), lambda: self.routes, access_of)


def access_of(route: BaseRoute) -> Access | None:
    """The Access a route declares with read / act / admin; None: open to all."""
    if not isinstance(route, APIRoute):
        return None
    for dependency in route.dependencies:
        access = getattr(dependency.dependency, "access", None)
        if access is not None:
            return access
    return None
