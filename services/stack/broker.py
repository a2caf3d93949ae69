"""The broker's side of the logins: its password file and the ACL generated from the
channel table, for warden-stack's own Mosquitto and for the system's (systemd)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from services.stack.accounts import Account
from services.stack.files import Owner, write_file
from services.stack.plan import STACK_SERVICES, StackPaths, mosquitto_conf
from shared.bridge import bridge_conf
from shared.channel_files import acl
from shared.config import WardenConfig
from shared.secrets import ensure_secret_file, mosquitto_password_line, mosquitto_password_matches

SECRET_BYTES = 32
PRIVATE = 0o600


def password_file(path: Path, logins: Mapping[str, str], owner: Owner) -> bool:
    """The broker's password_file for these logins, kept as it is while it holds exactly
    them (each line has a salt of its own, so writing it anew would change every line).
    True when it was written."""
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        lines = []
    current = len(lines) == len(logins) and all(
        mosquitto_password_matches(line, user, password)
        for line, (user, password) in zip(lines, logins.items(), strict=True)
    )
    text = "\n".join(lines if current else _hashed(logins)) + "\n"
    return write_file(path, text, owner, PRIVATE)


def _hashed(logins: Mapping[str, str]) -> list[str]:
    return [mosquitto_password_line(user, password) for user, password in logins.items()]


def service_passwords(directory: Path, owners: Mapping[str, Owner] | None = None) -> dict[str, str]:
    """One password per service, made once: <directory>/<service>.password, mode 0600,
    owned by the service's own user where `owners` says (only that service reads it)."""
    owners = owners or {}
    return {
        service: ensure_secret_file(
            directory / f"{service}.password", SECRET_BYTES, owners.get(service)
        )
        for service in STACK_SERVICES
    }


def prepare_local_broker(
    paths: StackPaths,
    config: WardenConfig,
    port: int,
    broker: Account | None = None,
    owners: Mapping[str, Owner] | None = None,
) -> None:
    """Passwords (kept), and the broker's password file, ACL and config, which only the
    broker's user reads (None: the stack's own user, as everything else); owners: who
    reads each service's password file."""
    broker = broker or Account.current()
    logins = service_passwords(paths.mqtt_secrets, owners)
    password_file(paths.broker_passwd, logins, broker.owner)
    rules = acl(config.mqtt.topic_root, config.home_assistant.discovery_prefix)
    write_file(paths.broker_acl, rules, broker.owner, PRIVATE)
    conf = mosquitto_conf(port, paths.run_dir, broker.name)
    if config.bridge.enabled:
        conf += bridge_conf(config)
    # The bridge's password may be in it: the broker's alone, as the password file.
    write_file(paths.mosquitto_conf, conf, broker.owner, PRIVATE)
