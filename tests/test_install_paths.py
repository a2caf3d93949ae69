"""What warden-stack and the systemd units tell a service through its environment: where
its state goes ($STATE_DIRECTORY), the Docker door the sensors use, the admin token file
of the web service, and the secrets each service alone may read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.web.service import StartError, admin_token_from_file
from shared.config.docker import SENSORS_URL_ENV, DockerAccess, DockerTls
from shared.config.notifications import Notifications
from shared.config.web import ADMIN_TOKEN_FILE_ENV, Web
from shared.secrets import (
    SecretFileError,
    ensure_secret_file,
    mosquitto_password_line,
    mosquitto_password_matches,
)
from shared.state_dir import state_file
from tests.support.real import missing


@pytest.mark.parametrize(
    ("database", "environ", "expected"),
    [
        # No state directory (compose, a service run by hand): the config, as it is.
        (None, {}, "/var/lib/warden/web.sqlite3"),
        # systemd's StateDirectory=warden/web, or warden-stack as root: the same name there.
        (None, {"STATE_DIRECTORY": "/var/lib/warden/web"}, "/var/lib/warden/web/web.sqlite3"),
        # Several StateDirectory= lines: the first.
        (None, {"STATE_DIRECTORY": "/a:/b"}, "/a/web.sqlite3"),
        (None, {"STATE_DIRECTORY": ""}, "/var/lib/warden/web.sqlite3"),
        # The default written out (config.example.yaml does so) counts as the default.
        ("/var/lib/warden/web.sqlite3", {"STATE_DIRECTORY": "/s"}, "/s/web.sqlite3"),
        # A path of the user's own always wins.
        ("/srv/warden/db.sqlite3", {"STATE_DIRECTORY": "/s"}, "/srv/warden/db.sqlite3"),
    ],
)
def test_state_file(database: str | None, environ: dict[str, str], expected: str) -> None:
    web = Web() if database is None else Web(database=database)
    assert state_file(web, "database", environ) == expected


def test_the_notifier_outbox_follows_its_state_directory() -> None:
    environ = {"STATE_DIRECTORY": "/var/lib/warden/notifier"}
    expected = "/var/lib/warden/notifier/notifier-outbox.json"
    assert state_file(Notifications(), "outbox_file", environ) == expected


def test_the_sensors_are_pointed_at_the_proxy() -> None:
    tls = DockerTls(ca_cert="/ca.pem")
    configured = DockerAccess(docker_url="tcp://engine:2376", docker_tls=tls)
    assert configured.pointed_by({}, SENSORS_URL_ENV) is configured
    assert configured.pointed_by({SENSORS_URL_ENV: ""}, SENSORS_URL_ENV) is configured
    proxy = "unix:///run/warden-docker-proxy/docker.sock"
    pointed = configured.pointed_by({SENSORS_URL_ENV: proxy, "DOCKER_HOST": "x"}, SENSORS_URL_ENV)
    assert (pointed.docker_url, pointed.docker_tls) == (proxy, None)
    assert pointed.resolved_url({"DOCKER_HOST": "tcp://other:2375"}) == proxy


def test_the_web_service_takes_the_admin_token_file(tmp_path: Path) -> None:
    assert admin_token_from_file({}) == []
    token = tmp_path / "web-admin.token"
    secret = ensure_secret_file(token)
    assert admin_token_from_file({ADMIN_TOKEN_FILE_ENV: str(token)}) == [secret]
    token.chmod(0o644)  # spent: others could read it
    with pytest.raises(StartError, match="0644"):
        admin_token_from_file({ADMIN_TOKEN_FILE_ENV: str(token)})
    with pytest.raises(StartError, match="cannot read"):
        admin_token_from_file({ADMIN_TOKEN_FILE_ENV: str(tmp_path / "absent")})
    token.chmod(0o600)
    token.write_text("not one token\n")
    with pytest.raises(StartError, match="printable ASCII") as refused:
        admin_token_from_file({ADMIN_TOKEN_FILE_ENV: str(token)})
    assert "not one token" not in str(refused.value)


def test_a_secret_is_given_to_its_reader(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        missing("giving a file to another user needs root")
    path = tmp_path / "governor.password"
    first = ensure_secret_file(path, owner=(65534, 65534))
    assert (path.stat().st_uid, path.stat().st_gid) == (65534, 65534)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # An older file of root's is given over, its secret kept.
    os.chown(path, 0, 0)
    assert ensure_secret_file(path, owner=(65534, 65534)) == first
    assert path.stat().st_uid == 65534
    path.chmod(0o640)
    with pytest.raises(SecretFileError):
        ensure_secret_file(path, owner=(65534, 65534))


@pytest.mark.parametrize(
    ("user", "password", "matches"),
    [("governor", "s3cret", True), ("governor", "other", False), ("actuator", "s3cret", False)],
)
def test_a_password_line_is_recognised(user: str, password: str, matches: bool) -> None:
    line = mosquitto_password_line("governor", "s3cret")
    assert mosquitto_password_matches(line, user, password) is matches
    assert not mosquitto_password_matches("governor:$6$plain", "governor", "s3cret")
    assert not mosquitto_password_matches("governor:$7$101$!!$x", "governor", "s3cret")
