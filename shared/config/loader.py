"""Reading config.yaml: ${VAR} expansion from the environment, an env file and VAR_FILE
(shared/config/variables.py), clear errors."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.config.model import WardenConfig
from shared.config.variables import Expansion

# Where a config is looked for when none is named: Warden's, then ADRG's (with its
# adrg.env beside it), so an ADRG host runs Warden on the config it has.
WARDEN_CONFIG = "etc/warden/config.yaml"
ADRG_CONFIG = "etc/adrg/config.yaml"
# Looked for beside the config when no env file is named: Warden's, then ADRG's.
DEFAULT_ENV_FILES = ("warden.env", "adrg.env")


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file, key and reason."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        lines = [
            f"{path}: {key}: {reason}" if key else f"{path}: {reason}" for key, reason in problems
        ]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class FileStamp:
    """Which file was read, and as it was: a reload compares them to tell an edit that
    never reached the service (a bind mount of the old file) from one that changed nothing."""

    device: int
    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStamp:
        return cls(st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class LoadedConfig:
    config: WardenConfig
    path: Path
    env_file: Path | None
    # Variables the file references that were set nowhere; they expand to "".
    unset_variables: list[str] = field(default_factory=list)
    stamp: FileStamp | None = None


@dataclass(frozen=True)
class ConfigChoice:
    path: Path
    # How it was chosen: "given" (--config or $WARDEN_CONFIG), "warden" (/etc/warden's),
    # "adrg" (ADRG's, since /etc/warden has none).
    source: str

    @property
    def is_adrg_fallback(self) -> bool:
        return self.source == "adrg"


def choose_config(
    given: str | None, environ: Mapping[str, str], root: str | Path = "/"
) -> ConfigChoice:
    """The config file to read: --config, else $WARDEN_CONFIG, else /etc/warden/config.yaml,
    else ADRG's /etc/adrg/config.yaml where that exists and Warden's does not. root: where
    /etc is (a test's temporary root; $WARDEN_ROOT)."""
    if given:
        return ConfigChoice(Path(given), "given")
    if environ.get("WARDEN_CONFIG"):
        return ConfigChoice(Path(environ["WARDEN_CONFIG"]), "given")
    warden, adrg = Path(root) / WARDEN_CONFIG, Path(root) / ADRG_CONFIG
    if not warden.exists() and adrg.is_file():
        return ConfigChoice(adrg, "adrg")
    return ConfigChoice(warden, "warden")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile and docker's --env-file read them."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(path, [(f"line {number}", "expected KEY=VALUE")])
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _find_env_file(config_path: Path) -> Path | None:
    for name in DEFAULT_ENV_FILES:
        candidate = config_path.parent / name
        if candidate.is_file():
            return candidate
    return None


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_config(
    data: Any, path: Path, env: Mapping[str, str] | None = None
) -> tuple[WardenConfig, list[str]]:
    expansion = Expansion(env or {})
    expanded = expansion.expand(data if data is not None else {})
    if expansion.problems:
        raise ConfigError(path, expansion.problems)
    if not isinstance(expanded, dict):
        raise ConfigError(path, [("", "the top level must be a mapping of sections")])
    try:
        config = WardenConfig.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(
            path, [(_key_of(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]
        ) from None
    return config, sorted(expansion.unset)


def load_config(path: str | Path, env_file: str | Path | None = None) -> LoadedConfig:
    path = Path(path)
    try:
        with path.open() as f:
            stamp = FileStamp.of(os.fstat(f.fileno()))
            text = f.read()
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [(where, f"invalid YAML: {reason}")]) from None

    env_path = Path(env_file) if env_file else _find_env_file(path)
    env: dict[str, str] = {}
    if env_path is not None:
        try:
            env.update(read_env_file(env_path))
        except OSError as exc:
            raise ConfigError(env_path, [("", f"cannot read: {exc.strerror or exc}")]) from None
    # The process environment wins over the file, as in docker compose.
    env.update(os.environ)
    config, unset = parse_config(data, path, env)
    return LoadedConfig(
        config=config, path=path, env_file=env_path, unset_variables=unset, stamp=stamp
    )
