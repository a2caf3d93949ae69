"""The streams sensor's shell: the reconciliation poll, the webhook receiver, one query worker.

State lives on the service loop thread. Queries run on one worker thread so a
media server that hangs until the timeout never stalls the loop (pressure and
inventory keep flowing); their results come back through loop.post. Webhooks
that arrive while a query runs are answered by the next one, which starts as
soon as the current one ends.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from services.sensors.streams.common import StreamQueryError
from services.sensors.streams.providers import query_sessions
from services.sensors.streams.receiver import WebhookReceiver
from services.sensors.streams.tracker import UNKNOWN, Reading, settle, to_fact
from services.sensors.streams.webhooks import WebhookEvent
from shared.config.model import MediaMode
from shared.errors import brief
from shared.logs import Log
from shared.messages import StreamSession, StreamsFact
from shared.runtime import ServiceLoop, Timer

Query = Callable[[MediaMode], list[StreamSession]]

INCOMPLETE_HINTS = {
    "jellyfin": "the Webhook plugin sends PlayMethod from v12 and RemoteEndPoint from v16; "
    "update it to v16 or later (until then its webhooks say nothing of transcodes or of "
    "where the client is)",
}


class StreamWatcher:
    def __init__(
        self,
        media: MediaMode,
        host: str,
        loop: ServiceLoop,
        log: Log,
        publish: Callable[[StreamsFact], None],
        query: Query = query_sessions,
    ) -> None:
        self.media = media
        self.host = host
        self.loop = loop
        self.log = log
        self.publish = publish
        self.query = query
        self.reading: Reading = UNKNOWN
        self.receiver: WebhookReceiver | None = None
        self._poll_timer: Timer | None = None
        # A daemon thread: a query hanging until its timeout must not hold up the exit.
        self._jobs: queue.SimpleQueue[tuple[WebhookEvent, ...] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._work, name="streams-query", daemon=True)
        self._in_flight = False
        self._poll_due = False
        self._pending: list[WebhookEvent] = []
        # Incomplete webhook bodies already reported, by source and missing fields.
        self._incomplete_seen: set[tuple[str, tuple[str, ...]]] = set()

    # --- wiring -------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()
        self._poll_timer = self.loop.call_every(self.media.poll_seconds, self.reconcile)
        hook = self.media.webhook
        if hook.enabled:
            try:
                self.receiver = WebhookReceiver(
                    hook.host,
                    hook.port,
                    hook.token,
                    lambda event: self.loop.post(self.on_webhook, event),
                    self.log,
                )
            except OSError as exc:
                # Polling still works; say loudly that webhooks will not arrive.
                self.log.error(
                    "webhook.unavailable",
                    address=f"{hook.host}:{hook.port}",
                    reason=exc.strerror or str(exc),
                    fallback=f"poll every {self.media.poll_seconds:g}s",
                )
            else:
                self.receiver.start()
                self.log.info("webhook.listening", address=f"{hook.host}:{self.receiver.port}")
        self.log.info(
            "streams.watching",
            provider=self.media.provider,
            url=self.media.url,
            poll_seconds=self.media.poll_seconds,
        )

    def stop(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.cancel()
        if self.receiver is not None:
            self.receiver.stop()
        self._jobs.put(None)

    # --- inputs (loop thread) -------------------------------------------------

    def reconcile(self) -> None:
        self._poll_due = True
        self._kick()

    def on_webhook(self, event: WebhookEvent) -> None:
        self.log.info(
            "webhook.received",
            source=event.source,
            webhook_event=event.event,
            action=event.action,
            session=event.session.id if event.session else None,
        )
        self._note_incomplete(event)
        self._pending.append(event)
        self._kick()

    def _note_incomplete(self, event: WebhookEvent) -> None:
        """Say once per kind of body that an old sender leaves fields to defaults."""
        key = (event.source, event.incomplete)
        if not event.incomplete or key in self._incomplete_seen:
            return
        self._incomplete_seen.add(key)
        self.log.warning(
            "webhook.incomplete",
            source=event.source,
            missing=",".join(event.incomplete),
            hint=INCOMPLETE_HINTS.get(event.source, "update the sender"),
        )

    # --- querying -------------------------------------------------------------

    def _kick(self) -> None:
        if self._in_flight or not (self._poll_due or self._pending):
            return
        webhooks = tuple(self._pending)
        self._pending.clear()
        self._poll_due = False
        self._in_flight = True
        self._jobs.put(webhooks)

    def _work(self) -> None:
        while (webhooks := self._jobs.get()) is not None:
            self._run_query(webhooks)

    def _run_query(self, webhooks: tuple[WebhookEvent, ...]) -> None:
        """On the worker thread: ask the server, hand the answer to the loop."""
        result: list[StreamSession] | str
        try:
            result = self.query(self.media)
        except StreamQueryError as exc:
            result = str(exc)
        except Exception as exc:
            # A bug in a parser must read as "unknown", not kill the worker.
            self.log.exception("streams.query_failed", provider=self.media.provider)
            result = brief(f"{self.media.provider}: {type(exc).__name__}: {exc}")
        self.loop.post(self._settle, result, webhooks)

    def _settle(
        self, result: list[StreamSession] | str, webhooks: tuple[WebhookEvent, ...]
    ) -> None:
        self._in_flight = False
        before, self.reading = (
            self.reading,
            settle(self.reading, self.media.provider, result, webhooks),
        )
        fact = to_fact(self.reading, self.host, self.media.provider, self.media)  # type: ignore[arg-type]
        self._log_change(before, fact)
        self.publish(fact)
        self._kick()

    def _log_change(self, before: Reading, fact: StreamsFact) -> None:
        if fact.count is None:
            if before.sessions is not None or before.error != fact.error:
                self.log.warning("streams.unknown", source=fact.source, reason=fact.error)
            return
        if before.sessions != self.reading.sessions or before.error != fact.error:
            self.log.info(
                "streams.changed",
                count=fact.count,
                sessions=len(fact.sessions),
                source=fact.source,
                error=fact.error,
                detail="; ".join(
                    f"{s.user or '?'}:{s.state} {s.media_type or 'unknown'}"
                    f"{' transcode' if s.transcode else ''}{' local' if s.local else ''}"
                    for s in fact.sessions
                ),
            )
