"""python -m services.governor --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.governor.service import GovernorService
from shared.service import run_service


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "governor",
        "Decide the desired state from facts and triggers. No privileges.",
        GovernorService,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
