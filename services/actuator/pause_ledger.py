"""Which containers Warden paused, kept on disk so a restarted actuator can unpause them.

Warden unpauses only what it paused itself: a container someone paused by
hand stays paused.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from shared.logs import Log


class PauseLedger:
    def __init__(self, path: str | Path | None, log: Log) -> None:
        self._path = Path(path) if path else None
        self._log = log
        self._paused: dict[str, str] = {}
        if self._path is not None:
            self._load()

    def _load(self) -> None:
        assert self._path is not None
        try:
            data = json.loads(self._path.read_text())
            paused = data.get("paused", {})
            if not isinstance(paused, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in paused.items()
            ):
                raise ValueError("'paused' must map container ids to names")
            self._paused = paused
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            self._log.warning("ledger.unreadable", path=str(self._path), reason=str(exc))

    def _save(self) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".ledger-")
            with os.fdopen(fd, "w") as f:
                json.dump({"paused": self._paused}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            self._log.warning("ledger.unwritable", path=str(self._path), reason=str(exc))

    def __contains__(self, container_id: str) -> bool:
        return container_id in self._paused

    def items(self) -> list[tuple[str, str]]:
        return list(self._paused.items())

    def record(self, container_id: str, name: str) -> None:
        """Called before pausing, so a crash between the two still leaves a record."""
        self._paused[container_id] = name
        self._save()

    def forget(self, container_id: str) -> None:
        if self._paused.pop(container_id, None) is not None:
            self._save()
