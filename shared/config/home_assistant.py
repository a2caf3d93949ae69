"""Warden's Home Assistant link: MQTT discovery and notifications for automations."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from shared.config.base import Section, is_topic_path


class HomeAssistant(Section):
    enabled: bool = Field(
        default=True,
        description="the notifier links Home Assistant: discovery, states, `notify`; false: none",
    )
    discovery_prefix: str = Field(
        default="homeassistant", description="Home Assistant's discovery topic prefix"
    )
    status_topic: str | None = Field(
        default=None,
        description="where Home Assistant sends its birth message; none: "
        "`<discovery_prefix>/status`",
    )
    # Random, so a restarted Home Assistant is not flooded by every device at once.
    republish_delay_seconds: Annotated[float, Field(ge=0, le=300)] = Field(
        default=5,
        description="most random delay (seconds) before re-announcing after a birth or reconnect",
    )
    device_name: str | None = Field(
        default=None, description="the device's name; none: `Warden <host>`"
    )
    configuration_url: str | None = Field(
        default=None,
        description="link on the device page; none: the HTTP API when it listens beyond loopback",
    )
    notify: bool = Field(
        default=True, description="also send each notification to `<root>/<host>/ha/notify`"
    )

    @field_validator("discovery_prefix", "status_topic")
    @classmethod
    def _prefix_is_topic_path(cls, value: str | None) -> str | None:
        if value is not None and not is_topic_path(value):
            raise ValueError("must be MQTT topic levels without wildcards, '/' only between levels")
        return value

    @field_validator("configuration_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://", "homeassistant://")):
            raise ValueError("must start with http://, https:// or homeassistant://")
        return value

    @property
    def birth_topic(self) -> str:
        return self.status_topic or f"{self.discovery_prefix}/status"
