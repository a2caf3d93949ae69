"""The README's quick start stays exactly true: two commands, and CI runs the test one."""

from __future__ import annotations

import os
import re

from tests.support.processes import REPO


def quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert block, "the quick start has a sh block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands_that_exist() -> None:
    commands = quick_start_commands()
    assert commands == ["scripts/run", "scripts/test"]
    for command in commands:
        path = REPO / command
        assert path.is_file() and os.access(path, os.X_OK), command


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "exec bash scripts/test" in ci


def test_readme_documents_every_topic_the_code_builds() -> None:
    from shared.topics import Topics

    readme = (REPO / "README.md").read_text()
    t = Topics("warden", "<host>")
    for topic in (
        t.sensor("pressure"),
        t.sensor("containers"),
        t.desired,
        t.actions,
        t.applied,
        t.events,
        t.trigger,
        t.trigger_all_hosts,
        "warden/<host>/<service>/availability",
    ):
        assert f"`{topic}`" in readme, topic
