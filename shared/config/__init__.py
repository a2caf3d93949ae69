"""The config model and its loader."""

from shared.config.loader import (
    ConfigError,
    FileStamp,
    LoadedConfig,
    load_config,
    parse_config,
)
from shared.config.model import WardenConfig

__all__ = [
    "ConfigError",
    "FileStamp",
    "LoadedConfig",
    "WardenConfig",
    "load_config",
    "parse_config",
]
