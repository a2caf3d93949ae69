"""Resource settings changed at run time (the dashboard, the API), applied on top of config."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.messages.base import Message

Percent = Annotated[float, Field(ge=0, le=100)]


class ResourceSettings(Message):
    """Optimizarr's resource settings for process groups. None: the config's own value."""

    # False: no process group is paused or re-niced by its thresholds (Optimizarr's switch).
    enabled: bool = True
    cpu_threshold_percent: Percent | None = None
    memory_threshold_percent: Percent | None = None
    gpu_threshold_percent: Percent | None = None
    nice: Annotated[int, Field(ge=-20, le=19)] | None = None
