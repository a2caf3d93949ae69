"""One-shot restart actions: admitted (signed, not from an older governor start), never
acted on twice, within the restart bounds, and run on a pool (a restart takes seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from host.docker import view as docker_view
from host.docker.client import DockerError, Engine
from host.docker.client import reason as docker_reason
from services.actuator.restart_policy import restart_bounds, restart_refusal
from services.actuator.state_store import StateStore
from shared.config import WardenConfig
from shared.errors import brief
from shared.logs import Log
from shared.messages import Action
from shared.tier_matcher import TierMatcher


class RestartActions:
    def __init__(
        self,
        docker: Engine,
        store: StateStore,
        pool: ThreadPoolExecutor,
        log: Log,
        dry_run: bool,
        on_failed: Callable[[str, str], None],
    ) -> None:
        """on_failed(container, reason): a restart Docker did not carry out (pool thread)."""
        self._docker = docker
        self._store = store
        self._pool = pool
        self._log = log
        self._dry_run = dry_run
        self._on_failed = on_failed

    def take(
        self,
        action: Action,
        cfg: WardenConfig,
        matcher: TierMatcher,
        containers: Callable[[], list[docker_view.DockerContainer]],
    ) -> str | None:
        """Carries the restart out; returns why it is refused instead, or None. A
        redelivery of an action already taken is neither refused nor taken again."""
        if self._store.seen_action(action.id):
            self._log.info("action.duplicate", id=action.id, container=action.container)
            return None
        history = self._store.restarts
        # Wall-clock, not the loop's monotonic clock: the restart limits are kept in the
        # state file and must hold across the actuator's own restarts.
        refusal = restart_refusal(
            action.container,
            action.reasons,
            matcher,
            history.last_of,
            history.last_any,
            time.time(),
            restart_bounds(cfg),
        )
        if refusal is None:
            try:
                if not any(c.name == action.container for c in containers()):
                    refusal = "no such container"
            except DockerError as exc:
                refusal = f"Docker unavailable: {docker_reason(exc)}"
        if refusal is not None:
            return refusal
        self._log.info(
            "apply.restart",
            container=action.container,
            id=action.id,
            reasons="; ".join(map(str, action.reasons)),
            dry_run=self._dry_run,
        )
        if not self._dry_run:
            self._store.record_restart(action.id, action.container, time.time())
            self._pool.submit(self._restart, action)
        return None

    def _restart(self, action: Action) -> None:
        try:
            self._docker.api.restart(action.container, timeout=10)
        except DockerError as exc:
            self._log.warning("apply.restart_failed", container=action.container, reason=brief(exc))
            self._on_failed(action.container, brief(exc))
