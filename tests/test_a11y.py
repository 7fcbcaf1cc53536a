"""axe-core on every page of the built site: 2 viewports x 2 colour schemes (README "无障碍").

Every axe rule runs, the experimental ones included (td-has-header is WCAG Level A but experimental);
the test fails on any violation of a rule tagged WCAG 2.0/2.1/2.2 A or AA, and prints the counts of
the others (best practice, AAA). Interactive figures are scrolled into view and drawn first. The
machinery (page list, preparation, axe options, exclusions with their reasons) is
``benchmarks/a11y.py``, which also prints the whole table:
``python -m benchmarks.a11y <site>``.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import a11y
from tests import test_browser
from tests.test_browser import VIEWPORTS, Traffic

# test_browser's session fixtures (Chromium found or skip, the site, its local server), reused here
sync_playwright = test_browser.sync_playwright
site_dir = test_browser.site_dir
base_url = test_browser.base_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCHEMES = ("light", "dark")
#: what Material's palette must show for each emulated prefers-color-scheme
PALETTE = {"light": "default", "dark": "slate"}


@pytest.fixture(scope="module")
def axe_source():
    try:
        return a11y.axe_source()
    except ImportError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def chromium(request):
    with request.getfixturevalue("sync_playwright")() as p:
        browser = p.chromium.launch(
            executable_path=str(a11y.CHROMIUM), args=a11y.CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def best_practice():
    counts: Counter = Counter()
    yield counts
    print("\naxe best-practice / AAA nodes (reported, not gated):")
    for rule, n in counts.most_common():
        print(f"  {rule:32s} {n:5d}")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_axe_wcag_a_aa(site_dir, base_url, chromium, axe_source, best_practice, viewport, scheme):
    pages = a11y.pages(site_dir)
    assert "" in pages and len(pages) >= 8, pages
    context = chromium.new_context(**VIEWPORTS[viewport], color_scheme=scheme, locale="zh-CN")
    traffic = Traffic()
    context.route("**/*", traffic.route)
    page = context.new_page()
    failures = []
    try:
        for rel in pages:
            page.goto(f"{base_url}/{rel}", wait_until="load")
            shown = page.evaluate("() => document.body.dataset.mdColorScheme")
            assert shown == PALETTE[scheme], (rel, shown)
            a11y.prepare(page)
            for v in a11y.run_axe(page, axe_source):
                if not v["wcag"]:
                    best_practice[v["id"]] += len(v["nodes"])
                    continue
                for node in v["nodes"]:
                    failures.append(f"/{rel} {v['id']} {node['target']} {node['summary']}")
    finally:
        context.close()
    assert traffic.external == []
    assert failures == [], "\n".join(failures[:40])
