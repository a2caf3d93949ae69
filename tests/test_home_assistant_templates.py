"""Every discovery template rendered as Home Assistant renders it: Jinja2, sandboxed.

A template that reads a known value must give Home Assistant a number (or ON /
OFF); one that reads an unknown value must give "None", which Home Assistant's
MQTT entities take as unknown. Never 0 for unknown.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.notifier.home_assistant.discovery import build_entities
from services.notifier.home_assistant.states import HaState
from shared import channels
from shared.config.model import WardenConfig
from shared.messages import (
    DesiredState,
    GovernorMemory,
    GovernorStatus,
    PressureFact,
    PressureLine,
    ResourcePressure,
    ScheduleStatus,
    Switches,
)
from shared.messages.decision import LastDecision
from shared.messages.facts import GpuDevice, GpuFact, StreamsFact, TemperatureReading, ThermalFact
from shared.messages.incidents import IncidentLog
from shared.topics import Topics
from tests.support.incidents import made

HOST = "nas"
TOPICS = Topics("warden", HOST)
ENV = ImmutableSandboxedEnvironment()
LINE = PressureLine(avg10=12.5, avg60=3, avg300=1, total=99)
BOTH = ResourcePressure(some=LINE, full=LINE)

# topic -> (a payload with every value known, a payload with them unknown or None)
SAMPLES: dict[str, tuple[str, str | None]] = {
    channels.PRESSURE.topic_for(TOPICS): (
        PressureFact(host=HOST, cpu=BOTH, memory=BOTH, io=BOTH).model_dump_json(),
        PressureFact(host=HOST).model_dump_json(),
    ),
    channels.THERMAL.topic_for(TOPICS): (
        ThermalFact(
            host=HOST,
            available=True,
            hottest="coretemp/Package id 0",
            max_celsius=61.5,
            sensors=[
                TemperatureReading(
                    name="coretemp/Package id 0", source="hwmon0", celsius=61.5, selected=True
                )
            ],
        ).model_dump_json(),
        ThermalFact(host=HOST, available=False, reason="no sensors").model_dump_json(),
    ),
    channels.GPU.topic_for(TOPICS): (
        GpuFact(
            host=HOST,
            available=True,
            gpus=[
                GpuDevice(
                    vendor="nvidia",
                    index=0,
                    source="nvml",
                    utilization_percent=40,
                    temperature_celsius=55,
                ),
                GpuDevice(vendor="amd", index=1, source="sysfs", temperature_celsius=70),
            ],
        ).model_dump_json(),
        GpuFact(host=HOST, available=False, reasons=["no GPU"]).model_dump_json(),
    ),
    channels.STREAMS.topic_for(TOPICS): (
        StreamsFact(
            host=HOST, provider="jellyfin", source="jellyfin api", count=2
        ).model_dump_json(),
        StreamsFact(
            host=HOST,
            provider="jellyfin",
            source="jellyfin api",
            count=None,
            error="connection refused",
        ).model_dump_json(),
    ),
    channels.HA_STATE.topic_for(TOPICS): (
        HaState(paused=2, throttled=1, thermal_stage=1).model_dump_json(),
        HaState().model_dump_json(),
    ),
    channels.DESIRED.topic_for(TOPICS): (
        DesiredState(
            host=HOST,
            seq=1,
            lease_seconds=30,
            media_mode=True,
        ).model_dump_json(),
        None,
    ),
    channels.GOVERNOR_MEMORY.topic_for(TOPICS): (
        GovernorMemory(host=HOST, switches=Switches(media_forced=True)).model_dump_json(),
        None,
    ),
    channels.INCIDENTS.topic_for(TOPICS): (
        made(HOST, 1_700_000_000).model_dump_json(),
        IncidentLog(host=HOST).model_dump_json(),
    ),
    channels.DECISION.topic_for(TOPICS): (
        LastDecision(
            host=HOST,
            container="tdarr",
            action="enforce",
            summary="tdarr paused: media mode",
            reasons=["media_mode"],
        ).model_dump_json(),
        None,
    ),
}


def render(template: str, payload: str) -> str:
    return ENV.from_string(template).render(value=payload, value_json=json.loads(payload)).strip()


def templated() -> list[tuple[str, str, dict[str, Any]]]:
    entities = build_entities(WardenConfig(host_id=HOST), HOST, "test")
    return [
        (key, e.component, e.config) for key, e in entities.items() if "value_template" in e.config
    ]


@pytest.mark.parametrize(("key", "component", "config"), templated(), ids=lambda v: str(v)[:30])
def test_templates_render_known_values_and_unknown_as_none(
    key: str, component: str, config: dict[str, Any]
) -> None:
    known, unknown = SAMPLES[config["state_topic"]]
    shown = render(config["value_template"], known)
    if component in ("binary_sensor", "switch"):
        assert shown in ("ON", "OFF"), (key, shown)
    elif "unit_of_measurement" in config or "state_class" in config:
        float(shown)  # a number Home Assistant can chart
    else:
        assert shown and shown != "None", (key, shown)
    if unknown is not None:
        assert render(config["value_template"], unknown) == "None", key
    if "json_attributes_template" in config:
        assert isinstance(json.loads(render(config["json_attributes_template"], known)), dict)


def test_the_expected_values_come_through() -> None:
    entities = build_entities(WardenConfig(host_id=HOST), HOST, "test")

    def shown(key: str) -> str:
        config = entities[key].config
        return render(config["value_template"], SAMPLES[config["state_topic"]][0])

    assert float(shown("memory_some_avg10")) == 12.5
    assert float(shown("hottest_temperature")) == 61.5
    assert float(shown("gpu_utilization")) == 40  # the AMD card's is unknown, not 0
    assert float(shown("gpu_temperature")) == 70
    assert float(shown("active_streams")) == 2
    assert shown("media_mode") == "ON"


def test_schedule_templates() -> None:
    """The switch is ON unless switched off; the next change is a time, or None (unknown)."""
    cfg = WardenConfig.model_validate(
        {
            "host_id": HOST,
            "schedules": [
                {
                    "name": "night-work",
                    "windows": [{"start": "23:00", "end": "07:00"}],
                    "mode": "run_inside",
                    "tiers": [3],
                }
            ],
        }
    )
    entities = build_entities(cfg, HOST, "test")
    switch = entities["schedule_night_work"].config
    sensor = entities["schedule_night_work_next_change"].config
    status = GovernorStatus(
        schedules={
            "night-work": ScheduleStatus(
                inside=False, next_change="2024-06-12T23:00:00+02:00", summary="tier 3 ..."
            )
        }
    )
    on = GovernorMemory(host=HOST, status=status).model_dump_json()
    off = GovernorMemory(
        host=HOST,
        switches=Switches(schedules_off=["night-work"]),
        status=GovernorStatus(schedules={"night-work": ScheduleStatus(enabled=False)}),
    ).model_dump_json()
    before = GovernorMemory(host=HOST).model_dump_json()  # a governor before the schedule
    assert [render(switch["value_template"], p) for p in (on, off, before)] == ["ON", "OFF", "ON"]
    assert [render(sensor["value_template"], p) for p in (on, off, before)] == [
        "2024-06-12T23:00:00+02:00",
        "None",
        "None",
    ]
    attributes = json.loads(render(switch["json_attributes_template"], on))
    assert attributes["next_change"] == "2024-06-12T23:00:00+02:00"
    assert json.loads(render(switch["json_attributes_template"], before)) == {}


def test_the_last_incident_sensor_shows_the_newest_incident_s_sentence() -> None:
    entity = build_entities(WardenConfig(host_id=HOST), HOST, "test")["last_incident"].config
    log = made(HOST, 1_700_000_000)
    closed = IncidentLog(host=HOST, incidents=log.incidents[1:])
    payload = closed.model_dump_json()
    (incident,) = closed.incidents
    assert render(entity["value_template"], payload) == incident.sentence
    assert len(incident.sentence) <= 255
    attributes = json.loads(render(entity["json_attributes_template"], payload))
    assert attributes == {
        "sentence": incident.sentence,
        "id": incident.id,
        "kind": "stall",
        "resource": "io",
        "open": False,
        "started_at": incident.started_at,
        "ended_at": incident.ended_at,
        "waiters": ["jellyfin"],
        "peak_percent": 38.0,
        "top_contender": "tdarr",
        "first_action": "tdarr: io.max 12 MB/s on 8:0",
        "time_to_action_seconds": incident.time_to_action_seconds,
        "cleared_after_action": True,
    }
    # The newest is the open one while it goes on; a longer sentence is cut to a state's
    # 255 characters, whole in the attribute.
    assert render(entity["value_template"], log.model_dump_json()) == log.incidents[0].sentence
    long = incident.model_copy(update={"sentence": "x" * 400})
    payload = IncidentLog(host=HOST, incidents=[long]).model_dump_json()
    assert render(entity["value_template"], payload) == "x" * 255
    assert json.loads(render(entity["json_attributes_template"], payload))["sentence"] == "x" * 400
