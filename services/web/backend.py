"""What the HTTP routes act on: the view, the store, and the bus to publish on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from services.web.auth import Auth
from services.web.metrics import Metrics
from services.web.models import (
    OverrideIn,
    OverrideOut,
    ResourceSettingsIn,
    ResourceSettingsOut,
    TriggerAccepted,
)
from services.web.status import (
    effective_preset,
    effective_settings,
    managed_names,
    override_out,
)
from services.web.store import Store
from services.web.view import Fleet, View
from shared import channels
from shared.channel import Channel
from shared.config.model import WardenConfig
from shared.logs import Log
from shared.messages.overrides import Override, Overrides
from shared.messages.settings import ResourceSettings
from shared.messages.triggers import Trigger
from shared.presets import display_name
from shared.topics import Topics

# Overrides.items holds at most this many (shared/messages/overrides.py).
MAX_OVERRIDES = 100

# (channel, payload, host): publish on that host's topic of the channel table.
Publish = Callable[[Channel[Any], BaseModel | str, str], None]


@dataclass
class Backend:
    cfg: WardenConfig
    topics: Topics
    view: View
    fleet: Fleet
    store: Store
    metrics: Metrics
    auth: Auth
    publish: Publish
    log: Log
    bus_connected: Callable[[], bool]

    def trigger(self, trigger: Trigger) -> TriggerAccepted:
        topic = channels.TRIGGER.topic_for(self.topics)
        self.publish(channels.TRIGGER, trigger, self.cfg.host_id)
        self.log.info("trigger.sent", trigger=trigger.event, topic=topic)
        note = None
        if trigger.event.startswith("media_") and not self.cfg.media_mode.enabled:
            note = "media_mode.enabled is false: the governor ignores media triggers"
        return TriggerAccepted(queued=trigger.event, topic=topic, note=note)

    def host_view(self, host: str) -> View:
        """UnknownHost, naming the known ones, for a host never heard of."""
        view = self.fleet.view(host)
        if view is None:
            known = ", ".join(self.fleet.hosts()) or "none"
            raise UnknownHost(f"no host {host[:64]!r} on this broker; known: {known}")
        return view

    def trigger_host(self, host: str, trigger: Trigger) -> TriggerAccepted:
        """The trigger for one known host, on warden/<host>/trigger."""
        if host == self.cfg.host_id:
            return self.trigger(trigger)
        self.host_view(host)
        topic = channels.TRIGGER.topic_for(self.topics, host=host)
        self.publish(channels.TRIGGER, trigger, host)
        self.log.info("trigger.sent", trigger=trigger.event, topic=topic)
        return TriggerAccepted(queued=trigger.event, topic=topic)

    def current_settings(self) -> ResourceSettings:
        return self.view.settings or ResourceSettings(host=self.cfg.host_id)

    def settings_out(
        self, view: View | None = None, cfg: WardenConfig | None = None
    ) -> ResourceSettingsOut:
        """The own host's settings, or (view, cfg) another's as its web service set them."""
        view, cfg = view or self.view, cfg or self.cfg
        s = view.settings or ResourceSettings(host=cfg.host_id)
        preset = effective_preset(view, cfg)
        return ResourceSettingsOut(
            enabled=s.enabled,
            preset=preset,
            cpu_threshold_percent=s.cpu_threshold_percent,
            memory_threshold_percent=s.memory_threshold_percent,
            gpu_threshold_percent=s.gpu_threshold_percent,
            nice=s.nice,
            effective=effective_settings(s, preset),
            updated_at=view.settings.ts if view.settings else None,
        )

    def change_settings(self, change: ResourceSettingsIn) -> ResourceSettingsOut:
        """Fields the body names replace the current ones (null: back to the config's);
        the result goes to the governor (retained) and into the database."""
        given = change.model_dump(include=change.model_fields_set)
        preset = given.pop("preset", None)
        if not given and preset is None:
            return self.settings_out()  # nothing asked for: nothing to publish
        if "enabled" in given and given["enabled"] is None:
            given["enabled"] = True
        current = self.current_settings()
        updated = ResourceSettings.model_validate(
            {
                **current.model_dump(exclude={"ts", "host"}),
                **given,
                "host": self.cfg.host_id,
                "ts": time.time(),
            }
        )
        if given:
            self.publish(channels.SETTINGS, updated, self.cfg.host_id)
            self.view.settings = updated
        if preset is not None:
            self.publish(channels.PRESET_SET, preset, self.cfg.host_id)
            self.view.preset = display_name(preset)
        self.store.save_settings(updated if given else current, preset)
        self.view.changed()
        self.log.info(
            "settings.changed",
            preset=preset,
            **updated.model_dump(exclude={"schema_version", "host", "ts"}),
        )
        return self.settings_out()

    # --- timed overrides ------------------------------------------------------

    def _publish_overrides(self, items: list[Override]) -> None:
        overrides = Overrides(host=self.cfg.host_id, items=items)
        self.publish(channels.OVERRIDES, overrides, self.cfg.host_id)
        self.view.overrides = overrides
        self.store.save_overrides(overrides)
        self.view.changed()

    def add_override(self, wanted: OverrideIn) -> OverrideOut:
        """OverrideError when it names no managed container (or one pause_tier3 ignores),
        OverrideLimit when as many are in force as may be."""
        if wanted.kind == "unthrottle":
            if wanted.container is None:
                raise OverrideError("container: unthrottle needs the container to let run")
            if wanted.container not in managed_names(self.view):
                raise OverrideError(f"container: {wanted.container!r} is not a managed container")
        elif wanted.container is not None:
            raise OverrideError(f"container: {wanted.kind} takes no container")
        if wanted.kind == "skip_schedule":
            if wanted.schedule not in {s.name for s in self.cfg.schedules}:
                raise OverrideError(f"schedule: no schedule named {wanted.schedule!r}")
        elif wanted.schedule is not None:
            raise OverrideError(f"schedule: {wanted.kind} takes no schedule")
        now = time.time()
        override = Override(
            kind=wanted.kind,
            container=wanted.container,
            schedule=wanted.schedule,
            since=now,
            until=now + wanted.minutes * 60,
        )
        items = [o for o in self.current_overrides() if o.until > now]
        if len(items) >= MAX_OVERRIDES:
            raise OverrideLimit(
                f"{len(items)} overrides are in force, as many as may be: end one first"
            )
        self._publish_overrides([*items, override])
        self.log.info(
            "override.added",
            kind=override.kind,
            container=override.container,
            minutes=wanted.minutes,
            id=override.id,
        )
        # Built from what was made, not read back: the bus may hand the view an older
        # list meanwhile (an echo of the previous change).
        return override_out(override, now)

    def end_override(self, override_id: str) -> bool:
        items = self.current_overrides()
        kept = [o for o in items if o.id != override_id and o.until > time.time()]
        if len(kept) == len([o for o in items if o.until > time.time()]):
            return False
        self._publish_overrides(kept)
        self.log.info("override.ended", id=override_id)
        return True

    def current_overrides(self) -> list[Override]:
        return self.view.overrides.items if self.view.overrides else []


class OverrideError(ValueError):
    pass


class OverrideLimit(OverrideError):
    pass


class UnknownHost(LookupError):
    pass
