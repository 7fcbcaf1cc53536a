"""Page weight (issue 19): a chapter's first load on a phone (empty cache, no scrolling, until the
network is idle) at most 800 KB gzip-equivalent, a chapter after another at most 250 KB, and no
request leaving the site. Measured by benchmarks/pages.py (which prints the whole table)."""

from __future__ import annotations

import pytest

from benchmarks import pages
from tests import test_browser

# test_browser's session fixtures (Chromium found or skip, the site), reused here
sync_playwright = test_browser.sync_playwright
site_dir = test_browser.site_dir

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def weights(sync_playwright, site_dir):
    return pages.weigh(site_dir)


def test_every_page_is_measured(weights, site_dir):
    chapters = pages.chapters(site_dir)
    assert len(chapters) >= 5 and set(chapters) <= set(weights), (chapters, list(weights))


def test_chapters_within_the_budget(weights, site_dir):
    over = []
    for rel in pages.chapters(site_dir):
        first, after = weights[rel]["first"], weights[rel]["after"]
        if first["gzip"] > pages.FIRST_LOAD_BUDGET:
            over.append(f"/{rel} first load {first['gzip']} B gzip: {first['files']}")
        if after["gzip"] > pages.AFTER_CHAPTER_BUDGET:
            over.append(f"/{rel} after a chapter {after['gzip']} B gzip: {after['files']}")
    print("\n" + pages.table(weights))
    assert not over, "\n".join(over)


def test_no_request_leaves_the_site(weights):
    external = {
        rel: w[when]["external"]
        for rel, w in weights.items()
        for when in ("first", "after")
        if w[when]["external"]
    }
    assert not external, external


def test_bokeh_and_mathjax_only_where_needed(weights):
    """BokehJS waits until a figure is near (never on a first screen here); MathJax only with math."""
    for rel, w in weights.items():
        files = w["first"]["files"]
        assert not any(f.startswith("assets/bokeh/") for f in files), (rel, files)
    assert not any(f.startswith("assets/mathjax/") for f in weights["exercises/"]["first"]["files"])
