"""warden run | status | trigger | why | incidents | check-config | cleanup

`status`, `trigger`, `why` and `incidents` are clients of the bus, as Home Assistant is:
they read the retained topics (desired, applied, the inventory, the governor's memory and
incidents) and send triggers
on the config's broker with the config's login, so they need no root, no token and no
web service. `run` starts the stack (what scripts/run execs), `check-config` checks the
config and asks Docker (read-only) where each running container lands, and `cleanup` puts
back everything Warden changed (the actuator's --cleanup: it needs root).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from cli.incidents import detail, find, listing, naming
from cli.reader import Client, Unreachable
from cli.views import Style, render_status, status_data, why_lines
from shared import __version__, channels
from shared.config import ConfigError, LoadedConfig, load_config
from shared.config.loader import ConfigChoice, choose_config
from shared.logs import Log, setup_logging
from shared.messages import TriggerError, parse_trigger
from shared.service import check_config_report, fallback_note
from shared.topics import Topics


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warden", description="Warden, the resource governor: run it, ask it, tell it."
    )
    parser.add_argument("--version", action="version", version=f"warden {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        help="config file (default: $WARDEN_CONFIG, else /etc/warden/config.yaml, else "
        "ADRG's /etc/adrg/config.yaml)",
    )
    common.add_argument("--env-file", default=os.environ.get("WARDEN_ENV_FILE"))
    bus = argparse.ArgumentParser(add_help=False)
    bus.add_argument("--host", help="the host to ask or tell (default: the config's host_id)")
    bus.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the whole stack in the foreground")
    run.add_argument("stack_args", nargs=argparse.REMAINDER, help="passed on to warden-stack")
    status = sub.add_parser(
        "status", parents=[common, bus], help="media mode, stages, every container and why"
    )
    status.add_argument("--json", action="store_true", help="the same, as JSON")
    trigger = sub.add_parser(
        "trigger", parents=[common, bus], help="send a trigger (media_start, tier3_pause, ...)"
    )
    trigger.add_argument("event", help="media_start, media_stop, tier3_pause, tier3_resume")
    why = sub.add_parser(
        "why", parents=[common, bus], help="every reason a container is held back, and its end"
    )
    why.add_argument("name", metavar="CONTAINER", help="a container or process group")
    incidents = sub.add_parser(
        "incidents",
        parents=[common, bus],
        help="each stall of protected work: who waited, who else was busy, what Warden did",
    )
    incidents.add_argument(
        "id", nargs="?", metavar="ID", help="one incident in full (`last`: the newest)"
    )
    incidents.add_argument("--limit", type=int, default=10, help="how many to list")
    incidents.add_argument("--json", action="store_true", help="as the governor published it")
    sub.add_parser(
        "check-config",
        parents=[common],
        help="check the config; ask Docker where each running container lands",
    )
    sub.add_parser(
        "cleanup", parents=[common], help="put back everything Warden changed (needs root)"
    )
    return parser


def _config(args: argparse.Namespace) -> tuple[ConfigChoice, LoadedConfig]:
    choice = choose_config(args.config, os.environ, os.environ.get("WARDEN_ROOT") or "/")
    try:
        return choice, load_config(choice.path, args.env_file)
    except ConfigError as exc:
        print(f"config error:\n{exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _style() -> Style:
    tty = sys.stdout.isatty()
    return Style(tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb")


def _client(loaded: LoadedConfig, host: str, log: Log) -> Client:
    cfg = loaded.config
    return Client(cfg.mqtt, Topics(cfg.mqtt.topic_root, host), log)


def _status(args: argparse.Namespace, loaded: LoadedConfig, log: Log) -> int:
    host = args.host or loaded.config.host_id
    with _client(loaded, host, log) as client:
        client.connect(args.timeout)
        snap = client.snapshot(host, args.timeout)
    data = status_data(snap, loaded.config)
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(render_status(data, _style()))
    return 0


def _why(args: argparse.Namespace, loaded: LoadedConfig, log: Log) -> int:
    host = args.host or loaded.config.host_id
    with _client(loaded, host, log) as client:
        client.connect(args.timeout)
        snap = client.snapshot(host, args.timeout)
    lines = why_lines(snap, loaded.config, args.name, time.time(), _style())
    if lines is None:
        desired, inventory = snap.get("desired"), snap.get("inventory")
        known = sorted(
            {c.name for c in inventory.containers}
            if inventory
            else set() | (set(desired.containers) if desired else set())
        )
        print(
            f"warden: no container or process group {args.name!r} on {host}; "
            f"known: {', '.join(known) or 'none'}",
            file=sys.stderr,
        )
        return 1
    if (named := naming(snap.get("incidents"), args.name)) is not None:
        lines.append(f"  last incident naming it: {named.sentence}")
        lines.append(f"    `warden incidents {named.id}` tells it in full")
    print("\n".join(lines))
    return 0


def _incidents(args: argparse.Namespace, loaded: LoadedConfig, log: Log) -> int:
    host = args.host or loaded.config.host_id
    with _client(loaded, host, log) as client:
        client.connect(args.timeout)
        snap = client.snapshot(host, args.timeout)
    published = snap.get("incidents")
    if args.id is None:
        if args.json:
            print(published.model_dump_json(indent=2) if published else "null")
        else:
            print("\n".join(listing(published, args.limit, _style())))
        return 0
    found = find(published, args.id)
    if found is None:
        known = [i.id for i in published.incidents] if published else []
        print(
            f"warden: no incident {args.id!r} on {host}; kept: {', '.join(known) or 'none'}",
            file=sys.stderr,
        )
        return 1
    print(found.model_dump_json(indent=2) if args.json else "\n".join(detail(found, _style())))
    return 0


def _trigger(args: argparse.Namespace, loaded: LoadedConfig, log: Log) -> int:
    try:
        trigger = parse_trigger(args.event.encode())
    except TriggerError as exc:
        print(f"warden: {exc}", file=sys.stderr)
        return 2
    host = args.host or loaded.config.host_id
    with _client(loaded, host, log) as client:
        topic = channels.TRIGGER.topic_for(client.topics, host=host)
        client.connect(args.timeout)
        client.send(topic, trigger.model_dump_json().encode(), args.timeout)
        snap = client.snapshot(host, args.timeout)
    print(f"sent {trigger.event} to {topic}")
    governor = snap.availability.get("governor", "unknown")
    if governor != "online":
        print(
            f"note: the governor of {host} is {governor}: nothing acts on it until it is back",
            file=sys.stderr,
        )
    return 0


def _check_config(choice: ConfigChoice, loaded: LoadedConfig) -> int:
    from host.docker.view import container_lister

    print(check_config_report(loaded, container_lister("sensors"), choice))
    return 0


def _run(args: argparse.Namespace, choice: ConfigChoice) -> int:
    from services.stack import main as stack_main

    rest = [a for a in args.stack_args if a != "--"]
    extra = ["--env-file", args.env_file] if args.env_file else []
    return stack_main(["--config", str(choice.path), *extra, *rest])


def _cleanup(args: argparse.Namespace, choice: ConfigChoice) -> int:
    if os.geteuid() != 0:
        print(
            "warden cleanup writes cgroups and signals processes: run it as root (sudo)",
            file=sys.stderr,
        )
        return 1
    from services.actuator.__main__ import main as actuator_main

    extra = ["--env-file", args.env_file] if args.env_file else []
    return actuator_main(["--config", str(choice.path), *extra, "--cleanup"])


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    choice, loaded = _config(args)
    if choice.is_adrg_fallback and args.command != "check-config":
        print(f"warden: {fallback_note(loaded)}", file=sys.stderr)
    if args.command == "run":
        return _run(args, choice)
    if args.command == "cleanup":
        return _cleanup(args, choice)
    if args.command == "check-config":
        return _check_config(choice, loaded)
    # A client of the bus says only what goes wrong.
    log = setup_logging("cli", "WARNING", None, 0, 0)
    try:
        if args.command == "status":
            return _status(args, loaded, log)
        if args.command == "why":
            return _why(args, loaded, log)
        if args.command == "incidents":
            return _incidents(args, loaded, log)
        return _trigger(args, loaded, log)
    except Unreachable as exc:
        print(f"warden: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
