"""What the security tests forge and watch: an actuator's config with a container in every
tier, forged intents and desired states, and the actuator's answers on the real broker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shared.messages import Applied, ContainerIntent, DesiredState, Event, Reason
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import write_config

SENDER = "0123456789abcdef"


def actuator_config(
    tmp_path: Path, containers: Containers, host_id: str, mqtt: dict, **security: str
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": mqtt,
            "tiers": {
                0: {"containers": [containers.name("core")]},
                1: {"containers": [containers.name("stream")]},
                2: {"containers": [containers.name("t2")]},
                3: {"containers": [containers.name("t3"), containers.name("prot")]},
            },
            "protected_containers": [containers.name("prot")],
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            "security": security,
        },
    )


def intent(tier: int, rule: str = "media_mode") -> ContainerIntent:
    return ContainerIntent(tier=tier, paused=True, reasons=[Reason(rule=rule)])


def pausing(host_id: str, seq: int, **intents: ContainerIntent) -> DesiredState:
    return DesiredState(host=host_id, seq=seq, lease_seconds=30, containers=intents)


def applied(
    probe: Probe, host_id: str, check: Callable[[Applied], bool], after: float = 0.0
) -> Applied:
    seen = probe.wait_for(
        f"warden/{host_id}/applied",
        lambda s: check(Applied.model_validate_json(s.payload)),
        after=after,
    )
    return Applied.model_validate_json(seen.payload)


def refused(probe: Probe, host_id: str, target: str, words: str) -> None:
    applied(
        probe, host_id, lambda a: any(r.target == target and words in r.reason for r in a.refusals)
    )
    probe.wait_for(
        f"warden/{host_id}/events",
        lambda s: (
            (e := Event.model_validate_json(s.payload)).kind == "refusal"
            and target in e.message
            and words in e.message
        ),
    )


def online(probe: Probe, host_id: str) -> None:
    probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
