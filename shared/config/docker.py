"""How a service reaches the Docker engine: the same keys for the sensors and the actuator."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from shared.config.base import Section

DOCKER_SCHEMES = ("unix", "tcp", "http", "https", "ssh")
LOCAL_SOCKET = "unix:///var/run/docker.sock"
# Where warden-stack and the systemd unit point the sensors: the read-only proxy's socket
# (deploy/docker-proxy/haproxy.cfg). It wins over sensors.docker_url, as
# $WARDEN_SIGNING_KEY_FILE wins over security.signing_key_file.
SENSORS_URL_ENV = "WARDEN_SENSORS_DOCKER_URL"


class DockerTls(Section):
    """TLS to a Docker engine on TCP (its port 2376), in the Docker SDK's terms."""

    ca_cert: str | None = Field(
        default=None, description="CA certificate (PEM) that signed the engine's"
    )
    client_cert: str | None = Field(
        default=None, description="client certificate (PEM) the engine checks (`--tlsverify`)"
    )
    client_key: str | None = Field(default=None, description="the client certificate's key (PEM)")
    verify: bool = Field(
        default=True, description="check the engine's certificate against ca_cert (or the system's)"
    )

    @model_validator(mode="after")
    def _pairs(self) -> DockerTls:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key come together")
        return self


class DockerAccess(Section):
    docker_url: str | None = Field(
        default=None,
        description="the Docker API: unix://, tcp://host:port or ssh://user@host; none: "
        "DOCKER_HOST (with DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else the local socket",
    )
    docker_tls: DockerTls | None = Field(
        default=None, description="TLS to the engine on tcp:// (overrides DOCKER_CERT_PATH)"
    )

    def resolved_url(self, environ: Mapping[str, str]) -> str:
        """Where the engine is: the config's url, else DOCKER_HOST, else the local socket."""
        return self.docker_url or environ.get("DOCKER_HOST") or LOCAL_SOCKET

    def pointed_by(self, environ: Mapping[str, str], variable: str) -> DockerAccess:
        """This access, or, where `variable` names an engine, that one, with no TLS (a
        local proxy's socket): how the install paths point a service at the proxy."""
        url = environ.get(variable)
        if not url:
            return self
        return self.model_copy(update={"docker_url": url, "docker_tls": None})

    @field_validator("docker_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in DOCKER_SCHEMES:
            raise ValueError(f"expected unix:///path, tcp://host:port or ssh://host, not {value!r}")
        if parts.scheme == "unix":
            if not parts.path:
                raise ValueError("a unix:// url needs the socket's path (unix:///var/run/...)")
        else:
            try:
                parts.port  # noqa: B018 (a port that is not a number raises here)
            except ValueError:
                raise ValueError(f"the port of {value!r} is not a number") from None
            if not parts.hostname:
                raise ValueError(f"{value!r} names no host")
        return value
