"""python -m services.notifier --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.notifier.destinations import check
from services.notifier.service import NotifierService
from shared.config import WardenConfig
from shared.service import run_service


def check_destinations(config: WardenConfig) -> list[tuple[str, str]]:
    return check(config.notifications)


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "notifier",
        "Send Warden's events to Discord, ntfy, Gotify and any service Apprise knows.",
        NotifierService,
        argv,
        check=check_destinations,
    )


if __name__ == "__main__":
    sys.exit(main())
