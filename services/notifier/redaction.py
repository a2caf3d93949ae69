"""Keeping a destination's secrets out of everything Warden says about it. Pure.

Apprise knows which parts of its URLs are secret: `url(privacy=True)` shows a
webhook or bot token as `t...n` and a password as `****`. A destination's
secrets are the parts of its full URL that its private URL does not show, and
any text about it (an error in the log, on the bus, in the outbox file) has each
of them, in every spelling a URL or an error message may give it, replaced by
`****`. A URL that Apprise cannot read has no private form: then every part but
its scheme counts as secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MASK = "****"
# What separates the parts of a URL, the query's names and values included.
_SEPARATORS = re.compile(r"[/:@?&=,;#+\s]+")
_SCHEME = re.compile(r"^\s*[A-Za-z0-9]+://")
# Tokens and passwords this long are masked wherever they appear (a bot token is part of
# the path /bot<token>/); shorter ones only as a word of their own.
_WHOLE_WORD_BELOW = 6


def _parts(url: str) -> set[str]:
    return {unquote(part) for part in _SEPARATORS.split(url) if part}


def url_secrets(full: str, private: str) -> frozenset[str]:
    """The parts of Apprise's full URL that its private URL masks, and the values of the
    HTTP headers a custom URL (json://, form://, ...) sets as `?:Name=value`, which it
    does not mask but which carry API keys."""
    query = urlsplit(full.replace("#", "%23")).query
    headers = {value for name, value in parse_qsl(query) if name.startswith(":") and value}
    return frozenset((_parts(full) - _parts(private)) | headers)


def every_part(url: str) -> frozenset[str]:
    """A URL nothing can tell the secrets of: all of it but the scheme."""
    return frozenset(_parts(_SCHEME.sub("", url)))


def redact(text: str, secrets: Iterable[str]) -> str:
    spellings = {
        form
        for secret in secrets
        if secret
        for form in (secret, quote(secret, safe=""), quote(secret), quote(secret, safe=":@"))
    }
    # Longest first: a secret that holds another is masked whole.
    for form in sorted(spellings, key=len, reverse=True):
        if len(form) >= _WHOLE_WORD_BELOW:
            text = text.replace(form, MASK)
        else:
            # A short one only where it stands alone, or every "t" of a token "t" would go.
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", MASK, text)
    return text


def destination_name(private: str) -> str:
    """A destination as logs and the outbox file name it: Apprise's private URL, less its
    query (the plugin's settings, and a custom header's value, which Apprise does not mask)."""
    return private.split("?", 1)[0].rstrip("/")
