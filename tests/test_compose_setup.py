"""scripts/compose-setup, the README's first compose step: everything compose.yaml needs,
written once; a second run changes nothing, and an .env of the user's is never clobbered."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.config import load_config
from tests.support.acl_broker import mosquitto_passwd
from tests.support.processes import REPO
from tests.support.real import missing

USERS = ("sensors", "governor", "actuator", "notifier", "web", "homeassistant")
WRITTEN = (".env", "config/config.yaml", "deploy/mosquitto/passwd", "secrets/signing.key")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        missing("scripts/compose-setup hands files to the images' users: it needs root")
    if mosquitto_passwd() is None:
        missing("mosquitto_passwd is not installed (apt-get install mosquitto)")
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "compose-setup", tmp_path / "scripts")
    (tmp_path / "deploy" / "mosquitto").mkdir(parents=True)
    return tmp_path


def setup(checkout: Path) -> str:
    done = subprocess.run(
        ["scripts/compose-setup"], cwd=checkout, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def contents(checkout: Path) -> dict[str, tuple[bytes, int, int, int]]:
    found = {}
    for name in WRITTEN:
        st = (checkout / name).stat()
        found[name] = ((checkout / name).read_bytes(), st.st_mode & 0o777, st.st_uid, st.st_gid)
    return found


def env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        assert value.startswith("'") and value.endswith("'"), line  # quoted, for `. ./.env`
        values[key] = value[1:-1]
    return values


def test_setup_writes_everything_once_and_a_second_run_changes_nothing(checkout: Path) -> None:
    first = setup(checkout)
    assert "wrote .env" in first and "wrote config/config.yaml" in first
    written = contents(checkout)
    assert written[".env"][1] == 0o600
    assert written["deploy/mosquitto/passwd"][1:3] == (0o600, 1883)
    assert written["secrets/signing.key"][1:3] == (0o600, 10001)
    assert len(written["secrets/signing.key"][0].strip()) == 64

    second = setup(checkout)
    assert contents(checkout) == written
    for name in (".env", "config/config.yaml", "deploy/mosquitto/passwd", "secrets/signing.key"):
        assert f"kept {name}" in second

    # The user's own lines (the README's build variables, quoted) survive a third run.
    with (checkout / ".env").open("a") as env:
        env.write("WARDEN_PIP_FLAGS='--no-index --no-build-isolation'\n")
    edited = (checkout / ".env").read_bytes()
    setup(checkout)
    assert (checkout / ".env").read_bytes() == edited
    # ... and the shell reads it back (an unquoted value with a space would not).
    shell = subprocess.run(
        ["bash", "-c", 'set -a; . ./.env; set +a; printf %s "$WARDEN_PIP_FLAGS"'],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == "--no-index --no-build-isolation"


def test_the_written_config_and_logins_are_what_compose_needs(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(checkout)
    env = env_values(checkout / ".env")
    assert set(env) >= {f"WARDEN_{u.upper()}_MQTT_PASSWORD" for u in USERS}
    assert len(env["WARDEN_WEB_ADMIN_TOKEN"]) == 48
    passwd = (checkout / "deploy" / "mosquitto" / "passwd").read_text()
    assert sorted(line.split(":")[0] for line in passwd.splitlines()) == sorted(USERS)
    # As compose hands it to a service: its login in the environment.
    monkeypatch.setenv("WARDEN_MQTT_USER", "governor")
    monkeypatch.setenv("WARDEN_MQTT_PASSWORD", env["WARDEN_GOVERNOR_MQTT_PASSWORD"])
    monkeypatch.setenv("WARDEN_WEB_ADMIN_TOKEN", env["WARDEN_WEB_ADMIN_TOKEN"])
    config = load_config(checkout / "config" / "config.yaml").config
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.username) == (
        "mosquitto",
        1883,
        "governor",
    )
    assert config.sensors.docker_url == "tcp://docker-socket-proxy:2375"
    assert config.general.http_server.host == "0.0.0.0"
    assert sorted(config.tiers) == [0, 1, 2, 3]
    assert all(not tier.containers for tier in config.tiers.values())


def test_an_older_checkout_s_config_yaml_is_carried_over(checkout: Path) -> None:
    (checkout / "config.yaml").write_text("host_id: mine\n")
    assert "copied config.yaml to config/config.yaml" in setup(checkout)
    assert (checkout / "config" / "config.yaml").read_text() == "host_id: mine\n"
