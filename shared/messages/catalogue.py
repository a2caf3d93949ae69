"""What each rule is, for the faces of Warden that name one (retained, by the governor).

The governor knows its rules; the web service (/status, /metrics, the dashboard's
thresholds) and the terminal command (`warden why`) read this instead of restating
them, so a new rule is one file and one line in the rule list. A card per reason a
rule gives (thermal gives thermal_stage1 and thermal_stage2): what that reason may set,
by tier, its host thresholds with what crossing them does, ADRG's name for it where
ADRG has one, and how it ends.

Home Assistant's entities do not come from here: they are announced once, at the
notifier's start, from its config alone (services/notifier/home_assistant/entities.py),
and their ids are what people's automations name. The thermal stage sensors and the
device triggers for thermal and memory restarts are rows of that table; a rule that
needs an entity adds one there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import Message, Strict

# What a reason may set: a container's pause and limits, a restart, the download client's
# limit, a process group's pause and nice level.
Control = Literal[
    "paused",
    "cpu_max",
    "io_max",
    "memory_high",
    "cpu_idle",
    "restart",
    "download_limit",
    "group_paused",
    "group_nice",
]
# A container tier as a key ("1", "2", "3"), or "any" for every tier it may act on.
TierKey = Literal["1", "2", "3", "any"]


class HostThreshold(Strict):
    """A host reading (`memory.some_avg10`, `temperature_c`) and the level above which
    the reason acts. `effect` is for people to read; what a face selects a threshold by
    is its metric and `acts` (the dashboard's temperature card: the lowest one that acts)."""

    metric: Annotated[str, Field(min_length=1, max_length=64)]
    above: float
    effect: Annotated[str, Field(min_length=1, max_length=120)]
    # False: crossing it only warns (an event and a log line); nothing is set.
    acts: bool = True


class ReasonCard(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    rule: Annotated[str, Field(min_length=1, max_length=64)]
    title: Annotated[str, Field(min_length=1, max_length=120)]
    adrg_name: str | None = None
    controls: dict[TierKey, list[Control]] = {}
    thresholds: list[HostThreshold] = []
    # How a reason of it stops holding, in words ("a tier3_resume trigger"); where it
    # ends otherwise by the reason's detail, the first detail prefix that matches says.
    ends: str = ""
    ends_by_detail: dict[str, str] = {}
    enabled: bool = True

    def ends_for(self, detail: str) -> str:
        return next((t for p, t in self.ends_by_detail.items() if detail.startswith(p)), self.ends)

    def controls_for(self, tier: int) -> list[Control]:
        return self.controls.get(str(tier), self.controls.get("any", []))  # type: ignore[call-overload]

    @property
    def listed_as(self) -> str:
        """Its name in ADRG's *_by lists."""
        return self.adrg_name or self.reason


class RuleCatalogue(Message):
    cards: Annotated[list[ReasonCard], Field(max_length=256)] = []

    def card(self, reason: str) -> ReasonCard | None:
        return next((c for c in self.cards if c.reason == reason), None)
