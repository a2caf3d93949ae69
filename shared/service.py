"""What every service's main does: arguments, config, logging, the bus, the loop."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared import __version__
from shared.bus import Bus
from shared.config import ConfigError, LoadedConfig, WardenConfig, load_config
from shared.config.check import ContainerLister, containers_report
from shared.config.loader import ConfigChoice, choose_config
from shared.config.model import Mqtt
from shared.errors import SetupError
from shared.logs import Log, setup_logging
from shared.reload import plan_reload, unchanged
from shared.runtime import ServiceLoop
from shared.sd_notify import notify, watchdog_interval
from shared.secrets import SecretFileError, read_secret_file
from shared.signing import Keyring, SigningError, configured_keyring
from shared.topics import ServiceName, Topics

DEFAULT_CONFIG = "/etc/warden/config.yaml"
# A service's own check of the config beyond the model's: (dotted key, reason) per problem.
# The notifier reads its Apprise URLs with Apprise, which the other services never load.
ConfigCheck = Callable[[WardenConfig], list[tuple[str, str]]]
ADRG_DEFAULT_CONFIG = "/etc/adrg/config.yaml"
# The only services that read the signing key: the one that signs, the one that checks.
SIGNING_SERVICES: frozenset[ServiceName] = frozenset({"governor", "actuator"})


@dataclass
class ServiceContext:
    name: ServiceName
    loaded: LoadedConfig
    args: argparse.Namespace
    topics: Topics
    bus: Bus
    loop: ServiceLoop
    log: Log
    # The signing key, for the governor and the actuator; None: unsigned.
    keyring: Keyring | None = None

    @property
    def config(self) -> WardenConfig:
        return self.loaded.config


def build_parser(name: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"warden-{name}", description=description)
    parser.add_argument(
        "--config",
        default=None,
        help=f"config file (default: $WARDEN_CONFIG, else {DEFAULT_CONFIG}, else ADRG's "
        f"{ADRG_DEFAULT_CONFIG} with its adrg.env)",
    )
    parser.add_argument(
        "--env-file",
        default=os.environ.get("WARDEN_ENV_FILE"),
        help="KEY=VALUE file for ${VAR} in the config (default: warden.env or adrg.env beside it)",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the config, print what is wrong or a summary, and exit",
    )
    parser.add_argument("--log-level", default=os.environ.get("WARDEN_LOG_LEVEL", "INFO"))
    parser.add_argument("--version", action="version", version=f"warden {__version__}")
    return parser


def config_choice(args: argparse.Namespace, environ: Mapping[str, str]) -> ConfigChoice:
    """The file --config names, else the default (ADRG's where Warden's is missing); the
    choice is written back into args, so a SIGHUP reads the same file again."""
    choice = choose_config(args.config, environ, environ.get("WARDEN_ROOT") or "/")
    args.config = str(choice.path)
    return choice


def fallback_note(loaded: LoadedConfig) -> str:
    env = f" and {loaded.env_file}" if loaded.env_file else ""
    return f"read ADRG's {loaded.path}{env}: there is no {DEFAULT_CONFIG}"


def check_config_report(
    loaded: LoadedConfig,
    list_containers: ContainerLister | None = None,
    choice: ConfigChoice | None = None,
) -> str:
    """What --check-config prints: the config's summary and, where this command may ask
    Docker (read-only), the tier each running container lands in."""
    cfg = loaded.config
    lines = [f"{loaded.path}: OK"]
    if choice is not None and choice.is_adrg_fallback:
        lines.append(f"  {fallback_note(loaded)}")
    if loaded.env_file:
        lines.append(f"  env file: {loaded.env_file}")
    for number in sorted(cfg.tiers):
        tier = cfg.tiers[number]
        lines.append(
            f"  tier {number} ({tier.name or '-'}): {len(tier.containers)} name(s)/pattern(s), "
            f"cpu_weight={tier.cpu_weight} io_weight={tier.io_weight}"
        )
    if not cfg.tiers:
        lines.append("  warning: no tiers defined: Warden will manage no container")
    for name in loaded.unset_variables:
        lines.append(f"  warning: ${{{name}}} is set nowhere and expands to an empty string")
    broker = f"{cfg.mqtt.host}:{cfg.mqtt.port}" if cfg.mqtt.host else "local (started by the stack)"
    lines.append(f"  host id: {cfg.host_id}, broker: {broker}, topic root: {cfg.mqtt.topic_root}")
    if list_containers is not None:
        where, running = list_containers(cfg)
        lines += containers_report(cfg, running, where)
    else:
        lines.append("  containers: not asked by this service (`warden check-config` asks Docker)")
    return "\n".join(lines)


def load_checked(
    config: str | Path, env_file: str | Path | None, check: ConfigCheck | None
) -> LoadedConfig:
    loaded = load_config(config, env_file)
    if check is not None and (problems := check(loaded.config)):
        raise ConfigError(loaded.path, problems)
    return loaded


def load_or_exit(args: argparse.Namespace, check: ConfigCheck | None = None) -> LoadedConfig:
    try:
        return load_checked(args.config, args.env_file, check)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def keyring_or_exit(name: ServiceName, cfg: WardenConfig) -> Keyring | None:
    if name not in SIGNING_SERVICES:
        return None
    try:
        return configured_keyring(cfg.security.signing_key_file)
    except SigningError as exc:
        print(f"signing key error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def stack_login(mqtt: Mqtt, name: ServiceName, environ: Mapping[str, str]) -> Mqtt:
    """On warden-stack's local broker each service logs in as itself, with the password
    the stack generated (WARDEN_MQTT_SECRETS_DIR/<name>.password); elsewhere, the config's."""
    secrets_dir = environ.get("WARDEN_MQTT_SECRETS_DIR")
    if not secrets_dir or mqtt.host is not None:
        return mqtt
    try:
        password = read_secret_file(Path(secrets_dir) / f"{name}.password")
    except (OSError, SecretFileError) as exc:
        print(f"warden-{name}: cannot read the local broker password: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return mqtt.model_copy(update={"username": name, "password": password})


def reload_config(ctx: ServiceContext, service: object, check: ConfigCheck | None = None) -> None:
    """SIGHUP: run on the new file, or, when it does not load, go on with the old one."""
    ctx.log.info("config.reload_requested", file=str(ctx.args.config))
    try:
        loaded = load_checked(ctx.args.config, ctx.args.env_file, check)
    except ConfigError as exc:
        for key, reason in exc.problems:
            ctx.log.error(
                "config.reload_refused",
                file=str(exc.path),
                key=key or None,
                reason=reason,
                action="running on the previous config",
            )
        return
    restart_only = tuple(getattr(service, "restart_only", ()))
    plan = plan_reload(ctx.config, loaded.config, restart_only)
    if plan.needs_restart:
        ctx.log.warning(
            "config.restart_needed",
            keys=",".join(plan.needs_restart),
            action="these keep their running values until the service restarts",
        )
    before = ctx.loaded.stamp
    ctx.loaded = dataclasses.replace(loaded, config=plan.config)
    if (note := unchanged(plan, before, loaded.stamp)) is not None:
        ctx.log.warning(note.event, file=str(loaded.path), reason=note.reason, hint=note.hint)
    if not plan.live:
        ctx.log.info("config.reloaded", changed=None)
        return
    hook = getattr(service, "reload", None)
    if hook is not None:
        hook(plan.config)
    ctx.log.info("config.reloaded", changed=",".join(plan.live))


def report_to_systemd(ctx: ServiceContext) -> None:
    """READY=1 after the first connect to the broker; WATCHDOG=1 from the loop thread,
    so a wedged loop stops the pings and systemd restarts the service."""
    ready = False

    def on_connect() -> None:
        nonlocal ready
        if not ready and notify(f"READY=1\nSTATUS=connected to {ctx.config.mqtt.broker_host}"):
            ctx.log.info("systemd.ready")
        ready = True

    ctx.bus.on_connect(on_connect)
    if (interval := watchdog_interval()) is not None:
        ctx.loop.call_every(interval, lambda: notify("WATCHDOG=1"))
        ctx.log.info("systemd.watchdog", every_seconds=round(interval, 3))

    def stopping() -> None:
        notify("STOPPING=1")

    ctx.loop.on_stop(stopping)


def run_service(
    name: ServiceName,
    description: str,
    build: Callable[[ServiceContext], object],
    argv: Sequence[str] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    command: Callable[[argparse.Namespace, LoadedConfig, Log], int | None] | None = None,
    check: ConfigCheck | None = None,
    list_containers: ContainerLister | None = None,
) -> int:
    """command: a one-shot command (like --cleanup) run instead of the service when it
    returns an exit code; None lets the service start. check: the service's own check of
    the config, at start, in --check-config and on every reload. list_containers: how
    --check-config asks Docker for the running containers (the services that may reach
    Docker)."""
    parser = build_parser(name, description)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    choice = config_choice(args, os.environ)
    loaded = load_or_exit(args, check)
    keyring = keyring_or_exit(name, loaded.config)
    if args.check_config:
        print(check_config_report(loaded, list_containers, choice))
        if name in SIGNING_SERVICES:
            print(f"  signing key: {keyring.path if keyring else 'none (unsigned)'}")
        return 0

    cfg = loaded.config
    log = setup_logging(
        name,
        args.log_level,
        cfg.general.log_file,
        cfg.general.log_max_bytes,
        cfg.general.log_backup_count,
    )
    if choice.is_adrg_fallback:
        log.info(
            "config.adrg_fallback",
            file=str(loaded.path),
            env_file=str(loaded.env_file) if loaded.env_file else None,
            reason=f"no {DEFAULT_CONFIG}",
        )
    loop = ServiceLoop(log)
    topics = Topics(cfg.mqtt.topic_root, cfg.host_id)
    try:
        if command is not None and (code := command(args, loaded, log)) is not None:
            return code
        bus = Bus(stack_login(cfg.mqtt, name, os.environ), topics, name, loop, log)
        ctx = ServiceContext(name, loaded, args, topics, bus, loop, log, keyring)
        log.info("service.starting", version=__version__, config=str(loaded.path), host=cfg.host_id)
        if keyring is not None and keyring.loose_permissions:
            log.warning("signing.key_readable", file=str(keyring.path), fix="chmod 600 it")
        service = build(ctx)
    except SetupError as exc:
        log.error("service.setup_failed", file=str(loaded.path), key=exc.key, reason=exc.reason)
        print(f"config error:\n{loaded.path}: {exc}", file=sys.stderr)
        return 2
    report_to_systemd(ctx)
    loop.install_signal_handlers()
    # The handler only posts: the reload runs on the loop, between two messages.
    signal.signal(signal.SIGHUP, lambda _s, _f: loop.post(reload_config, ctx, service, check))
    loop.on_stop(bus.stop)
    bus.start()
    loop.run()
    log.info("service.stopped")
    return 0
