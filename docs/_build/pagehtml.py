"""HTML post-processing of a rendered chapter (pure functions: text in, text out).

Maintainer-facing module (English). :mod:`hooks` calls them in ``on_page_content`` /
``on_post_page``; tests/test_pagehtml.py tests each on its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Callable
from html import escape as htmlescape


class PageError(ValueError):
    """A chapter's HTML breaks a rule of the site (the hook turns it into a PluginError)."""


_MATHJAX2 = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
# nbconvert's Mermaid loader imports mermaid from cdnjs at runtime; notebooks here have no diagrams
_MERMAID = re.compile(
    r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{\s*'
    r'const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
    re.S,
)
#: anything that would make the browser fetch from another host
EXTERNAL = re.compile(
    r"""<(?:script|img|link|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|import\(\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.I,
)
_OUTPUT = re.compile(r'<div class="jp-Cell-outputWrapper"')
_DEFAULT_ALT = 'alt="No description has been provided for this image"'
_MPL_REPR = re.compile(r"^<(?:Figure|matplotlib\.figure\.\w+) size .*>$")
_DIV = re.compile(r"<div\b|</div\s*>", re.I)
_CLIPBOARD = re.compile(r'<div(?=[^>]*\bclass="clipboard-copy-txt")')
_NOTICE = re.compile(r'<span class="notice" hidden(?:="")?>Copied!</span>')


def strip_loaders(html: str, name: str) -> str:
    """Remove nbconvert's MathJax 2 and Mermaid loaders (the site loads MathJax 3 itself)."""
    html = _MERMAID.sub("", _MATHJAX2.sub("", html))
    if "MathJax.Hub" in html:
        raise PageError(f"{name}: mkdocs-jupyter's MathJax 2 loader is still present")
    return html


def check_self_contained(html: str, name: str) -> str:
    """``html`` unchanged, or an error quoting what would make the browser ask another host."""
    external = EXTERNAL.search(html)
    if external:
        context = html[max(0, external.start() - 80) : external.end() + 120]
        raise PageError(f"{name}: the page would request another host: {context!r}")
    return html


def localize_copy_buttons(html: str) -> str:
    """nbconvert's copy buttons in Chinese, their hidden text copies out of the search index."""
    html = _CLIPBOARD.sub('<div data-search-exclude="true"', html)
    html = _NOTICE.sub('<span class="notice" hidden data-search-exclude="true">已复制</span>', html)
    return html.replace('aria-label="Copy to Clipboard"', 'aria-label="复制代码" title="复制代码"')


def exclude_outputs_from_search(html: str, name: str) -> str:
    """Wrap every output area in ``<nb-output data-search-exclude>``.

    Material's search parser tracks excluded elements by tag name, so ``data-search-exclude`` on a
    ``<div>`` stops working at the first nested ``</div>``; a tag that never nests is reliable.
    """
    parts, pos = [], 0
    while (match := _OUTPUT.search(html, pos)) is not None:
        start, depth = match.start(), 0
        for tag in _DIV.finditer(html, start):
            depth += -1 if tag.group().startswith("</") else 1
            if depth == 0:
                end = tag.end()
                break
        else:
            raise PageError(f"{name}: unbalanced <div> in a notebook output area")
        parts += [
            html[pos:start],
            '<nb-output data-search-exclude="true">',
            html[start:end],
            "</nb-output>",
        ]
        pos = end
    parts.append(html[pos:])
    return "".join(parts)


def image_alts(nb) -> list[str]:
    """Alt text of every image output, in page order: the figure's own description (``text/plain``
    of a ``labcode`` figure, built from its titles, axes and legends)."""
    alts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if not any(k.startswith("image/") for k in data):
                continue
            text = data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            alts.append(text.strip())
    return alts


def fill_alt_texts(html: str, alts: list[str], name: str) -> str:
    """Replace nbconvert's placeholder alt texts with the figures' own, in order."""
    if html.count(_DEFAULT_ALT) != len(alts):
        raise PageError(
            f"{name}: {html.count(_DEFAULT_ALT)} images without alt text but {len(alts)} image outputs"
        )
    for alt in alts:
        if not alt or _MPL_REPR.match(alt):
            raise PageError(
                f"{name}: a figure has no description ({alt!r}); return a labcode.plots figure "
                "(LabFigure) so that its alt text comes from its titles and axes"
            )
        html = html.replace(_DEFAULT_ALT, f'alt="{htmlescape(alt, quote=True)}"', 1)
    return html


_INLINE_PNG = re.compile(r'<img\b([^>]*?)\ssrc="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')
FIGURE_DEST = "assets/figures/{hash}.png"


def figures_as_files(html: str, store: Callable[[str, bytes], str]) -> str:
    """Each inlined PNG figure becomes a file of its own, loaded when it comes near the viewport.

    ``store(dest, data)`` keeps the file's bytes for the site and returns its URL relative to the
    page. The image gets its intrinsic width and height, so the page does not jump as it loads.
    """

    def to_file(match: re.Match) -> str:
        data = base64.b64decode(match.group(2))
        width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
        src = htmlescape(store(FIGURE_DEST.format(hash=_digest(data, 16)), data))
        return (
            f'<img{match.group(1)} src="{src}" loading="lazy" decoding="async" '
            f'width="{width}" height="{height}"'
        )

    return _INLINE_PNG.sub(to_file, html)


def _digest(data: bytes, length: int) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
NOTEBOOK_CSS = "assets/stylesheets/notebook.{hash}.css"


def notebook_css(html: str) -> str:
    """The CSS of a page's ``<style>`` blocks, joined in order."""
    return "\n".join(m.group(1).strip() for m in _STYLE.finditer(html))


def replace_styles(html: str, link: str) -> str:
    """``html`` with its first ``<style>`` block replaced by ``link`` and the others removed."""
    first = iter([link])
    return _STYLE.sub(lambda m: next(first, ""), html)


def styles_as_file(html: str, store: Callable[[str, str], str]) -> str:
    """A page's inlined ``<style>`` blocks (mkdocs-jupyter's ~600 KB, the same on every chapter) as
    one stylesheet file, linked where the first block was (inside the article, so that Material's
    instant navigation brings it in). ``store(dest, css)`` keeps it and returns its relative URL."""
    css = notebook_css(html)
    if not css:
        return html
    href = store(NOTEBOOK_CSS.format(hash=_digest(css.encode("utf-8"), 10)), css)
    return replace_styles(html, f'<link rel="stylesheet" href="{htmlescape(href)}">')
