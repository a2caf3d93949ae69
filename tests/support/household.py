"""One home server for the governor's policy tests: its config, its containers, its facts."""

from __future__ import annotations

from collections.abc import Mapping

from shared.config.model import WardenConfig
from shared.messages import ContainerFact, ContainerInventory

GIB = 1024**3
CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {
            0: {"containers": ["pihole"]},
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["sonarr", "postgres"]},
            3: {"containers": ["tdarr*", "kopia"], "memory_high": "3G", "memory_max": "4G"},
        },
        "protected_containers": ["postgres", "kopia"],
        "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 60},
    }
)
MATCHER = CFG.tier_matcher()
NAMES = ["pihole", "jellyfin", "sonarr", "postgres", "tdarr", "tdarr_node", "kopia", "stranger"]
# Never in any intent or action, whatever happens: tier 0, tier 1, protected, unconfigured.
UNTOUCHABLE = {"pihole", "postgres", "kopia", "stranger", "jellyfin"}


def inventory(
    states: Mapping[str, str] | None = None, rss: int | Mapping[str, int] = 4 * GIB
) -> ContainerInventory:
    """Every container of the household, running unless `states` says otherwise."""
    states = states or {}
    return ContainerInventory(
        host="h",
        cpu_count=4,
        containers=[
            ContainerFact(
                id=n * 3,
                name=n,
                state=states.get(n, "running"),  # type: ignore[arg-type]
                tier=MATCHER.tier_of(n),
                rss_bytes=rss if isinstance(rss, int) else rss[n],
            )
            for n in NAMES
        ],
    )
