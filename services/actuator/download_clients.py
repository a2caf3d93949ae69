"""The download clients' global download limit: qBittorrent's Web API and Transmission's RPC.

Each client reads its current setting (to record as the original), sets a
limit, and puts an original back. Every reply is validated; a client that
cannot be reached or answers nonsense raises DownloadClientError with why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.config.model import DownloadThrottle

# requests is imported where it is first used: with urllib3 and charset_normalizer it is
# about 5 MB of RSS, kept out of an actuator that no download client is configured for.
if TYPE_CHECKING:
    import requests

Original = dict[str, int | bool]


class DownloadClientError(Exception):
    pass


class DownloadClient(Protocol):
    name: str

    def read(self) -> Original: ...

    def set_limit(self, bytes_per_second: int) -> None: ...

    def restore(self, original: Original) -> None: ...


def _request(
    session: requests.Session, method: str, url: str, timeout: float, **kwargs: Any
) -> requests.Response:
    import requests

    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise DownloadClientError(f"{url}: {exc.__class__.__name__}: {exc}") from None


class QBittorrent:
    """qBittorrent Web API v2: /api/v2/transfer/{downloadLimit,setDownloadLimit}, 0 = none."""

    name = "qbittorrent"

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        self.base = url.rstrip("/")
        self.username, self.password, self.timeout = username, password, timeout
        import requests

        self.session = requests.Session()

    def _login(self) -> None:
        reply = _request(
            self.session,
            "POST",
            f"{self.base}/api/v2/auth/login",
            self.timeout,
            data={"username": self.username, "password": self.password},
        )
        if reply.status_code != 200 or reply.text.strip() != "Ok.":
            raise DownloadClientError(
                f"qBittorrent login refused ({reply.status_code} {reply.text.strip()[:60]!r})"
            )

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        reply = _request(self.session, method, f"{self.base}{path}", self.timeout, **kwargs)
        if reply.status_code == 403:  # no session yet, or it expired
            self._login()
            reply = _request(self.session, method, f"{self.base}{path}", self.timeout, **kwargs)
        if reply.status_code != 200:
            raise DownloadClientError(f"qBittorrent {path}: HTTP {reply.status_code}")
        return reply

    def read(self) -> Original:
        text = self._call("GET", "/api/v2/transfer/downloadLimit").text.strip()
        if not text.isdigit():
            raise DownloadClientError(f"qBittorrent downloadLimit: not a number: {text[:40]!r}")
        return {"limit": int(text)}

    def set_limit(self, bytes_per_second: int) -> None:
        self._call("POST", "/api/v2/transfer/setDownloadLimit", data={"limit": bytes_per_second})

    def restore(self, original: Original) -> None:
        self.set_limit(int(original["limit"]))


class _SessionGet(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    speed_limit_down: int
    speed_limit_down_enabled: bool
    speed_bytes: int = 1000


class Transmission:
    """Transmission RPC: session-get/session-set speed-limit-down (kB/s) and its switch."""

    name = "transmission"
    SESSION_HEADER = "X-Transmission-Session-Id"

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.url = url if parts.path not in ("", "/") else url.rstrip("/") + "/transmission/rpc"
        self.timeout = timeout
        import requests

        self.session = requests.Session()
        if username:
            self.session.auth = (username, password)

    def _rpc(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        body = {"method": method, "arguments": arguments}
        reply = _request(self.session, "POST", self.url, self.timeout, json=body)
        if reply.status_code == 409:  # Transmission's CSRF handshake: retry with its session id
            self.session.headers[self.SESSION_HEADER] = reply.headers.get(self.SESSION_HEADER, "")
            reply = _request(self.session, "POST", self.url, self.timeout, json=body)
        if reply.status_code != 200:
            raise DownloadClientError(f"Transmission {method}: HTTP {reply.status_code}")
        try:
            data = reply.json()
        except ValueError:
            raise DownloadClientError(f"Transmission {method}: reply is not JSON") from None
        if not isinstance(data, dict) or data.get("result") != "success":
            result = data.get("result") if isinstance(data, dict) else data
            raise DownloadClientError(f"Transmission {method}: {str(result)[:80]}")
        arguments_out = data.get("arguments", {})
        return arguments_out if isinstance(arguments_out, dict) else {}

    def _get(self) -> _SessionGet:
        args = self._rpc(
            "session-get", {"fields": ["speed-limit-down", "speed-limit-down-enabled", "units"]}
        )
        try:
            return _SessionGet(
                speed_limit_down=args["speed-limit-down"],
                speed_limit_down_enabled=args["speed-limit-down-enabled"],
                speed_bytes=(args.get("units") or {}).get("speed-bytes", 1000),
            )
        except (KeyError, ValidationError) as exc:
            raise DownloadClientError(f"Transmission session-get: bad reply: {exc}") from None

    def read(self) -> Original:
        got = self._get()
        return {
            "speed-limit-down": got.speed_limit_down,
            "speed-limit-down-enabled": got.speed_limit_down_enabled,
        }

    def set_limit(self, bytes_per_second: int) -> None:
        unit = self._get().speed_bytes
        self._rpc(
            "session-set",
            {
                "speed-limit-down": max(1, round(bytes_per_second / unit)),
                "speed-limit-down-enabled": True,
            },
        )

    def restore(self, original: Original) -> None:
        self._rpc("session-set", dict(original))


def client_for(cfg: DownloadThrottle) -> DownloadClient:
    kind = QBittorrent if cfg.provider == "qbittorrent" else Transmission
    return kind(cfg.url, cfg.username, cfg.password, cfg.timeout_seconds)
