"""SIGHUP: what a new config file changes, and which of those changes must wait for a restart.

Pure: the runner (shared/service.py) loads the file, and each service applies
the result in its own `reload(config)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from shared.config import FileStamp, WardenConfig

# Read once at start by every service: the bus login and topics, the host id in
# every message, logging.
# The signing key is read once, by the governor and the actuator: a rotation restarts
# them (docs/security.md); the bridge is the broker's config, written at start.
RESTART_ONLY_EVERYWHERE = ("host_id", "mqtt", "general", "security", "bridge")


class Reloadable(Protocol):
    # Dotted config paths this service reads only at start (besides RESTART_ONLY_EVERYWHERE).
    restart_only: tuple[str, ...]

    def reload(self, config: WardenConfig) -> None: ...


@dataclass(frozen=True)
class ReloadPlan:
    # The config to run on: the new file, with the restart-only values still the old ones.
    config: WardenConfig
    # Dotted paths that changed and take effect now.
    live: list[str]
    # Dotted paths that changed but keep their running value until a restart.
    needs_restart: list[str]


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Leaf paths (a.b.c) where two model_dump(mode="json") trees differ; lists whole."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found: list[str] = []
        for key in sorted({*old, *new}, key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                found.append(path)
            else:
                found.extend(changed_paths(old[key], new[key], path))
        return found
    return [] if old == new else [prefix]


def _under(path: str, prefixes: Iterable[str]) -> str | None:
    return next((p for p in prefixes if path == p or path.startswith(p + ".")), None)


def _get(model: BaseModel, path: str) -> Any:
    value: Any = model
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _set(model: BaseModel, path: str, value: Any) -> BaseModel:
    """A copy of model with the attribute at path replaced (no revalidation: the value
    comes from a config that was valid)."""
    head, _, rest = path.partition(".")
    if not rest:
        return model.model_copy(update={head: value})
    return model.model_copy(update={head: _set(getattr(model, head), rest, value)})


def plan_reload(old: WardenConfig, new: WardenConfig, restart_only: Sequence[str]) -> ReloadPlan:
    changed = changed_paths(old.model_dump(mode="json"), new.model_dump(mode="json"))
    prefixes = (*RESTART_ONLY_EVERYWHERE, *restart_only)
    needs_restart = [p for p in changed if _under(p, prefixes)]
    live = [p for p in changed if not _under(p, prefixes)]
    config: BaseModel = new
    for prefix in prefixes:
        if any(_under(p, (prefix,)) for p in needs_restart):
            config = _set(config, prefix, _get(old, prefix))
    assert isinstance(config, WardenConfig)
    return ReloadPlan(config, live, needs_restart)


@dataclass(frozen=True)
class Unchanged:
    event: str
    reason: str
    hint: str | None = None


def unchanged(
    plan: ReloadPlan, before: FileStamp | None, after: FileStamp | None
) -> Unchanged | None:
    """A reload that changes nothing is worth a warning either way: the same file as
    before, so an edit may never have reached this process; or a rewritten file
    that says what the running config already does. None when something changed."""
    if plan.live or plan.needs_restart:
        return None
    if before is not None and before == after:
        return Unchanged(
            "config.reload_unchanged",
            "the file is the one read before (same inode, size and modification time)",
            "an editor or sed -i writes a new file in its place, which a bind mount of the "
            "file alone never shows: mount its directory (compose.yaml does)",
        )
    return Unchanged(
        "config.reload_no_change",
        "the file was rewritten (its inode or modification time moved) "
        "but no setting differs from the running ones",
    )
