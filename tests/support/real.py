"""The one skip policy: what a test does when this host cannot run it.

A missing real part (no broker binary, no Docker engine, no /proc/pressure)
skips, unless WARDEN_REQUIRE_REAL=1 (as scripts/test sets): then it fails, so
CI can never pass by skipping what it was meant to test. A case that is not a
missing part but makes the test meaningless here always skips.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_REAL = os.environ.get("WARDEN_REQUIRE_REAL") == "1"


def missing(what: str) -> NoReturn:
    """A real part this test needs is not on this host."""
    if REQUIRE_REAL:
        pytest.fail(f"{what} (WARDEN_REQUIRE_REAL=1)")
    pytest.skip(what)


def not_applicable(why: str) -> NoReturn:
    """Nothing is missing, but what the test checks cannot happen on this host.

    Always a skip, even under WARDEN_REQUIRE_REAL=1: failing would not make the
    host able to show it, and CI hosts differ in exactly these ways.
    """
    pytest.skip(why)
