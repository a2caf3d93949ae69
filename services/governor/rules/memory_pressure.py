"""Memory pressure (ADRG's three stages): squeeze tier 3, then restart the biggest.

Stage 1 is `memory_squeeze`, stages 2 and 3 `memory_restart`; they share one
memory slice because a restart resets what the squeeze learned: a restarted
container starts afresh, its memory.high ratcheting down from its new RSS.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from services.governor.rule import Outcome, Rule, View
from services.governor.rules.memory_restart import memory_restart
from services.governor.rules.memory_squeeze import memory_squeeze
from shared.messages import ContainerIntent
from shared.messages.base import Strict


class MemoryPressureMemory(Strict):
    # Lowest memory.high applied per container while squeezing (ADRG only ratchets down).
    squeeze_floor: dict[str, Annotated[int, Field(gt=0)]] = {}
    # Container name -> wall-clock time of the last restart asked for (within the cooldown).
    restarted_at: dict[str, float] = {}


def memory_pressure(view: View, memory: MemoryPressureMemory) -> Outcome[MemoryPressureMemory]:
    cfg = view.cfg.memory_pressure
    tier3 = view.tier(3)
    squeeze = memory_squeeze(cfg, view.cfg.tier(3), view.pressure, tier3, memory.squeeze_floor)
    step = memory_restart(cfg, memory.restarted_at, view.pressure, tier3, view.tier(2), view.now)
    floors = squeeze.floors
    if step.restart is not None:
        floors = {n: f for n, f in floors.items() if n != step.restart.container}
    intents = {}
    if squeeze.reason is not None:
        intents = {
            name: ContainerIntent(tier=3, memory_high=floor, reasons=[squeeze.reason])
            for name, floor in squeeze.floors.items()
        }
    return Outcome(
        MemoryPressureMemory(squeeze_floor=floors, restarted_at=step.restarted_at),
        containers=intents,
        events=step.events,
        actions=[step.restart] if step.restart else [],
        wake_at=step.wake_at,
    )


RULE = Rule("memory_pressure", MemoryPressureMemory, memory_pressure)
