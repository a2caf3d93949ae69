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
    GpuFact,
    PressureFact,
    ResourcesFact,
    StreamsFact,
    ThermalFact,
)
from shared.messages.overrides import Overrides
from shared.messages.settings import ResourceSettings


@dataclass
class View:
    started_at: float = field(default_factory=time.time)
    desired: DesiredState | None = None
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
    availability: dict[str, str] = field(default_factory=dict)
    # Bumped on every change, so the live page knows when to send a new snapshot.
    version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def changed(self) -> None:
        with self._lock:
            self.version += 1
