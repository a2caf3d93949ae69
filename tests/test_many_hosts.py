"""Many hosts on one bus, for real: three hosts and a central broker as network namespaces.

Each host has its own Mosquitto, set up exactly as warden-stack sets up its
local broker (per-service logins, the ACL, the bridge to the central broker
from config `bridge:`), its own sensors, governor, actuator and notifier with
the stack's variables and signing key, and its own tier-3 container on this
machine's shared Docker engine. The test watches the central broker, as
Home Assistant would, and the containers themselves; a web service on the
central broker shows the fleet.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import stack
from shared.config import load_config
from shared.messages import Applied, DesiredState
from shared.secrets import ensure_secret_file
from tests.support import netns
from tests.support.broker import free_port
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config
from tests.support.real import missing
from tests.support.web import client

REPO = Path(__file__).resolve().parents[1]
HOSTS = ("a", "b", "c")
LEASE_SECONDS = 4
BRIDGE_KEEPALIVE = 2
SERVICES = ("actuator", "sensors", "governor", "notifier")


@pytest.fixture
def network() -> Iterator[netns.TestNetwork]:
    if (why := netns.available()) is not None:
        missing(why)
    net = netns.TestNetwork()
    yield net
    net.close()


@dataclass
class Host:
    name: str
    host_id: str
    container: str
    broker: subprocess.Popen[bytes]
    services: list[Service]

    def stop(self) -> None:
        for service in self.services:
            service.kill(signal.SIGTERM)
        if self.broker.poll() is None:
            self.broker.terminate()
            self.broker.wait(10)


def mosquitto() -> str:
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def start_host(
    net: netns.TestNetwork, name: str, central: str, tmp_path: Path, containers: Containers
) -> Host:
    home = tmp_path / name
    home.mkdir()
    host_id = f"{net.prefix}{name}"
    config = write_config(
        home / "config.yaml",
        {
            "host_id": host_id,
            # No mqtt.host: the stack's own local broker, as the quick start runs it.
            "mqtt": {"reconnect_min_seconds": 0.2, "reconnect_max_seconds": 1},
            # Each host its own containers: the engine and the cgroups are shared here.
            "tiers": {3: {"containers": [containers.name(f"{name}-t3")]}},
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            "governor": {"lease_seconds": LEASE_SECONDS},
            "actuator": {"state_file": str(home / "state.json"), "startup_grace_seconds": 1},
            "notifications": {"outbox_file": str(home / "outbox.json")},
            "bridge": {
                "enabled": True,
                "address": central,
                "keepalive_seconds": BRIDGE_KEEPALIVE,
            },
        },
    )
    cfg = load_config(config).config
    paths = stack.StackPaths(REPO, home / "run", config, sys.executable, mosquitto())
    paths.run_dir.mkdir(mode=0o700)
    plan = stack.plan_stack(cfg, is_root=True, docker_ok=True, cgroup_ok=True)
    stack.prepare_local_broker(paths, cfg, plan.broker_port)
    ensure_secret_file(paths.signing_key)
    env = stack.stack_env(plan, paths)
    broker = subprocess.Popen(
        [*net.wrap(name), mosquitto(), "-c", str(paths.mosquitto_conf)],
        stdout=(home / "mosquitto.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    container = containers.run(f"{name}-t3")
    services = []
    for service in SERVICES:
        # As deploy/supervisord.conf does: the key goes to the governor and actuator only.
        signing = {"WARDEN_SIGNING_KEY_FILE": str(paths.signing_key)}
        own = {**env, **(signing if service in ("governor", "actuator") else {})}
        services.append(Service(service, config, home, wrap=net.wrap(name), env=own))
    return Host(name, host_id, container, broker, services)


def start_central(net: netns.TestNetwork, tmp_path: Path) -> tuple[str, subprocess.Popen[bytes]]:
    address = net.add_host("central")
    conf = tmp_path / "central.conf"
    conf.write_text(f"listener 1883 {address}\nallow_anonymous true\npersistence false\n")
    process = subprocess.Popen(
        [*net.wrap("central"), mosquitto(), "-c", str(conf)],
        stdout=(tmp_path / "central.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    return address, process


def start_fleet_web(net: netns.TestNetwork, central: str, tmp_path: Path) -> tuple[Service, int]:
    """The web service on the central broker, in the test's own namespace, no host of its own."""
    home = tmp_path / "web"
    home.mkdir()
    port = free_port()
    config = write_config(
        home / "config.yaml",
        {
            "host_id": f"{net.prefix}centre",
            "general": {"http_server": {"host": "127.0.0.1", "port": port}},
            "mqtt": {"host": central, "port": 1883},
            "web": {"database": str(home / "web.sqlite3")},
        },
    )
    return Service("web", config, home), port


def local_trigger(net: netns.TestNetwork, host: Host, word: str) -> None:
    """A trigger on the host's own broker, from inside the host (as its own HA would)."""
    topic = f"warden/{host.host_id}/trigger"
    result = net.run(
        host.name, ["mosquitto_pub", "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", word]
    )
    assert result.returncode == 0, result.stderr


def test_each_host_governs_itself_and_the_centre_sees_them_all(
    tmp_path: Path, network: netns.TestNetwork, containers: Containers
) -> None:
    central, central_broker = start_central(network, tmp_path)
    for name in HOSTS:
        network.add_host(name)
    hosts: dict[str, Host] = {}
    probe: Probe | None = None
    web: Service | None = None
    try:
        probe = Probe(central, 1883)
        web, web_port = start_fleet_web(network, central, tmp_path)
        hosts = {n: start_host(network, n, central, tmp_path, containers) for n in HOSTS}
        state = containers.state

        # The centre sees every host: its bridge up, its applied state, its HA device.
        for host in hosts.values():
            base = f"warden/{host.host_id}"
            probe.wait_for(f"{base}/bridge/availability", lambda s: s.text == "1", timeout=30)
            probe.wait_for(
                f"{base}/governor/availability", lambda s: s.text == "online", timeout=30
            )
            probe.wait_for(
                f"{base}/applied",
                lambda s: Applied.model_validate_json(s.payload).mode == "desired",
                timeout=30,
            )
        wait_until(
            lambda: all(len(discovery_of(probe, h.host_id)) >= 25 for h in hosts.values()),
            timeout=30,
            what="every host's Home Assistant discovery on the central broker",
        )
        devices = {
            json.loads(p)["device"]["identifiers"][0]
            for h in hosts.values()
            for p in discovery_of(probe, h.host_id).values()
            if p and "device" in json.loads(p)
        }
        assert devices == {f"warden_{h.host_id}" for h in hosts.values()}

        a, b, c = hosts["a"], hosts["b"], hosts["c"]
        # The web service on the central broker lists every host, each online by its bridge.
        http = client(web_port)

        def fleet() -> dict[str, dict[str, object]]:
            return dict(http.get("/api/v1/hosts").json()["hosts"])

        wait_until(
            lambda: (
                {h.host_id for h in hosts.values()} <= set(fleet())
                and all(fleet()[h.host_id]["online"] for h in hosts.values())
            ),
            what="the web service lists every host online",
        )
        assert all(fleet()[h.host_id]["online_from"] == "bridge" for h in hosts.values())
        # A trigger for host A pauses A's tier 3 alone.
        probe.publish(f"warden/{a.host_id}/trigger", "media_start")
        wait_until(lambda: state(a.container) == "paused", what="A's tier 3 paused")
        probe.wait_for(
            f"warden/{a.host_id}/applied",
            lambda s: any(x.paused for x in Applied.model_validate_json(s.payload).containers),
        )
        # A's own page on the central web service says so.
        wait_until(
            lambda: bool(
                fleet()[a.host_id]["paused"] == 1 and fleet()[a.host_id]["media_mode_active"]
            ),
            what="the fleet view shows A paused, in media mode",
        )
        page = http.get(f"/api/v1/hosts/{a.host_id}/containers").json()
        assert [(r["name"], r["state"]) for r in page] == [(containers.name("a-t3"), "paused")]
        assert fleet()[b.host_id]["paused"] == 0
        # B's and C's own next trigger takes the same way A's would have: it comes after it.
        # Their governors answer it with a desired state, which must not be media mode.
        for other in (b, c):
            asked_at = time.monotonic()
            probe.publish(f"warden/{other.host_id}/trigger", "tier3_pause")
            answer = DesiredState.model_validate_json(
                probe.wait_for(
                    f"warden/{other.host_id}/desired",
                    lambda s: any(
                        i.paused
                        for i in DesiredState.model_validate_json(s.payload).containers.values()
                    ),
                    after=asked_at,
                ).payload
            )
            assert not answer.media_mode, other.name
            probe.publish(f"warden/{other.host_id}/trigger", "tier3_resume")
            wait_until(containers.in_state(other.container, "running"), what=f"{other.name} back")
        # warden/trigger reaches every host.
        probe.publish("warden/trigger", "media_start")
        for host in hosts.values():
            wait_until(containers.in_state(host.container, "paused"), what=f"{host.name} paused")
        probe.publish("warden/trigger", "media_stop")
        for host in hosts.values():
            wait_until(containers.in_state(host.container, "running"), what=f"{host.name} resumed")

        # Cut A's cable during media mode: A carries on alone.
        probe.publish(f"warden/{a.host_id}/trigger", "media_start")
        wait_until(lambda: state(a.container) == "paused", what="A paused before the cut")
        cut_at = time.monotonic()
        network.link("a", up=False)
        probe.wait_for(
            f"warden/{a.host_id}/bridge/availability",
            lambda s: s.text == "0",
            after=cut_at,
            timeout=20,
        )
        # Three leases long: only renewals on A's own broker keep it paused.
        time.sleep(max(0.0, 3 * LEASE_SECONDS - (time.monotonic() - cut_at)))
        assert state(a.container) == "paused"
        local_trigger(network, a, "media_stop")
        wait_until(lambda: state(a.container) == "running", what="A resumed by its own trigger")
        local_trigger(network, a, "media_start")
        wait_until(lambda: state(a.container) == "paused", what="A paused by its own trigger")
        assert state(b.container) == state(c.container) == "running"

        # Back online: the centre catches up within seconds.
        up_at = time.monotonic()
        network.link("a", up=True)
        probe.wait_for(
            f"warden/{a.host_id}/bridge/availability", lambda s: s.text == "1", after=up_at
        )
        caught_up = probe.wait_for(
            f"warden/{a.host_id}/applied",
            lambda s: any(x.paused for x in Applied.model_validate_json(s.payload).containers),
            after=up_at,
            timeout=10,
        )
        assert caught_up.at - up_at < 10

        # Host C is gone for good (power cut: its broker first): the centre says so.
        gone_at = time.monotonic()
        c.broker.kill()
        c.broker.wait()
        for service in c.services:
            service.kill(signal.SIGKILL)
        probe.wait_for(
            f"warden/{c.host_id}/bridge/availability",
            lambda s: s.text == "0",
            after=gone_at,
            timeout=20,
        )
        # The web service on the central broker shows C gone, A and B still online.
        wait_until(lambda: fleet()[c.host_id]["online"] is False, what="the web shows C gone")
        assert fleet()[c.host_id]["bridge"] == "down"
        assert fleet()[a.host_id]["online"] and fleet()[b.host_id]["online"]
        http.close()
        # Its services' last words never crossed, but every one of its entities also
        # needs the bridge, so Home Assistant shows C unavailable, not a stale online.
        for payload in discovery_of(probe, c.host_id).values():
            config = json.loads(payload)
            if "availability" in config:
                topics = [e["topic"] for e in config["availability"]]
                assert f"warden/{c.host_id}/bridge/availability" in topics
    finally:
        if web is not None:
            web.kill(signal.SIGTERM)
        if probe is not None:
            probe.close()
        for host in hosts.values():
            host.stop()
        central_broker.terminate()
        central_broker.wait(10)


def discovery_of(probe: Probe, host_id: str) -> dict[str, bytes]:
    """The retained discovery configs of one host's device the central broker holds."""
    node = f"/warden_{host_id}/"
    latest: dict[str, bytes] = {}
    for seen in probe.seen:
        if seen.topic.startswith("homeassistant/") and node in seen.topic:
            latest[seen.topic] = seen.payload
    return {t: p for t, p in latest.items() if p}
