"""The documentation: its generated sections equal to the code they come from, a README
that is a landing page (under 200 lines, every link leading somewhere), and a site that
builds with --strict (a broken link or a missing page fails it)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from tests.support.doc_sections import SECTIONS
from tests.support.processes import REPO
from tests.support.real import missing


@pytest.mark.parametrize("page", sorted(SECTIONS))
def test_each_generated_section_is_the_code_s_own(page: str) -> None:
    text = (REPO / page).read_text()
    assert SECTIONS[page](text) == text, f"{page} is stale: run scripts/docs-generate"


def test_the_readme_is_a_landing_page_whose_links_lead_somewhere() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert len(links) > 20
    for target in links:
        if not target.startswith(("http://", "https://")):
            assert (REPO / target).exists(), target


def test_the_site_builds_with_strict() -> None:
    if importlib.util.find_spec("mkdocs") is None:
        missing("mkdocs is not installed (pip install -e '.[docs]')")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", "build/test-site"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
