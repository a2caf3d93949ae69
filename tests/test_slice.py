"""The vertical slice through all four processes, on the real broker and Docker engine.

Three containers in tiers 1, 2 and 3. A media_start trigger pauses tier 3 and
throttles tier 2; media_stop restores them; a governor killed with SIGKILL
while media mode is on leaves nothing paused; the notifier tells ntfy,
Discord and Gotify.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.cgroups.view import detect_layout, process_cgroups
from host.docker.control import cpu_shares
from shared.messages import Applied, DesiredState, Event
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.fake_https import Authority, make_authority
from tests.support.http_capture import Capture
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

MIB = 1024**2
LEASE = 4
DISCORD_PATH = "/api/webhooks/112233445566778899/slice-webhook-token"


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return make_authority(tmp_path / "ca", "discord.com")


@pytest.fixture
def capture(authority: Authority) -> Iterator[Capture]:
    # Also https://discord.com's proxy (tests/support/fake_https.py).
    c = Capture(tls=authority.server_context())
    yield c
    c.close()


def cpu_quota(containers: Containers, cid: str) -> int:
    """The container's CPU quota from its cgroup (-1: none), on v2 and v1 hosts alike."""
    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))
    v2 = cg.v2_file("cpu.max")
    if v2 is not None:
        quota = v2.read_text().split()[0]
        return -1 if quota == "max" else int(quota)
    v1 = cg.v1_file("cpu", "cpu.cfs_quota_us")
    assert v1 is not None
    return int(v1.read_text())


def docker_record_is(
    containers: Containers, cid: str, shares: int, memory: int
) -> Callable[[], bool]:
    """wait_until's condition on Docker's record of a container's CPU shares and memory limit,
    bound to this container (a lambda in a loop over containers would see the last)."""
    api = containers.api
    return lambda: (
        (
            api.inspect_container(cid)["HostConfig"]["CpuShares"],
            api.inspect_container(cid)["HostConfig"]["Memory"],
        )
        == (shares, memory)
    )


def slice_config(
    tmp_path: Path, broker: Mosquitto, host_id: str, containers: Containers, capture: Capture
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
            "general": {"poll_interval_seconds": 1},
            "tiers": {
                1: {"containers": [containers.name("t1")], "cpu_weight": 800, "io_weight": 800},
                2: {
                    "containers": [containers.name("t2")],
                    "cpu_weight": 100,
                    "memory_high": "192M",
                    "memory_max": "256M",
                },
                3: {
                    "containers": [f"{containers.prefix}-t3*"],
                    "cpu_weight": 10,
                    "io_weight": 10,
                    "memory_high": "96M",
                    "memory_max": "128M",
                },
            },
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            "governor": {"lease_seconds": LEASE, "renew_seconds": 1},
            "actuator": {
                "state_file": str(tmp_path / "actuator-state.json"),
                "startup_grace_seconds": 1,
            },
            "notifications": {
                "ntfy_url": f"{capture.url}/ntfy",
                "ntfy_token": "tk",
                "discord_webhook_url": f"https://discord.com{DISCORD_PATH}",
                "gotify_url": f"{capture.url}/gotify",
                "gotify_token": "gt",
            },
        },
    )


def test_media_mode_end_to_end(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    capture: Capture,
    authority: Authority,
) -> None:
    # Each with limits of its own in Docker's record, so Warden's baselines go there too
    # (a container without any gets them in its cgroup files: test_actuator_applier).
    own = {"cpu_shares": 1024, "mem_limit": 1024 * MIB, "memswap_limit": 2048 * MIB}
    t1, t2, t3 = (containers.run(n, **own) for n in ("t1", "t2", "t3"))
    config = slice_config(tmp_path, broker, host_id, containers, capture)
    proxied = authority.proxy_env(capture.url)
    services = {
        n: Service(n, config, tmp_path, env=proxied if n == "notifier" else None)
        for n in ("sensors", "governor", "actuator", "notifier")
    }
    try:
        for name in services:
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")

        # Tier baselines, through the Docker API, read back from Docker.
        for cid, shares, memory in (
            (t1, cpu_shares(800), 1024 * MIB),  # tier 1 sets no memory_max: its own
            (t2, cpu_shares(100), 256 * MIB),
            (t3, cpu_shares(10), 128 * MIB),
        ):
            wait_until(
                docker_record_is(containers, cid, shares, memory), what=f"baseline of {cid[:12]}"
            )

        # media_start as ADRG's JSON body on the all-hosts trigger topic
        probe.publish("warden/trigger", json.dumps({"event": "media_start"}))
        wait_until(lambda: containers.state(t3) == "paused", what="tier 3 paused")
        assert containers.state(t1) == "running" and containers.state(t2) == "running"
        wait_until(
            lambda: cpu_quota(containers, t2) > 0,
            what="tier 2 cpu throttle",
        )
        desired = DesiredState.model_validate_json(
            probe.wait_for(
                f"warden/{host_id}/desired",
                lambda s: DesiredState.model_validate_json(s.payload).media_mode,
            ).payload
        )
        assert desired.containers[containers.name("t3")].reasons[0].rule == "media_mode"
        assert containers.name("t1") not in desired.containers
        applied = Applied.model_validate_json(
            probe.wait_for(
                f"warden/{host_id}/applied",
                lambda s: (
                    Applied.model_validate_json(s.payload).seq is not None
                    and any(c.paused for c in Applied.model_validate_json(s.payload).containers)
                ),
            ).payload
        )
        assert applied.mode == "desired" and applied.errors == []

        # media_stop as a bare word on this host's trigger topic
        probe.publish(f"warden/{host_id}/trigger", "media_stop")
        wait_until(lambda: containers.state(t3) == "running", what="tier 3 unpaused")
        wait_until(
            lambda: cpu_quota(containers, t2) == -1,
            what="tier 2 throttle lifted",
        )

        # the notifier told all three services, both times (Apprise's ntfy posts to the root,
        # and spaces two messages of one priority 5.5 s apart)
        def ntfy_titles() -> str:
            return " ".join(json.loads(r.body)["title"] for r in capture.to("/"))

        wait_until(
            lambda: (
                "Media Mode Activated" in ntfy_titles()
                and "Media Mode Deactivated" in ntfy_titles()
                and len(capture.to(DISCORD_PATH)) >= 2
                and len(capture.to("/gotify/message")) >= 2
            ),
            what="notifications",
        )
        assert capture.to("/")[0].headers["Authorization"] == "Bearer tk"
        assert capture.to("/gotify/message")[0].headers["X-Gotify-Key"] == "gt"
        embeds = [json.loads(r.body)["embeds"][0]["title"] for r in capture.to(DISCORD_PATH)]
        assert any("Media Mode Activated" in t for t in embeds)

        # Media mode on again, then the governor dies: nothing may stay paused.
        probe.publish("warden/trigger", "media_start")
        wait_until(lambda: containers.state(t3) == "paused", what="tier 3 paused again")
        killed_at = time.monotonic()
        services["governor"].kill(signal.SIGKILL)
        wait_until(
            lambda: containers.state(t3) == "running",
            timeout=LEASE * 4,
            what="tier 3 unpaused after the governor died",
        )
        baseline = Applied.model_validate_json(
            probe.wait_for(
                f"warden/{host_id}/applied",
                lambda s: Applied.model_validate_json(s.payload).mode == "baseline",
                after=killed_at,
            ).payload
        )
        assert baseline.baseline_reason in (
            "governor offline",
            f"lease expired ({LEASE}s without renewal)",
        )
        lost = probe.wait_for(
            f"warden/{host_id}/events",
            lambda s: Event.model_validate_json(s.payload).kind == "lease_expired",
            after=killed_at,
        )
        assert Event.model_validate_json(lost.payload).source == "actuator"
    finally:
        for service in services.values():
            service.kill(signal.SIGTERM)
    for name, service in services.items():
        assert "Traceback" not in service.output(), f"{name}:\n{service.output()}"
