"""Sends notifications on a thread of its own, so a slow service never holds up the bus."""

from __future__ import annotations

import queue
import threading

import requests

from services.notifier.channels import Channel
from services.notifier.render import Notification
from shared.logs import Log


class Outbox:
    def __init__(self, channels: list[Channel], timeout: float, log: Log) -> None:
        self._channels = channels
        self._timeout = timeout
        self._log = log
        self._queue: queue.Queue[Notification | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def put(self, note: Notification) -> None:
        self._queue.put(note)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (up to timeout), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (note := self._queue.get()) is not None:
            for channel in self._channels:
                try:
                    channel.send(note, self._timeout)
                except requests.RequestException as exc:
                    self._log.warning(
                        "notify.failed",
                        channel=channel.name,
                        event=note.kind,
                        reason=str(exc)[:200],
                    )
                else:
                    self._log.info("notify.sent", channel=channel.name, event=note.kind)
