"""The download clients' speed limits: qBittorrent's Web API and Transmission's RPC.

Each client reads every setting Warden may change (to record the user's own),
works out what to write for the limits asked, from those originals (pure), and
writes settings back. Warden's asks: a download and an upload limit (None: the
user's own), through the global limits or through the client's alternative
speed mode (qBittorrent's alternative limits, Transmission's turtle mode), the
global ones then left as the user has them. Every reply is validated; a client
that cannot be reached or answers nonsense raises DownloadClientError with why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.config.model import DownloadThrottle

# requests is imported where it is first used: with urllib3 and charset_normalizer it is
# about 5 MB of RSS, kept out of an actuator that no download client is configured for.
if TYPE_CHECKING:
    import requests

Original = dict[str, int | bool]
# No client limit below this: 0 is "unlimited" to both clients, and qBittorrent keeps KiB.
MIN_BPS = 1024


class DownloadClientError(Exception):
    pass


@dataclass(frozen=True)
class Limits:
    """Bytes per second each way (None: the user's own), and through which of its limits."""

    download_bps: int | None = None
    upload_bps: int | None = None
    alternative: bool = False


class DownloadClient(Protocol):
    name: str
    # Every setting read() returns and write() takes.
    keys: tuple[str, ...]

    def read(self) -> Original: ...

    # Only the settings these limits set (a limit, its switch, the mode's switch), in the
    # client's own units and rounding, so that read() gives the same values back.
    def asked(self, limits: Limits) -> Original: ...

    # Every setting: the user's own, with what the limits ask.
    def settings_for(self, limits: Limits, original: Original) -> Original: ...

    def write(self, settings: Original) -> None: ...

    def restore(self, original: Original) -> None: ...


def _request(
    session: requests.Session, method: str, url: str, timeout: float, **kwargs: Any
) -> requests.Response:
    import requests

    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as exc:
        raise DownloadClientError(f"{url}: {exc.__class__.__name__}: {exc}") from None


def _at_least(bps: int) -> int:
    return max(MIN_BPS, bps)


def _whole_kib(bps: int) -> int:
    """A limit as qBittorrent keeps it, so that it reads back as written."""
    return _at_least(bps) // 1024 * 1024


class _QbtPreferences(BaseModel):
    model_config = ConfigDict(extra="ignore")

    dl_limit: int
    up_limit: int
    alt_dl_limit: int
    alt_up_limit: int


class QBittorrent:
    """qBittorrent Web API v2: app/preferences (limits in bytes per second, kept in whole KiB,
    0 = none) and transfer/speedLimitsMode with its toggle (the alternative limits)."""

    name = "qbittorrent"
    # "limit" is the global download limit (the name an older Warden recorded it under).
    keys: tuple[str, ...] = ("limit", "up_limit", "alt_dl_limit", "alt_up_limit", "alt_mode")
    PREFERENCE = {
        "limit": "dl_limit",
        "up_limit": "up_limit",
        "alt_dl_limit": "alt_dl_limit",
        "alt_up_limit": "alt_up_limit",
    }

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

    def _alt_mode(self) -> bool:
        text = self._call("GET", "/api/v2/transfer/speedLimitsMode").text.strip()
        if text not in ("0", "1"):
            raise DownloadClientError(f"qBittorrent speedLimitsMode: not 0 or 1: {text[:40]!r}")
        return text == "1"

    def read(self) -> Original:
        reply = self._call("GET", "/api/v2/app/preferences")
        try:
            prefs = _QbtPreferences.model_validate_json(reply.content)
        except ValidationError as exc:
            raise DownloadClientError(f"qBittorrent preferences: bad reply: {exc}") from None
        return {
            "limit": prefs.dl_limit,
            "up_limit": prefs.up_limit,
            "alt_dl_limit": prefs.alt_dl_limit,
            "alt_up_limit": prefs.alt_up_limit,
            "alt_mode": self._alt_mode(),
        }

    def asked(self, limits: Limits) -> Original:
        wanted: Original = {}
        down, up = ("alt_dl_limit", "alt_up_limit") if limits.alternative else ("limit", "up_limit")
        if limits.download_bps is not None:
            wanted[down] = _whole_kib(limits.download_bps)
        if limits.upload_bps is not None:
            wanted[up] = _whole_kib(limits.upload_bps)
        if limits.alternative:
            wanted["alt_mode"] = True
        return wanted

    def settings_for(self, limits: Limits, original: Original) -> Original:
        return {**original, **self.asked(limits)}

    def write(self, settings: Original) -> None:
        prefs = {self.PREFERENCE[k]: int(v) for k, v in settings.items() if k in self.PREFERENCE}
        if prefs:
            self._call("POST", "/api/v2/app/setPreferences", data={"json": json.dumps(prefs)})
        if "alt_mode" in settings and self._alt_mode() != bool(settings["alt_mode"]):
            # The toggle is in every version of the API; setSpeedLimitsMode only in newer ones.
            self._call("POST", "/api/v2/transfer/toggleSpeedLimitsMode")

    def restore(self, original: Original) -> None:
        self.write(original)


class _SessionGet(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    speed_limit_down: int
    speed_limit_down_enabled: bool
    speed_limit_up: int
    speed_limit_up_enabled: bool
    alt_speed_down: int
    alt_speed_up: int
    alt_speed_enabled: bool
    speed_bytes: int = 1000


class Transmission:
    """Transmission RPC: session-get/session-set, speed limits in kB/s (the session's unit)
    each with its switch, and the turtle mode's (alt-speed) limits and switch."""

    name = "transmission"
    SESSION_HEADER = "X-Transmission-Session-Id"
    keys: tuple[str, ...] = (
        "speed-limit-down",
        "speed-limit-down-enabled",
        "speed-limit-up",
        "speed-limit-up-enabled",
        "alt-speed-down",
        "alt-speed-up",
        "alt-speed-enabled",
    )

    def __init__(self, url: str, username: str, password: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.url = url if parts.path not in ("", "/") else url.rstrip("/") + "/transmission/rpc"
        self.timeout = timeout
        # Bytes in the session's speed unit, as its last reply said.
        self.unit = 1000
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
        args = self._rpc("session-get", {"fields": [*self.keys, "units"]})
        try:
            got = _SessionGet.model_validate(
                {
                    **{key.replace("-", "_"): args[key] for key in self.keys},
                    "speed_bytes": (args.get("units") or {}).get("speed-bytes", 1000),
                }
            )
        except (KeyError, ValidationError) as exc:
            raise DownloadClientError(f"Transmission session-get: bad reply: {exc}") from None
        self.unit = got.speed_bytes
        return got

    def read(self) -> Original:
        got = self._get()
        return {key: getattr(got, key.replace("-", "_")) for key in self.keys}

    def _units(self, bps: int) -> int:
        return max(1, round(_at_least(bps) / self.unit))

    def asked(self, limits: Limits) -> Original:
        wanted: Original = {}
        if limits.alternative:
            if limits.download_bps is not None:
                wanted["alt-speed-down"] = self._units(limits.download_bps)
            if limits.upload_bps is not None:
                wanted["alt-speed-up"] = self._units(limits.upload_bps)
            wanted["alt-speed-enabled"] = True
            return wanted
        for bps, key in ((limits.download_bps, "down"), (limits.upload_bps, "up")):
            if bps is not None:
                wanted[f"speed-limit-{key}"] = self._units(bps)
                wanted[f"speed-limit-{key}-enabled"] = True
        return wanted

    def settings_for(self, limits: Limits, original: Original) -> Original:
        return {**original, **self.asked(limits)}

    def write(self, settings: Original) -> None:
        self._rpc("session-set", dict(settings))

    def restore(self, original: Original) -> None:
        self.write(original)


def client_for(cfg: DownloadThrottle) -> DownloadClient:
    kind = QBittorrent if cfg.provider == "qbittorrent" else Transmission
    return kind(cfg.url, cfg.username, cfg.password, cfg.timeout_seconds)
