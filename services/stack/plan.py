"""What warden-stack decides before it starts anything (pure): whether it needs a local
Mosquitto, whether the actuator may touch the host, whether the sensors read Docker
through the read-only proxy, who runs what, and the WARDEN_* variables that carry all
this to deploy/supervisord.conf."""

from __future__ import annotations

import os
import pwd
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from shared.config import WardenConfig
from shared.config.web import ADMIN_TOKEN_FILE_ENV
from shared.topics import ServiceName

# The services that log in to the local broker, each with its own generated password.
STACK_SERVICES: tuple[ServiceName, ...] = get_args(ServiceName)
MOSQUITTO_FALLBACK = "/usr/sbin/mosquitto"
HAPROXY_FALLBACK = "/usr/sbin/haproxy"
STATE_DIR = Path("/var/lib/warden")


@dataclass(frozen=True)
class StackPlan:
    local_broker: bool
    # A broker already listens on 127.0.0.1:port (Debian's mosquitto package starts one).
    reuse_broker: bool
    broker_port: int
    dry_run: bool
    # Why the actuator runs in dry-run; None when it does not.
    dry_run_reason: str | None
    # The sensors read this host's engine through the read-only proxy (HAProxy, started by
    # the stack), never through its read-write socket.
    docker_proxy: bool = False
    # Each service under its own system user (the stack runs as root); False: every
    # service as the user who started the stack.
    own_users: bool = False


@dataclass(frozen=True)
class StackPaths:
    repo: Path
    run_dir: Path
    config: Path
    python: str
    mosquitto: str
    haproxy: str = HAPROXY_FALLBACK
    # Where the web service and the notifier keep their state, each in a directory of its
    # own below (web/, notifier/), when each runs under its own user.
    state_dir: Path = STATE_DIR
    # The KEY=VALUE file the config's ${VAR} come from, which the services read too.
    env_file: Path | None = None

    @property
    def mosquitto_conf(self) -> Path:
        return self.run_dir / "mosquitto.conf"

    @property
    def broker_passwd(self) -> Path:
        return self.run_dir / "mosquitto.passwd"

    @property
    def broker_acl(self) -> Path:
        return self.run_dir / "mosquitto.acl"

    @property
    def mqtt_secrets(self) -> Path:
        """One 0600 file per service, <service>.password, read by the service itself."""
        return self.run_dir / "mqtt"

    @property
    def signing_key(self) -> Path:
        return self.run_dir / "signing.key"

    @property
    def admin_token(self) -> Path:
        """The web service's admin token (shared/config/web.py ADMIN_TOKEN_FILE names it)."""
        return self.run_dir / "web-admin.token"

    @property
    def docker_proxy_socket(self) -> Path:
        return self.run_dir / "docker-ro.sock"

    @property
    def docker_proxy_cfg(self) -> Path:
        return self.repo / "deploy" / "docker-proxy" / "haproxy.cfg"

    def state_of(self, service: ServiceName) -> Path:
        return self.state_dir / service


@dataclass(frozen=True)
class Users:
    """The user each program runs as; one name for all where the stack is not root."""

    services: Mapping[ServiceName, str]
    broker: str
    # The Docker proxy: HAProxy starts as the stack's user, binds its socket, then becomes
    # this user in the engine socket's group. None: it stays the stack's user.
    proxy: str | None = None
    engine_group: str | None = None

    @classmethod
    def everyone(cls, name: str) -> Users:
        return cls({service: name for service in STACK_SERVICES}, name)


# --- decisions --------------------------------------------------------------


def dry_run_reason(
    config: WardenConfig, is_root: bool, docker_ok: bool, cgroup_ok: bool, flag: bool
) -> str | None:
    """The first reason the actuator must not touch the host, or None."""
    settings = config.actuator
    reasons = [
        (flag, "--dry-run was given"),
        (settings.dry_run, "actuator.dry_run is true in the config"),
        (not is_root, "not running as root, so cgroups and containers cannot be changed"),
        (not docker_ok, "no read+write access to the Docker socket"),
        (not cgroup_ok, f"cannot write under {settings.cgroup_root}"),
    ]
    return next((why for applies, why in reasons if applies), None)


def plan_stack(
    config: WardenConfig,
    is_root: bool,
    docker_ok: bool,
    cgroup_ok: bool,
    dry_run_flag: bool = False,
    local_port_taken: bool = False,
    docker_proxy: bool = False,
) -> StackPlan:
    """docker_proxy: the sensors' engine is this host's socket and HAProxy is installed."""
    reason = dry_run_reason(config, is_root, docker_ok, cgroup_ok, dry_run_flag)
    wants_local = config.mqtt.host is None
    return StackPlan(
        local_broker=wants_local and not local_port_taken,
        reuse_broker=wants_local and local_port_taken,
        broker_port=config.mqtt.port,
        dry_run=reason is not None,
        dry_run_reason=reason,
        docker_proxy=docker_proxy,
        own_users=is_root,
    )


def mosquitto_conf(port: int, run_dir: Path, user: str) -> str:
    """The local broker's config; deploy/mosquitto/mosquitto.conf shows the same lines."""
    return (
        "# Written by warden-stack for this run; see deploy/mosquitto/mosquitto.conf.\n"
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        f"password_file {run_dir / 'mosquitto.passwd'}\n"
        f"acl_file {run_dir / 'mosquitto.acl'}\n"
        f"user {user}\n"
        "persistence false\n"
        "log_dest stdout\n"
        "set_tcp_nodelay true\n"
    )


def proxy_bind(socket: Path, users: Users) -> str:
    """HAProxy's bind line (WARDEN_DOCKER_PROXY_BIND): a unix socket only the sensors may
    open; with one user for everything, that user's alone."""
    if users.proxy is None:
        return f"unix@{socket} mode 600"
    return f"unix@{socket} mode 660 group {users.services['sensors']}"


def stack_env(plan: StackPlan, paths: StackPaths, users: Users | None = None) -> dict[str, str]:
    """The variables deploy/supervisord.conf expands (and the services read)."""
    users = users or Users.everyone(pwd.getpwuid(os.geteuid()).pw_name)
    env = {
        "WARDEN_CONFIG": str(paths.config),
        "WARDEN_RUN_DIR": str(paths.run_dir),
        "WARDEN_PYTHON": paths.python,
        "WARDEN_REPO": str(paths.repo),
        "WARDEN_ACTUATOR_FLAGS": "--dry-run" if plan.dry_run else "",
        "WARDEN_LOCAL_BROKER": "true" if plan.local_broker else "false",
        "WARDEN_MOSQUITTO": paths.mosquitto,
        "WARDEN_MOSQUITTO_CONF": str(paths.mosquitto_conf),
        # Set: each service logs in to the local broker as itself, with the password
        # in <dir>/<service>.password. Empty: the config's own mqtt settings.
        "WARDEN_MQTT_SECRETS_DIR": str(paths.mqtt_secrets) if plan.local_broker else "",
        **{f"WARDEN_USER_{name.upper()}": user for name, user in users.services.items()},
        "WARDEN_USER_BROKER": users.broker,
        "WARDEN_DOCKER_PROXY": "true" if plan.docker_proxy else "false",
        "WARDEN_HAPROXY": paths.haproxy,
        "WARDEN_DOCKER_PROXY_CFG": str(paths.docker_proxy_cfg),
        "WARDEN_DOCKER_PROXY_BIND": proxy_bind(paths.docker_proxy_socket, users),
        # Read by the sensors (shared/config/docker.py): the proxy wins over the config.
        "WARDEN_SENSORS_DOCKER_URL": (
            f"unix://{paths.docker_proxy_socket}" if plan.docker_proxy else ""
        ),
        # Read by the web service: the admin token the stack wrote for the dashboard.
        ADMIN_TOKEN_FILE_ENV: str(paths.admin_token),
        # $STATE_DIRECTORY of the web service and the notifier (shared/state_dir.py);
        # empty where they run as the stack's user, which keeps the config's paths.
        "WARDEN_WEB_STATE_DIR": str(paths.state_of("web")) if plan.own_users else "",
        "WARDEN_NOTIFIER_STATE_DIR": str(paths.state_of("notifier")) if plan.own_users else "",
    }
    if users.proxy is not None and users.engine_group is not None:
        # Only here: haproxy.cfg drops privileges where these are defined at all.
        env["WARDEN_DOCKER_PROXY_USER"] = users.proxy
        env["WARDEN_DOCKER_PROXY_GROUP"] = users.engine_group
    return env


def describe(plan: StackPlan, config: WardenConfig, users: Users | None = None) -> list[str]:
    """What the operator should know before the logs start scrolling."""
    if plan.local_broker:
        broker = f"starting a local Mosquitto on 127.0.0.1:{plan.broker_port}"
    elif plan.reuse_broker:
        broker = (
            f"a broker already listens on 127.0.0.1:{plan.broker_port}: using it, with the "
            "config's mqtt login (none: anonymous) and no ACL of Warden's; for a login per "
            "service, stop it or set mqtt.port to a free port"
        )
    else:
        broker = f"using the broker at {config.mqtt.host}:{config.mqtt.port}"
    actuator = (
        f"actuator in dry-run: {plan.dry_run_reason}"
        if plan.dry_run
        else "actuator will change cgroups and containers"
    )
    lines = [f"warden-stack: {broker}", f"warden-stack: {actuator}"]
    if plan.own_users and users is not None:
        names = ", ".join(f"{s} as {u}" for s, u in users.services.items() if s != "actuator")
        lines.append(f"warden-stack: the actuator runs as root; {names}")
    if plan.docker_proxy:
        lines.append("warden-stack: the sensors read Docker through the read-only proxy (HAProxy)")
    return lines


def format_env(env: Mapping[str, str]) -> str:
    # Shell-quoted, so the output works with `set -a; . file` and as a systemd EnvironmentFile.
    return "\n".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
