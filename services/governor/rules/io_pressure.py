"""I/O pressure (ADRG rule 3): cap tier 3's bandwidth with io.max while io some_avg10 is high.

Above trigger_avg10_threshold the cap goes on. It comes off only after
some_avg10 has stayed below recovery_avg10_threshold for recovery_hold_seconds;
any reading from the recovery threshold up starts that hold again, so a value
hovering at either edge cannot flap it. Unknown pressure (no io line, no fact,
or a stale one) neither throttles nor releases, and a hold in progress starts
again: only time known to be calm counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.model import IoPressure
from shared.messages import GovernorMemory, IoMax, PressureFact, Reason
from shared.units import MB_PER_SEC

METRIC = "io.some_avg10"


@dataclass(frozen=True)
class IoOutcome:
    memory: GovernorMemory
    limit: IoMax | None = None  # tier 3's io.max while throttled
    reason: Reason | None = None
    wake_at: float | None = None


def io_pressure(
    cfg: IoPressure, memory: GovernorMemory, pressure: PressureFact | None, now: float
) -> IoOutcome:
    """pressure: the latest fresh system-wide fact; None when unknown.

    The host's io trigger is armed at the trigger threshold's share of the PSI window:
    its firing is the stall above the threshold, seen before avg10 has caught up.
    """
    if not cfg.enabled:
        cleared = memory.model_copy(update={"io_throttled": False, "io_recovery_since": None})
        return IoOutcome(cleared)
    value = pressure.io.some.avg10 if pressure is not None and pressure.io is not None else None
    throttled, since = memory.io_throttled, memory.io_recovery_since
    wake_at = None
    if value is None:
        since = None
    elif value > cfg.trigger_avg10_threshold or host_io_fired(pressure):
        throttled, since = True, None
    elif value < cfg.recovery_avg10_threshold and throttled:
        since = now if since is None else since
        if now - since >= cfg.recovery_hold_seconds:
            throttled, since = False, None
        else:
            wake_at = since + cfg.recovery_hold_seconds
    else:
        since = None  # between the thresholds: the cap stays, the calm has not started

    updated = memory.model_copy(update={"io_throttled": throttled, "io_recovery_since": since})
    if not throttled:
        return IoOutcome(updated)
    limit = IoMax(
        read_bps=int(cfg.tier3_io_max_read_mb_per_sec * MB_PER_SEC),
        write_bps=int(cfg.tier3_io_max_write_mb_per_sec * MB_PER_SEC),
    )
    return IoOutcome(updated, limit, _reason(cfg, value, host_io_fired(pressure)), wake_at)


def host_io_fired(pressure: PressureFact | None) -> bool:
    return pressure is not None and any(
        f.scope == "host" and f.resource == "io" and f.line == "some" for f in pressure.fired
    )


def _reason(cfg: IoPressure, value: float | None, fired: bool) -> Reason:
    if value is None:
        return Reason(rule="io_pressure", detail="pressure unknown: holding")
    if value > cfg.trigger_avg10_threshold or fired:
        return Reason(
            rule="io_pressure", metric=METRIC, value=value, threshold=cfg.trigger_avg10_threshold
        )
    # The same detail for the whole hold, so a falling reading does not re-publish the state.
    return Reason(
        rule="io_pressure",
        detail=(
            f"held until {METRIC} < {cfg.recovery_avg10_threshold:g} "
            f"for {cfg.recovery_hold_seconds:g}s"
        ),
    )
