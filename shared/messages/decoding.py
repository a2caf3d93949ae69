"""Payload bytes to values: a pydantic model, or a word from a fixed set. Bad input raises
PayloadError, which the bus logs and drops."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from shared.messages.base import PayloadError, describe_validation_error

M = TypeVar("M", bound=BaseModel)


def model_decoder(model: type[M]) -> Callable[[bytes], M]:
    def decode(payload: bytes) -> M:
        try:
            return model.model_validate_json(payload)
        except ValidationError as exc:
            raise PayloadError(f"{model.__name__}: {describe_validation_error(exc)}") from None

    decode.model = model  # type: ignore[attr-defined]  # for tests that fuzz each topic's model
    return decode


def text_decoder(*allowed: str) -> Callable[[bytes], str]:
    def decode(payload: bytes) -> str:
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise PayloadError("payload is not UTF-8 text") from None
        if allowed and text not in allowed:
            raise PayloadError(f"expected one of {', '.join(allowed)}, got {text[:40]!r}")
        return text

    return decode
