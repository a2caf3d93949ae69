"""The webhook receiver: an HTTP server on its own threads, handing events to the service loop.

POST /webhook/<plex|jellyfin|emby|tautulli>[/<token>][?token=<token>]

Answers 202 when the event was taken, 200 when it is valid but not about
playback, 400 with the reason for a body its server would not send, 401 for
a wrong token, 404 for another path, 411 without a Content-Length and 413
for a body over the limit. Nothing but a 202 changes anything.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from services.sensors.streams.webhooks import (
    WEBHOOK_SOURCES,
    WebhookError,
    WebhookEvent,
    WebhookSource,
    parse_webhook,
)
from shared.errors import brief
from shared.logs import Log

MAX_BODY_BYTES = 1024 * 1024
# A client that stops sending mid-body must not hold a thread forever.
READ_TIMEOUT_SECONDS = 10


def route(target: str) -> tuple[WebhookSource | None, str | None]:
    """The source and the token a request target names; (None, _) when it names no source."""
    url = urlsplit(target)
    levels = [p for p in url.path.split("/") if p]
    token = parse_qs(url.query).get("token", [None])[0]
    if len(levels) not in (2, 3) or levels[0] != "webhook" or levels[1] not in WEBHOOK_SOURCES:
        return None, token
    if len(levels) == 3:
        token = levels[2]
    return levels[1], token


class WebhookReceiver:
    def __init__(
        self,
        host: str,
        port: int,
        token: str | None,
        on_event: Callable[[WebhookEvent], None],
        log: Log,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        receiver = self
        self.log = log

        class Handler(BaseHTTPRequestHandler):
            timeout = READ_TIMEOUT_SECONDS
            server_version = "warden-sensors"

            def _answer(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _refuse(self, status: int, reason: str, source: str | None = None) -> None:
                receiver.log.warning(
                    "webhook.refused", status=status, source=source, reason=brief(reason)
                )
                self._answer(status, {"error": reason})

            def do_POST(self) -> None:
                source, given = route(self.path)
                if source is None:
                    self._refuse(404, f"no webhook at {urlsplit(self.path).path}")
                    return
                if token and not hmac.compare_digest((given or "").encode(), token.encode()):
                    self._refuse(401, "wrong or missing token", source)
                    return
                length_header = self.headers.get("Content-Length")
                try:
                    length = int(length_header) if length_header is not None else -1
                except ValueError:
                    length = -1
                if length < 0:
                    self.close_connection = True
                    self._refuse(411, "a Content-Length is required", source)
                    return
                if length > max_body:
                    # Not read: the connection closes instead.
                    self.close_connection = True
                    self._refuse(413, f"body of {length} bytes is over {max_body}", source)
                    return
                body = self.rfile.read(length)
                try:
                    event = parse_webhook(source, self.headers.get("Content-Type", ""), body)
                except WebhookError as exc:
                    self._refuse(400, str(exc), source)
                    return
                if event.action is None:
                    receiver.log.debug("webhook.ignored", source=source, webhook_event=event.event)
                    self._answer(200, {"ignored": event.event, "reason": "not about playback"})
                    return
                on_event(event)
                self._answer(202, {"accepted": event.event, "action": event.action})

            def do_GET(self) -> None:
                self.send_response(405)
                self.send_header("Allow", "POST")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass  # every answer that matters is logged above, as a structured line

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.address = self.server.server_address
        # A short poll interval only makes stop() quick; requests never wait on it.
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.1,), name="webhook-receiver", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
