"""The desired state's lease, counted on the actuator's own monotonic clock."""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import DesiredState


@dataclass(frozen=True)
class Lease:
    desired: DesiredState
    renewed_at: float  # monotonic

    @property
    def expires_at(self) -> float:
        return self.renewed_at + self.desired.lease_seconds

    def expired(self, now: float) -> bool:
        return now >= self.expires_at
