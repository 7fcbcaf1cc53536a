"""Page weight of every page of a built site, and its axe-core counts, in one table.

    python -m benchmarks.pages /tmp/site              # bytes per page + axe counts (4 views each)
    python -m benchmarks.pages /tmp/site --no-axe     # bytes only
    python -m benchmarks.pages /tmp/site --json

Each page is loaded in Debian's Chromium (Playwright) at 390x844 (phone), without scrolling, until
the network is idle (no request for 0.5 s), twice: with an empty cache ("first load") and right after
another chapter in the same browser context ("after a chapter": what the HTTP cache saves). Bytes are
counted from Chromium's own network events (DevTools protocol, which also sees the search worker's
requests): a response served from the cache or a 304 counts 0 bytes of body; otherwise its body is
the file the local server sent, counted raw and gzip-compressed (level 6, as a web server would send
it; the local server sends files uncompressed). Requests that leave the site are listed. The axe
counts (benchmarks/a11y.py: WCAG A/AA and best-practice nodes summed over 2 viewports x 2 schemes)
come from the same site. tests/test_pageweight.py gates the budget; README "页面大小" has the table.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

from benchmarks import a11y

#: issue 19's budget, gzip-equivalent bytes: a chapter's first load, and a chapter after another
FIRST_LOAD_BUDGET = 800_000
AFTER_CHAPTER_BUDGET = 250_000
PHONE = a11y.VIEWPORTS["phone"]


@functools.cache
def _sizes(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=6, mtime=0))


def site_file(site: Path, base: str, url: str) -> Path | None:
    """The file of ``site`` that the local server sends for ``url`` (``None``: not the site's)."""
    if not url.startswith(base + "/"):
        return None
    path = site / unquote(urlsplit(url).path).lstrip("/")
    if path.is_dir():
        path = path / "index.html"
    return path if path.is_file() else None


class Recorder:
    """Chromium's network events of one page (and its workers) through the DevTools protocol."""

    def __init__(self, page):
        self.requests: dict[str, dict] = {}
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.send(
            "Target.setAutoAttach",
            {"autoAttach": True, "waitForDebuggerOnStart": False, "flatten": True},
        )
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.requestServedFromCache", self._cached)
        session.on("Network.responseReceived", self._received)
        self.session = session

    def clear(self) -> None:
        self.requests.clear()

    def _sent(self, event) -> None:
        self.requests.setdefault(event["requestId"], {})["url"] = event["request"]["url"]

    def _cached(self, event) -> None:
        self.requests.setdefault(event["requestId"], {})["cached"] = True

    def _received(self, event) -> None:
        response = event["response"]
        entry = self.requests.setdefault(event["requestId"], {"url": response["url"]})
        entry["status"] = response["status"]
        if response.get("fromDiskCache") or response.get("fromPrefetchCache"):
            entry["cached"] = True

    def summary(self, site: Path, base: str) -> dict:
        out = {"requests": 0, "raw": 0, "gzip": 0, "external": [], "files": {}}
        for entry in self.requests.values():
            url = entry.get("url", "")
            if url.startswith(("data:", "blob:")):
                continue
            out["requests"] += 1
            if not url.startswith(base + "/"):
                out["external"].append(url)
                continue
            if entry.get("cached") or entry.get("status") == 304:
                continue
            path = site_file(site, base, url)
            if path is None:
                continue
            raw, gz = _sizes(path)
            out["raw"] += raw
            out["gzip"] += gz
            name = path.relative_to(site).as_posix()
            out["files"][name] = gz
        return out


def chapters(site: Path) -> list[str]:
    """The chapter pages: those with a downloadable notebook (``notebooks/<slug>.ipynb``)."""
    return sorted(
        p.stem + "/"
        for p in (site / "notebooks").glob("*.ipynb")
        if not p.stem.endswith("-exercises") and (site / p.stem / "index.html").is_file()
    )


_MATHJAX = """() => window.MathJax && MathJax.startup && MathJax.startup.promise
  ? MathJax.startup.promise.then(() => document.fonts.ready).then(() => true) : false"""


def settle(page, recorder, quiet_ms: int = 1000, limit_ms: int = 30_000) -> None:
    """Wait until MathJax (if loaded) has typeset and no request has started for ``quiet_ms``
    (MathJax's fonts are requested after the network first went idle)."""
    waited, quiet, seen = 0, 0, -1
    while waited < limit_ms and quiet < quiet_ms:
        page.evaluate(_MATHJAX)
        count = len(recorder.requests)
        quiet = quiet + 250 if count == seen else 0
        seen = count
        page.wait_for_timeout(250)
        waited += 250


def measure(browser, site: Path, base: str, rel: str, after: str | None = None) -> dict:
    """Bytes of loading ``rel`` on a phone, with an empty cache or right after loading ``after``."""
    context = browser.new_context(**PHONE, locale="zh-CN")
    try:
        page = context.new_page()
        recorder = Recorder(page)
        if after is not None:
            page.goto(f"{base}/{after}", wait_until="networkidle")
            settle(page, recorder)  # its MathJax fonts come after the first idle: in the cache too
            recorder.clear()
        page.goto(f"{base}/{rel}", wait_until="networkidle")
        settle(page, recorder)
        return recorder.summary(site, base)
    finally:
        context.close()


def weigh(site: Path, only: list[str] | None = None) -> dict[str, dict]:
    """``{page: {"first": summary, "after": summary, "after_page": chapter}}``."""
    from playwright.sync_api import sync_playwright

    rels = only or a11y.pages(site)
    chs = chapters(site)
    out: dict[str, dict] = {}
    with a11y.serve(site) as base, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=a11y.CHROMIUM, args=a11y.CHROMIUM_ARGS, headless=True
        )
        try:
            for rel in rels:
                previous = next((c for c in chs if c != rel), None)
                out[rel] = {
                    "first": measure(browser, site, base, rel),
                    "after": measure(browser, site, base, rel, previous),
                    "after_page": previous,
                }
        finally:
            browser.close()
    return out


def _kb(n: int) -> str:
    return f"{n / 1000:.0f} KB" if n < 1_000_000 else f"{n / 1_000_000:.2f} MB"


def table(weights: dict[str, dict], axe: dict | None = None) -> str:
    head = "| 页面 | 首次：请求 | 首次：原始 | 首次：gzip | 读过一章后：请求 | 原始 | gzip |"
    sep = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    if axe is not None:
        head += " axe WCAG | axe 其他 |"
        sep += " ---: | ---: |"
    lines = [head, sep]
    for rel, w in weights.items():
        f, a = w["first"], w["after"]
        row = (
            f"| /{rel} | {f['requests']} | {_kb(f['raw'])} | {_kb(f['gzip'])} "
            f"| {a['requests']} | {_kb(a['raw'])} | {_kb(a['gzip'])} |"
        )
        if axe is not None:
            views = axe.get(rel, {}).values()
            wcag = sum(len(v["nodes"]) for vs in views for v in vs if v["wcag"])
            other = sum(len(v["nodes"]) for vs in views for v in vs if not v["wcag"])
            row += f" {wcag} | {other} |"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--no-axe", action="store_true", help="bytes only")
    parser.add_argument("--files", action="store_true", help="list each page's files (gzip bytes)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--page", action="append", help="relative URL, e.g. l2/ (repeatable)")
    args = parser.parse_args(argv)
    weights = weigh(args.site, args.page)
    axe = None if args.no_axe else a11y.audit(args.site, args.page)
    if args.json:
        print(json.dumps({"weights": weights, "axe": axe}, ensure_ascii=False, indent=1))
        return 0
    print(table(weights, axe))
    if args.files:
        for rel, w in weights.items():
            for when in ("first", "after"):
                files = sorted(w[when]["files"].items(), key=lambda kv: -kv[1])
                print(f"\n/{rel} ({when}):")
                for name, gz in files:
                    print(f"  {gz / 1000:8.1f} KB  {name}")
    external = sorted(
        {u for w in weights.values() for s in ("first", "after") for u in w[s]["external"]}
    )
    print(f"\nrequests outside the site: {len(external)}")
    for url in external:
        print(f"  {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
