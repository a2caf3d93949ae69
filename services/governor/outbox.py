"""What the governor sends, signed where it signs: the desired state (a new seq only when
what is enforced changes, or on renewal), its memory (only when it changed), one-shot
restarts and events."""

from __future__ import annotations

import secrets
import time

from services.governor.memory_store import to_message
from services.governor.outcome import EventDraft, RestartDraft
from services.governor.policy import Decision, Memory
from shared import channels
from shared.messages import Action, DesiredState, Event, GovernorMemory
from shared.service import ServiceContext
from shared.signing import Signed, sign

# What every resend of the same state changes by itself.
UNSIGNED_CHANGES = {"ts", "seq", "signature"}


class Outbox:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.seq = 0
        self.published: DesiredState | None = None
        self.published_memory: GovernorMemory | None = None
        # Who signs: a new sender id at every start, and an epoch above any retained one.
        self.keyring = ctx.keyring
        self.sender = secrets.token_hex(8)
        self.epoch = time.time_ns() // 1_000_000
        if self.keyring is None:
            ctx.log.warning(
                "signing.off",
                reason="no signing key configured",
                effect="desired states and actions go out unsigned",
            )

    @property
    def host(self) -> str:
        # Restart-only: a reload never changes it.
        return self.ctx.config.host_id

    def signed(self, message: Signed) -> Signed:
        if self.keyring is None:
            return message
        return sign(message, self.keyring, self.sender, self.epoch)

    def desired(
        self, decision: Decision, memory: Memory, lease_seconds: float, force: bool = False
    ) -> None:
        candidate = DesiredState(
            host=self.host,
            seq=self.seq,
            lease_seconds=lease_seconds,
            media_mode=decision.media_mode,
            containers=decision.containers,
            download_limit_bps=decision.download_limit_bps,
            download_client=decision.download_client,
            process_groups=decision.process_groups,
        )
        unchanged = self.published is not None and candidate.model_dump(
            exclude=UNSIGNED_CHANGES
        ) == self.published.model_dump(exclude=UNSIGNED_CHANGES)
        if unchanged and not force:
            return
        self.seq += 1
        desired = self.signed(candidate.model_copy(update={"seq": self.seq}))
        self.ctx.bus.send(channels.DESIRED, desired)
        self.published = desired
        self.memory(decision, memory)

    def memory(self, decision: Decision, memory: Memory) -> None:
        """What the governor remembers (hold timers, the protect rule's last reading) goes
        out with a desired state or a renewal, and only when it changed: on its own it
        changes nothing enforced."""
        message = to_message(self.host, self.seq, memory, decision.status)
        previous = self.published_memory
        if previous is not None and message.model_dump(
            exclude=UNSIGNED_CHANGES
        ) == previous.model_dump(exclude=UNSIGNED_CHANGES):
            return
        self.published_memory = self.signed(message)
        self.ctx.bus.send(channels.GOVERNOR_MEMORY, self.published_memory)

    def restart(self, draft: RestartDraft) -> None:
        # Sent before the desired state that remembers it: should the governor die in
        # between and ask again, the actuator's own restart limits refuse the repeat.
        action = self.signed(
            Action(
                host=self.host, kind="restart", container=draft.container, reasons=[draft.reason]
            )
        )
        self.ctx.log.warning(
            "decision.restart", container=draft.container, id=action.id, reasons=str(draft.reason)
        )
        self.ctx.bus.send(channels.ACTIONS, action)

    def event(self, draft: EventDraft) -> None:
        self.ctx.log.info("event", kind=draft.kind, message=draft.message)
        event = Event(
            host=self.host,
            kind=draft.kind,
            source="governor",
            message=draft.message,
            severity=draft.severity,
            details=draft.details,
        )
        self.ctx.bus.send(channels.EVENTS, event)
