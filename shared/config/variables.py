"""${VAR} in config values: from the environment, or from the file VAR_FILE names.

The `_FILE` convention (as many official Docker images have it) keeps a secret out of
every process's environment, where `docker inspect` and /proc/<pid>/environ show it:
compose hands a service its MQTT password as a secret file and sets
WARDEN_MQTT_PASSWORD_FILE, and `password: ${WARDEN_MQTT_PASSWORD}` reads it. The
variable itself, when set and not empty, wins, so a setup that sets it keeps working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
FILE_SUFFIX = "_FILE"


class VariableFileError(Exception):
    """A VAR_FILE that cannot give a value; the message names the file, never its contents."""


@dataclass(frozen=True)
class FromFile:
    """${NAME} is the contents of a file: `variable` (NAME_FILE) names it."""

    variable: str
    path: str


def variable_source(name: str, env: Mapping[str, str]) -> str | FromFile | None:
    """Where ${name} takes its value: the variable when it is set and not empty, else
    the file NAME_FILE names, else the variable's empty value; None: set nowhere."""
    value = env.get(name)
    if value:
        return value
    path = env.get(name + FILE_SUFFIX)
    if path:
        return FromFile(name + FILE_SUFFIX, path)
    return value


def read_variable_file(path: str) -> str:
    """The file's text without its final line break (`echo secret > file` writes one)."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise VariableFileError(f"cannot read it: {exc.strerror or exc}") from None
    try:
        value = text.decode().rstrip("\r\n")
    except UnicodeDecodeError:
        # Not the decoder's message: it quotes a byte of the secret.
        raise VariableFileError("it is not UTF-8 text") from None
    if not value:
        raise VariableFileError("it is empty")
    return value


@dataclass
class Expansion:
    """One pass over a parsed config: what was set nowhere, and what could not be read
    (dotted key, reason), so that every problem is told at once."""

    env: Mapping[str, str]
    read_file: Callable[[str], str] = read_variable_file
    unset: set[str] = field(default_factory=set)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def value(self, name: str, key: str) -> str:
        source = variable_source(name, self.env)
        if source is None:
            self.unset.add(name)
            return ""
        if isinstance(source, str):
            return source
        try:
            return self.read_file(source.path)
        except VariableFileError as exc:
            self.problems.append(
                (key, f"${{{name}}}: {source.variable} names {source.path}, but {exc}")
            )
            return ""

    def expand(self, node: Any, key: str = "") -> Any:
        # Expanding parsed string values, not the raw text as ADRG does, keeps a
        # secret holding ':' or '#' from changing the YAML's structure.
        if isinstance(node, str):
            return VARIABLE.sub(lambda match: self.value(match.group(1), key), node)
        if isinstance(node, dict):
            return {k: self.expand(v, _join(key, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self.expand(v, _join(key, i)) for i, v in enumerate(node)]
        return node


def _join(key: str, part: object) -> str:
    return f"{key}.{part}" if key else str(part)
