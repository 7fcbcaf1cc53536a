"""axe-core on every page of a built site: 2 viewports x 2 colour schemes, per-rule node counts.

    python -m benchmarks.a11y /tmp/site            # table of WCAG A/AA and best-practice counts
    python -m benchmarks.a11y /tmp/site --json     # the same as JSON (page -> view -> rule -> nodes)

axe-core comes with the PyPI package ``axe-playwright-python`` (the ``browser`` extra), the browser
is Debian's Chromium driven by Playwright (as in tests/test_browser.py). Every rule runs, the
experimental ones included (axe skips those unless asked); a rule counts as WCAG when it carries a
``wcag2a``/``wcag2aa``/``wcag21a``/``wcag21aa``/``wcag22aa`` tag (AAA and best practice are reported,
not gated). tests/test_a11y.py fails on any WCAG A/AA violation; README "无障碍" records the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import re
import sys
import threading
from collections import Counter
from pathlib import Path

#: Debian's Chromium (``LABCODE_CHROMIUM`` names another), with the flags every browser check uses
CHROMIUM = Path(os.environ.get("LABCODE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}
#: Material picks its palette from prefers-color-scheme when the reader has not chosen one
SCHEMES = {"light": "light", "dark": "dark"}

WCAG_TAG = re.compile(r"^wcag2(1|2)?a{1,2}$")  # A and AA of WCAG 2.0, 2.1, 2.2 (not AAA)

#: Nodes excluded from the audit, each with its reason (keep this list short and specific).
EXCLUDE: dict[str, str] = {}


def axe_source() -> str:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError as exc:
        raise ImportError(
            "axe-core is missing: pip install -c requirements/constraints.txt axe-playwright-python"
        ) from exc
    return Axe().axe_script


def pages(site: Path) -> list[str]:
    """Every HTML page of the site (relative URLs such as ``""`` and ``"l2/"``), 404 excluded."""
    out = []
    for html in sorted(site.rglob("index.html")):
        rel = html.parent.relative_to(site).as_posix()
        if rel.startswith(("assets", "notebooks")):
            continue
        out.append("" if rel == "." else rel + "/")
    return out


def is_wcag(tags) -> bool:
    return any(WCAG_TAG.match(t) for t in tags)


def load_lazy_images(page) -> None:
    """The figures are loading="lazy" (fetched near the viewport): load them all, wait for them
    (also used by tests/test_browser.py)."""
    page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('article img')].every(i => i.complete)"
    )


# MathJax typeset, every interactive figure scrolled into view and drawn (then the lazy images
# loaded), MathJax and the fonts settled, the page back at the top
_DRAW_FIGURES = """async () => {
  const sleep = (ms) => new Promise(r => setTimeout(r, ms));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  for (const fig of document.querySelectorAll('.lab-interactive[data-figure]')) {
    fig.scrollIntoView({block: 'center'});
    for (let i = 0; i < 300 && fig.dataset.embedded !== 'done'; i++) await sleep(50);
  }
  return document.querySelectorAll('.lab-interactive[data-figure]:not([data-embedded=done])').length;
}"""
_SETTLE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  window.scrollTo(0, 0);
  await new Promise(r => setTimeout(r, 100));
}"""


def prepare(page) -> None:
    pending = page.evaluate(_DRAW_FIGURES)
    if pending:
        raise RuntimeError(f"{pending} interactive figure(s) not drawn on {page.url}")
    load_lazy_images(page)
    page.evaluate(_SETTLE)


def run_axe(page, source: str) -> list[dict]:
    """axe-core's violations on the current page, every rule (experimental ones included)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(source)
    options = {
        "runOnly": {
            "type": "rule",
            "values": page.evaluate("() => axe.getRules().map(r => r.ruleId)"),
        },
        "resultTypes": ["violations"],
    }
    context = {"exclude": [[sel] for sel in EXCLUDE]} if EXCLUDE else {"exclude": []}
    result = page.evaluate("([c, o]) => axe.run(c, o)", [context, options])
    return [
        {
            "id": v["id"],
            "impact": v.get("impact"),
            "wcag": is_wcag(v["tags"]),
            "tags": v["tags"],
            "nodes": [
                {
                    "target": n["target"],
                    "summary": (n.get("failureSummary") or "")[:300],
                    "html": n["html"][:200],
                }
                for n in v["nodes"]
            ],
        }
        for v in result["violations"]
    ]


def counts(violations: list[dict]) -> dict[str, int]:
    return {v["id"]: len(v["nodes"]) for v in violations}


@contextlib.contextmanager
def serve(site: Path):
    handler = functools.partial(_Quiet, directory=str(site))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the browser closed the page
            super().handle_error(request, client_address)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def audit(site: Path, only: list[str] | None = None) -> dict[str, dict[str, list[dict]]]:
    """``{page: {"<viewport>-<scheme>": violations}}`` for every page of ``site``."""
    from playwright.sync_api import sync_playwright

    source = axe_source()
    out: dict[str, dict[str, list[dict]]] = {}
    with serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for viewport, options in VIEWPORTS.items():
            for scheme, media in SCHEMES.items():
                context = browser.new_context(**options, color_scheme=media, locale="zh-CN")
                page = context.new_page()
                for rel in only or pages(site):
                    page.goto(f"{base}/{rel}", wait_until="load")
                    prepare(page)
                    out.setdefault(rel, {})[f"{viewport}-{scheme}"] = run_axe(page, source)
                context.close()
        browser.close()
    return out


def totals(result) -> tuple[Counter, Counter]:
    wcag, other = Counter(), Counter()
    for views in result.values():
        for violations in views.values():
            for v in violations:
                (wcag if v["wcag"] else other)[v["id"]] += len(v["nodes"])
    return wcag, other


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--page", action="append", help="relative URL, e.g. l2/ (repeatable)")
    args = parser.parse_args(argv)
    result = audit(args.site, args.page)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return 0
    views = sum(len(v) for v in result.values())
    wcag, other = totals(result)
    print(f"axe-core on {len(result)} pages x {views // max(1, len(result))} views = {views} views")
    for title, table in (("WCAG A/AA", wcag), ("best practice / AAA", other)):
        print(f"\n{title}: {sum(table.values())} nodes")
        for rule, n in table.most_common():
            print(f"  {rule:32s} {n:5d}")
    print("\nper page (WCAG nodes / best-practice nodes):")
    for rel, per_view in result.items():
        w = sum(len(v["nodes"]) for vs in per_view.values() for v in vs if v["wcag"])
        o = sum(len(v["nodes"]) for vs in per_view.values() for v in vs if not v["wcag"])
        print(f"  /{rel:24s} {w:5d} {o:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
