"""The downloaded notebooks' Markdown, written for Jupyter instead of MkDocs (maintainer-facing).

A chapter's Markdown uses the site's extensions (``mkdocs.yml``): admonitions (``!!! kind "title"``),
folded blocks (``??? kind "title"``, ``???+`` open) nested by four-space indentation, and links to
other chapters' sources (``[x](dead_relu.py)``). JupyterLab 4, Notebook 7, VS Code and Colab know none
of these. :func:`to_jupyter` rewrites one Markdown text, from the same source as the page:

* ``!!!`` becomes a blockquote whose first line is the bold title (every client renders it). Display
  math inside it is joined onto one line: Jupyter takes ``$$...$$`` out of the text *before* Markdown,
  so a ``> `` prefix on a continuation line would end up inside the TeX;
* ``???`` becomes a closed ``<details><summary>title</summary> ... </details>`` (``???+``: open),
  with a blank line after ``<summary>`` and before ``</details>`` so that the Markdown and the math
  inside are still rendered (an HTML block ends at a blank line);
* a link to a chapter ``x.py`` points to the notebook of the same kind next to this one
  (``x-exercises.ipynb`` or ``x.ipynb``); one with an anchor, or to another page (``x.md``), points to
  the site's page (Jupyter's heading anchors differ from the site's).

:func:`leftovers` lists MkDocs-only markup still in a text; the tests require none in any download.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

ADMONITION = re.compile(
    r'^(?P<marker>!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+[\w-]+)*(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$'
)
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]*)\]\((?P<target>[^)\s]+)\)")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
BOLD = re.compile(r"\*\*([^*\n]+)\*\*")

KINDS = {  # the title when the source gives none (no icons: not every machine has an emoji font)
    "abstract": "要点",
    "info": "说明",
    "note": "注意",
    "tip": "提示",
    "warning": "警告",
    "danger": "危险",
    "example": "练习",
    "question": "问题",
    "success": "答案",
    "failure": "失败",
    "bug": "错误",
    "quote": "引用",
}
NOTEBOOK_KINDS = ("exercises", "answers")


class MarkdownConversionError(ValueError):
    """A construct the converter cannot turn into Jupyter Markdown."""


def site_page(site_url: str, page: str, anchor: str = "") -> str:
    """The site's URL of ``page`` (a chapter slug, ``index`` or another page's name)."""
    base = site_url if site_url.endswith("/") else site_url + "/"
    path = "" if page == "index" else f"{page}/"
    return f"{base}{path}{'#' + anchor if anchor else ''}"


def link_rewriter(kind: str, site_url: str) -> Callable[[str], str]:
    """How a relative link target is rewritten in a notebook of ``kind`` ("exercises"/"answers")."""
    if kind not in NOTEBOOK_KINDS:
        raise ValueError(f"notebook kind must be one of {NOTEBOOK_KINDS}, not {kind!r}")

    def rewrite(target: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:|^/|^#", target, re.I):  # absolute, root or same-page
            return target
        path, _, anchor = target.partition("#")
        if "/" in path:  # only the flat docs/ folder is known here
            return target
        stem, dot, suffix = path.rpartition(".")
        if not dot or suffix not in ("py", "md", "ipynb"):
            return target
        if suffix == "py" and not anchor:
            return f"{stem}-exercises.ipynb" if kind == "exercises" else f"{stem}.ipynb"
        if suffix == "ipynb":
            return target
        return site_page(site_url, stem, anchor)

    return rewrite


def _summary(title: str) -> str:
    """A title as inline HTML (a ``<summary>`` line is raw HTML: Markdown is not applied there)."""
    text = html.escape(title, quote=False)
    text = INLINE_CODE.sub(lambda m: f"<code>{m.group(1)}</code>", text)
    return BOLD.sub(lambda m: f"<b>{m.group(1)}</b>", text)


def _heading(kind: str, title: str | None) -> str:
    """The block's title; a block without one (or with ``""``) gets its kind's Chinese name."""
    return title.strip() if title and title.strip() else KINDS.get(kind, kind.capitalize())


def _collapse_display_math(lines: list[str]) -> list[str]:
    """Join each multi-line ``$$ ... $$`` block (outside code fences) onto one line."""
    out: list[str] = []
    fence: str | None = None
    block: list[str] | None = None
    for line in lines:
        stripped = line.strip()
        if block is not None:
            block.append(stripped)
            if stripped.endswith("$$"):
                out.append(" ".join(part for part in block if part))
                block = None
            continue
        match = FENCE.match(stripped)
        if fence is None and match:
            fence = match.group("fence")
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif (
            fence is None
            and stripped.startswith("$$")
            and not (len(stripped) > 2 and stripped.endswith("$$"))
        ):
            indent = line[: len(line) - len(line.lstrip())]
            block = [indent + stripped]
            continue
        out.append(line)
    if block is not None:
        raise MarkdownConversionError("a $$ display-math block is never closed")
    return out


def _block_body(lines: list[str], start: int) -> tuple[list[str], int]:
    """The indented body of the block whose header is ``lines[start - 1]``, dedented, and where
    the text after it resumes (trailing blank lines stay outside)."""
    end = start
    last = start
    while end < len(lines):
        line = lines[end]
        if line.strip() == "":
            end += 1
            continue
        if line.startswith("    ") or line.startswith("\t"):
            end += 1
            last = end
            continue
        break
    body = [
        line[4:] if line.startswith("    ") else line.lstrip("\t") for line in lines[start:last]
    ]
    while body and not body[0].strip():
        body.pop(0)
    return body, last


def _convert(lines: list[str]) -> list[str]:
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        match = FENCE.match(stripped)
        if fence is not None:
            if stripped.startswith(fence) and stripped.strip("`~") == "":
                fence = None
            out.append(line)
            i += 1
            continue
        if match:
            fence = match.group("fence")
            out.append(line)
            i += 1
            continue
        header = ADMONITION.match(line)
        if not header:
            out.append(line)
            i += 1
            continue
        body, i = _block_body(lines, i + 1)
        inner = _convert(body)
        kind, title = header.group("kind"), header.group("title")
        if out and out[-1].strip():
            out.append("")  # a block starts a new paragraph
        if header.group("marker") == "!!!":
            quoted = [f"**{_heading(kind, title)}**", "", *_collapse_display_math(inner)]
            out += [f"> {text}" if text.strip() else ">" for text in quoted]
        else:
            opening = "<details open>" if header.group("marker") == "???+" else "<details>"
            out += [opening, f"<summary>{_summary(_heading(kind, title))}</summary>", ""]
            out += [*inner, "", "</details>"]
        if i < len(lines) and lines[i].strip():
            out.append("")
    return out


def to_jupyter(markdown: str, rewrite: Callable[[str], str] | None = None) -> str:
    """One Markdown cell's text for Jupyter (see the module docstring)."""
    text = "\n".join(_convert(markdown.split("\n")))
    if rewrite is not None:
        text = LINK.sub(lambda m: f"[{m.group('text')}]({rewrite(m.group('target'))})", text)
    return text


def notebook_for_jupyter(nb, kind: str, site_url: str):
    """Convert every Markdown cell of ``nb`` in place (and return it)."""
    rewrite = link_rewriter(kind, site_url)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = to_jupyter(cell.source, rewrite)
    return nb


_LEFTOVERS = {
    "admonition": re.compile(r"^[ \t>]*(?:!!!|\?\?\?)", re.M),
    "link to a .py source": re.compile(r"\]\([^)\s]*\.py(?:#[^)]*)?\)"),
    "attribute list": re.compile(r"\{:[^}]*\}|\{ *[#.][\w-]+[^}]*\}"),
    "content tab": re.compile(r'^[ \t>]*=== "', re.M),
}


def leftovers(markdown: str) -> list[str]:
    """MkDocs-only markup left in ``markdown`` (outside code fences): ``[(what, excerpt), ...]``."""
    lines, fence = [], None
    for line in markdown.split("\n"):
        stripped = line.lstrip(" >")
        match = FENCE.match(stripped)
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if match:
            fence = match.group("fence")
            continue
        lines.append(line)
    text = "\n".join(lines)
    found = []
    for what, pattern in _LEFTOVERS.items():
        for match in pattern.finditer(text):
            found.append(f"{what}: {text[max(0, match.start() - 20) : match.end() + 40]!r}")
    return found
