"""What the web service knows: the latest of every retained topic, kept as it came.

Bus handlers (the service loop thread) replace whole immutable messages; HTTP
handlers (uvicorn's thread) read them. Replacing an attribute is atomic, so
neither side needs a lock, and a reader sees each message whole.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from shared.messages import (
    Applied,
    ContainerInventory,
    DesiredState,
    GovernorMemory,
    GpuFact,
    LastDecision,
    PressureFact,
    ResourcesFact,
    RuleCatalogue,
    StreamsFact,
    ThermalFact,
)
from shared.messages.incidents import IncidentLog
from shared.messages.overrides import Overrides
from shared.messages.settings import ResourceSettings


@dataclass
class View:
    started_at: float = field(default_factory=time.time)
    desired: DesiredState | None = None
    # The governor's switches and status (media mode, thermal stage, io throttled).
    memory: GovernorMemory | None = None
    applied: Applied | None = None
    pressure: PressureFact | None = None
    inventory: ContainerInventory | None = None
    streams: StreamsFact | None = None
    thermal: ThermalFact | None = None
    gpu: GpuFact | None = None
    resources: ResourcesFact | None = None
    preset: str | None = None
    settings: ResourceSettings | None = None
    overrides: Overrides | None = None
    # What each rule is (the governor's catalogue); None: not heard yet.
    catalogue: RuleCatalogue | None = None
    # The governor's latest incidents (the store keeps the own host's for longer).
    incidents: IncidentLog | None = None
    availability: dict[str, str] = field(default_factory=dict)
    # Something came from this host (its own host is listed before that, while alone).
    heard: bool = False
    # The central broker's word on the host's bridge: "1" up, "0" gone; None: not bridged.
    bridge: str | None = None
    # The latest decisions seen on the bus, oldest first, replaced whole as the rest are;
    # the store keeps the own host's for longer.
    decisions: tuple[LastDecision, ...] = ()
    # Bumped on every change, so the live page knows when to send a new snapshot.
    version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def changed(self) -> None:
        with self._lock:
            self.version += 1


# Hosts kept at most: each view is a few messages, but the host level of a topic is
# whatever a publisher wrote there.
MAX_HOSTS = 1000


@dataclass
class Fleet:
    """Every host seen on the broker, each with its own view; `own` is this service's host."""

    own: str
    views: dict[str, View] = field(default_factory=dict)
    # Bumped on every change of any host, so the live page knows when the strip changed.
    version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def view(self, host: str) -> View | None:
        return self.views.get(host)

    def learn(self, host: str) -> View | None:
        """The host's view, made on first sight; None once MAX_HOSTS are known."""
        found = self.views.get(host)
        if found is not None:
            return found
        with self._lock:
            if len(self.views) >= MAX_HOSTS:
                return None
            return self.views.setdefault(host, View())

    def hosts(self) -> list[str]:
        """The own host first, then the others by name. A web service on a central broker
        has a host id nothing publishes under: it is left out once others are known."""
        with self._lock:  # the bus thread may be adding one
            views = list(self.views.items())
        alone = len(views) == 1
        shown = [h for h, v in views if v.heard or (h == self.own and alone)]
        return sorted(shown, key=lambda h: (h != self.own, h))

    def changed(self, host: str) -> None:
        view = self.views.get(host)
        if view is not None:
            view.changed()
        with self._lock:
            self.version += 1
