"""python -m services.sensors --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from host.docker.view import container_lister
from services.sensors.service import SensorsService
from shared.service import run_service


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "sensors",
        "Publish host facts (pressure, containers) on the Warden bus.",
        SensorsService,
        argv,
        list_containers=container_lister("sensors"),
    )


if __name__ == "__main__":
    sys.exit(main())
