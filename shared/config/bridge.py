"""Warden's bridge from this host's broker to a central one, for many hosts."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shared.config.base import Port, Section


class Bridge(Section):
    """A Mosquitto bridge from this host's broker to a central one (warden-stack writes it).

    This host's facts, states, events, availability and discovery go up; its
    triggers and settings (and warden/trigger) come down. Decisions stay here.
    """

    enabled: bool = Field(default=False, description="bridge this host's broker to a central one")
    address: str | None = Field(
        default=None, description="the central broker's address (needed when enabled)"
    )
    port: Port = Field(default=1883, description="the central broker's TCP port")
    username: str | None = Field(
        default=None, description="login at the central broker (with password)"
    )
    password: str | None = Field(
        default=None, description="password at the central broker (with username)"
    )
    tls: bool = Field(default=False, description="connect to the central broker over TLS")
    ca_file: str | None = Field(
        default=None,
        description="CA of the central broker's certificate (needs tls); none: the system's",
    )
    keepalive_seconds: Annotated[int, Field(ge=2, le=3600)] = Field(
        default=30,
        description="bridge keepalive: the central broker notices a lost host after about 1.5x",
    )

    @model_validator(mode="after")
    def _complete(self) -> Bridge:
        if self.enabled and not self.address:
            raise ValueError("address is needed when the bridge is enabled")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.ca_file is not None and not self.tls:
            raise ValueError("ca_file needs tls: true")
        return self
