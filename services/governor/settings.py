"""Run-time resource settings (from the web service) laid over the config. Pure."""

from __future__ import annotations

from dataclasses import fields

from shared.config.model import WardenConfig
from shared.messages.settings import ResourceSettings
from shared.presets import Preset

# What a setting may replace: a preset's numbers, each by its name.
FIELDS = tuple(f.name for f in fields(Preset))


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
