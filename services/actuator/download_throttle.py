"""The download client's global limit during media mode, with its original put back after.

ADRG sets the limit to "unlimited" when media mode ends; Warden restores
whatever the user had, recorded before the first change.
"""

from __future__ import annotations

from services.actuator.download_clients import DownloadClient, DownloadClientError
from services.actuator.state_store import StateStore
from shared.logs import Log

_UNSET = object()


class DownloadThrottleControl:
    def __init__(
        self, client: DownloadClient, url: str, store: StateStore, dry_run: bool, log: Log
    ) -> None:
        self.client = client
        self.url = url
        self.store = store
        self.dry_run = dry_run
        self.log = log
        self._applied: object = _UNSET

    def apply(self, limit_bps: int | None, reasons: str) -> str | None:
        """Returns what went wrong, or None. Does nothing when the limit is already applied."""
        if limit_bps == self._applied:
            return None
        self.log.info(
            "apply.download_limit",
            client=self.client.name,
            limit_bps=limit_bps,
            dry_run=self.dry_run,
            reasons=reasons,
        )
        if self.dry_run:
            self._applied = limit_bps
            return None
        try:
            if limit_bps is not None:
                if self.store.download is None:
                    self.store.record_download(self.client.name, self.url, self.client.read())
                self.client.set_limit(limit_bps)
            elif (record := self.store.download) is not None:
                self.client.restore(record.original)
                self.store.forget_download()
        except DownloadClientError as exc:
            self._applied = _UNSET  # try again on the next reconcile
            return f"{self.client.name}: {exc}"
        self._applied = limit_bps
        return None
