"""What each managed container should be at: its tier baseline, overlaid by the desired state.

Pure. The actuator's own safety rules are enforced here, whatever the governor
says: what each tier allows (services/actuator/safety.py), nothing outside the
config is targeted, and limits are clamped to sane bounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

from host.docker.view import DockerContainer
from services.actuator.safety import vet_intent
from shared.config.model import WardenConfig
from shared.messages import AppliedContainer, CpuMax, DesiredState, IoMax, Refusal
from shared.tier_matcher import TierMatcher

MIN_CPU_QUOTA_US = 1000
LIVE_STATES = ("running", "paused")


@dataclass(frozen=True)
class Settings:
    """The values Warden controls on a container."""

    cpu_weight: int
    io_weight: int
    memory_high: int | None  # None: no limit ("max")
    memory_max: int | None  # None: not managed (Docker cannot lift a limit once set)
    cpu_max: CpuMax | None = None  # None: no limit
    io_max: IoMax | None = None  # None: no limit
    cpu_idle: bool = False  # the idle scheduling class (cgroup cpu.idle)


@dataclass(frozen=True)
class Target:
    container: DockerContainer
    tier: int
    paused: bool
    settings: Settings
    reasons: tuple[str, ...] = ()

    def report(self) -> AppliedContainer:
        """What the applied state says of it: the one conversion, every setting by name."""
        return AppliedContainer(
            name=self.container.name,
            id=self.container.id,
            tier=self.tier,
            paused=self.paused,
            reasons=list(self.reasons),
            **asdict(self.settings),
        )


def baseline(cfg: WardenConfig, tier: int) -> Settings:
    t = cfg.tier(tier)
    return Settings(t.cpu_weight, t.io_weight, t.memory_high, t.memory_max)


def plan(
    containers: Iterable[DockerContainer],
    desired: DesiredState | None,
    cfg: WardenConfig,
    matcher: TierMatcher,
) -> tuple[list[Target], list[Refusal]]:
    targets: list[Target] = []
    refusals: list[Refusal] = []
    intents = dict(desired.containers) if desired else {}
    for container in containers:
        tier = matcher.tier_of(container.name)
        if tier is None or container.state not in LIVE_STATES:
            continue
        base = baseline(cfg, tier)
        intent = intents.pop(container.name, None)
        if intent is None:
            targets.append(Target(container, tier, False, base))
            continue
        vetted = vet_intent(intent, tier, matcher.is_protected(container.name))
        refusals += [Refusal(target=container.name, reason=r) for r in vetted.refusals]
        if vetted.intent is None:
            targets.append(Target(container, tier, False, base))
            continue
        intent = vetted.intent
        settings = base
        notes = [str(r) for r in intent.reasons]
        if intent.memory_high is not None:
            high = max(intent.memory_high, cfg.actuator.min_memory_high)
            if high != intent.memory_high:
                notes.append(f"memory.high clamped to {high}")
            if base.memory_max is not None and high > base.memory_max:
                high = base.memory_max
            settings = replace(settings, memory_high=high)
        if intent.cpu_max is not None:
            quota = max(intent.cpu_max.quota_us, MIN_CPU_QUOTA_US)
            settings = replace(
                settings, cpu_max=CpuMax(quota_us=quota, period_us=intent.cpu_max.period_us)
            )
        if intent.io_max is not None:
            settings = replace(settings, io_max=intent.io_max)
        if intent.cpu_idle:
            settings = replace(settings, cpu_idle=True)
        targets.append(Target(container, tier, intent.paused, settings, tuple(notes)))
    for name in sorted(intents):
        if matcher.tier_of(name) is None:
            refusals.append(Refusal(target=name, reason="not in any tier of the config"))
    return targets, refusals
