"""What a test reads of a captured log record: the key=value fields Warden's Log attached."""

from __future__ import annotations

import logging
from typing import Any


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields. Log hands them to logging as `extra`, which sets them as an
    attribute LogRecord's type cannot know; a record from elsewhere has none (KeyError)."""
    fields: dict[str, Any] = vars(record)["warden_fields"]
    return fields
