"""The rule catalogue the governor publishes: a card per reason every rule (and a timed
override) may give, under the config in force. The other faces read it instead of
restating a rule (shared/messages/catalogue.py)."""

from __future__ import annotations

from services.governor import overrides
from services.governor.policy import RULES
from shared.config.model import WardenConfig
from shared.messages import RuleCatalogue


def catalogue(cfg: WardenConfig) -> RuleCatalogue:
    cards = [card for rule in RULES for card in rule.describe(cfg)]
    return RuleCatalogue(host=cfg.host_id, cards=[*cards, overrides.CARD])
