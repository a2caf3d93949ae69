"""The actuator's plan: baselines, overlays, and its own safety rules whatever the bus says."""

from __future__ import annotations

from collections.abc import Iterable

from host.docker.view import DockerContainer
from services.actuator.plan import Settings, Target, baseline, plan
from shared.config.model import WardenConfig
from shared.messages import ContainerIntent, CpuMax, DesiredState, Reason

GIB = 1024**3
CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {
            0: {"containers": ["pihole"], "cpu_weight": 1000, "io_weight": 1000},
            1: {
                "containers": ["jellyfin"],
                "cpu_weight": 800,
                "memory_high": "3G",
                "memory_max": "4G",
            },
            3: {
                "containers": ["tdarr*", "kopia"],
                "cpu_weight": 10,
                "io_weight": 10,
                "memory_high": "2G",
                "memory_max": "3G",
            },
        },
        "protected_containers": ["kopia"],
    }
)
MATCHER = CFG.tier_matcher()
WHY = [Reason(rule="test")]


def running(*names: str, state: str = "running") -> list[DockerContainer]:
    return [DockerContainer(n * 4, n, state, 100 + i) for i, n in enumerate(names)]


def desired(**intents: ContainerIntent) -> DesiredState:
    return DesiredState(host="h", seq=1, lease_seconds=30, containers=intents)


def by_name(targets: Iterable[Target]) -> dict[str, Target]:
    return {t.container.name: t for t in targets}


def test_no_desired_state_means_tier_baselines_for_managed_containers_only() -> None:
    targets, refusals = plan(running("pihole", "jellyfin", "tdarr", "stranger"), None, CFG, MATCHER)
    t = by_name(targets)
    assert sorted(t) == ["jellyfin", "pihole", "tdarr"]  # never anything outside the config
    assert t["pihole"].settings == Settings(1000, 1000, None, None)
    assert t["tdarr"].settings == Settings(10, 10, 2 * GIB, 3 * GIB)
    assert not any(x.paused for x in targets) and refusals == []


def test_exited_containers_are_left_alone() -> None:
    targets, _ = plan(running("tdarr", state="exited"), None, CFG, MATCHER)
    assert targets == []


def test_intent_overlays_the_baseline() -> None:
    intent = ContainerIntent(
        tier=3, paused=True, memory_high=GIB, cpu_max=CpuMax(quota_us=50_000), reasons=WHY
    )
    targets, refusals = plan(running("tdarr"), desired(tdarr=intent), CFG, MATCHER)
    t = targets[0]
    assert (
        t.paused and t.settings.memory_high == GIB and t.settings.cpu_max == CpuMax(quota_us=50_000)
    )
    assert t.settings.cpu_weight == 10 and t.reasons == ("test",)
    assert refusals == []


def test_protected_and_tier0_and_strangers_are_refused_and_kept_at_baseline() -> None:
    forged = desired(
        kopia=ContainerIntent(tier=3, paused=True, reasons=WHY),
        pihole=ContainerIntent(tier=1, paused=True, reasons=WHY),
        stranger=ContainerIntent(tier=3, paused=True, reasons=WHY),
    )
    targets, refusals = plan(running("kopia", "pihole", "stranger"), forged, CFG, MATCHER)
    assert not any(t.paused for t in targets)
    reasons = {r.target: r.reason for r in refusals}
    assert "protected" in reasons["kopia"]
    assert "protected" in reasons["pihole"]  # tier 0 is protected whatever the intent says
    assert reasons["stranger"] == "not in any tier of the config"


def test_tier_mismatch_is_refused() -> None:
    targets, refusals = plan(
        running("jellyfin"),
        desired(jellyfin=ContainerIntent(tier=3, paused=True, reasons=WHY)),
        CFG,
        MATCHER,
    )
    assert not targets[0].paused
    assert refusals[0].reason == "desired says tier 3, config says tier 1"


def test_limits_are_clamped_to_sane_bounds() -> None:
    intent = ContainerIntent(tier=3, memory_high=1024, cpu_max=CpuMax(quota_us=1), reasons=WHY)
    t = plan(running("tdarr"), desired(tdarr=intent), CFG, MATCHER)[0][0]
    assert t.settings.memory_high == CFG.actuator.min_memory_high
    assert t.settings.cpu_max is not None and t.settings.cpu_max.quota_us == 1000
    # memory.high never above the tier's memory.max
    intent = ContainerIntent(tier=3, memory_high=64 * GIB, reasons=WHY)
    t = plan(running("tdarr"), desired(tdarr=intent), CFG, MATCHER)[0][0]
    assert t.settings.memory_high == 3 * GIB


def test_baseline_of_an_unconfigured_tier_is_the_kernel_default() -> None:
    assert baseline(CFG, 2) == Settings(100, 100, None, None)
