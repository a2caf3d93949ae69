"""Whether a topic matches a subscription's filter (MQTT 3.1.1, 4.7)."""

from __future__ import annotations


def matches(topic_filter: str, topic: str) -> bool:
    """`+` is one level, `#` (last) is this level and all below it, including none: `a/#`
    matches `a`. A wildcard at the first level does not match a topic starting with `$`."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic.split("/")
    wanted = topic_filter.split("/")
    for n, want in enumerate(wanted):
        if want == "#":
            return True
        if n >= len(levels) or (want != "+" and want != levels[n]):
            return False
    return len(levels) == len(wanted)
