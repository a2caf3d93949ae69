"""The download client's limits, with the user's own put back when nothing asks for any.

ADRG sets the limit to "unlimited" when media mode ends; Warden records every
setting it may change before its first change, and restores them when the
desired state asks nothing of the client (the streams' holds ran out, media
mode ended, the lease ran out), when the actuator stops, and with --cleanup.
A record from an older Warden that kept fewer settings gets the rest added
from the client, before anything else is changed. While limits are asked, each
pass reads the client back and sets again what it lost: a transmission-daemon
that crashed keeps nothing session-set, and the limits would otherwise wait
for the next change of the streams.
"""

from __future__ import annotations

from services.actuator.download_clients import (
    DownloadClient,
    DownloadClientError,
    Limits,
    Original,
)
from services.actuator.state_store import StateStore
from shared.logs import Log
from shared.messages import DesiredState

_UNSET = object()


def limits_of(desired: DesiredState | None) -> Limits | None:
    """What the desired state asks of the client; None: the user's own settings."""
    if desired is None:
        return None
    client = desired.download_client
    if client is not None:
        return Limits(client.download_bps, client.upload_bps, client.alternative)
    if desired.download_limit_bps is not None:
        return Limits(download_bps=desired.download_limit_bps)
    return None


def lost(asked: Original, now: Original) -> Original:
    """What the limits asked (client.asked) that the client has not now."""
    return {key: value for key, value in asked.items() if now.get(key) != value}


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

    def apply(self, limits: Limits | None, reasons: str) -> str | None:
        """Returns what went wrong, or None. Limits already applied are only read back, and
        what the client lost of them set again."""
        if limits == self._applied:
            return self._keep(limits)
        self.log.info(
            "apply.download_limits",
            client=self.client.name,
            download_bps=limits.download_bps if limits else None,
            upload_bps=limits.upload_bps if limits else None,
            alternative=limits.alternative if limits else None,
            dry_run=self.dry_run,
            reasons=reasons,
        )
        if self.dry_run:
            self._applied = limits
            return None
        try:
            if limits is not None:
                self.client.write(self.client.settings_for(limits, self._originals()))
            elif (record := self.store.download) is not None:
                self.client.restore(record.original)
                self.store.forget_download()
        except DownloadClientError as exc:
            self._applied = _UNSET  # try again on the next reconcile
            return f"{self.client.name}: {exc}"
        self._applied = limits
        return None

    def _keep(self, limits: Limits | None) -> str | None:
        if limits is None or self.dry_run:
            return None  # the user's own: nothing to read, no cost while nothing is asked
        try:
            now = self.client.read()  # first: Transmission's unit comes with it
            gone = lost(self.client.asked(limits), now)
            if gone:
                self.log.warning("apply.download_limits_lost", client=self.client.name, lost=gone)
                self.client.write(gone)
        except DownloadClientError as exc:
            self._applied = _UNSET
            return f"{self.client.name}: {exc}"
        return None

    def _originals(self) -> Original:
        """The user's own settings, recorded before the first change (completed where an
        older record lacks some)."""
        record = self.store.download
        if record is None or not set(self.client.keys) <= set(record.original):
            self.store.record_download(self.client.name, self.url, self.client.read())
            record = self.store.download
        assert record is not None
        return record.original
