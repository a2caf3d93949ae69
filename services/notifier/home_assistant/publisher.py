"""The thin shell: discovery and derived state onto the bus, at the moments Home Assistant needs.

Home Assistant forgets nothing it was told with retain, but a broker restarted
without persistence forgets everything, and a Home Assistant that restarts
wants the configs again after its birth message. So: everything at the first
connect, again after each reconnect and each birth message (after a short random
delay, so a restarted Home Assistant is not flooded by every device at once), and
on the re-publish button. Configs an earlier run left for entities this version
no longer has are cleared at start.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from services.notifier.home_assistant import states
from services.notifier.home_assistant.discovery import (
    discovery_messages,
    node_filter,
)
from services.notifier.render import Notification
from shared import __version__, channels
from shared.bus import Received, text_decoder
from shared.messages import Applied, DesiredState, Event, ThermalFact
from shared.service import ServiceContext

BIRTH = "online"


def _raw(payload: bytes) -> bytes:
    return payload


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class HomeAssistantBridge:
    def __init__(self, ctx: ServiceContext, rng: Callable[[], float] = random.random) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.home_assistant
        self.rng = rng
        self.messages = discovery_messages(ctx.config, ctx.config.host_id, __version__)
        self.view = states.View()
        self._published_state: states.HaState | None = None
        self._republish_timer: Any = None
        self._connected_before = False

        bus = ctx.bus
        bus.subscribe(self.cfg.birth_topic, text_decoder(), self.on_ha_status)
        bus.listen(channels.HA_REPUBLISH, self.on_button)
        bus.subscribe(
            node_filter(self.cfg.discovery_prefix, ctx.config.host_id), _raw, self.on_config_seen
        )
        bus.listen(channels.APPLIED, self.on_applied)
        bus.listen(channels.DESIRED, self.on_desired)
        bus.listen(channels.THERMAL, self.on_thermal)
        bus.on_connect(self.on_connect)

    # --- when to announce ----------------------------------------------------

    def on_connect(self) -> None:
        if self._connected_before:
            self.schedule_republish("broker reconnect")
        else:
            self._connected_before = True
            self.publish_all("start")

    def on_ha_status(self, received: Received[str]) -> None:
        # `offline` is Home Assistant's last will: nothing to do until it is back.
        if received.value == BIRTH:
            self.schedule_republish("home assistant birth")

    def on_button(self, _received: Received[str]) -> None:
        self.publish_all("button")

    def schedule_republish(self, reason: str) -> None:
        if self._republish_timer is not None:
            return  # one is on its way; it will carry everything
        delay = self.rng() * self.cfg.republish_delay_seconds

        def fire() -> None:
            self._republish_timer = None
            self.publish_all(reason)

        self._republish_timer = self.ctx.loop.call_later(delay, fire)
        self.ctx.log.debug("ha.republish_scheduled", reason=reason, in_seconds=round(delay, 2))

    def publish_all(self, reason: str) -> None:
        for topic, payload in self.messages.items():
            self.ctx.bus.publish(topic, _json(payload), retain=True)
        self.publish_state(force=True)
        self.ctx.log.info("ha.discovery_published", configs=len(self.messages), reason=reason)

    def on_config_seen(self, received: Received[bytes]) -> None:
        # Only what the broker kept from before: our own live publishes are not stale.
        if not received.retained or not received.value or received.topic in self.messages:
            return
        self.ctx.bus.publish(received.topic, b"", retain=True)
        self.ctx.log.info("ha.discovery_cleared", topic=received.topic, reason="entity gone")

    # --- derived state ---------------------------------------------------------

    def on_applied(self, received: Received[Applied]) -> None:
        self.view = states.on_applied(self.view, received.value)
        self.publish_state()

    def on_desired(self, received: Received[DesiredState]) -> None:
        self.view = states.on_desired(self.view, received.value)
        self.publish_state()

    def on_thermal(self, received: Received[ThermalFact]) -> None:
        self.view = states.on_thermal(self.view, received.value)
        self.publish_state()

    def on_event(self, event: Event) -> None:
        self.view = states.on_event(self.view, event)
        self.publish_state()
        if states.fires_device_trigger(event):
            self.ctx.bus.send(channels.HA_EVENT, event, kind=event.kind)

    def publish_state(self, force: bool = False) -> None:
        state = self.view.state()
        if force or state != self._published_state:
            self.ctx.bus.send(channels.HA_STATE, state)
            self._published_state = state

    # --- Home Assistant's notify path ----------------------------------------------

    def notify(self, note: Notification) -> None:
        body = {"title": note.title, "message": note.body, "kind": note.kind}
        self.ctx.bus.send(channels.HA_NOTIFY, _json(body))
