"""Which desired states and actions the actuator lets in: signed by the governor, not replayed.

Pure apart from its memory of the newest message it admitted, which the state file
keeps across the actuator's restarts (a restart admits no replay). Without a
keyring (no signing key configured) every well-formed message is admitted,
and the actuator says so once at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.messages import Action, DesiredState
from shared.signing import Keyring, verify


@dataclass
class Admission:
    keyring: Keyring | None
    # (epoch, seq) of the newest desired state admitted: only a newer one comes in.
    newest: tuple[int, int] | None = None
    # Told each newest as it is admitted, to keep it across a restart (the state file).
    remember: Callable[[tuple[int, int]], None] | None = None

    def desired(self, desired: DesiredState) -> str | None:
        """Why this desired state is refused, or None (and it becomes the newest)."""
        if self.keyring is None:
            return None
        if (problem := verify(desired, self.keyring)) is not None:
            return problem
        assert desired.signature is not None  # verify refuses unsigned
        key = (desired.signature.epoch, desired.seq)
        if self.newest is not None and key <= self.newest:
            # The same words every time: a flood of replays is one report, not thousands.
            return "replayed or out of date"
        self.newest = key
        if self.remember is not None:
            self.remember(key)
        return None

    def action(self, action: Action) -> str | None:
        """Why this action is refused, or None. Its id keeps a redelivery from acting twice;
        the epoch keeps an action of a governor start before the newest from acting at all."""
        if self.keyring is None:
            return None
        if (problem := verify(action, self.keyring)) is not None:
            return problem
        assert action.signature is not None
        if self.newest is not None and action.signature.epoch < self.newest[0]:
            return "from an earlier governor start"
        return None
