"""Warden's conditions: host events (a process, a container, an MQTT value) that change policy."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator, model_validator

from shared.config.base import Regex, Seconds, Section
from shared.config.schedules import Name
from shared.presets import AnyCasePreset

# A value a condition compares is one short reading (a price, `home`), never a document.
MAX_VALUE_CHARS = 256


def _listed(value: object) -> object:
    return [value] if isinstance(value, str | int | float) else value


class ProcessMatch(Section):
    """A host process: its name (a glob) or its command line (a regular expression)."""

    name: list[str] = Field(
        default=[], description="globs against the process name (comm) or argv[0]'s basename"
    )
    cmdline: list[Regex] = Field(
        default=[],
        description="regular expressions searched in the command line, arguments joined by spaces",
    )

    @model_validator(mode="after")
    def _something_to_match(self) -> ProcessMatch:
        if not (self.name or self.cmdline):
            raise ValueError("name or cmdline is needed")
        return self


class TopicMatch(Section):
    """An MQTT topic's value (Home Assistant's mqtt_statestream, an automation, a script)."""

    topic: str = Field(description="the topic, no wildcards (`homeassistant/sensor/price/state`)")
    json_key: str | None = Field(
        default=None, description="read this key of a JSON object payload; none: the payload"
    )
    equals: Annotated[list[str], BeforeValidator(_listed)] = Field(
        default=[], description="holds while the value is one of these (any case)"
    )
    above: float | None = Field(default=None, description="holds while the number is above this")
    below: float | None = Field(default=None, description="holds while the number is below this")

    @field_validator("topic")
    @classmethod
    def _one_topic(cls, value: str) -> str:
        if not value or any(c in value for c in "+#") or value.startswith("$"):
            raise ValueError("must be one topic: no wildcards (+, #), not a $SYS topic")
        return value

    @model_validator(mode="after")
    def _a_test(self) -> TopicMatch:
        if not self.equals and self.above is None and self.below is None:
            raise ValueError("equals, above or below is needed")
        if self.equals and (self.above is not None or self.below is not None):
            raise ValueError("equals compares text; above and below compare numbers: not both")
        return self


class Condition(Section):
    """A host event, and what Warden does while it holds (and for hold_seconds after)."""

    name: Name = Field(description="the condition's name (letters, digits, `_`, `-`), unique")
    process: ProcessMatch | None = Field(
        default=None, description="holds while a host process matches"
    )
    container: str | None = Field(
        default=None, description="holds while this container (its exact name) runs"
    )
    mqtt: TopicMatch | None = Field(
        default=None, description="holds while an MQTT topic holds a value"
    )
    media_mode: bool = Field(default=False, description="media mode is on while it holds")
    pause_tier3: bool = Field(default=False, description="tier 3 is paused while it holds")
    preset: AnyCasePreset | None = Field(
        default=None, description="the process groups' preset while it holds"
    )
    process_groups: list[str] = Field(
        default=[], description="the groups `preset` applies to; none: all"
    )
    protect: list[str] = Field(
        default=[],
        description="containers (exact names) no rule limits while it holds, as if protected",
    )
    hold_seconds: Seconds = Field(
        default=0, description="it still counts this long after it stops holding"
    )

    @model_validator(mode="after")
    def _one_source_some_effect(self) -> Condition:
        sources = [s for s in (self.process, self.container, self.mqtt) if s is not None]
        if len(sources) != 1:
            raise ValueError("exactly one of process, container or mqtt is needed")
        if not (self.media_mode or self.pause_tier3 or self.preset or self.protect):
            raise ValueError("it does nothing: set media_mode, pause_tier3, preset or protect")
        if self.process_groups and self.preset is None:
            raise ValueError("process_groups names where a preset applies: set preset")
        return self
