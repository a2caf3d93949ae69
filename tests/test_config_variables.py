"""${VAR} in the config from VAR, else from the file VAR_FILE names (compose's secrets):
which one is taken, and a file that cannot give a value stops the start naming the file,
never the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.config import ConfigError, load_config
from shared.config.variables import FromFile, variable_source

SECRET = "s3cr3t: #not yaml"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PW": "a"}, "a"),
        # The variable, set and not empty, wins: a setup that sets it keeps working.
        ({"PW": "a", "PW_FILE": "/run/secrets/pw"}, "a"),
        ({"PW_FILE": "/run/secrets/pw"}, FromFile("PW_FILE", "/run/secrets/pw")),
        # compose's `${X:-}` sets it empty: the file still counts.
        ({"PW": "", "PW_FILE": "/run/secrets/pw"}, FromFile("PW_FILE", "/run/secrets/pw")),
        ({"PW": "", "PW_FILE": ""}, ""),
        ({"PW": ""}, ""),
        ({"PW_FILE": ""}, None),
        ({}, None),
        # Only NAME_FILE, exactly: neither a prefix nor another suffix.
        ({"PWFILE": "/x", "PW_FILE_": "/y", "XPW_FILE": "/z"}, None),
    ],
)
def test_the_variable_or_the_file_it_names(env: dict[str, str], expected: object) -> None:
    assert variable_source("PW", env) == expected


def config_with_password(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text('mqtt:\n  password: "${WARDEN_MQTT_PASSWORD}"\n')
    return path


def test_the_file_gives_the_value_without_its_line_break(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    monkeypatch.delenv("WARDEN_MQTT_PASSWORD", raising=False)
    monkeypatch.setenv("WARDEN_MQTT_PASSWORD_FILE", str(secret))
    loaded = load_config(config_with_password(tmp_path))
    assert loaded.config.mqtt.password == SECRET
    assert loaded.unset_variables == []
    # The variable, where someone still sets it, wins over the file.
    monkeypatch.setenv("WARDEN_MQTT_PASSWORD", "from-env")
    assert load_config(config_with_password(tmp_path)).config.mqtt.password == "from-env"


def test_the_env_file_may_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "password"
    secret.write_text(SECRET)
    monkeypatch.delenv("WARDEN_MQTT_PASSWORD", raising=False)
    monkeypatch.delenv("WARDEN_MQTT_PASSWORD_FILE", raising=False)
    (tmp_path / "warden.env").write_text(f"WARDEN_MQTT_PASSWORD_FILE={secret}\n")
    assert load_config(config_with_password(tmp_path)).config.mqtt.password == SECRET


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "No such file or directory"),
        (lambda p: p.mkdir(), "Is a directory"),
        (lambda p: p.write_text("\n"), "it is empty"),
        (lambda p: p.write_bytes(b"\xffs3cr3t\n"), "it is not UTF-8 text"),
    ],
)
def test_a_file_that_gives_no_value_is_a_config_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], object], reason: str
) -> None:
    secret = tmp_path / "password"
    make(secret)
    monkeypatch.delenv("WARDEN_MQTT_PASSWORD", raising=False)
    monkeypatch.setenv("WARDEN_MQTT_PASSWORD_FILE", str(secret))
    path = config_with_password(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: mqtt.password: ${{WARDEN_MQTT_PASSWORD}}: ")
    assert f"WARDEN_MQTT_PASSWORD_FILE names {secret}" in message and reason in message
    assert "s3cr3t" not in message and "\\xff" not in message


def test_a_service_does_not_start_on_an_unreadable_password_file(tmp_path: Path) -> None:
    """The real start: exit 2, the file named on stderr, nothing of the secret."""
    config = tmp_path / "config.yaml"
    config.write_text("host_id: h\nmqtt:\n  host: 127.0.0.1\n  password: ${WARDEN_MQTT_PASSWORD}\n")
    missing_file = tmp_path / "nowhere" / "password"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    env["WARDEN_MQTT_PASSWORD_FILE"] = str(missing_file)
    done = subprocess.run(
        [sys.executable, "-m", "services.governor", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert f"WARDEN_MQTT_PASSWORD_FILE names {missing_file}" in done.stderr
    assert "Traceback" not in done.stderr
