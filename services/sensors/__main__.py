"""python -m services.sensors --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.sensors.service import SensorsService
from shared.service import run_service


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "sensors",
        "Publish host facts (pressure, containers) on the Warden bus.",
        SensorsService,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
