"""Fixtures on real parts: Mosquitto started here, the host's Docker engine, /proc, cgroups.

Where a real part is missing, tests that need it go through the one skip policy,
tests/support/real.py: skipped, unless WARDEN_REQUIRE_REAL=1 (as scripts/test
sets), then failed, so CI can never pass by skipping what it was meant to test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, ensure_image
from tests.support.keys import write_key
from tests.support.probe import Probe
from tests.support.real import missing


def started_broker(directory: Path) -> Iterator[Mosquitto]:
    try:
        mosquitto = Mosquitto(directory)
    except RuntimeError as exc:
        missing(str(exc))
    mosquitto.start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    yield from started_broker(tmp_path_factory.mktemp("mosquitto"))


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test alone, which that test may stop and restart."""
    yield from started_broker(tmp_path)


@pytest.fixture
def alone(own_broker: Mosquitto) -> Iterator[tuple[Mosquitto, Probe]]:
    """A broker of its own: on the session's, other tests' hosts would make a fleet, and
    a dashboard show (and its buttons act on) one of them."""
    probe = Probe(own_broker.host, own_broker.port)
    yield own_broker, probe
    probe.close()


@pytest.fixture
def probe(broker: Mosquitto) -> Iterator[Probe]:
    p = Probe(broker.host, broker.port)
    yield p
    p.close()


@pytest.fixture(scope="session")
def docker_api() -> Iterator[docker.APIClient]:
    try:
        api = docker.APIClient(timeout=30)
        api.ping()
    except Exception as exc:
        missing(f"no Docker engine: {exc}")
    ensure_image(api)
    yield api
    api.close()


@pytest.fixture
def containers(docker_api: docker.APIClient) -> Iterator[Containers]:
    made = Containers(docker_api)
    yield made
    made.remove_all()


@pytest.fixture
def host_id(request: pytest.FixtureRequest) -> str:
    """A host id per test, so tests sharing the broker never see each other's topics."""
    return "h" + format(abs(hash(request.node.nodeid)) % 10**8, "08d")


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """A signing key for the governor and the actuator, mode 0600."""
    return write_key(tmp_path / "signing.key")
