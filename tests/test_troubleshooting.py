"""Every warning and error a service logs has a row in docs/troubleshooting.md saying what
it means and what to do, and every row names an event the code still logs. Found by
reading the code (a static scan of the log calls), not by running it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.processes import REPO

PAGE = REPO / "docs" / "troubleshooting.md"
SOURCES = ("services", "shared", "host", "cli")
# The levels a person is told to look at; `exception` logs at error, with a traceback.
LEVELS = {"warning", "error", "critical", "exception"}
EVENT = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")


def python_files() -> list[Path]:
    return sorted(p for top in SOURCES for p in (REPO / top).rglob("*.py"))


def logged_events(source: str) -> set[str]:
    """The event names of `<anything>.warning("x.y", ...)` (and error, critical, exception)
    calls whose event is a literal."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LEVELS
            and node.args
        ):
            continue
        first = node.args[0]
        if (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and EVENT.fullmatch(first.value)
        ):
            found.add(first.value)
    return found


def documented_events(page: str) -> set[str]:
    """The events in the first column of the page's tables (`a.b`, `c.d` with a note)."""
    section = page.split("## Log events you may meet", 1)[1]
    rows = (line for line in section.splitlines() if line.startswith("| `"))
    return {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_the_scan_finds_log_calls_written_over_several_lines() -> None:
    source = (
        'log.warning("a.one", x=1)\n'
        'self.ctx.log.error(\n    "b.two",\n    reason=why,\n)\n'
        'self._log.exception("c.three")\n'
        'log.info("d.four")\n'
        "log.warning(note.event)\n"
        'parser.error("usage: a sentence, not an event")\n'
    )
    assert logged_events(source) == {"a.one", "b.two", "c.three"}


def test_every_warning_and_error_logged_has_a_row() -> None:
    logged = {event: path for path in python_files() for event in logged_events(path.read_text())}
    documented = documented_events(PAGE.read_text())
    missing = {e: str(p.relative_to(REPO)) for e, p in logged.items() if e not in documented}
    assert not missing, f"no row in docs/troubleshooting.md for: {missing}"
    assert len(logged) > 50  # the scan still sees the log calls


def test_every_row_names_an_event_the_code_logs() -> None:
    code = "\n".join(path.read_text() for path in python_files())
    stale = [event for event in documented_events(PAGE.read_text()) if f'"{event}"' not in code]
    assert not stale, f"rows in docs/troubleshooting.md for events no code logs: {stale}"
