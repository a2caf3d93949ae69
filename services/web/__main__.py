"""python -m services.web --config FILE"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from services.web.service import StartError, WebService
from shared.service import ServiceContext, run_service


def build(ctx: ServiceContext) -> WebService:
    try:
        return WebService(ctx)
    except StartError as exc:
        ctx.log.error("http.cannot_start", reason=str(exc))
        print(f"warden-web: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: Sequence[str] | None = None) -> int:
    return run_service(
        "web",
        "ADRG's HTTP API, Warden's API and dashboard, /metrics and history. No privileges.",
        build,
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
