"""warden-stack --config FILE [--run-dir DIR] [--dry-run] [--print-env] [--print-bridge]
warden-stack --setup-systemd [--config FILE] [--root DIR]

Runs the whole of Warden on one machine: decides whether it needs a local Mosquitto,
whether the actuator may touch the host and who runs what, makes the users, secrets and
modes that needs, then execs supervisord with deploy/supervisord.conf, which reads those
decisions from WARDEN_* variables. Supervisord replaces this process, so signals sent to
it (Ctrl-C, SIGTERM from systemd) stop every service cleanly.

--setup-systemd instead sets up the systemd path (services/stack/systemd.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from services.stack import probe
from services.stack.accounts import Account, AccountError, engine_group, own_users
from services.stack.plan import (
    MOSQUITTO_FALLBACK,
    STATE_DIR,
    StackPaths,
    StackPlan,
    Users,
    describe,
    format_env,
    plan_stack,
    stack_env,
)
from services.stack.prepare import PrepareError, prepare
from shared.bridge import bridge_conf
from shared.config import ConfigError, WardenConfig, load_config
from shared.secrets import SecretFileError

REPO = Path(__file__).resolve().parents[2]
SUPERVISORD_CONF = REPO / "deploy" / "supervisord.conf"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="warden-stack",
        description="Run the Warden services (and a local broker if needed) under supervisord.",
    )
    parser.add_argument(
        "--config",
        help="the config.yaml every service reads (--setup-systemd: /etc/warden/config.yaml)",
    )
    parser.add_argument(
        "--env-file",
        default=os.environ.get("WARDEN_ENV_FILE"),
        help="KEY=VALUE file for ${VAR} in the config (passed on to the services)",
    )
    parser.add_argument(
        "--run-dir",
        default="run",
        help="where the secrets, supervisor socket, pid, logs and broker config go "
        "(default: ./run)",
    )
    parser.add_argument(
        "--state-dir",
        default=str(STATE_DIR),
        help="as root: the web service's and the notifier's state go to web/ and notifier/ "
        "in it (default: /var/lib/warden)",
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
    parser.add_argument(
        "--setup-systemd",
        action="store_true",
        help="as root, from a checkout: users, signing key, broker logins and ACL for the "
        "system Mosquitto, env files and units for systemd; run it again after an upgrade",
    )
    parser.add_argument(
        "--root",
        default="/",
        help="--setup-systemd: write the files under this directory instead of / (an image "
        "being built); users and groups are still made on this system",
    )
    parser.add_argument(
        "--bin-dir",
        help="--setup-systemd: where the units find warden-governor & co (default: beside "
        "this python; with --root, say where they are in the image)",
    )
    parser.add_argument(
        "--mqtt-listen",
        default="127.0.0.1",
        help="--setup-systemd: the address Warden's Mosquitto listener binds (0.0.0.0: also "
        "Home Assistant on another machine)",
    )
    return parser.parse_args(argv)


def host_plan(config: WardenConfig, dry_run_flag: bool, haproxy: bool) -> StackPlan:
    sensors_engine = config.sensors.resolved_url(os.environ)
    return plan_stack(
        config,
        is_root=os.geteuid() == 0,
        docker_ok=probe.docker_socket_ok(config.actuator.resolved_url(os.environ)),
        cgroup_ok=probe.cgroup_writable(config.actuator.cgroup_root),
        dry_run_flag=dry_run_flag,
        local_port_taken=config.mqtt.host is None and probe.port_taken(config.mqtt.port),
        docker_proxy=haproxy and probe.proxied_engine(sensors_engine),
    )


def fail(message: str) -> int:
    print(f"warden-stack: {message}", file=sys.stderr)
    return 2


def say(line: str) -> None:
    print(f"warden-stack: {line}", file=sys.stderr)


def dashboard_lines(config: WardenConfig, paths: StackPaths) -> list[str]:
    """Where the dashboard is and how it takes the admin token the stack wrote."""
    http = config.general.http_server
    if not http.enabled:
        return []
    host = f"[{http.host}]" if ":" in http.host else http.host
    host = "127.0.0.1" if host in ("0.0.0.0", "[::]") else host
    reader = "sudo " if os.geteuid() == 0 else ""
    return [
        f"the dashboard: http://{host}:{http.port}/ ; to change a setting, paste the admin "
        f"token ({reader}cat {paths.admin_token}) into its API token box and press Use token",
    ]


def exec_supervisord(env: Mapping[str, str]) -> int:
    supervisord = probe.find_supervisord()
    if supervisord is None:
        return fail("supervisord not found (pip install supervisor)")
    os.environ.update(env)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(supervisord, [supervisord, "-n", "-c", str(SUPERVISORD_CONF)])
    return 1  # not reached: execvp returns only by raising


def users_for(plan: StackPlan) -> Users:
    if not plan.own_users:
        return Users.everyone(Account.current().name)
    return own_users(engine_group(probe.PROXIED_SOCKET) if plan.docker_proxy else None)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_systemd:
        from services.stack.systemd import run_setup

        return run_setup(args)
    if not args.config:
        return fail("--config FILE is needed")
    try:
        loaded = load_config(args.config, args.env_file)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        return 2
    config = loaded.config
    if args.print_bridge:
        if not config.bridge.enabled:
            return fail("the config's bridge section is not enabled")
        print(bridge_conf(config), end="")
        return 0
    haproxy = probe.find_sbin("haproxy")
    plan = host_plan(config, args.dry_run, haproxy is not None)
    mosquitto = probe.find_sbin("mosquitto")
    if plan.local_broker and mosquitto is None:
        return fail(
            "the config sets no mqtt.host, so a local Mosquitto is needed, but it is not "
            "installed (apt-get install mosquitto), or set mqtt.host to your broker"
        )
    if (
        plan.own_users
        and not plan.docker_proxy
        and probe.proxied_engine(config.sensors.resolved_url(os.environ))
    ):
        return fail(
            "the sensors read Docker through a read-only proxy, HAProxy, which is not "
            "installed (apt-get install haproxy)"
        )
    paths = StackPaths(
        repo=REPO,
        run_dir=Path(args.run_dir).resolve(),
        config=Path(args.config).resolve(),
        python=sys.executable,
        mosquitto=mosquitto or MOSQUITTO_FALLBACK,
        haproxy=haproxy or "/usr/sbin/haproxy",
        state_dir=Path(args.state_dir).resolve(),
        env_file=loaded.env_file.resolve() if loaded.env_file else None,
    )
    users = users_for(plan)
    env = stack_env(plan, paths, users)
    if args.env_file:
        # The services look for the env file themselves; make sure they find the same one.
        env["WARDEN_ENV_FILE"] = str(Path(args.env_file).resolve())
    for line in describe(plan, config, users):
        print(line, file=sys.stderr)
    if args.print_env:
        print(format_env(env))
        return 0
    if not SUPERVISORD_CONF.exists():
        return fail(f"{SUPERVISORD_CONF} is missing; run warden-stack from a source checkout")
    try:
        prepare(paths, plan, config, users, say)
    except (AccountError, PrepareError, SecretFileError, OSError) as exc:
        return fail(str(exc))
    for line in dashboard_lines(config, paths):
        say(line)
    return exec_supervisord(env)
