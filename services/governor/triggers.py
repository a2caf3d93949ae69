"""Manual triggers (ADRG's /trigger events) flip the governor's switches."""

from __future__ import annotations

from shared.messages import Switches, Trigger


def apply_trigger(switches: Switches, trigger: Trigger) -> Switches:
    match trigger.event:
        case "media_start":
            return switches.model_copy(update={"media_forced": True})
        case "media_stop":
            return switches.model_copy(update={"media_forced": False})
        case "tier3_pause":
            return switches.model_copy(update={"tier3_manual_pause": True})
        case "tier3_resume":
            return switches.model_copy(update={"tier3_manual_pause": False})
