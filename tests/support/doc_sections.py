"""The documentation's generated sections: each page, and how its sections are made anew
from the code (between marker comments). scripts/docs-generate writes them;
tests/test_docs.py keeps them equal."""

from __future__ import annotations

import json
from collections.abc import Callable

from services.governor import catalogue
from services.web import openapi
from shared import channel_files
from shared.config import reference
from shared.config.model import WardenConfig
from shared.readme_section import with_section


def _rules(text: str) -> str:
    table = catalogue.markdown(WardenConfig(host_id="<host>"))
    return with_section(text, catalogue.MARKDOWN_START, catalogue.MARKDOWN_END, table)


def _routes(text: str) -> str:
    table = openapi.markdown(json.loads(openapi.render()))
    return with_section(text, openapi.MARKDOWN_START, openapi.MARKDOWN_END, table)


SECTIONS: dict[str, Callable[[str], str]] = {
    "docs/reference/configuration.md": reference.readme_with_table,
    "docs/reference/topics.md": channel_files.readme_with_table,
    "docs/concepts/rules.md": _rules,
    "docs/reference/routes.md": _routes,
}
