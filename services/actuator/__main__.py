"""python -m services.actuator --config FILE [--dry-run | --cleanup] [--cleanup-on-stop]"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from host.cgroups.view import detect_layout
from host.docker.client import Endpoint, Engine
from host.docker.view import container_lister
from services.actuator.download_clients import client_for
from services.actuator.restore import restore_everything
from services.actuator.service import start_actuator
from services.actuator.state_store import StateStore
from shared.config import LoadedConfig
from shared.logs import Log
from shared.malloc import cap_malloc_arenas
from shared.service import run_service


def _arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run", action="store_true", help="log every change it would make, touch nothing"
    )
    mode.add_argument(
        "--cleanup",
        action="store_true",
        help="put back every value Warden changed, unpause what it paused, and exit",
    )
    parser.add_argument(
        "--cleanup-on-stop",
        action="store_true",
        help="on SIGTERM or SIGINT, put back everything as --cleanup does before exiting "
        "(a crash or SIGKILL leaves Warden's values and their record in place); "
        "compose, systemd and warden-stack pass it",
    )


def _command(args: argparse.Namespace, loaded: LoadedConfig, log: Log) -> int | None:
    if not args.cleanup:
        return None
    settings = loaded.config.actuator
    store = StateStore(settings.state_file, log)
    docker = Engine(Endpoint.of(settings, "actuator"))
    layout = detect_layout(settings.cgroup_root)
    throttle = loaded.config.media_mode.download_throttle
    download = None
    if store.download is not None:
        # The client Warden throttled, reached with the credentials the config has now.
        recorded = throttle.model_copy(
            update={"provider": store.download.provider, "url": store.download.url}
        )
        download = client_for(recorded)
    failures = restore_everything(store, docker, layout, settings.proc_root, log, download)
    for failure in failures:
        print(f"not restored: {failure}", file=sys.stderr)
    return 1 if failures else 0


# The actuator applies with a pool of worker threads, idle nearly all the time: two
# arenas serve them (their Python code runs one at a time anyway) instead of one each.
MALLOC_ARENAS = 2


def main(argv: Sequence[str] | None = None) -> int:
    cap_malloc_arenas(MALLOC_ARENAS)
    return run_service(
        "actuator",
        "Make the host match the desired state. The only privileged process.",
        start_actuator,
        argv,
        _arguments,
        _command,
        list_containers=container_lister("actuator"),
    )


if __name__ == "__main__":
    sys.exit(main())
