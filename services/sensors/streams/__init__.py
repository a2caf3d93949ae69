"""Media streams: what Jellyfin, Plex, Emby or Tautulli say is playing, and their webhooks.

Parsers, classification, counting and the session bookkeeping are pure
functions; the HTTP client, the webhook receiver and the watcher are thin
shells around them.
"""

from services.sensors.streams.common import StreamQueryError, count_streams
from services.sensors.streams.providers import query_sessions

__all__ = ["StreamQueryError", "count_streams", "query_sessions"]
