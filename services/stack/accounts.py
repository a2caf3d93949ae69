"""Who runs what on bare metal, under warden-stack and systemd alike: the actuator as root,
every other service as a system user of its own, the broker as Debian's `mosquitto`, and
the read-only Docker proxy as a user of its own in the engine socket's group.

One user per service rather than one `warden` user for all four: each service's broker
password is then a file only that service can open, so a service taken over cannot log in
to the broker as another (the ACL would let it write that one's topics), and the signing
key is open to the governor alone (the actuator, root, reads it anyway). They share one
group, `warden`, which may read the config: every service reads the one file.

Made idempotently with Debian's useradd, groupadd and usermod (package `passwd`).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from services.stack.plan import STACK_SERVICES, Users
from shared.topics import ServiceName

CONFIG_GROUP = "warden"
SERVICE_USERS: Mapping[ServiceName, str] = {
    "sensors": "warden-sensors",
    "governor": "warden-governor",
    "notifier": "warden-notifier",
    "web": "warden-web",
}
PROXY_USER = "warden-docker-proxy"
# Debian's mosquitto package makes this user; its systemd unit and ours run the broker so.
BROKER_USER = "mosquitto"
ROOT = "root"


class AccountError(Exception):
    """A user or group that cannot be made; the message says which and why."""


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    @classmethod
    def named(cls, name: str) -> Account:
        entry = pwd.getpwnam(name)
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @classmethod
    def current(cls) -> Account:
        entry = pwd.getpwuid(os.geteuid())
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @property
    def owner(self) -> tuple[int, int]:
        return (self.uid, self.gid)

    @property
    def groups(self) -> list[int]:
        """Every group the account is in, as a process started as it (initgroups) gets."""
        return os.getgrouplist(self.name, self.gid)


def user_of(service: ServiceName) -> str:
    return SERVICE_USERS.get(service, ROOT)


def own_users(engine_group: str | None) -> Users:
    """The names, for supervisord.conf (the accounts must exist: ensure_accounts)."""
    return Users(
        {service: user_of(service) for service in STACK_SERVICES},
        BROKER_USER,
        proxy=PROXY_USER,
        engine_group=engine_group,
    )


def accounts_of(users: Users) -> dict[str, Account]:
    """Program name (a service, `broker`, `proxy`) -> its account, looked up now."""
    found: dict[str, Account] = {s: Account.named(n) for s, n in users.services.items()}
    # Neither is made where it is not needed (a broker elsewhere, no Docker here).
    for program, name in (("broker", users.broker), ("proxy", users.proxy)):
        try:
            found[program] = Account.named(name) if name else Account.current()
        except KeyError:
            found[program] = Account.current()
    return found


def engine_group(socket_path: str) -> str | None:
    """The group that may use the engine's socket (Debian: `docker`), or None without one."""
    try:
        return grp.getgrgid(os.stat(socket_path).st_gid).gr_name
    except (OSError, KeyError):
        return None


# --- making them --------------------------------------------------------------


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise AccountError(
            f"{command[0]} is not installed (Debian: apt-get install passwd)"
        ) from None
    except subprocess.CalledProcessError as exc:
        raise AccountError(f"{' '.join(command)}: {exc.stderr.strip() or exc}") from None


def _nologin() -> str:
    return next(
        (p for p in ("/usr/sbin/nologin", "/sbin/nologin") if os.path.exists(p)),
        shutil.which("false") or "/bin/false",
    )


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        _run(["groupadd", "--system", name])


def ensure_user(name: str, comment: str, groups: tuple[str, ...] = ()) -> None:
    """A system user with a group of its own, no home and no login shell, in `groups`."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                _nologin(),
                "--comment",
                comment,
                name,
            ]
        )
    for group in groups:
        if name not in grp.getgrnam(group).gr_mem:
            _run(["usermod", "--append", "--groups", group, name])


def ensure_accounts(broker: bool, proxy: bool) -> None:
    """The group and users Warden runs as; those that exist are left as they are."""
    ensure_group(CONFIG_GROUP)
    for service, name in SERVICE_USERS.items():
        ensure_user(name, f"Warden {service}", (CONFIG_GROUP,))
    if proxy:
        ensure_user(PROXY_USER, "Warden read-only Docker proxy")
    if broker:
        # Where Mosquitto did not come from Debian's package, which makes this user.
        ensure_user(BROKER_USER, "Mosquitto MQTT broker")
