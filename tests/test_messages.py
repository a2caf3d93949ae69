"""Message models and topic names: the contract between the four processes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from shared import channels
from shared.bus import model_decoder, text_decoder
from shared.messages import (
    ContainerIntent,
    DesiredState,
    Event,
    PayloadError,
    PressureFact,
    Reason,
    TriggerError,
    parse_trigger,
)
from shared.topics import Topics


def test_topics_hang_under_root_and_host() -> None:
    t = Topics("warden", "nas")
    assert channels.PRESSURE.topic_for(t) == "warden/nas/sensors/pressure"
    assert channels.CONTAINERS.topic_for(t) == "warden/nas/sensors/containers"
    assert channels.DESIRED.topic_for(t) == "warden/nas/desired"
    assert channels.ACTIONS.topic_for(t) == "warden/nas/actions"
    assert channels.APPLIED.topic_for(t) == "warden/nas/applied"
    assert channels.EVENTS.topic_for(t) == "warden/nas/events"
    assert channels.TRIGGER.topic_for(t) == "warden/nas/trigger"
    assert channels.TRIGGER_ALL_HOSTS.topic_for(t) == "warden/trigger"
    assert (
        channels.AVAILABILITY.topic_for(t, service="actuator") == "warden/nas/actuator/availability"
    )
    assert channels.DESIRED.topic_for(Topics("home/warden", "pi5")) == "home/warden/pi5/desired"


def _desired() -> DesiredState:
    return DesiredState(
        host="nas",
        seq=3,
        lease_seconds=30,
        media_mode=True,
        containers={
            "tdarr": ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="media_mode")])
        },
    )


def test_desired_state_round_trips() -> None:
    desired = _desired()
    decoded = model_decoder(DesiredState)(desired.model_dump_json().encode())
    assert decoded == desired


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.pop("host"), "host: Field required"),
        (lambda d: d.update(lease_seconds=0), "lease_seconds"),
        (lambda d: d["containers"]["tdarr"].update(tier=0), "containers.tdarr.tier"),
        (lambda d: d["containers"]["tdarr"].update(reasons=[]), "containers.tdarr.reasons"),
        (lambda d: d["containers"]["tdarr"].update(memory_high=-5), "memory_high"),
        (lambda d: d.update(extra="x"), "extra: Extra inputs are not permitted"),
        (
            lambda d: d["containers"]["tdarr"].update(io_max={"disks": {"sda": {"read_bps": 1}}}),
            "containers.tdarr.io_max.disks.sda.\\[key\\]: String should match pattern",
        ),
        (
            lambda d: d["containers"]["tdarr"].update(io_max={"disks": {"8:0": {"write_bps": 0}}}),
            "containers.tdarr.io_max.disks.8:0.write_bps",
        ),
    ],
)
def test_invalid_desired_states_are_refused_with_the_reason(
    mutate: Callable[[dict[str, Any]], object], reason: str
) -> None:
    data = json.loads(_desired().model_dump_json())
    mutate(data)
    with pytest.raises(PayloadError, match=reason):
        model_decoder(DesiredState)(json.dumps(data).encode())


@pytest.mark.parametrize("payload", [b"", b"not json", b"[]", b"\xff\xfe", b'{"host": 1}'])
def test_garbage_is_a_payload_error(payload: bytes) -> None:
    with pytest.raises(PayloadError, match="PressureFact"):
        model_decoder(PressureFact)(payload)


def test_events_only_carry_known_kinds() -> None:
    body = {"host": "nas", "kind": "media_mode_activated", "source": "governor", "message": "m"}
    assert model_decoder(Event)(json.dumps(body).encode()).kind == "media_mode_activated"
    with pytest.raises(PayloadError, match="kind"):
        model_decoder(Event)(json.dumps({**body, "kind": "rm -rf"}).encode())


@pytest.mark.parametrize(
    ("payload", "event"),
    [
        (b'{"event": "media_start"}', "media_start"),
        (b'{"event":"tier3_pause"}', "tier3_pause"),
        (b"media_stop", "media_stop"),
        (b" tier3_resume\n", "tier3_resume"),
        (b'"media_start"', "media_start"),
        (b"MEDIA_START", "media_start"),
    ],
)
def test_triggers_accept_adrg_json_or_a_bare_word(payload: bytes, event: str) -> None:
    assert parse_trigger(payload).event == event


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"event": "reboot"}', "event"),
        (b'{"evnt": "media_start"}', "event: Field required"),
        (b"{not json", "Invalid JSON"),
        (b"explode", "unknown trigger 'explode'"),
        (b"", "unknown trigger ''"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_bad_triggers_say_why(payload: bytes, reason: str) -> None:
    with pytest.raises(TriggerError, match=reason):
        parse_trigger(payload)


def test_availability_is_plain_text() -> None:
    decode = text_decoder("online", "offline")
    assert decode(b"online") == "online"
    with pytest.raises(PayloadError, match="expected one of online, offline"):
        decode(b"maybe")
