"""How an error from outside (a library, the kernel, a server) is quoted in logs and on the bus."""

from __future__ import annotations

# Enough to say what went wrong; a server's whole HTML error page is not.
MAX_ERROR_CHARS = 200


def brief(error: BaseException | str, limit: int = MAX_ERROR_CHARS) -> str:
    return str(error)[:limit]
