"""warden-stack --config FILE [--run-dir DIR] [--dry-run] [--print-env] [--print-bridge]

Runs the whole of Warden on one machine: decides whether it needs a local
Mosquitto and whether the actuator may touch the host, then execs supervisord
with deploy/supervisord.conf, which reads those decisions from WARDEN_* variables.
Supervisord replaces this process, so signals sent to it (Ctrl-C, SIGTERM from
systemd) stop every service cleanly.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from shared.bridge import bridge_conf
from shared.channel_files import acl
from shared.config import ConfigError, WardenConfig, load_config
from shared.secrets import ensure_secret_file, mosquitto_password_line
from shared.topics import ServiceName

REPO = Path(__file__).resolve().parents[1]
SUPERVISORD_CONF = REPO / "deploy" / "supervisord.conf"
MOSQUITTO_FALLBACK = "/usr/sbin/mosquitto"
# The services that log in to the local broker, each with its own generated password.
STACK_SERVICES: tuple[ServiceName, ...] = get_args(ServiceName)
SECRET_BYTES = 32


@dataclass(frozen=True)
class StackPlan:
    local_broker: bool
    # A broker already listens on 127.0.0.1:port (Debian's mosquitto package starts one).
    reuse_broker: bool
    broker_port: int
    dry_run: bool
    # Why the actuator runs in dry-run; None when it does not.
    dry_run_reason: str | None


@dataclass(frozen=True)
class StackPaths:
    repo: Path
    run_dir: Path
    config: Path
    python: str
    mosquitto: str

    @property
    def mosquitto_conf(self) -> Path:
        return self.run_dir / "mosquitto.conf"

    @property
    def mqtt_secrets(self) -> Path:
        """One 0600 file per service, <service>.password, read by the service itself."""
        return self.run_dir / "mqtt"

    @property
    def signing_key(self) -> Path:
        return self.run_dir / "signing.key"


# --- decisions (pure) -------------------------------------------------------


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
) -> StackPlan:
    reason = dry_run_reason(config, is_root, docker_ok, cgroup_ok, dry_run_flag)
    wants_local = config.mqtt.host is None
    return StackPlan(
        local_broker=wants_local and not local_port_taken,
        reuse_broker=wants_local and local_port_taken,
        broker_port=config.mqtt.port,
        dry_run=reason is not None,
        dry_run_reason=reason,
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


def prepare_local_broker(paths: StackPaths, config: WardenConfig, port: int) -> None:
    """Passwords (kept), and the broker's password file, ACL and config (written anew)."""
    lines = []
    for service in STACK_SERVICES:
        password = ensure_secret_file(paths.mqtt_secrets / f"{service}.password", SECRET_BYTES)
        lines.append(mosquitto_password_line(service, password))
    private = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    passwd = paths.run_dir / "mosquitto.passwd"
    with os.fdopen(os.open(passwd, private, 0o600), "w") as file:
        file.write("\n".join(lines) + "\n")
    passwd.chmod(0o600)  # an older file keeps its mode through O_CREAT
    rules = acl(config.mqtt.topic_root, config.home_assistant.discovery_prefix)
    (paths.run_dir / "mosquitto.acl").write_text(rules)
    # Mosquitto started as root switches to the `mosquitto` user, which could not
    # read the 0600 password file: it keeps the launcher's user instead.
    conf = mosquitto_conf(port, paths.run_dir, pwd.getpwuid(os.geteuid()).pw_name)
    if config.bridge.enabled:
        conf += bridge_conf(config)
    paths.mosquitto_conf.write_text(conf)


def stack_env(plan: StackPlan, paths: StackPaths) -> dict[str, str]:
    """The variables deploy/supervisord.conf expands."""
    return {
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
    }


def describe(plan: StackPlan, config: WardenConfig) -> list[str]:
    """What the operator should know before the logs start scrolling."""
    if plan.local_broker:
        broker = f"starting a local Mosquitto on 127.0.0.1:{plan.broker_port}"
    elif plan.reuse_broker:
        broker = f"a broker already listens on 127.0.0.1:{plan.broker_port}: using it"
    else:
        broker = f"using the broker at {config.mqtt.host}:{config.mqtt.port}"
    actuator = (
        f"actuator in dry-run: {plan.dry_run_reason}"
        if plan.dry_run
        else "actuator will change cgroups and containers"
    )
    return [f"warden-stack: {broker}", f"warden-stack: {actuator}"]


# --- probing the host -------------------------------------------------------


def docker_socket_ok(docker_url: str) -> bool:
    """False only when a local Docker socket exists and we cannot use it.

    No socket at all means no Docker on this host: not a privilege problem, the
    actuator still manages bare processes and its preflight reports the rest.
    A tcp:// or ssh:// engine cannot be judged from file permissions.
    """
    if not docker_url.startswith("unix://"):
        return True
    socket_path = docker_url.removeprefix("unix://")
    if not os.path.exists(socket_path):
        return True
    return os.access(socket_path, os.R_OK | os.W_OK)


def cgroup_writable(cgroup_root: str | Path) -> bool:
    """Can we move processes in the hierarchy (v2 root, or a v1/hybrid controller)?

    On hybrid hosts the root is a tmpfs, often read-only, with the writable
    hierarchies one level down, so the root directory alone proves nothing.
    """
    root = Path(cgroup_root)
    if not root.is_dir():
        return False
    candidates = [root, *(child for child in root.iterdir() if child.is_dir())]
    return any(os.access(c / "cgroup.procs", os.W_OK) for c in candidates)


def port_taken(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def find_supervisord() -> str | None:
    beside_python = Path(sys.executable).parent / "supervisord"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("supervisord")


def find_mosquitto() -> str | None:
    # /usr/sbin is often not on a normal user's PATH.
    found = shutil.which("mosquitto")
    if found:
        return found
    return MOSQUITTO_FALLBACK if Path(MOSQUITTO_FALLBACK).exists() else None


# --- the command ------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="warden-stack",
        description="Run the Warden services (and a local broker if needed) under supervisord.",
    )
    parser.add_argument("--config", required=True, help="the config.yaml every service reads")
    parser.add_argument(
        "--env-file",
        default=os.environ.get("WARDEN_ENV_FILE"),
        help="KEY=VALUE file for ${VAR} in the config (passed on to the services)",
    )
    parser.add_argument(
        "--run-dir",
        default="run",
        help="where the supervisor socket, pid, logs and broker config go (default: ./run)",
    )
    parser.add_argument("--dry-run", action="store_true", help="the actuator touches nothing")
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print the WARDEN_* variables for supervisord and exit without starting anything",
    )
    parser.add_argument(
        "--print-bridge",
        action="store_true",
        help="print the Mosquitto bridge lines for config `bridge:` (for a broker of your own)",
    )
    return parser.parse_args(argv)


def format_env(env: Mapping[str, str]) -> str:
    # Shell-quoted, so the output works with `set -a; . file` and as a systemd EnvironmentFile.
    return "\n".join(f"{key}={shlex.quote(value)}" for key, value in env.items())


def host_plan(config: WardenConfig, dry_run_flag: bool) -> StackPlan:
    return plan_stack(
        config,
        is_root=os.geteuid() == 0,
        docker_ok=docker_socket_ok(config.actuator.resolved_url(os.environ)),
        cgroup_ok=cgroup_writable(config.actuator.cgroup_root),
        dry_run_flag=dry_run_flag,
        local_port_taken=config.mqtt.host is None and port_taken(config.mqtt.port),
    )


def fail(message: str) -> int:
    print(f"warden-stack: {message}", file=sys.stderr)
    return 2


def exec_supervisord(
    env: Mapping[str, str], paths: StackPaths, plan: StackPlan, config: WardenConfig
) -> int:
    supervisord = find_supervisord()
    if supervisord is None:
        return fail("supervisord not found (pip install supervisor)")
    if not SUPERVISORD_CONF.exists():
        return fail(f"{SUPERVISORD_CONF} is missing; run warden-stack from a source checkout")
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    paths.run_dir.chmod(0o700)
    if plan.local_broker:
        prepare_local_broker(paths, config, plan.broker_port)
    # The key the governor signs desired state with and the actuator checks
    # (supervisord.conf hands its path to those two only).
    ensure_secret_file(paths.signing_key, SECRET_BYTES)
    os.environ.update(env)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(supervisord, [supervisord, "-n", "-c", str(SUPERVISORD_CONF)])
    return 1  # not reached: execvp returns only by raising


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.env_file).config
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    if args.print_bridge:
        if not config.bridge.enabled:
            return fail("the config's bridge section is not enabled")
        print(bridge_conf(config), end="")
        return 0
    plan = host_plan(config, args.dry_run)
    mosquitto = find_mosquitto()
    if plan.local_broker and mosquitto is None:
        return fail(
            "the config sets no mqtt.host, so a local Mosquitto is needed, but it is not "
            "installed (apt-get install mosquitto), or set mqtt.host to your broker"
        )
    paths = StackPaths(
        repo=REPO,
        run_dir=Path(args.run_dir).resolve(),
        config=Path(args.config).resolve(),
        python=sys.executable,
        mosquitto=mosquitto or MOSQUITTO_FALLBACK,
    )
    env = stack_env(plan, paths)
    if args.env_file:
        # The services look for the env file themselves; make sure they find the same one.
        env["WARDEN_ENV_FILE"] = str(Path(args.env_file).resolve())
    for line in describe(plan, config):
        print(line, file=sys.stderr)
    if args.print_env:
        print(format_env(env))
        return 0
    return exec_supervisord(env, paths, plan, config)


if __name__ == "__main__":
    sys.exit(main())
