"""The service loop: one thread owns a service's state; everything else posts to it.

MQTT callbacks, Docker event streams and timers all run their work here, one
item at a time, so services need no locks around their state.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.logs import Log


@dataclass(order=True)
class Timer:
    due: float
    order: int
    fn: Callable[[], object] = field(compare=False)
    interval: float | None = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self.cancelled = True


class ServiceLoop:
    def __init__(self, log: Log, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._clock = clock
        self._inbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[Timer] = []
        self._order = itertools.count()
        self._stopping = threading.Event()
        self._on_stop: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._clock()

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        """Run fn(*args) on the loop thread. Safe from any thread."""
        self._inbox.put(lambda: fn(*args))

    def call_later(self, delay: float, fn: Callable[[], object]) -> Timer:
        """Only from the loop thread (or before run)."""
        timer = Timer(self._clock() + delay, next(self._order), fn)
        heapq.heappush(self._timers, timer)
        return timer

    def call_every(self, interval: float, fn: Callable[[], object], first: float = 0.0) -> Timer:
        timer = Timer(self._clock() + first, next(self._order), fn, interval)
        heapq.heappush(self._timers, timer)
        return timer

    def on_stop(self, fn: Callable[[], None]) -> None:
        self._on_stop.append(fn)

    def stop(self) -> None:
        self._stopping.set()
        self._inbox.put(lambda: None)  # wake the loop

    def install_signal_handlers(self) -> None:
        def handle(signum: int, _frame: object) -> None:
            self._log.info("service.signal", signal=signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def _run_safely(self, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:
            # One bad message or failed write must not take the service down.
            self._log.exception("service.task_failed")

    def _run_due_timers(self) -> None:
        while self._timers and self._timers[0].due <= self._clock():
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._run_safely(timer.fn)
            if timer.interval is not None and not timer.cancelled:
                timer.due = max(timer.due + timer.interval, self._clock())
                heapq.heappush(self._timers, timer)

    def run(self) -> None:
        while not self._stopping.is_set():
            self._run_due_timers()
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0].due - self._clock())
            try:
                task = self._inbox.get(timeout=timeout)
            except queue.Empty:
                continue
            self._run_safely(task)
        for fn in self._on_stop:
            self._run_safely(fn)
