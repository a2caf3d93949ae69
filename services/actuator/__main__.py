"""python -m services.actuator --config FILE [--dry-run]"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from services.actuator.service import ActuatorService
from shared.service import run_service


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="log every change it would make, touch nothing"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "actuator",
        "Make the host match the desired state. The only privileged process.",
        ActuatorService,
        argv,
        _arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
