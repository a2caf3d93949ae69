"""A process's I/O priority, through the raw ioprio syscalls (the C library wraps neither)."""

from __future__ import annotations

import ctypes
import os
import platform

IOPRIO_CLASSES = {"realtime": 1, "best-effort": 2, "idle": 3}
IOPRIO_CLASS_SHIFT = 13
IOPRIO_WHO_PROCESS = 1
# (ioprio_set, ioprio_get): the C library has no wrapper for these.
_IOPRIO_SYSCALLS = {"x86_64": (251, 252), "aarch64": (30, 31), "armv7l": (314, 315)}
_libc = ctypes.CDLL(None, use_errno=True)


def ioprio_value(class_name: str, level: int) -> int:
    klass = IOPRIO_CLASSES[class_name]
    return (klass << IOPRIO_CLASS_SHIFT) | (0 if class_name == "idle" else level)


def _ioprio_syscall(index: int, *args: int) -> int:
    numbers = _IOPRIO_SYSCALLS.get(platform.machine())
    if numbers is None:
        raise OSError(f"ioprio syscalls unknown on {platform.machine()}")
    result = _libc.syscall(numbers[index], *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return int(result)


def ioprio_get(pid: int) -> int:
    return _ioprio_syscall(1, IOPRIO_WHO_PROCESS, pid)


def ioprio_set(pid: int, value: int) -> None:
    _ioprio_syscall(0, IOPRIO_WHO_PROCESS, pid, value)
