"""What a service holds while it idles: modules it never uses are not imported, message
models are built on first use and each builds and validates then, and the actuator's
many threads share two malloc arenas. (How many MB that is belongs in bench/idle_cost.)"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

import shared.messages
from shared.logs import setup_logging
from shared.malloc import cap_malloc_arenas
from shared.messages.base import Message, Strict

REPO = Path(__file__).resolve().parent.parent

# Never needed by a service's start: a log file's handler (and pickle with it), the web
# service's stack. What the bus and Docker libraries import (paho's ssl and socks, the
# Docker SDK's requests) is theirs to choose: TLS is part of the job.
NOT_AT_START = (
    "pickle",
    "logging.handlers",
    "asyncio",
    "fastapi",
    "uvicorn",
    "prometheus_client",
    "sqlite3",
    "services.web",
)
# The services that never talk to Docker never load its SDK.
NO_DOCKER = ("docker", "urllib3")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # ctypes: only the actuator makes raw syscalls (ioprio) and caps malloc's arenas.
    "sensors": (*NOT_AT_START, "ctypes"),
    "governor": (*NOT_AT_START, *NO_DOCKER, "requests", "ctypes", "host"),
    "actuator": NOT_AT_START,
    "notifier": (*NOT_AT_START, *NO_DOCKER, "ctypes", "host"),
}

_LOADED = """
import json, sys
__import__(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def modules_at_start(service: str) -> set[str]:
    """sys.modules of a fresh interpreter after importing the service's entry point."""
    out = subprocess.run(
        [sys.executable, "-c", _LOADED, f"services.{service}.__main__"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    ).stdout
    return set(json.loads(out))


@pytest.mark.parametrize("service", sorted(FORBIDDEN))
def test_a_service_imports_nothing_it_does_not_need(service: str) -> None:
    loaded = modules_at_start(service)
    found = sorted(
        name
        for name in loaded
        for forbidden in FORBIDDEN[service]
        if name == forbidden or name.startswith(f"{forbidden}.")
    )
    assert found == []


def _models(base: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for sub in base.__subclasses__():
        found += [sub, *_models(sub)]
    return found


def test_every_message_model_builds_when_first_used() -> None:
    # Deferred builds move a broken model's error from import to first use; here is
    # that first use for each of them, in the tests.
    models = _models(Message) + _models(Strict)
    assert {m.__name__ for m in models} >= {"DesiredState", "Action", "Applied", "Event"}
    for model in models:
        model.model_rebuild(force=True)
        assert model.__pydantic_complete__, model.__name__


def test_a_deferred_message_still_refuses_a_bad_payload() -> None:
    with pytest.raises(ValidationError) as caught:
        shared.messages.DesiredState.model_validate({"host": "nas", "seq": -1, "extra": 1})
    problems = {(e["loc"], e["type"]) for e in caught.value.errors()}
    assert (("extra",), "extra_forbidden") in problems
    with pytest.raises(ValidationError):
        shared.messages.Event.model_validate_json(b'{"host": "nas", "schema_version": 2}')


def test_a_log_file_still_rotates_with_the_handler_imported_late(tmp_path: Path) -> None:
    log = setup_logging("notifier", "INFO", str(tmp_path / "warden.log"), 200, 2)
    try:
        for n in range(20):
            log.info("test.line", n=n)
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files[:2] == ["warden.notifier.log", "warden.notifier.log.1"]
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.getLogger().handlers.clear()


def test_the_arenas_are_capped_on_glibc() -> None:
    # This machine's C library is glibc, as every supported host's (musl answers False).
    assert cap_malloc_arenas(2) is True
