"""The dashboard: one page, its script and style inline, and the Content-Security-Policy
that lets only those run."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from importlib import resources

from shared.config.web import ADMIN_TOKEN_ENV, ADMIN_TOKEN_FILE, SYSTEMD_ADMIN_TOKEN_FILE


def dashboard_page() -> tuple[str, str]:
    """The page, told where the admin token lives, and its Content-Security-Policy: its
    one inline script and one inline style by their hashes, so no other script runs."""
    page = resources.files("services.web").joinpath("dashboard.html").read_text()
    for name, value in (
        ("{admin_token_env}", ADMIN_TOKEN_ENV),
        ("{admin_token_file}", ADMIN_TOKEN_FILE),
        ("{systemd_admin_token_file}", SYSTEMD_ADMIN_TOKEN_FILE),
    ):
        page = page.replace(name, html.escape(value))

    def digest(tag: str) -> str:
        found = re.search(rf"<{tag}>(.*?)</{tag}>", page, re.S)
        if found is None:
            raise ValueError(f"dashboard.html has no <{tag}>")
        return base64.b64encode(hashlib.sha256(found.group(1).encode()).digest()).decode()

    csp = (
        f"default-src 'none'; script-src 'sha256-{digest('script')}'; "
        f"style-src 'sha256-{digest('style')}'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page, csp
