"""Wiring: every retained topic into the view and the history; HTTP served beside the bus.

An MQTT client like the other services, with no host access: it reads what
they publish and writes only triggers, the run-time preset and its settings.
It reads every host's topics (`+` at the host level), each into its own view:
on a central broker that is the fleet, and its own host_id stays the default.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from typing import Any

import uvicorn
from pydantic import BaseModel

from services.web.app import create_app
from services.web.auth import Auth, is_loopback
from services.web.backend import Backend
from services.web.metrics import Metrics
from services.web.readings_now import samples_of
from services.web.store import Store
from services.web.view import MAX_HOSTS, Fleet, View
from shared import channels
from shared.bus import Received
from shared.channel import Channel
from shared.config.web import ADMIN_TOKEN_FILE_ENV, TOKEN
from shared.messages import (
    Action,
    Applied,
    DesiredState,
    LastDecision,
    Trigger,
)
from shared.messages.base import PayloadError
from shared.messages.incidents import IncidentLog
from shared.messages.overrides import Overrides
from shared.messages.presets import parse_preset
from shared.messages.settings import ResourceSettings
from shared.secrets import SecretFileError, read_secret_file
from shared.service import ServiceContext
from shared.state_dir import state_file

SERVICES = ("sensors", "governor", "actuator", "notifier")
START_TIMEOUT_SECONDS = 10.0
# What config host_id allows (one topic level, no spaces), and not longer than a DNS name.
HOST_ID = re.compile(r"^[^/#+\s]{1,253}$")
# Another host's decisions kept, as seen on the bus (its own web service keeps the rest).
DECISIONS_SEEN = 10


class StartError(Exception):
    pass


def admin_token_from_file(environ: Mapping[str, str]) -> list[str]:
    """The admin token warden-stack or the systemd unit hands over as a file
    ($WARDEN_WEB_ADMIN_TOKEN_FILE, readable by this service alone), beside the config's."""
    path = environ.get(ADMIN_TOKEN_FILE_ENV)
    if not path:
        return []
    try:
        token = read_secret_file(path)
    except (OSError, SecretFileError) as exc:
        raise StartError(f"${ADMIN_TOKEN_FILE_ENV}: cannot read the admin token: {exc}") from None
    if not TOKEN.match(token):
        # Never the token itself: it must not reach a log line.
        raise StartError(f"{path}: a token must be printable ASCII without spaces")
    return [token]


class WebService:
    def __init__(self, ctx: ServiceContext, serve: bool = True) -> None:
        self.ctx = ctx
        cfg = self.cfg = ctx.config
        http = cfg.general.http_server
        self.view = View()
        self.fleet = Fleet(cfg.host_id, {cfg.host_id: self.view})
        self._dropped: set[str] = set()
        self.store = self._open_store()
        self.metrics = Metrics(self.view)
        self.metrics.incidents_known(self.store.incidents(cfg.incidents.history_keep))
        self.view.settings = self.store.load_settings()[0]
        self.view.overrides = self.store.load_overrides()
        loopback = is_loopback(http.host)
        admin_tokens = [*cfg.web.admin_tokens, *admin_token_from_file(os.environ)]
        if http.enabled and not loopback and not admin_tokens + cfg.web.read_tokens:
            raise StartError(
                f"general.http_server.host is {http.host}, beyond loopback, but web.admin_tokens "
                "and web.read_tokens are empty: set a token "
                "(see docs/reference/http-api.md, Tokens)"
            )
        self.backend = Backend(
            cfg=cfg,
            topics=ctx.topics,
            view=self.view,
            fleet=self.fleet,
            store=self.store,
            metrics=self.metrics,
            auth=Auth(tuple(admin_tokens), tuple(cfg.web.read_tokens), loopback),
            publish=self._publish,
            log=ctx.log,
            bus_connected=lambda: ctx.bus.connected,
        )
        self.app = create_app(self.backend)
        self._subscribe()
        self.server: uvicorn.Server | None = None
        if serve and http.enabled:
            self._serve(http.host, http.port)
        elif not http.enabled:
            ctx.log.info("http.disabled", reason="general.http_server.enabled is false")
        ctx.loop.on_stop(self.stop)

    def _open_store(self) -> Store:
        web = self.cfg.web
        database = state_file(web, "database")
        try:
            return Store(database, web.history, web.recent_decisions, self.cfg.incidents)
        except (OSError, sqlite3.Error) as exc:
            # Still serve the API and the page; what it cannot keep, it says it cannot.
            self.ctx.log.warning(
                "database.unavailable",
                path=database,
                reason=str(exc),
                effect="settings and history kept in memory only, lost at a restart",
            )
            return Store(":memory:", web.history, web.recent_decisions, self.cfg.incidents)

    # --- bus ----------------------------------------------------------------

    def _publish(self, channel: Channel[Any], payload: BaseModel | str, host: str) -> None:
        self.ctx.bus.send(channel, payload, host=host)

    def _subscribe(self) -> None:
        # Every host's topics, `+` at the host level: on a central broker that is the fleet,
        # on a host's own broker just that host.
        bus = self.ctx.bus
        facts: list[tuple[Channel[Any], str]] = [
            (channels.PRESSURE, "pressure"),
            (channels.CONTAINERS, "inventory"),
            (channels.STREAMS, "streams"),
            (channels.THERMAL, "thermal"),
            (channels.GPU, "gpu"),
            (channels.RESOURCES, "resources"),
            (channels.GOVERNOR_MEMORY, "memory"),
            (channels.RULES, "catalogue"),
        ]
        for channel, attribute in facts:
            bus.listen(channel, self._keep(attribute), host="+")
        bus.listen(channels.DESIRED, self.on_desired, host="+")
        bus.listen(channels.APPLIED, self.on_applied, host="+")
        bus.listen(channels.DECISION, self.on_decision, host="+")
        bus.listen(channels.INCIDENTS, self.on_incidents, host="+")
        bus.listen(channels.ACTIONS, self.on_action, host="+")
        bus.listen(channels.PRESET, self.on_preset, host="+")
        bus.listen(channels.SETTINGS, self.on_settings, host="+")
        bus.listen(channels.OVERRIDES, self.on_overrides, host="+")
        bus.listen(channels.TRIGGER, self.on_trigger, host="+")
        bus.listen(channels.TRIGGER_ALL_HOSTS, self.on_trigger)
        for service in SERVICES:
            bus.listen(
                channels.AVAILABILITY, self._availability(service), service=service, host="+"
            )
        bus.listen(channels.BRIDGE_AVAILABILITY, self.on_bridge, host="+")
        bus.on_connect(self.on_connect)

    def _host_of(self, topic: str) -> str | None:
        """The host level of warden/<host>/...; None for warden/trigger."""
        prefix = f"{self.ctx.topics.root}/"
        rest = topic[len(prefix) :] if topic.startswith(prefix) else ""
        host, _, tail = rest.partition("/")
        return host if host and tail else None

    def _host_view(self, received: Received[Any]) -> tuple[str, View] | None:
        """The topic's host and its view (made on first sight); None: dropped, said once."""
        host = self._host_of(received.topic)
        if host is None:
            return None
        if not HOST_ID.match(host):
            self._drop_once(received.topic, f"{host[:64]!r} is not a host id")
            return None
        claimed = getattr(received.value, "host", None)
        if claimed is not None and claimed != host:
            self._drop_once(received.topic, f"payload host {str(claimed)[:64]!r} is not {host!r}")
            return None
        view = self.fleet.learn(host)
        if view is None:
            self._drop_once(received.topic, f"more than {MAX_HOSTS} hosts: {host!r} not kept")
            return None
        view.heard = True
        return host, view

    def _drop_once(self, topic: str, reason: str) -> None:
        # Once per topic: a misconfigured publisher repeats itself every few seconds.
        if topic in self._dropped or len(self._dropped) > MAX_HOSTS:
            return
        self._dropped.add(topic)
        self.ctx.log.warning("bus.payload_dropped", topic=topic, reason=reason)

    def _keep(self, attribute: str):
        def handle(received: Received[BaseModel]) -> None:
            if (found := self._host_view(received)) is None:
                return
            host, view = found
            setattr(view, attribute, received.value)
            samples = samples_of(received.value)
            # History is the own host's; a retained fact was recorded when it was new.
            if host == self.cfg.host_id and samples and not received.retained:
                self.store.record(samples, time.time())
            self.fleet.changed(host)

        return handle

    def _availability(self, service: str):
        def handle(received: Received[str]) -> None:
            if (found := self._host_view(received)) is None:
                return
            host, view = found
            view.availability[service] = received.value
            self.fleet.changed(host)

        return handle

    def on_bridge(self, received: Received[str]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.bridge = received.value
        self.fleet.changed(host)

    def on_desired(self, received: Received[DesiredState]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.desired = received.value
        self.fleet.changed(host)

    def on_applied(self, received: Received[Applied]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.applied = received.value
        if host == self.cfg.host_id and not received.retained:
            self.metrics.applied_seen(received.value)
            paused = sum(1 for c in received.value.containers if c.paused)
            self.store.record({"paused_containers": float(paused)}, time.time())
        self.fleet.changed(host)

    def on_decision(self, received: Received[LastDecision]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        if not view.decisions or view.decisions[-1] != received.value:
            view.decisions = (*view.decisions[-(DECISIONS_SEEN - 1) :], received.value)
        # A retained one was counted when it was new.
        if host == self.cfg.host_id and not received.retained:
            self.metrics.decisions.labels(received.value.action).inc()
            self.store.add_decision(received.value)
        self.fleet.changed(host)

    def on_incidents(self, received: Received[IncidentLog]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.incidents = received.value
        if host == self.cfg.host_id:
            # A retained log too: it holds what happened while this service was down.
            new = self.store.keep_incidents(received.value.incidents, time.time())
            self.metrics.incidents_seen(received.value.incidents, new)
        self.fleet.changed(host)

    def on_action(self, received: Received[Action]) -> None:
        found = self._host_view(received)
        if found is not None and found[0] == self.cfg.host_id:
            self.metrics.actions.labels(received.value.kind).inc()

    def on_trigger(self, received: Received[Trigger]) -> None:
        # Not a fact about a host: a trigger alone makes no host known.
        host = self._host_of(received.topic)
        if host is not None and host != self.cfg.host_id:
            return
        seq = self.view.desired.seq if self.view.desired else -1
        self.metrics.trigger_seen(received.value.event, seq)

    def on_preset(self, received: Received[str]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.preset = received.value
        self.fleet.changed(host)

    def on_settings(self, received: Received[ResourceSettings]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        view.settings = received.value
        self.fleet.changed(host)

    def on_overrides(self, received: Received[Overrides]) -> None:
        if (found := self._host_view(received)) is None:
            return
        host, view = found
        known = view.overrides
        if known is not None and received.value.ts < known.ts:
            # The echo of an earlier change (this service's own, or another's): the newer
            # list stays, or the change made since would be lost with the next one.
            return
        view.overrides = received.value
        self.fleet.changed(host)

    def on_connect(self) -> None:
        """The database outlives a broker without persistence: say the settings again."""
        settings, preset = self.store.load_settings()
        if settings is not None:
            self.ctx.bus.send(channels.SETTINGS, settings)
        if preset is not None:
            try:
                self.ctx.bus.send(channels.PRESET_SET, parse_preset(preset.encode()))
            except PayloadError as exc:
                self.ctx.log.warning("database.preset_dropped", preset=preset, reason=str(exc))
        overrides = self.store.load_overrides()
        if overrides is not None:
            self.ctx.bus.send(channels.OVERRIDES, overrides)

    # --- HTTP ---------------------------------------------------------------

    def _serve(self, host: str, port: int) -> None:
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_config=None,
            # uvicorn's access lines would go around the structured log; ours say what changed.
            access_log=False,
            lifespan="off",
            # Stop at once on shutdown: the live page's stream never ends by itself.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        thread = threading.Thread(target=self.server.run, name="http", daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise StartError(f"cannot listen on {host}:{port} (in use, or not an address here)")
            time.sleep(0.05)
        auth = "loopback: reads and triggers open" if self.backend.auth.loopback else "tokens"
        self.ctx.log.info("http.listening", host=host, port=port, auth=auth)
        self._thread = thread

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self._thread.join(5)
        self.store.close()
