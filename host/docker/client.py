"""The Docker engine through the Docker SDK's low-level client (docker.APIClient).

The API version is negotiated with the engine, which needs it to answer: the client is
built on first use, and built again after a failure, so a service starts without Docker
and finds it once it comes. What the engine answers is validated with pydantic
(replies.py) where Warden reads it, so a reply that is not what the API documents is a
DockerError naming the call, not a KeyError later.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass

import docker
import docker.errors
import requests
from docker.constants import MINIMUM_DOCKER_API_VERSION as MINIMUM_API_VERSION
from docker.tls import TLSConfig
from docker.utils import kwargs_from_env

from host.docker.replies import ReplyError
from shared.config.docker import DockerAccess
from shared.errors import SetupError, brief

# Every way a call can fail: the SDK's errors and the HTTP layer's under it.
DockerError = (docker.errors.DockerException, requests.RequestException)
NotFound = docker.errors.NotFound


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is and how to reach it: the config's keys, else the environment's
    (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, as `docker` and docker.from_env()
    read them)."""

    url: str
    tls: TLSConfig | None

    @classmethod
    def of(
        cls, access: DockerAccess, section: str, environ: Mapping[str, str] | None = None
    ) -> Endpoint:
        """section: where the keys are (sensors, actuator), named in a SetupError."""
        environ = os.environ if environ is None else environ
        url = access.resolved_url(environ)
        tls = None if access.docker_url else _env_tls(environ, section)
        if (t := access.docker_tls) is not None:
            cert = (t.client_cert, t.client_key) if t.client_cert and t.client_key else None
            try:
                tls = TLSConfig(client_cert=cert, ca_cert=t.ca_cert, verify=t.verify)
            except docker.errors.TLSParameterError as exc:
                raise SetupError(f"{section}.docker_tls", str(exc)) from None
        return cls(url, tls)

    @property
    def local_socket(self) -> str | None:
        return self.url.removeprefix("unix://") if self.url.startswith("unix://") else None

    def client(self, timeout: float | None) -> docker.APIClient:
        """A client with the API version negotiated now (the engine's own, as the SDK's
        "auto" takes it): raises DockerError when the engine cannot be reached.
        timeout: per call (None: wait for ever, for streams)."""
        asked = self._build(MINIMUM_API_VERSION, timeout)
        try:
            version = asked.version(api_version=False)["ApiVersion"]
        except (KeyError, TypeError) as exc:
            raise ReplyError(f"engine version: unexpected reply: {exc!r}") from None
        finally:
            asked.close()
        return self._build(str(version), timeout)

    def _build(self, version: str, timeout: float | None) -> docker.APIClient:
        api = docker.APIClient(
            base_url=self.url,
            version=version,
            timeout=timeout,
            tls=self.tls or False,
            use_ssh_client=self.url.startswith("ssh://"),
        )
        if self.tls is not None and self.tls.ca_cert:
            # requests lets REQUESTS_CA_BUNDLE (set on many hosts) replace the CA named
            # here: the engine's own CA must win, so the environment is not consulted.
            api.trust_env = False
        return api


def _env_tls(environ: Mapping[str, str], section: str) -> TLSConfig | None:
    """TLS as DOCKER_TLS_VERIFY and DOCKER_CERT_PATH ask for it, as the docker CLI reads them."""
    try:
        tls: TLSConfig | None = kwargs_from_env(dict(environ)).get("tls")
    except docker.errors.TLSParameterError as exc:
        raise SetupError(f"{section}.docker_url (DOCKER_CERT_PATH)", str(exc)) from None
    return tls


def reason(exc: BaseException) -> str:
    """A Docker error as a line a person can act on: the innermost message that the SDK,
    requests and urllib3 wrapped ("certificate verify failed: ...", "Connection refused",
    "No such file or directory"), not their three layers of repr."""
    text = str(exc)
    quoted = re.findall(r"'([^']{8,})'", text)
    detail = re.sub(r"^<[^>]*>:\s*", "", quoted[-1]) if quoted else text
    return brief(detail)


class Engine:
    """The client, built on first use and shared by every thread (the SDK's session keeps a
    pool of connections); tried again on the next use while the engine cannot be reached."""

    def __init__(self, endpoint: Endpoint, timeout: float = 10) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._client: docker.APIClient | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def api(self) -> docker.APIClient:
        with self._lock:
            if self._client is None:
                self._client = self.endpoint.client(self.timeout)
            return self._client
