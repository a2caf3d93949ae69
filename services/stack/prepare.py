"""Everything warden-stack makes before supervisord starts, the same on every start.

As root, each file belongs to the one program that reads it, mode 0600:

    run/                      root 0711   (passed through, never listed)
    run/mqtt/<service>.password   that service's user (the actuator's: root)
    run/signing.key           warden-governor (the actuator is root and reads it too)
    run/web-admin.token       warden-web
    run/mosquitto.{conf,passwd,acl}   mosquitto
    run/docker-ro.sock        root:warden-sensors 0660 (made by HAProxy)
    <state dir>/web, /notifier    that service's user, 0700 ($STATE_DIRECTORY)

and the config (and env file) goes to group `warden`, readable by the services, not by
others. Without root, everything belongs to the user who runs the stack, as before.
"""

from __future__ import annotations

import grp
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from services.stack.accounts import CONFIG_GROUP, Account, accounts_of, ensure_accounts
from services.stack.broker import SECRET_BYTES, prepare_local_broker
from services.stack.files import can, closed_on_the_way, ensure_dir, fix, share_with_group
from services.stack.plan import STACK_SERVICES, StackPaths, StackPlan, Users
from shared.config import WardenConfig
from shared.config.notifications import Notifications
from shared.config.web import Web
from shared.secrets import ensure_secret_file
from shared.topics import ServiceName

Say = Callable[[str], None]


class PrepareError(Exception):
    """Something the services would fail on: the message says what and how to fix it."""


def prepare(
    paths: StackPaths, plan: StackPlan, config: WardenConfig, users: Users, say: Say
) -> None:
    me = Account.current()
    if plan.own_users:
        ensure_accounts(broker=plan.local_broker, proxy=plan.docker_proxy)
        accounts = accounts_of(users)
    else:
        accounts = {name: me for name in (*STACK_SERVICES, "broker", "proxy")}
    # As root passed through by every service (their secrets are in it), listed by none.
    ensure_dir(paths.run_dir, me.owner, 0o711 if plan.own_users else 0o700)
    ensure_dir(paths.mqtt_secrets, me.owner, 0o711 if plan.own_users else 0o700)
    owners = {name: account.owner for name, account in accounts.items()}
    if plan.local_broker:
        prepare_local_broker(paths, config, plan.broker_port, accounts["broker"], owners)
    # The key the governor signs desired states with and the actuator checks them by
    # (supervisord.conf hands its path to those two only).
    ensure_secret_file(paths.signing_key, SECRET_BYTES, owners["governor"])
    ensure_secret_file(paths.admin_token, SECRET_BYTES, owners["web"])
    if plan.own_users:
        state_dirs(paths, accounts, say)
        readable_config(paths, config, accounts, say)


def state_dirs(paths: StackPaths, accounts: dict[str, Account], say: Say) -> None:
    """A directory of its own for the web service and the notifier (their $STATE_DIRECTORY),
    with what an older stack (all root) left in the shared one moved in."""
    root = Account.current()
    ensure_dir(paths.state_dir, root.owner, 0o755)
    for service in LEGACY_STATE:
        owner = accounts[service].owner
        directory = paths.state_of(service)
        ensure_dir(directory, owner, 0o700)
        for old in legacy_state_files(service, paths.state_dir):
            adopt(old, directory, owner, say)


# What the web service and the notifier kept in /var/lib/warden itself before each had a
# directory of its own (an older stack ran them as root; an older unit as `warden`).
LEGACY_STATE: dict[ServiceName, str] = {
    "web": Path(Web.model_fields["database"].default).name,
    "notifier": Path(Notifications.model_fields["outbox_file"].default).name,
}


def legacy_state_files(service: ServiceName, state_dir: Path) -> list[Path]:
    name = LEGACY_STATE[service]
    # SQLite's companions move with the database.
    return [state_dir / f"{name}{suffix}" for suffix in ("", "-wal", "-shm", "-journal")]


def adopt(old: Path, directory: Path, owner: tuple[int, int], say: Say) -> None:
    new = directory / old.name
    if not old.exists() or new.exists():
        return
    shutil.move(old, new)
    fix(new, owner, 0o600)
    say(f"moved {old} to {new}")


def readable_config(
    paths: StackPaths, config: WardenConfig, accounts: dict[str, Account], say: Say
) -> None:
    """The config (and env file) readable by the services' group, and every path a service
    needs reachable by its user; otherwise a clear error instead of five crash loops."""
    gid = grp.getgrnam(CONFIG_GROUP).gr_gid
    files = [paths.config, *([paths.env_file] if paths.env_file else [])]
    for file in files:
        if share_with_group(file, gid):
            say(f"{file}: group {CONFIG_GROUP} may read it, others may not")
    log_dir(config, gid, accounts)
    needs = [("-x", Path(paths.python)), ("-r", paths.repo / "services" / "__init__.py")]
    needs += [("-r", file) for file in files]
    for service in STACK_SERVICES:
        account = accounts[service]
        for test, path in needs:
            if can(account, test, path):
                continue
            closed = closed_on_the_way(account, path)
            where = (
                f"{closed} is closed to other users (chmod o+x {closed}, or put Warden "
                "somewhere else, e.g. /opt/warden)"
                if closed
                else f"its mode is {stat.S_IMODE(path.stat().st_mode):04o}"
            )
            raise PrepareError(f"{account.name} (the {service}) cannot reach {path}: {where}")


def log_dir(config: WardenConfig, gid: int, accounts: dict[str, Account]) -> None:
    """general.log_file: one file per service in its directory, which each service may
    write to (sticky: none can remove or rename another's)."""
    if not config.general.log_file:
        return
    path = Path(config.general.log_file)
    ensure_dir(path.parent, (0, gid), 0o1770)
    for service in STACK_SERVICES:
        mine = path.with_name(f"{path.stem}.{service}{path.suffix or '.log'}")
        for file in path.parent.glob(f"{mine.name}*"):
            fix(file, accounts[service].owner, 0o640)
