"""Arbitrary bytes and JSON on every topic a service subscribes to: no exception escapes the
handlers, and nothing is done. Property tests (hypothesis) through a real Mosquitto and the
real Bus's decoding.

Each service is built in the test process and connected to the session's broker
(tests/support/in_process.py, live()), under a topic root of its own so the services never
hear each other; each payload goes through the broker and the test waits until the
service has handled it. The actuator has a signing key, so nothing a stranger writes may
move it at all, however well-formed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.actuator.service import ActuatorService, start_actuator
from services.governor.service import GovernorService
from services.notifier.service import NotifierService
from services.sensors.service import SensorsService
from services.web.service import WebService
from shared.messages import (
    Action,
    Applied,
    ContainerFact,
    ContainerInventory,
    DesiredState,
    Event,
    GovernorMemory,
    GpuFact,
    HostThreshold,
    HostUsage,
    LastDecision,
    PressureFact,
    PressureLine,
    ProcessCondition,
    ProcessesFact,
    ProcessSeen,
    Reason,
    ReasonCard,
    ResourcePressure,
    ResourcesFact,
    RuleCatalogue,
    StreamsFact,
    Switches,
    ThermalFact,
)
from shared.messages.incidents import Contender, Incident, IncidentLog, SharePoint, Waiter
from shared.messages.overrides import Override, Overrides
from shared.messages.settings import ResourceSettings
from shared.service import ServiceContext
from shared.signing import new_key
from shared.topics import ServiceName
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.in_process import LiveService, build, live
from tests.support.processes import wait_until, write_config

HOST = "fuzzhost"
LINE = PressureLine(avg10=1.0, avg60=1.0, avg300=1.0, total=5)
# One well-formed message of every model a service subscribes to: the seed that
# the mutations start from. A model missing here fails the test that needs it.
EXAMPLES: dict[type[BaseModel], BaseModel] = {
    m.__class__: m
    for m in (
        PressureFact(host=HOST, cpu=ResourcePressure(some=LINE), io=ResourcePressure(some=LINE)),
        ContainerInventory(
            host=HOST,
            cpu_count=2,
            containers=[ContainerFact(id="a" * 12, name="fz-t3", state="running", tier=3)],
        ),
        StreamsFact(host=HOST, source="jellyfin api", provider="jellyfin", count=1),
        ResourcesFact(host=HOST, machine=HostUsage(cpu_count=2)),
        ThermalFact(host=HOST, available=True, max_celsius=50.0),
        GpuFact(host=HOST, available=False),
        ProcessesFact(
            host=HOST,
            conditions=[
                ProcessCondition(
                    condition="fz-mover",
                    running=True,
                    processes=[ProcessSeen(pid=7, name="mover")],
                )
            ],
        ),
        DesiredState(host=HOST, seq=1, lease_seconds=30),
        GovernorMemory(
            host=HOST, switches=Switches(media_forced=True), rules={"thermal": {"stage": 1}}
        ),
        Action(host=HOST, kind="restart", container="fz-t3", reasons=[Reason(rule="x")]),
        Applied(host=HOST, mode="baseline"),
        Event(host=HOST, kind="refusal", source="actuator", message="m"),
        ResourceSettings(host=HOST, cpu_threshold_percent=80.0, nice=10),
        Overrides(
            host=HOST,
            items=[Override(kind="unthrottle", container="fz-t3", since=1.0, until=2e9)],
        ),
        LastDecision(host=HOST, container="fz-t3", action="enforce", summary="s"),
        RuleCatalogue(
            host=HOST,
            cards=[
                ReasonCard(
                    reason="r",
                    rule="r",
                    title="t",
                    controls={"3": ["paused"]},
                    thresholds=[HostThreshold(metric="io.some_avg10", above=1, effect="e")],
                )
            ],
        ),
        IncidentLog(
            host=HOST,
            incidents=[
                Incident(
                    id="stall-io-1",
                    kind="stall",
                    resource="io",
                    started_at=1.0,
                    waiters=[Waiter(name="fz-t1", peak_percent=40)],
                    contenders=[Contender(name="fz-t3", kind="container", score=1e6)],
                    stall=[SharePoint(t=1.0, percent=40)],
                )
            ],
        ),
    )
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
words = st.sampled_from(
    ["online", "offline", "media_start", "tier3_pause", "balanced", "PRESS", "", "{}", "null"]
)


def mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """value with the leaf that path picks (indices into sorted keys / items) replaced."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = sorted(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = mutate(value[key], path[1:], replacement)
    return copy


@st.composite
def payloads(draw: st.DrawFn, model: type[BaseModel] | None) -> bytes:
    kinds = ["bytes", "json", "word"] + (["mutated"] if model is not None else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "word":
        return draw(words).encode()
    assert model is not None
    if model not in EXAMPLES:
        pytest.fail(f"add a {model.__name__} to EXAMPLES")
    seed = EXAMPLES[model].model_dump(mode="json")
    path = draw(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=4))
    return json.dumps(mutate(seed, path, draw(json_values))).encode()


def concrete(topic_filter: str) -> str:
    return topic_filter.replace("+", HOST).replace("#", "x")


def subscriptions(service: LiveService) -> list[tuple[str, type[BaseModel] | None]]:
    return [
        (concrete(sub.topic_filter), getattr(sub.decode, "model", None))
        for sub in service.bus._subscriptions
    ]


def write_fuzz_config(tmp: Path, broker: Mosquitto, root: str) -> Path:
    key = tmp / "signing.key"
    if not key.exists():
        key.write_text(new_key())
        key.chmod(0o600)
    return write_config(
        tmp / f"{root}.yaml",
        {
            "host_id": HOST,
            "mqtt": {"host": broker.host, "port": broker.port, "topic_root": root},
            "tiers": {1: {"containers": ["fz-t1"]}, 3: {"containers": ["fz-t3"]}},
            "media_mode": {"enabled": True, "provider": "webhook"},
            "notifications": {"outbox_file": str(tmp / f"{root}-outbox.json")},
            "actuator": {"state_file": str(tmp / f"{root}-state.json"), "resync_seconds": 3600},
            "security": {"signing_key_file": str(key)},
            "sensors": {"psi_triggers": False},
            "web": {"database": str(tmp / f"{root}-web.sqlite3")},
            # Renewals far apart: what a service publishes in a test is the test's doing.
            "governor": {"lease_seconds": 3600},
            # A topic outside the root that the governor reads as a condition's value.
            "conditions": [
                {
                    "name": "fz-price",
                    "mqtt": {"topic": f"{root}-ha/price", "above": 0.3},
                    "pause_tier3": True,
                }
            ],
        },
    )


BUILDERS: dict[ServiceName, Callable[[ServiceContext], object]] = {
    "governor": GovernorService,
    "actuator": start_actuator,
    "notifier": NotifierService,
    "web": lambda ctx: WebService(ctx, serve=False),
}


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, broker: Mosquitto, docker_api: docker.APIClient
) -> Iterator[dict[ServiceName, LiveService]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    built = {
        name: live(name, write_fuzz_config(tmp, broker, f"fuzz-{name}"), make)
        for name, make in BUILDERS.items()
    }
    governor = built["governor"].service
    assert isinstance(governor, GovernorService)
    # Past its wait for a retained state to restore: its memory moves only on inputs now.
    wait_until(lambda: governor.ready, what="the governor ready")
    yield built
    for service in built.values():
        service.stop()


def test_the_sensors_take_no_input_from_the_bus(tmp_path: Path, broker: Mosquitto) -> None:
    """Only what it subscribes to is asked: a bus never started is enough (no broker)."""
    sensors = build("sensors", write_fuzz_config(tmp_path, broker, "fuzz-sensors"), SensorsService)
    try:
        assert sensors.bus._subscriptions == []
    finally:
        sensors.stop()


def test_every_service_with_inputs_is_covered(services: dict[ServiceName, LiveService]) -> None:
    subscribed = {name: len(subscriptions(s)) for name, s in services.items()}
    assert all(subscribed[n] > 0 for n in FUZZED), subscribed


FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


FUZZED: tuple[ServiceName, ...] = ("governor", "actuator", "notifier", "web")


@pytest.mark.parametrize("name", FUZZED)
@FUZZ
@given(data=st.data())
def test_garbage_is_dropped_without_a_trace(
    services: dict[ServiceName, LiveService], name: ServiceName, data: st.DataObject
) -> None:
    service = services[name]
    topic, model = data.draw(st.sampled_from(subscriptions(service)))
    payload = data.draw(payloads(model))
    ran = len(service.bus.deliveries(topic, payload, False))
    memory = getattr(service.service, "memory", None)
    service.send(topic, payload)  # through the broker; an exception in a handler fails it
    if ran == 0:
        # Not even decoded: nothing remembered.
        assert getattr(service.service, "memory", None) == memory


@FUZZ
@given(data=st.data())
def test_nothing_a_stranger_writes_moves_a_keyed_actuator(
    services: dict[ServiceName, LiveService], containers: Containers, data: st.DataObject
) -> None:
    service = services["actuator"]
    actuator = service.service
    assert isinstance(actuator, ActuatorService)
    topic, model = data.draw(st.sampled_from(subscriptions(service)))
    service.send(topic, data.draw(payloads(model)))
    assert actuator.lease is None
    assert actuator.applier.store.restarts.action_ids == []
    actions = [p for p in service.published if p.topic.endswith(("/desired", "/actions"))]
    assert actions == []
