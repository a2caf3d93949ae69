"""Warden's bus: the MQTT broker every service talks through."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from shared.config.base import Port, Section, is_topic_path

# The port IANA gives MQTT over TLS: a broker there speaks nothing else.
TLS_PORT = 8883


class MqttTls(Section):
    """TLS to the broker, in paho-mqtt's own terms (Client.tls_set)."""

    ca_certs: str | None = Field(
        default=None,
        description="CA certificates (PEM) that signed the broker's; none: the system's CAs",
    )
    certfile: str | None = Field(
        default=None, description="client certificate (PEM), for brokers that log in by it"
    )
    keyfile: str | None = Field(
        default=None, description="the client certificate's private key (PEM)"
    )
    insecure: bool = Field(
        default=False,
        description="accept a certificate that names another host (the chain is still checked)",
    )

    @model_validator(mode="after")
    def _key_has_certificate(self) -> MqttTls:
        if self.keyfile and not self.certfile:
            raise ValueError("keyfile needs certfile: a key alone logs in as nobody")
        return self


def _tls_switch(value: object) -> object:
    # `tls: true` is TLS with the system's CAs; `tls: false` (or none) is plain TCP.
    if value is True:
        return {}
    return None if value is False else value


class Mqtt(Section):
    host: str | None = Field(
        default=None,
        description="the broker's address; none: `warden-stack` runs a local Mosquitto",
    )
    port: Port = Field(default=1883, description="the broker's TCP port")
    username: str | None = Field(default=None, description="broker login; none: anonymous")
    password: str | None = Field(default=None, description="broker password")
    tls: Annotated[MqttTls | None, BeforeValidator(_tls_switch)] = Field(
        default=None,
        description="TLS to the broker: true (system CAs) or its keys below; none: plain TCP",
    )
    transport: Literal["tcp", "websockets"] = Field(
        default="tcp", description="MQTT over plain TCP, or over WebSockets (`ws_path`)"
    )
    ws_path: str = Field(default="/mqtt", description="the broker's WebSocket path")
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

    @field_validator("ws_path")
    @classmethod
    def _ws_path_is_absolute(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a URL path starting with '/', without spaces")
        return value

    @property
    def broker_host(self) -> str:
        return self.host or "127.0.0.1"

    @property
    def broker_url(self) -> str:
        """Where the bus connects, as a person would write it (no login in it)."""
        scheme = {"tcp": "mqtt", "websockets": "ws"}[self.transport] + ("s" if self.tls else "")
        path = self.ws_path if self.transport == "websockets" else ""
        return f"{scheme}://{self.broker_host}:{self.port}{path}"

    def plain_on_tls_port(self) -> bool:
        """Port 8883 without TLS: almost surely a TLS-only broker that will never answer."""
        return self.port == TLS_PORT and self.tls is None
