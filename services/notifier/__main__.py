"""python -m services.notifier --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.notifier.service import NotifierService
from shared.service import run_service


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "notifier", "Send Warden's events to Discord, ntfy and Gotify.", NotifierService, argv
    )


if __name__ == "__main__":
    sys.exit(main())
