"""Which tier a container belongs to, from the config's names and glob patterns."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping

_GLOB_CHARS = ("*", "?", "[", "]")


def is_pattern(name: str) -> bool:
    return any(c in name for c in _GLOB_CHARS)


class TierMatcher:
    """Exact names win over patterns; among patterns, the lowest tier wins.

    ADRG checks exact names first, then patterns in config order. Warden
    resolves a name matched by patterns of two tiers to the lower (more
    important) tier, so a broad `*` in tier 3 can never demote a service a
    user listed by pattern in tier 1.
    """

    def __init__(self, tiers: Mapping[int, Iterable[str]], protected: Iterable[str] = ()) -> None:
        self._exact: dict[str, int] = {}
        self._patterns: list[tuple[str, int]] = []
        for tier in sorted(tiers):
            for name in tiers[tier]:
                if is_pattern(name):
                    self._patterns.append((name, tier))
                else:
                    self._exact.setdefault(name, tier)
        self._protected = set(protected)

    def tier_of(self, container_name: str) -> int | None:
        name = container_name.lstrip("/")
        if name in self._exact:
            return self._exact[name]
        for pattern, tier in self._patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return tier
        return None

    def with_protected(self, names: Iterable[str]) -> TierMatcher:
        """The same tiers, with more containers protected (a condition's, while it holds)."""
        extra = set(names) - self._protected
        if not extra:
            return self
        wider = TierMatcher({})
        wider._exact, wider._patterns = self._exact, self._patterns
        wider._protected = self._protected | extra
        return wider

    def is_protected(self, container_name: str) -> bool:
        """Never paused, throttled or restarted: listed as protected, or in tier 0."""
        name = container_name.lstrip("/")
        return name in self._protected or self.tier_of(name) == 0

    def watched(self, container_name: str) -> bool:
        """Whose own stall the protect rule watches: tier 0 or 1, or protected."""
        return self.is_protected(container_name) or self.tier_of(container_name) == 1
