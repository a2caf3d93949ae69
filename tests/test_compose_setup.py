"""scripts/compose-setup, the compose page's first step: everything compose.yaml needs,
written once; a second run changes nothing, and an .env of the user's is never clobbered.
Each secret file is its one reader's (the service's uid, 0600), and an older install's
volumes are handed to the services' users."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from shared.config import load_config
from tests.support.acl_broker import mosquitto_passwd
from tests.support.compose_stack import SERVICE_UIDS
from tests.support.processes import REPO
from tests.support.real import missing

USERS = ("sensors", "governor", "actuator", "notifier", "web", "homeassistant")
# Each secret file, and the service whose uid alone may read it.
SECRETS = {
    "secrets/signing.key": "governor",
    "secrets/web-admin.token": "web",
    **{f"secrets/mqtt/{name}.password": name for name in SERVICE_UIDS},
}
WRITTEN = (".env", "config/config.yaml", "deploy/mosquitto/passwd", *SECRETS)


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
    for name, service in SECRETS.items():
        uid = SERVICE_UIDS[service]
        assert written[name][1:] == (0o600, uid, uid), name
    assert len(written["secrets/signing.key"][0].strip()) == 64
    env = env_values(checkout / ".env")
    for name in SERVICE_UIDS:
        password = (checkout / "secrets" / "mqtt" / f"{name}.password").read_text()
        assert password == env[f"WARDEN_{name.upper()}_MQTT_PASSWORD"] + "\n"
    token = (checkout / "secrets" / "web-admin.token").read_text()
    assert token == env["WARDEN_WEB_ADMIN_TOKEN"] + "\n"

    second = setup(checkout)
    assert contents(checkout) == written
    for name in (".env", "config/config.yaml", "deploy/mosquitto/passwd", "secrets/signing.key"):
        assert f"kept {name}" in second
    assert "kept secrets/mqtt/*.password and secrets/web-admin.token" in second

    # The user's own lines (the README's build variables, quoted) survive a third run.
    with (checkout / ".env").open("a") as env_file:
        env_file.write("WARDEN_PIP_FLAGS='--no-index --no-build-isolation'\n")
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
    # As compose hands it to a service: its user in the environment, its secrets as files.
    for name in ("WARDEN_MQTT_PASSWORD", "WARDEN_WEB_ADMIN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WARDEN_MQTT_USER", "web")
    monkeypatch.setenv("WARDEN_MQTT_PASSWORD_FILE", str(checkout / "secrets/mqtt/web.password"))
    monkeypatch.setenv("WARDEN_WEB_ADMIN_TOKEN_FILE", str(checkout / "secrets/web-admin.token"))
    config = load_config(checkout / "config" / "config.yaml").config
    assert (config.mqtt.host, config.mqtt.port, config.mqtt.username) == (
        "mosquitto",
        1883,
        "web",
    )
    assert config.mqtt.password == env["WARDEN_WEB_MQTT_PASSWORD"]
    assert config.web.admin_tokens == [env["WARDEN_WEB_ADMIN_TOKEN"]]
    assert config.sensors.docker_url == "tcp://docker-socket-proxy:2375"
    assert config.general.http_server.host == "0.0.0.0"
    assert sorted(config.tiers) == [0, 1, 2, 3]
    assert all(not tier.containers for tier in config.tiers.values())


def test_an_older_checkout_s_config_yaml_is_carried_over(checkout: Path) -> None:
    (checkout / "config.yaml").write_text("host_id: mine\n")
    assert "copied config.yaml to config/config.yaml" in setup(checkout)
    assert (checkout / "config" / "config.yaml").read_text() == "host_id: mine\n"


def test_a_password_changed_in_env_reaches_its_file_and_the_broker(checkout: Path) -> None:
    setup(checkout)
    env_path = checkout / ".env"
    before = (checkout / "deploy" / "mosquitto" / "passwd").read_bytes()
    text = env_path.read_text()
    old = env_values(env_path)["WARDEN_NOTIFIER_MQTT_PASSWORD"]
    env_path.write_text(text.replace(old, "0f" * 16))
    said = setup(checkout)
    assert "wrote from .env: secrets/mqtt/notifier.password" in said
    assert (checkout / "secrets/mqtt/notifier.password").read_text() == "0f" * 16 + "\n"
    assert (checkout / "secrets/mqtt/notifier.password").stat().st_uid == SERVICE_UIDS["notifier"]
    assert (checkout / "deploy" / "mosquitto" / "passwd").read_bytes() != before
    assert "wrote deploy/mosquitto/passwd from .env" in said


def test_an_older_install_s_files_and_volumes_go_to_the_services_users(checkout: Path) -> None:
    """Before each service had a user of its own, the image's one user (10001) owned the
    signing key and every volume: a run hands each to its service's user."""
    if shutil.which("docker") is None:
        missing("docker is not installed")
    project = "wdcs" + uuid.uuid4().hex[:6]
    (checkout / ".env").write_text(f"COMPOSE_PROJECT_NAME='{project}'\n")
    (checkout / ".env").chmod(0o600)
    (checkout / "secrets").mkdir()
    (checkout / "secrets" / "signing.key").write_text("ab" * 32 + "\n")
    os.chown(checkout / "secrets" / "signing.key", 10001, 10001)
    volumes = {"notifier": "notifier-outbox", "web": "web-data", "actuator": "actuator-state"}
    made = []
    try:
        for service, volume in volumes.items():
            name = f"{project}_{volume}"
            subprocess.run(["docker", "volume", "create", name], check=True, capture_output=True)
            made.append(name)
            mountpoint = Path(volume_mountpoint(name))
            (mountpoint / "kept").write_text(service)
            for path in (mountpoint, mountpoint / "kept"):
                os.chown(path, 10001, 10001)
        said = setup(checkout)
        for service, volume in volumes.items():
            uid = SERVICE_UIDS[service]
            assert f"handed volume {project}_{volume} to the {service}'s user" in said
            mountpoint = Path(volume_mountpoint(f"{project}_{volume}"))
            for path in (mountpoint, mountpoint / "kept"):
                assert (path.stat().st_uid, path.stat().st_gid) == (uid, uid), path
            assert (mountpoint / "kept").read_text() == service
        key = (checkout / "secrets" / "signing.key").stat()
        assert (key.st_uid, key.st_mode & 0o777) == (SERVICE_UIDS["governor"], 0o600)
        assert "handed volume" not in setup(checkout)
    finally:
        for name in made:
            subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)


def volume_mountpoint(name: str) -> str:
    return subprocess.run(
        ["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
