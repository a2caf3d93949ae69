"""The configured provider's query: one call that returns sessions or raises StreamQueryError."""

from __future__ import annotations

from collections.abc import Callable

from services.sensors.streams import emby, jellyfin, plex, tautulli
from services.sensors.streams.common import StreamQueryError
from shared.config.model import MediaMode
from shared.messages import StreamSession

Fetch = Callable[[str, str, float], list[StreamSession]]

FETCHERS: dict[str, Fetch] = {
    "jellyfin": jellyfin.fetch,
    "plex": plex.fetch,
    "emby": emby.fetch,
    "tautulli": tautulli.fetch,
}


def query_sessions(media: MediaMode) -> list[StreamSession]:
    fetch = FETCHERS.get(media.provider)
    if fetch is None:
        raise StreamQueryError(f"provider {media.provider} has no session API")
    return fetch(media.url, media.api_key, media.timeout_seconds)
