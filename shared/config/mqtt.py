"""Warden's bus: the MQTT broker every service talks through."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from shared.config.base import Port, Section, is_topic_path


class Mqtt(Section):
    host: str | None = Field(
        default=None,
        description="the broker's address; none: `warden-stack` runs a local Mosquitto",
    )
    port: Port = Field(default=1883, description="the broker's TCP port")
    username: str | None = Field(default=None, description="broker login; none: anonymous")
    password: str | None = Field(default=None, description="broker password")
    keepalive_seconds: Annotated[int, Field(ge=5, le=3600)] = Field(
        default=30,
        description="MQTT keepalive (seconds): how soon the broker notices a dead service",
    )
    topic_root: str = Field(default="warden", description="the first topic level(s) of every topic")
    reconnect_min_seconds: Annotated[float, Field(gt=0)] = Field(
        default=1, description="first reconnect delay (seconds) after the broker is lost"
    )
    reconnect_max_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30, description="longest reconnect delay (seconds)"
    )

    @field_validator("topic_root")
    @classmethod
    def _root_is_topic_path(cls, value: str) -> str:
        if not is_topic_path(value):
            raise ValueError("must be MQTT topic levels without wildcards, '/' only between levels")
        return value

    @property
    def broker_host(self) -> str:
        return self.host or "127.0.0.1"
