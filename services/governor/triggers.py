"""Manual triggers (ADRG's /trigger events, Warden's schedule switches) flip the switches."""

from __future__ import annotations

from shared.messages import Switches, Trigger


def apply_trigger(switches: Switches, trigger: Trigger, now: float = 0.0) -> Switches:
    """now: when it arrived, which is what a schedule_skip skips from."""
    name = trigger.schedule or ""
    off = [n for n in switches.schedules_off if n != name]
    skips = {n: at for n, at in switches.schedule_skips.items() if n != name}
    match trigger.event:
        case "media_start":
            return switches.model_copy(update={"media_forced": True})
        case "media_stop":
            return switches.model_copy(update={"media_forced": False})
        case "tier3_pause":
            return switches.model_copy(update={"tier3_manual_pause": True})
        case "tier3_resume":
            return switches.model_copy(update={"tier3_manual_pause": False})
        case "schedule_on":
            return switches.model_copy(update={"schedules_off": off})
        case "schedule_off":
            return switches.model_copy(update={"schedules_off": sorted([*off, name])})
        case "schedule_skip":
            return switches.model_copy(update={"schedule_skips": {**skips, name: now}})
        case "schedule_unskip":
            return switches.model_copy(update={"schedule_skips": skips})
