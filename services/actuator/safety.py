"""What the actuator lets anyone do to a container, whatever the desired state says. Pure.

The tier comes from the actuator's own config, never from the message. The
table below is every change ADRG's rules and Warden's own ever ask for; a
request outside it is refused with the reason, and the rest of the desired
state is applied as usual. A correct governor never trips these checks: they
are what stands between a forged or buggy message and the stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import ContainerIntent, Reason

# A rule name in this set may ask for the change; ANY_RULE: any reason will do.
ANY_RULE: frozenset[str] | None = None
NO_RULE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TierAllowance:
    """What may be done to a container of one tier, and on whose reason."""

    limits: bool  # memory.high, cpu.max, io.max, cpu.idle
    pause_rules: frozenset[str] | None
    restart_rules: frozenset[str] | None


NOTHING = TierAllowance(limits=False, pause_rules=NO_RULE, restart_rules=NO_RULE)

ALLOWED: dict[int, TierAllowance] = {
    # Tier 0 (and protected containers): the host's own essentials. Tier 1: the stream.
    0: NOTHING,
    1: NOTHING,
    # Tier 2 is limited during media mode and I/O protection; it is paused only at
    # thermal stage 2 and while a hardware transcode has its GPU (gpu_share), and restarted
    # only when memory emergency finds no tier 3 left.
    2: TierAllowance(
        limits=True,
        pause_rules=frozenset({"thermal_stage2", "gpu_share"}),
        restart_rules=frozenset({"memory_emergency_restart"}),
    ),
    3: TierAllowance(limits=True, pause_rules=ANY_RULE, restart_rules=ANY_RULE),
}


PROTECTED = "protected (tier 0 or protected_containers)"


def _permits(rules: frozenset[str] | None, reasons: list[Reason]) -> bool:
    return rules is None or any(r.rule in rules for r in reasons)


def _needs(rules: frozenset[str] | None) -> str:
    return "never" if not rules else f"only for {', '.join(sorted(rules))}"


@dataclass(frozen=True)
class Vetted:
    """The part of an intent the actuator will carry out (None: the baseline), and why not
    the rest."""

    intent: ContainerIntent | None
    refusals: list[str]


def vet_intent(intent: ContainerIntent, tier: int, protected: bool) -> Vetted:
    """Strip from the intent whatever its container's tier does not allow."""
    if protected:
        return Vetted(None, [PROTECTED])
    if intent.tier != tier:
        return Vetted(None, [f"desired says tier {intent.tier}, config says tier {tier}"])
    allowed = ALLOWED.get(tier, NOTHING)
    label = f"tier {tier}"
    refusals: list[str] = []
    update: dict[str, object] = {}
    if intent.paused and not _permits(allowed.pause_rules, intent.reasons):
        rules = ", ".join(sorted({r.rule for r in intent.reasons}))
        refusals.append(f"pause refused ({label}: {_needs(allowed.pause_rules)}; asked by {rules})")
        update["paused"] = False
    limits = [
        name
        for name, value in (
            ("memory.high", intent.memory_high),
            ("cpu.max", intent.cpu_max),
            ("io.max", intent.io_max),
            ("cpu.idle", intent.cpu_idle or None),
        )
        if value is not None
    ]
    if limits and not allowed.limits:
        refusals.append(f"{', '.join(limits)} refused ({label}: never limited)")
        update.update(memory_high=None, cpu_max=None, io_max=None, cpu_idle=False)
    vetted = intent.model_copy(update=update) if update else intent
    enforces = (
        vetted.paused
        or vetted.cpu_idle
        or any(v is not None for v in (vetted.memory_high, vetted.cpu_max, vetted.io_max))
    )
    return Vetted(vetted if enforces else None, refusals)


def restart_refusal(tier: int, protected: bool, reasons: list[Reason]) -> str | None:
    """Why a restart of this container is refused by its tier, or None."""
    if protected:
        return PROTECTED
    allowed = ALLOWED.get(tier, NOTHING)
    if _permits(allowed.restart_rules, reasons):
        return None
    return f"tier {tier}: restarted {_needs(allowed.restart_rules)}"
