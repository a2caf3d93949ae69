"""docs/security.md cites a test for each guarantee: every file it names exists, and so
does every test it names (`tests/x.py::test_y`, and `::test_z` for another in the
file named last)."""

from __future__ import annotations

import re

from tests.support.processes import REPO

PAGE = REPO / "docs" / "security.md"
CITED = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def citations() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    last = ""
    for match in CITED.finditer(PAGE.read_text()):
        path, test = match.groups()
        if path is None and test is None:
            continue
        last = path or last
        assert last, f"::{test} before any file is named"
        found.append((last, test))
    return found


def test_every_cited_test_exists() -> None:
    cited = citations()
    assert len(cited) > 30
    for path, test in cited:
        source = REPO / path
        assert source.is_file(), path
        if test is not None:
            assert re.search(rf"^def {test}\(", source.read_text(), re.M), f"{path}::{test}"


# The rows whose compose column was once only the file's name, and now names the test
# that reads the running stack.
READ_FROM_THE_STACK = (
    "only the actuator is root",
    "only the governor and the actuator can read the signing key",
    "each broker login readable by its service alone",
    "the sensors never hold docker.sock",
)


def test_the_compose_column_cites_the_tests_that_read_the_running_stack() -> None:
    rows = {
        line.split(" | ")[0].removeprefix("| "): line
        for line in PAGE.read_text().splitlines()
        if line.startswith("| ")
    }
    for guarantee in READ_FROM_THE_STACK:
        row = next(line for name, line in rows.items() if name.startswith(guarantee))
        compose = row.rstrip(" |").rsplit(" | ", 1)[-1]
        assert "tests/test_compose.py::test_" in compose, guarantee
