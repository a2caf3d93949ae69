"""The documentation's generated sections: text between two marker comments, made from
code (scripts/docs-generate writes them)."""

from __future__ import annotations


def with_section(readme: str, start_marker: str, end_marker: str, body: str) -> str:
    """A page's text with what lies between the markers replaced by body."""
    start = readme.index(start_marker) + len(start_marker) + 1
    end = readme.index(end_marker)
    return readme[:start] + body + readme[end:]
