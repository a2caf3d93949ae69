"""Structured logs: one line per happening, an event name and key=value fields.

    2026-11-25T19:50:03Z INFO governor decision.pause container=tdarr rule=media_mode ...

A user reading them can follow every decision: each names its rule, metric
and threshold. WARDEN_LOG_FORMAT=json switches to JSON lines for log shippers.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

_FIELDS = "warden_fields"


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        fields: dict[str, Any] = getattr(record, _FIELDS, {})
        parts = [stamp, record.levelname, record.name, record.getMessage()]
        parts += [f"{key}={_logfmt_value(value)}" for key, value in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname,
            "service": record.name,
            "event": record.getMessage(),
            **getattr(record, _FIELDS, {}),
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


class Log:
    """A service's logger: `log.info("decision.pause", container="tdarr", rule="media_mode")`."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _emit(self, level: int, event: str, fields: dict[str, Any], exc: bool = False, /) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, extra={_FIELDS: fields}, exc_info=exc, stacklevel=3)

    def debug(self, event: str, /, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, fields)

    def info(self, event: str, /, **fields: Any) -> None:
        self._emit(logging.INFO, event, fields)

    def warning(self, event: str, /, **fields: Any) -> None:
        self._emit(logging.WARNING, event, fields)

    def error(self, event: str, /, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields)

    def exception(self, event: str, /, **fields: Any) -> None:
        self._emit(logging.ERROR, event, fields, True)


def setup_logging(
    service: str,
    level: str = "INFO",
    log_file: str | None = None,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 3,
) -> Log:
    formatter: logging.Formatter = (
        JsonFormatter() if os.environ.get("WARDEN_LOG_FORMAT") == "json" else LogfmtFormatter()
    )
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(formatter)
    root.addHandler(stream)
    log = Log(service)
    for noisy in ("urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if log_file:
        # One file per service: four processes rotating one file would corrupt it.
        path = Path(log_file)
        path = path.with_name(f"{path.stem}.{service}{path.suffix or '.log'}")
        # Imported only here: logging.handlers brings pickle, socket servers and
        # queues into every service, which a service logging to stderr never uses.
        from logging.handlers import RotatingFileHandler

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backup_count)
        except OSError as exc:
            log.warning("log_file.unusable", path=str(path), reason=str(exc.strerror or exc))
        else:
            handler.setFormatter(formatter)
            root.addHandler(handler)
    return log
