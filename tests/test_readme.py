"""The README's quick start stays exactly true: two commands, and CI runs the test one."""

from __future__ import annotations

import os
import re
import typing

from pydantic import BaseModel

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
    assert "\nbash scripts/test\n" in ci and "\nbash scripts/docs build\n" in ci


def test_the_topic_reference_documents_every_topic_the_code_builds() -> None:
    from shared import channels
    from shared.topics import Topics

    readme = (REPO / "docs" / "reference" / "topics.md").read_text()
    t = Topics("warden", "<host>")
    for topic in (
        *(c.topic_for(t) for c in channels.SENSOR_FACTS.values()),
        *(
            c.topic_for(t)
            for c in (
                channels.DESIRED,
                channels.ACTIONS,
                channels.APPLIED,
                channels.EVENTS,
                channels.TRIGGER,
                channels.TRIGGER_ALL_HOSTS,
            )
        ),
        "warden/<host>/<service>/availability",
    ):
        assert f"`{topic}`" in readme, topic


def _models_in(annotation: object) -> list[type[BaseModel]]:
    found = (
        [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
    )
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def test_example_config_loads_and_shows_every_key() -> None:
    from shared.config import load_config
    from shared.config.model import WardenConfig

    path = REPO / "config.example.yaml"
    load_config(path)
    text = path.read_text()
    missing = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            key = f"{prefix}{name}"
            if not re.search(rf"(?m)^\s*#?\s*-?\s*{re.escape(name)}:", text):
                missing.append(key)
            for nested in _models_in(field.annotation):
                walk(nested, f"{key}.")

    walk(WardenConfig, "")
    assert missing == [], f"config.example.yaml does not show: {missing}"


def test_every_test_the_documentation_names_exists() -> None:
    """The Security model's table of guarantees (and any other `tests/...` a page
    cites) names tests that exist: a renamed test must take its row along."""
    readme = "\n".join(p.read_text() for p in sorted((REPO / "docs").rglob("*.md")))
    cited = re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`", readme)
    assert cited, "the documentation cites its tests"
    last_file = ""
    for path, test in cited:
        assert (REPO / path).is_file(), path
        last_file = path
        if test:
            source = (REPO / last_file).read_text()
            assert f"def {test[2:]}(" in source, f"{path}{test}"
    for test in re.findall(r"`::(test_\w+)`", readme):
        assert any(f"def {test}(" in p.read_text() for p in (REPO / "tests").glob("test_*.py")), (
            test
        )
