"""What the actuator lets a desired state do to each tier: one table of cases. Pure."""

from __future__ import annotations

from typing import Unpack

import pytest

from host.docker.view import DockerContainer
from services.actuator.plan import plan
from services.actuator.safety import vet_intent
from shared.config.model import WardenConfig
from shared.messages import ContainerIntent, CpuMax, DesiredState, IoMax, Reason
from tests.support.intents import Limits

MEDIA = [Reason(rule="media_mode", detail="1 stream")]
GPU = [Reason(rule="gpu_share", detail="GPU 0: hardware transcode of 'Dune'")]
STAGE2 = [Reason(rule="thermal_stage2", metric="temperature_c", value=90, threshold=85)]


LIMITS: Limits = {
    "memory_high": 300 * 1024**2,
    "cpu_max": CpuMax(quota_us=1000),
    "io_max": IoMax(read_bps=10),
    "cpu_idle": True,
}


def intent(
    tier: int, paused: bool = False, reasons: list[Reason] = MEDIA, **limits: Unpack[Limits]
) -> ContainerIntent:
    return ContainerIntent(tier=tier, paused=paused, reasons=reasons, **limits)


@pytest.mark.parametrize(
    ("asked", "tier", "protected", "kept", "refused"),
    [
        # Tier 3: anything a rule asks for.
        (intent(3, paused=True), 3, False, intent(3, paused=True), None),
        (intent(3, **LIMITS), 3, False, intent(3, **LIMITS), None),
        # Tier 2: limits; a pause only at thermal stage 2 and for a hardware transcode.
        (intent(2, **LIMITS), 2, False, intent(2, **LIMITS), None),
        (intent(2, paused=True, reasons=STAGE2), 2, False, intent(2, True, STAGE2), None),
        (intent(2, paused=True, reasons=GPU), 2, False, intent(2, True, GPU), None),
        (intent(2, paused=True), 2, False, None, "pause refused (tier 2: only for gpu_share, "),
        (
            intent(2, paused=True, cpu_max=CpuMax(quota_us=5000)),
            2,
            False,
            intent(2, cpu_max=CpuMax(quota_us=5000)),  # the limit stays, the pause goes
            "asked by media_mode",
        ),
        # Tier 1: never paused, never limited.
        (intent(1, paused=True), 1, False, None, "pause refused (tier 1: never"),
        (intent(1, **LIMITS), 1, False, None, "cpu.max, io.max, cpu.idle refused (tier 1"),
        (intent(1, cpu_idle=True), 1, False, None, "cpu.idle refused (tier 1: never limited)"),
        (intent(1, paused=True, reasons=STAGE2), 1, False, None, "pause refused"),
        # Protected and tier 0: nothing at all.
        (intent(3, paused=True), 3, True, None, "protected"),
        (intent(1, **LIMITS), 0, True, None, "protected"),
        # The tier is the config's, never the message's.
        (intent(3, paused=True), 1, False, None, "desired says tier 3, config says tier 1"),
    ],
)
def test_vet_intent(
    asked: ContainerIntent,
    tier: int,
    protected: bool,
    kept: ContainerIntent | None,
    refused: str | None,
) -> None:
    vetted = vet_intent(asked, tier, protected)
    assert vetted.intent == kept
    if refused is None:
        assert vetted.refusals == []
    else:
        assert len(vetted.refusals) == 1 and refused in vetted.refusals[0]


CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {
            0: {"containers": ["pihole"]},
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["sonarr"]},
            3: {"containers": ["tdarr"]},
        },
    }
)


def test_one_refused_entry_does_not_block_the_rest() -> None:
    containers = [DockerContainer(n * 4, n, "running", 1) for n in ("jellyfin", "sonarr", "tdarr")]
    forged = DesiredState(
        host="h",
        seq=1,
        lease_seconds=30,
        containers={
            "jellyfin": intent(1, paused=True),
            "sonarr": intent(2, paused=True),
            "tdarr": intent(3, paused=True),
        },
    )
    targets, refusals = plan(containers, forged, CFG, CFG.tier_matcher())
    paused = {t.container.name: t.paused for t in targets}
    assert paused == {"jellyfin": False, "sonarr": False, "tdarr": True}
    assert {r.target for r in refusals} == {"jellyfin", "sonarr"}
