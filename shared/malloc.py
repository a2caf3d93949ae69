"""The C library's allocator, for services that run many threads."""

from __future__ import annotations

# glibc's mallopt() parameter for the most arenas its malloc keeps.
M_ARENA_MAX = -8


def cap_malloc_arenas(count: int) -> bool:
    """glibc gives each thread that allocates an arena of its own, and keeps it: a
    service with a pool of mostly idle workers holds memory per worker that nothing
    uses. Call before the threads start. False where the C library has no such
    setting (musl); nothing else changes."""
    # ctypes only here: it is loaded by the services that call this anyway.
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, count))
