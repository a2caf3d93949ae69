"""Run-time resource settings (from the web service) laid over the config. Pure."""

from __future__ import annotations

from shared.config.model import WardenConfig
from shared.messages.settings import ResourceSettings

FIELDS = ("cpu_threshold_percent", "memory_threshold_percent", "gpu_threshold_percent", "nice")


def with_settings(cfg: WardenConfig, settings: ResourceSettings | None) -> WardenConfig:
    """The config the rules see: each set value replaces every process group's own;
    disabled: no process group at all, so each runs at its baseline."""
    if settings is None:
        return cfg
    if not settings.enabled:
        return cfg.model_copy(update={"process_groups": []})
    update = {f: getattr(settings, f) for f in FIELDS if getattr(settings, f) is not None}
    if not update:
        return cfg
    groups = [group.model_copy(update=update) for group in cfg.process_groups]
    return cfg.model_copy(update={"process_groups": groups})
