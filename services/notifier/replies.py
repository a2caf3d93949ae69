"""What the servers answered while Apprise sent one message: the status and the
Retry-After of each reply, which Apprise reads (or not) but does not hand back.

Apprise's notify() returns sent or not, and its log lines; a reply's headers stay
inside the plugin. Its HTTP plugins call requests (`requests.post`, a new Session
per message), and neither library offers a way in to every session: requests'
response hooks are per session or per request, and Apprise takes neither from
its caller. So requests.Session.send, the one public method every reply passes
through (redirects and custom adapters included), is wrapped, once, for the
process. The wrapper only listens: it passes the call through unchanged and
returns the very response, and hears a reply only for a send that asked, through
a context variable (a send on another destination's thread hears nothing of it).
A context variable and not a thread-local, because Apprise runs a service with a
deadline (every one: its default is 60 s) on a worker thread of its own, with a
copy of the caller's context (apprise.apprise.submit_with_context), and the
replies must still reach the send that asked. Patching a plugin, an adapter or
urllib3 would reach into more private parts for the same two values.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Reply:
    status: int
    retry_after: str | None


_HEARD: contextvars.ContextVar[list[Reply] | None] = contextvars.ContextVar(
    "warden_notifier_replies", default=None
)
_installing = threading.Lock()
_MARK = "_warden_hears_replies"


def _listening_send(
    send: Callable[..., requests.Response],
) -> Callable[..., requests.Response]:
    @functools.wraps(send)
    def listened(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
        response = send(self, request, **kwargs)
        heard = _HEARD.get()
        if heard is not None:
            heard.append(Reply(response.status_code, response.headers.get("Retry-After")))
        return response

    setattr(listened, _MARK, True)
    return listened


def install() -> None:
    """Wraps requests.Session.send for the process (once; a second call does nothing)."""
    import requests

    with _installing:
        if not getattr(requests.Session.send, _MARK, False):
            requests.Session.send = _listening_send(requests.Session.send)  # type: ignore[method-assign]


@contextlib.contextmanager
def listening() -> Iterator[list[Reply]]:
    """The replies heard in this context (and the contexts Apprise copies from it) until
    the block ends, in the order they came."""
    install()
    heard: list[Reply] = []
    token = _HEARD.set(heard)
    try:
        yield heard
    finally:
        _HEARD.reset(token)
