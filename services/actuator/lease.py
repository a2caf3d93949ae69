"""The desired state's lease, counted on the actuator's own monotonic clock, and never
longer than the actuator's own maximum, whatever the message asks."""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import DesiredState


@dataclass(frozen=True)
class Lease:
    desired: DesiredState
    renewed_at: float  # monotonic
    # actuator.max_lease_seconds: a state that slipped through still runs out.
    longest: float

    @property
    def seconds(self) -> float:
        return min(self.desired.lease_seconds, self.longest)

    @property
    def clamped(self) -> bool:
        return self.desired.lease_seconds > self.longest

    @property
    def expires_at(self) -> float:
        return self.renewed_at + self.seconds

    def expired(self, now: float) -> bool:
        return now >= self.expires_at
