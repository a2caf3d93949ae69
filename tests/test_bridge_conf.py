"""The Mosquitto bridge config warden-stack writes for one host. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.bridge import bridge_conf, bridge_topics
from shared.config.loader import ConfigError, parse_config
from shared.config.model import WardenConfig


def cfg(**bridge: object) -> WardenConfig:
    return WardenConfig.model_validate(
        {"host_id": "nas", "bridge": {"enabled": True, "address": "central.lan", **bridge}}
    )


def test_up_goes_what_this_host_writes_down_comes_what_is_written_for_it() -> None:
    lines = dict(bridge_topics(cfg()))
    up = {t for t, d in lines.items() if d == "out"}
    down = {t for t, d in lines.items() if d == "in"}
    assert {
        "warden/nas/sensors/pressure",
        "warden/nas/desired",
        "warden/nas/applied",
        "warden/nas/events",
        "warden/nas/+/availability",
        "warden/nas/governor/decision",
        "homeassistant/+/warden_nas/+/config",
    } <= up
    assert down == {
        "warden/trigger",
        "warden/nas/trigger",
        "warden/nas/preset/set",
        "warden/nas/ha/republish",
        "warden/nas/settings",
        "warden/nas/overrides",
        "homeassistant/status",
    }
    # Home Assistant's statestream stays on the central broker (every entity's every
    # change): nothing of it comes down unless a condition reads it.
    assert not any(t.endswith("/+/state") for t in lines)
    # Nothing of another host, and nothing both ways.
    shared = ("warden/trigger", "homeassistant/status")
    assert all("/nas/" in t or "/warden_nas/" in t or t in shared for t in lines)


def test_the_topics_this_host_s_conditions_read_come_down() -> None:
    price = "homeassistant/sensor/electricity_price/state"
    config = WardenConfig.model_validate(
        {
            "host_id": "nas",
            "bridge": {"enabled": True, "address": "central.lan"},
            "conditions": [
                {"name": "expensive", "mqtt": {"topic": price, "above": 0.3}, "pause_tier3": True},
                {"name": "cheap", "mqtt": {"topic": price, "below": 0.1}, "preset": "aggressive"},
                {"name": "mover", "process": {"name": ["mover"]}, "media_mode": True},
            ],
        }
    )
    down = [t for t, d in bridge_topics(config) if d == "in"]
    assert down.count(price) == 1
    assert f"topic {price} in 1" in bridge_conf(config)


@pytest.mark.parametrize(
    ("bridge", "present", "absent"),
    [
        ({}, ["address central.lan:1883", "try_private true", "keepalive_interval 30"], ["tls"]),
        (
            {"username": "nas", "password": "s3cret", "port": 8883, "tls": True},
            ["remote_username nas", "remote_password s3cret", "address central.lan:8883"],
            ["bridge_cafile"],
        ),
        ({"tls": True, "ca_file": "/etc/warden/ca.crt"}, ["bridge_cafile /etc/warden/ca.crt"], []),
        ({"keepalive_seconds": 5}, ["keepalive_interval 5"], []),
    ],
)
def test_bridge_conf_lines(
    bridge: dict[str, object], present: list[str], absent: list[str]
) -> None:
    text = bridge_conf(cfg(**bridge))
    lines = text.splitlines()
    assert "notification_topic warden/nas/bridge/availability" in lines
    assert "topic warden/nas/desired out 1" in lines
    for line in present:
        assert line in lines
    for word in absent:
        assert word not in text


@pytest.mark.parametrize(
    ("bridge", "problem"),
    [
        ({"enabled": True}, "address is needed"),
        ({"username": "u"}, "username and password go together"),
        ({"ca_file": "/x"}, "ca_file needs tls"),
        ({"keepalive_seconds": 1}, "greater than or equal to 2"),
    ],
)
def test_bad_bridge_settings_are_named(bridge: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as caught:
        parse_config({"bridge": bridge}, Path("config.yaml"))
    assert "bridge" in str(caught.value)


def test_warden_stack_prints_the_bridge_for_a_broker_of_ones_own(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"host_id": "nas", "bridge": {"enabled": True, "address": "central.lan"}})
    )
    command = [sys.executable, "-m", "services.stack", "--config", str(config), "--print-bridge"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == bridge_conf(cfg())
    config.write_text(yaml.safe_dump({"host_id": "nas"}))
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "bridge section is not enabled" in done.stderr
