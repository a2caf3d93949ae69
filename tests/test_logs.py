"""The log line a user reads: event name, then key=value fields, quoted only when needed."""

from __future__ import annotations

import json
import logging

import pytest

from shared.logs import JsonFormatter, Log, LogfmtFormatter


def record(caplog: pytest.LogCaptureFixture, **fields: object) -> logging.LogRecord:
    caplog.set_level(logging.INFO)
    Log("governor").info("decision.enforce", **fields)
    return caplog.records[-1]


def test_logfmt_quotes_only_what_needs_it_and_keeps_text_readable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    line = LogfmtFormatter().format(
        record(
            caplog,
            container="tdarr",
            paused=True,
            memory_high=None,
            reasons="media_mode — forced",
            empty="",
            limit=3.5,
        )
    )
    assert " INFO governor decision.enforce container=tdarr paused=true memory_high=null " in line
    assert 'reasons="media_mode — forced"' in line  # not \\u2014
    assert 'empty="" limit=3.5' in line


def test_json_lines_carry_the_same_fields(caplog: pytest.LogCaptureFixture) -> None:
    body = json.loads(JsonFormatter().format(record(caplog, container="tdarr", t=61.5)))
    assert body["event"] == "decision.enforce" and body["service"] == "governor"
    assert body["container"] == "tdarr" and body["t"] == 61.5


def test_a_field_may_be_called_event(caplog: pytest.LogCaptureFixture) -> None:
    line = LogfmtFormatter().format(record(caplog, event="media_mode_activated"))
    assert "decision.enforce event=media_mode_activated" in line
