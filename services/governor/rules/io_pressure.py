"""I/O pressure (ADRG rule 3): cap tier 3's bandwidth with io.max while io some_avg10 is high.

Above trigger_avg10_threshold the cap goes on. It comes off only after
some_avg10 has stayed below recovery_avg10_threshold for recovery_hold_seconds;
any reading from the recovery threshold up starts that hold again, so a value
hovering at either edge cannot flap it. One reason covers the whole episode,
above the threshold or held below it: a reading crossing back and forth changes
neither the desired state nor the log; the hold's progress is a reading.
Unknown pressure (no io line, no fact, or a stale one) neither throttles nor
releases, and a hold in progress starts again: only time known to be calm counts.
"""

from __future__ import annotations

from services.governor.hold import hold_reading
from services.governor.rule import Outcome, Rule, View
from shared.config.model import IoPressure, WardenConfig
from shared.messages import ContainerIntent, HostThreshold, IoMax, PressureFact, Reason, ReasonCard
from shared.messages.base import Strict
from shared.units import MB_PER_SEC

METRIC = "io.some_avg10"


class IoMemory(Strict):
    throttled: bool = False
    # Wall-clock start of the hold below recovery_avg10_threshold, if one is running.
    recovery_since: float | None = None


def io_pressure(view: View, memory: IoMemory) -> Outcome[IoMemory]:
    """Reads the latest fresh system-wide pressure; unknown when there is none.

    The host's io trigger is armed at the trigger threshold's share of the PSI window:
    its firing is the stall above the threshold, seen before avg10 has caught up.
    """
    cfg, pressure, now = view.cfg.io_pressure, view.pressure, view.now
    if not cfg.enabled:
        return Outcome(IoMemory(), status={"io_throttled": False})
    value = pressure.io.some.avg10 if pressure is not None and pressure.io is not None else None
    throttled, since = memory.throttled, memory.recovery_since
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

    updated = IoMemory(throttled=throttled, recovery_since=since)
    if not throttled:
        return Outcome(updated, status={"io_throttled": False})
    limit = IoMax(
        read_bps=int(cfg.tier3_io_max_read_mb_per_sec * MB_PER_SEC),
        write_bps=int(cfg.tier3_io_max_write_mb_per_sec * MB_PER_SEC),
    )
    reason = _reason(cfg, value, host_io_fired(pressure))
    capped = {c.name: ContainerIntent(tier=3, io_max=limit, reasons=[reason]) for c in view.tier(3)}
    readings = {}
    if value is not None:
        below = f"{cfg.recovery_avg10_threshold:g}"
        hold = hold_reading(METRIC, value, since, now, cfg.recovery_hold_seconds, below)
        readings["io_pressure.hold"] = hold
    return Outcome(
        updated,
        containers=capped,
        wake_at=wake_at,
        readings=readings,
        status={"io_throttled": True},
    )


def host_io_fired(pressure: PressureFact | None) -> bool:
    return pressure is not None and any(
        f.scope == "host" and f.resource == "io" and f.line == "some" for f in pressure.fired
    )


def _reason(cfg: IoPressure, value: float | None, fired: bool) -> Reason:
    if value is None:
        return Reason(rule="io_pressure", detail="pressure unknown: holding")
    above = value > cfg.trigger_avg10_threshold or fired
    # Without its live value this is the same reason above the threshold and in the hold.
    return Reason(
        rule="io_pressure",
        metric=METRIC,
        value=value if above else None,
        threshold=cfg.trigger_avg10_threshold,
        detail=(
            f"lifted after {cfg.recovery_hold_seconds:g}s below {cfg.recovery_avg10_threshold:g}"
        ),
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    io = cfg.io_pressure
    return [
        ReasonCard(
            reason="io_pressure",
            rule="io_pressure",
            title="the host waits on its disks: tier 3 capped",
            adrg_name="io_saturation",
            controls={"3": ["io_max"]},
            thresholds=[
                HostThreshold(
                    metric=METRIC, above=io.trigger_avg10_threshold, effect="cap tier 3 io.max"
                )
            ],
            ends=f"after {io.recovery_hold_seconds:g} s with {METRIC} below "
            f"{io.recovery_avg10_threshold:g}",
            enabled=io.enabled,
        )
    ]


RULE = Rule("io_pressure", IoMemory, io_pressure, cards)
