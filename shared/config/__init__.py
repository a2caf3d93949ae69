"""The config model and its loader."""

from shared.config.loader import ConfigError, LoadedConfig, load_config, parse_config
from shared.config.model import WardenConfig

__all__ = ["ConfigError", "LoadedConfig", "WardenConfig", "load_config", "parse_config"]
