"""Every payload on the bus is one of these pydantic models."""

from shared.messages.actions import Action
from shared.messages.applied import Applied, AppliedContainer, Refusal
from shared.messages.base import SCHEMA_VERSION, BlockDevice, Message, PayloadError
from shared.messages.decision import LastDecision
from shared.messages.desired import (
    ContainerIntent,
    CpuMax,
    DesiredState,
    IoMax,
    IoRate,
    ProcessGroupIntent,
    Reason,
)
from shared.messages.events import Event
from shared.messages.facts import (
    ContainerFact,
    ContainerInventory,
    ContainerPressure,
    ContainerUsage,
    GpuDevice,
    GpuFact,
    GpuProcess,
    HostUsage,
    PressureFact,
    PressureLine,
    ProcessGroupUsage,
    PsiTriggerFired,
    ResourcePressure,
    ResourcesFact,
    StallShare,
    StreamSession,
    StreamsFact,
    TemperatureReading,
    ThermalFact,
)
from shared.messages.memory import GovernorMemory, GovernorStatus, Switches
from shared.messages.triggers import Trigger, TriggerError, parse_trigger

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "Applied",
    "AppliedContainer",
    "BlockDevice",
    "ContainerFact",
    "ContainerIntent",
    "ContainerInventory",
    "ContainerPressure",
    "ContainerUsage",
    "CpuMax",
    "DesiredState",
    "Event",
    "GovernorMemory",
    "GovernorStatus",
    "GpuDevice",
    "GpuFact",
    "GpuProcess",
    "HostUsage",
    "IoMax",
    "IoRate",
    "LastDecision",
    "Message",
    "PayloadError",
    "PressureFact",
    "PressureLine",
    "ProcessGroupIntent",
    "ProcessGroupUsage",
    "PsiTriggerFired",
    "Reason",
    "Refusal",
    "ResourcePressure",
    "ResourcesFact",
    "StallShare",
    "StreamSession",
    "StreamsFact",
    "Switches",
    "TemperatureReading",
    "ThermalFact",
    "Trigger",
    "TriggerError",
    "parse_trigger",
]
