"""The governor's incident book between evaluations: fed what each evaluation saw and
decided, it publishes the incidents (retained) when a reader must see a change, and the
growing timelines of open ones at most every PUBLISH_EVERY_SECONDS."""

from __future__ import annotations

from collections.abc import Callable

from services.governor.incidents.actions import held_of
from services.governor.incidents.book import Book, Seen, restored, step
from services.governor.outcome import EventDraft, earliest
from services.governor.policy import Decision, Facts, view_of
from shared.config.model import WardenConfig
from shared.messages import Switches
from shared.messages.incidents import IncidentLog
from shared.tier_matcher import TierMatcher

# An open incident's timeline grows with every reading: the retained topic (which Home
# Assistant and the web service read whole) goes out with it this often at most.
PUBLISH_EVERY_SECONDS = 10.0


class IncidentFeed:
    def __init__(
        self,
        host: str,
        publish: Callable[[IncidentLog], None],
        announce: Callable[[EventDraft], None],
    ) -> None:
        self.host = host
        self.book = Book()
        self._publish = publish
        self._announce = announce
        self._published_at: float | None = None
        self._pending = False

    def restore(self, log: IncidentLog) -> None:
        """The retained incidents of the governor before this one: open ones go on."""
        if log.host == self.host:
            self.book = restored(log)

    def see(
        self,
        cfg: WardenConfig,
        matcher: TierMatcher,
        facts: Facts,
        switches: Switches,
        decision: Decision,
        now: float,
    ) -> float | None:
        """One evaluation: the book steps, events go out, the topic when due; returns when
        the book wants to be looked at again."""
        if not cfg.incidents.enabled:
            return None  # the retained incidents stay as they were
        view, _ = view_of(cfg, matcher, facts, switches, now)
        held = held_of(decision.containers, decision.process_groups)
        out = step(self.book, Seen(view, facts.resources_seen_at, held))
        self.book = out.book
        for event in out.events:
            self._announce(event)
        self._pending = self._pending or out.grown
        due = self._published_at is None or now - self._published_at >= PUBLISH_EVERY_SECONDS
        if out.changed or (self._pending and due):
            self._publish(self.book.log(self.host, cfg.incidents))
            self._published_at, self._pending = now, False
        publish_at = (self._published_at or now) + PUBLISH_EVERY_SECONDS if self._pending else None
        return earliest(out.wake_at, publish_at)
