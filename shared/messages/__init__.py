"""Every payload on the bus is one of these pydantic models."""

from shared.messages.actions import Action
from shared.messages.applied import Applied, AppliedContainer, Refusal
from shared.messages.base import SCHEMA_VERSION, Message, PayloadError
from shared.messages.desired import (
    ContainerIntent,
    CpuMax,
    DesiredState,
    GovernorMemory,
    IoMax,
    Reason,
)
from shared.messages.events import Event
from shared.messages.facts import (
    ContainerFact,
    ContainerInventory,
    PressureFact,
    PressureLine,
    ResourcePressure,
)
from shared.messages.triggers import Trigger, TriggerError, parse_trigger

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "Applied",
    "AppliedContainer",
    "ContainerFact",
    "ContainerIntent",
    "ContainerInventory",
    "CpuMax",
    "DesiredState",
    "Event",
    "GovernorMemory",
    "IoMax",
    "Message",
    "PayloadError",
    "PressureFact",
    "PressureLine",
    "Reason",
    "Refusal",
    "ResourcePressure",
    "Trigger",
    "TriggerError",
    "parse_trigger",
]
