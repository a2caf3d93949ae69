"""What every provider module shares: the error, the HTTP GET, locality, and the count."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from shared.addresses import is_local
from shared.errors import brief
from shared.messages.base import describe_validation_error
from shared.messages.facts import StreamSession, StreamState


class StreamQueryError(Exception):
    """The server could not be asked, or its answer cannot be used; the message says which."""


class Reply(BaseModel):
    """A piece of a media server's answer. Servers add fields freely, so extras are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


R = TypeVar("R", bound=BaseModel)


def _number_as_text(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# Ids and keys that servers send as numbers in one version and strings in another.
Text = Annotated[str, BeforeValidator(_number_as_text)]


def validate_reply(model: type[R], payload: object, what: str) -> R:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        reason = describe_validation_error(exc, "answer")
        raise StreamQueryError(f"{what}: unexpected answer: {reason}") from None


def _redact(text: str, secrets: Sequence[str]) -> str:
    # requests puts the full URL, query included, into its messages; Tautulli's key is in it.
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def get_json(
    url: str,
    *,
    what: str,
    timeout: float,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    secrets: Sequence[str] = (),
) -> object:
    """GET url and decode its JSON; every failure is a StreamQueryError naming `what`."""
    # Imported on first use: about 5 MB of RSS (with urllib3, charset_normalizer) that a
    # sensors process with no media server to ask does not carry.
    import requests

    try:
        response = requests.get(url, headers=headers, params=params, timeout=timeout)
    except requests.Timeout:
        raise StreamQueryError(f"{what}: no answer within {timeout:g}s") from None
    except requests.RequestException as exc:
        reason = brief(_redact(str(exc), secrets))
        raise StreamQueryError(f"{what}: cannot reach {url}: {reason}") from None
    if response.status_code != 200:
        hint = " (check media_mode.api_key)" if response.status_code in (401, 403) else ""
        raise StreamQueryError(
            f"{what}: HTTP {response.status_code} {response.reason or ''}".rstrip() + hint
        )
    try:
        return response.json()
    except ValueError:
        start = _redact(response.text[:60], secrets)
        raise StreamQueryError(f"{what}: answer is not JSON: {start!r}") from None


def local_from_address(address: str | None) -> bool | None:
    """Whether a client address is on the local network; None when it cannot be told."""
    return is_local(address)


def player_state(value: str | None) -> StreamState | None:
    """A server's playback state word as Warden's; None for a session that has ended.

    A word Warden does not know counts as playing: when unsure, err toward the stream.
    """
    word = (value or "").strip().lower()
    if word in ("paused", "pause"):
        return "paused"
    if word in ("buffering", "buffer"):
        return "buffering"
    if word in ("stopped", "stop"):
        return None
    return "playing"


def title_of(title: str | None, series: str | None) -> str:
    return f"{series} - {title}" if series and title else (title or series or "")


class CountPolicy(Protocol):
    """The parts of media_mode that say which sessions count (MediaMode has them)."""

    @property
    def count_direct_play(self) -> bool: ...

    @property
    def count_local(self) -> bool: ...

    @property
    def count_audio(self) -> bool: ...


def counts(session: StreamSession, policy: CountPolicy) -> bool:
    if session.state == "paused":
        return False
    # A slideshow is not a stream; music, as ADRG has it, is none unless asked for. An
    # unknown media type counts: when unsure, err toward the stream.
    if session.media_type == "photo":
        return False
    if session.media_type == "audio" and not policy.count_audio:
        return False
    if session.transcode:
        return True  # the server's CPU or GPU is busy whoever watches
    if not policy.count_direct_play:
        return False
    # An unknown location counts: a remote client is the one a stall would hurt.
    return not (session.local is True and not policy.count_local)


def count_streams(sessions: Iterable[StreamSession], policy: CountPolicy) -> int:
    """Streams media mode counts: paused and photos never, video and live TV transcodes
    always, the rest as configured."""
    return sum(1 for s in sessions if counts(s, policy))
