"""How an error from outside (a library, the kernel, a server) is quoted in logs and on the bus."""

from __future__ import annotations

# Enough to say what went wrong; a server's whole HTML error page is not.
MAX_ERROR_CHARS = 200


def brief(error: BaseException | str, limit: int = MAX_ERROR_CHARS) -> str:
    return str(error)[:limit]


class SetupError(Exception):
    """The config names something a service cannot start with (a certificate file that is
    missing, a key without its certificate): the service says which key and stops."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason
