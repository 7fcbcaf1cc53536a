"""Interactive figures (``labcode.interactive``) on the site: no kernel, no CDN.

Maintainer-facing module (English), used by hooks.py.

A chapter cell that ends with ``interactive.gradient_explorer(sweep)`` leaves an output with the MIME
type :data:`MIME` (a Bokeh ``json_item``) and, in the output's metadata, the figure's stable id and
the data it plots. The build

* writes that data next to the page as ``<slug>/results/<figure-id>.json`` (:func:`result_file`);
* replaces the output by HTML (:func:`embed_outputs`) before mkdocs-jupyter sees the notebook (it
  would drop an unknown MIME type): a ``<div class="lab-interactive">`` (with a Chinese
  ``aria-label`` and a fallback sentence), the ``json_item`` in a ``<template>`` (not a
  ``<script type="application/json">``: Material's instant navigation re-creates every script of
  the page without its attributes and would run the JSON as JavaScript), a link to the result file,
  and once per page a small loader;
* serves BokehJS itself (:func:`asset_files`, copied from the ``bokeh`` wheel into
  ``assets/bokeh/``). The loader adds ``bokeh.min.js`` and ``bokeh-widgets.min.js`` (relative URLs)
  only on pages with a figure, once per browser page even across instant navigation, then calls
  ``Bokeh.embed.embed_item`` for each figure and labels the sliders' handles for screen readers.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

MIME = "application/vnd.labcode.bokeh.v1"  # labcode.interactive.MIME_TYPE (a JSON string)
ASSET_DEST = "assets/bokeh"
BOKEH_FILES = ("bokeh.min.js", "bokeh-widgets.min.js")
# the start of the figure's values as text at the end of its text/html output (labcode's values_block)
VALUES_START = '<details class="lab-interactive__values"'


class InteractiveError(ValueError):
    """A malformed interactive output (hooks.py turns it into a PluginError)."""


@dataclass(frozen=True)
class Figure:
    figure_id: str
    alt: str
    item: dict
    data: dict
    values: str = ""  # the figure's values as text: a folded block of tables made by labcode

    @property
    def dom_id(self) -> str:
        return f"lab-{self.figure_id}"


def bokeh_version() -> str:
    import bokeh

    return bokeh.__version__


def bokeh_js_root() -> Path:
    try:
        import bokeh
    except ImportError as exc:
        raise InteractiveError(
            "Bokeh is missing: pip install -c requirements/constraints.txt -e . (package bokeh)"
        ) from exc
    root = Path(bokeh.__file__).resolve().parent / "server" / "static" / "js"
    missing = [name for name in BOKEH_FILES if not (root / name).is_file()]
    if missing:
        raise InteractiveError(f"the bokeh wheel has no {', '.join(missing)} under {root}")
    return root


def asset_files() -> list[tuple[str, Path]]:
    """(site path, source file) of the BokehJS files the site serves."""
    root = bokeh_js_root()
    return [(f"{ASSET_DEST}/{name}", root / name) for name in BOKEH_FILES]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def figures(nb, name: str) -> list[Figure]:
    """Every interactive output of an executed notebook, in page order."""
    found: list[Figure] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME not in data:
                continue
            meta = output.get("metadata", {}).get(MIME, {})
            figure_id = meta.get("figure_id")
            if not isinstance(figure_id, str) or not figure_id.replace("-", "").isalnum():
                raise InteractiveError(f"{name}: an interactive output without a valid figure id")
            if "data" not in meta:
                raise InteractiveError(f"{name}: interactive figure {figure_id} carries no data")
            item = data[MIME]
            if isinstance(item, list):  # nbformat may store a string as a list of lines
                item = "".join(item)
            if isinstance(item, str):
                item = json.loads(item)  # keeps Bokeh's order (see labcode.interactive.MIME_TYPE)
            alt = _text(data.get("text/plain")).strip()
            if not alt:
                raise InteractiveError(f"{name}: interactive figure {figure_id} has no description")
            fallback = _text(data.get("text/html"))
            values = fallback[fallback.find(VALUES_START) :] if VALUES_START in fallback else ""
            found.append(Figure(figure_id, alt, item, meta["data"], values))
    ids = [f.figure_id for f in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InteractiveError(f"{name}: interactive figure ids used twice: {duplicates}")
    version = bokeh_version() if found else None
    for fig in found:
        if fig.item.get("version") != version:
            raise InteractiveError(
                f"{name}: figure {fig.figure_id} was made with Bokeh {fig.item.get('version')} but "
                f"the site serves BokehJS {version}; rebuild without the notebook cache"
            )
    return found


def result_path(slug: str, figure_id: str) -> str:
    """Where a figure's data lies in the site, next to the page: ``<slug>/results/<id>.json``."""
    return f"{slug}/results/{figure_id}.json"


def result_file(fig: Figure, slug: str, build: dict) -> str:
    """The JSON result file: the exact data the figure plots, plus where it came from."""
    return json.dumps(
        {
            "figure_id": fig.figure_id,
            "chapter": slug,
            "description": fig.alt,
            "build": build,
            "data": fig.data,
        },
        ensure_ascii=False,
        indent=1,
        allow_nan=False,
    )


def _json_for_html(value) -> str:
    """JSON as the text of a <template>: only &, < and > need escaping (no attribute quoting)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return escape(text, quote=False)


VISUALLY_HIDDEN = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;"
    "overflow:hidden;clip-path:inset(50%);white-space:nowrap"
)


def figure_html(fig: Figure, data_url: str) -> str:
    alt = escape(fig.alt, quote=True)
    return (
        f'<div class="lab-interactive" id="{fig.dom_id}" data-figure="{fig.figure_id}" '
        f'role="figure" aria-label="{alt}" tabindex="-1">'
        '<p class="lab-interactive__fallback">交互图需要 JavaScript；静态图见上。</p></div>'
        # what a control change shows, said by the figure's callbacks (labcode.interactive.common.
        # live_id); visually hidden: the figure shows the same
        f'<p class="lab-interactive__live" id="{fig.dom_id}-live" aria-live="polite" '
        f'aria-atomic="true" style="{VISUALLY_HIDDEN}"></p>'
        f"{fig.values}"
        f'<template class="lab-interactive__item" id="{fig.dom_id}-item">'
        f"{_json_for_html(fig.item)}</template>"
        f'<p class="lab-interactive__data">交互图的数据（本次构建的运行结果）：'
        f'<a href="{escape(data_url, quote=True)}">{escape(Path(data_url).name)}</a></p>'
    )


_SKIP = re.compile(r'(<div data-md-component="skip">.*?)(</div>)', re.S)
# the page's figure (mkdocs-jupyter sorts a tag's attributes)
_FIGURE = re.compile(r'<div\b[^>]*\bclass="lab-interactive"[^>]*>')
_ID = re.compile(r'\bid="(lab-[a-z0-9-]+)"')


def add_skip_link(page_html: str) -> str:
    """Next to Material's "skip to content" link (the page's first Tab stop), one to the page's
    interactive figure: Tab, Tab, Enter focuses the figure (its label is read) and Tab reaches its
    first control, where tabbing through the navigation, the formulas and the code cells takes
    dozens of presses. Pages without a figure are returned unchanged."""
    figure = _FIGURE.search(page_html)
    found = _ID.search(figure.group(0)) if figure else None
    if not found:
        return page_html
    # Material handles a click on an in-page link itself and the focus ends on <body>: focus the
    # figure (tabindex="-1"; focusing scrolls it into view) and leave the link to Material only
    # without JavaScript
    target = found.group(1)
    link = (
        f'<a href="#{target}" class="md-skip lab-skip-figure" onclick="event.preventDefault(); '
        f"document.getElementById('{target}').focus()\">跳到交互图</a>"
    )
    return _SKIP.sub(lambda m: m.group(1) + link + m.group(2), page_html, count=1)


# Runs at its place in the page (after every figure) and again after each instant navigation
# (Material re-creates the page's scripts). Loads BokehJS once per browser page, when a figure
# first comes within 1200 px of the viewport or at the reader's first Tab.
LOADER = """
(function () {
  var base = %(base)s;
  var files = %(files)s;
  function load() {
    if (window.__labBokeh) return window.__labBokeh;
    window.__labBokeh = files.reduce(function (chain, name) {
      return chain.then(function () {
        return new Promise(function (resolve, reject) {
          var s = document.createElement("script");
          s.src = base + name;
          s.onload = resolve;
          s.onerror = function () { window.__labBokeh = null; reject(new Error("failed to load " + s.src)); };
          document.head.appendChild(s);
        });
      });
    }, Promise.resolve());
    return window.__labBokeh;
  }
  function deep(root, selector, out) {
    root.querySelectorAll(selector).forEach(function (e) { out.push(e); });
    root.querySelectorAll("*").forEach(function (e) { if (e.shadowRoot) deep(e.shadowRoot, selector, out); });
    return out;
  }
  // noUiSlider's handle is the focusable slider: give it the Chinese title and the shown value
  function label(el) {
    deep(el, ".noUi-handle", []).forEach(function (handle) {
      if (handle.dataset.labLabelled) return;
      var group = handle.closest(".bk-input-group");
      var title = group && group.querySelector(".bk-slider-title");
      if (!title) return;
      handle.dataset.labLabelled = "1";
      var sync = function () {
        var text = title.textContent, i = text.lastIndexOf(":");
        var name = (i >= 0 ? text.slice(0, i) : text).trim();
        var value = i >= 0 ? text.slice(i + 1).trim() : "";
        if (handle.getAttribute("aria-label") !== name) handle.setAttribute("aria-label", name);
        if (value && handle.getAttribute("aria-valuetext") !== value) handle.setAttribute("aria-valuetext", value);
      };
      sync();
      new MutationObserver(sync).observe(group, {subtree: true, childList: true, characterData: true,
                                                  attributes: true, attributeFilter: ["aria-valuetext"]});
    });
  }
  function embed() {
    document.querySelectorAll(".lab-interactive[data-figure]").forEach(function (el) {
      if (el.dataset.embedded !== "loading") return;
      var template = document.getElementById(el.id + "-item");
      if (!template) return;
      el.dataset.embedded = "embedding";
      var item = JSON.parse(template.content.textContent);
      el.textContent = "";
      Bokeh.embed.embed_item(item, el.id).then(function () {
        var tries = 0;
        (function settle() {  // the widgets render into shadow roots a frame later
          label(el);
          if (deep(el, ".noUi-handle:not([data-lab-labelled])", []).length === 0 && tries > 2) {
            el.dataset.embedded = "done";
            return;
          }
          tries += 1;
          requestAnimationFrame(settle);
        })();
      });
    });
  }
  // BokehJS (~450 KB gzip) only when a figure comes near the viewport, or at the first Tab: a
  // keyboard reader must not tab past a figure whose controls are not drawn yet
  var figures = document.querySelectorAll(".lab-interactive[data-figure]");
  var started = false;
  var start = function () {
    if (started) return;
    started = true;
    document.removeEventListener("keydown", onTab);
    figures.forEach(function (el) { if (!el.dataset.embedded) el.dataset.embedded = "loading"; });
    load().then(embed);
  };
  var onTab = function (event) { if (event.key === "Tab") start(); };
  document.addEventListener("keydown", onTab);
  if (!("IntersectionObserver" in window)) return start();
  var seen = new IntersectionObserver(function (entries) {
    if (!entries.some(function (e) { return e.isIntersecting; })) return;
    seen.disconnect();
    start();
  }, {rootMargin: "1200px 0px"});
  figures.forEach(function (el) { seen.observe(el); });
})();
"""


def loader_html(base_url: str) -> str:
    code = LOADER % {"base": json.dumps(base_url), "files": json.dumps(list(BOKEH_FILES))}
    return f"<script>{code.strip()}</script>"


def embed_outputs(nb, urls: dict[str, str], asset_base: str):
    """A copy of ``nb`` whose interactive outputs are HTML (figure + data link; the loader after the
    last one). ``urls`` maps figure id -> the result file's URL relative to the page."""
    import nbformat

    nb = copy.deepcopy(nb)
    places = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for index, output in enumerate(cell.get("outputs", [])):
            if MIME in output.get("data", {}):
                places.append((cell, index))
    if not places:
        return nb
    found = {f.figure_id: f for f in figures(nb, "page")}
    for n, (cell, index) in enumerate(places):
        output = cell.outputs[index]
        figure_id = output["metadata"][MIME]["figure_id"]
        html = figure_html(found[figure_id], urls[figure_id])
        if n == len(places) - 1:
            html += loader_html(asset_base)
        new = {"output_type": "display_data", "data": {"text/html": html}, "metadata": {}}
        if output.get("output_type") == "execute_result":
            new = {**new, "output_type": "execute_result"}
            new["execution_count"] = output.get("execution_count")
        cell.outputs[index] = nbformat.from_dict(new)
    return nb
