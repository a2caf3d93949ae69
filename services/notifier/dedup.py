"""Collapses bursts: the same event and message again within a window is told once. Pure.

The first of a burst goes out at once (news should not wait); repeats within
the window are counted and, when it closes, told in one message with the count.
A burst that keeps going opens a new window with each summary, so a flapping
host sends one message per window, not one per flap.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Window(Generic[V]):
    closes_at: float
    sample: V
    repeats: int = 0


class Debouncer(Generic[K, V]):
    def __init__(self, window: float) -> None:
        self.window = window
        self._open: dict[K, _Window[V]] = {}

    def offer(self, key: K, value: V, now: float) -> bool:
        """True: send it now. False: counted into the open window's summary."""
        if self.window <= 0:
            return True
        current = self._open.get(key)
        if current is not None and now < current.closes_at:
            current.repeats += 1
            current.sample = value
            return False
        self._open[key] = _Window(now + self.window, value)
        return True

    def due(self, now: float) -> list[tuple[V, int]]:
        """Summaries of the windows that closed: (latest value, how many repeats)."""
        summaries = []
        for key, current in list(self._open.items()):
            if current.closes_at > now:
                continue
            if current.repeats:
                summaries.append((current.sample, current.repeats))
                self._open[key] = _Window(now + self.window, current.sample)
            else:
                del self._open[key]
        return summaries

    def next_due(self) -> float | None:
        return min((w.closes_at for w in self._open.values()), default=None)
