"""Manual triggers (ADRG's /trigger events) change what the governor remembers."""

from __future__ import annotations

from shared.messages import GovernorMemory, Trigger


def apply_trigger(memory: GovernorMemory, trigger: Trigger) -> GovernorMemory:
    match trigger.event:
        case "media_start":
            return memory.model_copy(update={"media_forced": True})
        case "media_stop":
            return memory.model_copy(update={"media_forced": False})
        case "tier3_pause":
            return memory.model_copy(update={"tier3_manual_pause": True})
        case "tier3_resume":
            return memory.model_copy(update={"tier3_manual_pause": False})
