"""What every config section shares: the Section base and the value types."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

from shared.units import parse_size

Size = Annotated[int, BeforeValidator(parse_size), PlainSerializer(int)]
Percent = Annotated[float, Field(ge=0, le=100)]
Seconds = Annotated[float, Field(ge=0)]
Port = Annotated[int, Field(ge=1, le=65535)]


def _compiles(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return pattern


# A regular expression, refused at load when Python's re cannot compile it.
Regex = Annotated[str, AfterValidator(_compiles)]
# MQTT topic levels must not hold wildcards or separators.
TOPIC_LEVEL = re.compile(r"^[^/#+\s]+$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The keys of this section that an ADRG config.yaml has (the configuration reference says
    # which are ADRG's); every other key, and everything under it, is Warden's.
    ADRG_KEYS: ClassVar[frozenset[str]] = frozenset()


def lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def is_topic_path(value: str) -> bool:
    return bool(value) and all(TOPIC_LEVEL.match(level) for level in value.split("/"))
