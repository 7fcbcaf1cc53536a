"""The course site: rendering of chapter pages, search index, self-containment, build integrity.

The executor itself (cache key, cache entries, faults) is tested in tests/test_execute.py. The real
site is built with ``mkdocs build --strict`` (quick profile, CPU, an empty notebook cache) once per
session (shared with tests/test_browser.py); ``LABCODE_SITE_DIR`` names an already built site to
check instead. Small fixture projects (tests/fixtures/site) test the pipeline on known notebooks.
"""

from __future__ import annotations

import ast
import html as htmlmod
import importlib
import importlib.util
import json
import os
import re
import sys
import types
from pathlib import Path

import pytest

from docs._build import execute, sitetools

ROOT = Path(__file__).resolve().parents[1]

FIXTURES = ROOT / "tests" / "fixtures" / "site"
CHAPTERS = list(execute.chapters())


# --------------------------------------------------------------------------------------------------
# page checks (shared by the real chapters and the fixture site)
# --------------------------------------------------------------------------------------------------

_INVISIBLE = re.compile(r"<(script|style|pre|code|svg|template)\b.*?</\1\s*>", re.S | re.I)
_ARITHMATEX = re.compile(r'<(span|div) class="arithmatex">.*?</\1>', re.S)
_TAG = re.compile(r"<[^>]+>")
_EXTERNAL = re.compile(
    r"""<(?:script|img|link|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
    r"""|import\(\s*["'](?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.I,
)


def visible_text(page_html: str) -> str:
    """Text a reader sees as prose: no scripts, styles, code, or (rendered) formulas."""
    text = _INVISIBLE.sub(" ", page_html)
    text = _ARITHMATEX.sub(" ", text)
    return htmlmod.unescape(_TAG.sub(" ", text))


def article(page_html: str) -> str:
    start = page_html.index('<article class="md-content__inner')
    return page_html[start : page_html.index("</article>", start)]


def check_chapter_page(site: Path, slug: str) -> None:
    page_file = site / slug / "index.html"
    assert page_file.is_file(), f"no page for chapter {slug}"
    page = page_file.read_text(encoding="utf-8")
    body = article(page)

    # admonitions and collapsible questions rendered as HTML
    assert 'class="admonition' in body or "<details" in body, f"{slug}: no admonition"
    # at least one executed figure (inline PNG from the executed notebook, or a PNG file)
    pngs = re.findall(r'<img[^>]+src="([^"]+)"', body)
    figures = [s for s in pngs if s.startswith("data:image/png;base64,")]
    figures += [s for s in pngs if s.endswith(".png") and (page_file.parent / s).is_file()]
    assert figures, f"{slug}: no executed figure"
    # no error output
    for marker in ("Traceback (most recent call last)", "jp-OutputArea-error", '"ename"'):
        assert marker not in body, f"{slug}: error output ({marker}) on the page"
    # no Markdown left unrendered
    text = visible_text(body)
    for marker in ("!!!", "???", "$$"):
        assert marker not in text, f"{slug}: literal {marker!r} in the page text"
    raw_inline = re.findall(r"\$[^\s$][^$\n]{0,80}\$", text)
    assert not raw_inline, f"{slug}: unrendered inline math {raw_inline[:3]}"
    # math present, for MathJax 3 (arithmatex generic), and mkdocs-jupyter's MathJax 2 removed
    assert '<span class="arithmatex">\\(' in body or '<div class="arithmatex">\\[' in body, (
        f"{slug}: no math"
    )
    assert "MathJax.Hub" not in page and "text/x-mathjax-config" not in page
    assert 'src="' in page and "javascripts/mathjax-config.js" in page  # loads MathJax on demand
    # page TOC from the notebook's headings
    toc = page[page.index("md-nav--secondary") :]
    assert re.search(r'<a href="#[^"]+" class="md-nav__link"', toc), (
        f"{slug}: empty table of contents"
    )
    # notebook download and source link
    assert f'href="../notebooks/{slug}.ipynb"' in body, f"{slug}: no notebook download link"
    assert f"/edit/main/docs/{slug}.py" in body, f"{slug}: no link to the page's source"
    check_download(site / "notebooks" / f"{slug}.ipynb")


def check_download(path: Path) -> None:
    import nbformat

    assert path.is_file(), f"missing download {path}"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert "jupytext" not in nb.metadata
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and any(c.outputs for c in code), f"{path.name}: no outputs"
    assert all(o.output_type != "error" for c in code for o in c.outputs)
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert markdown and not any(
        "<div" in c.source and "admonition" in c.source for c in markdown
    ), f"{path.name}: the download must keep the Markdown source, not rendered HTML"


def search_entries(site: Path) -> list[dict]:
    data = json.loads((site / "search" / "search_index.json").read_text(encoding="utf-8"))
    return data["docs"]


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", htmlmod.unescape(_TAG.sub(" ", text.replace("\u200b", "")))).strip()


def output_lines(nb_path: Path) -> list[str]:
    """Distinctive lines of a notebook's text outputs (to look for in the search index)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    # a label printed verbatim from a string in the code (print("...：")) is code the index may hold
    code = re.sub(r"\s+", " ", " ".join(c.source for c in nb.cells if c.cell_type == "code"))
    lines = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            if isinstance(text, list):
                text = "".join(text)
            for line in text.splitlines():
                line = re.sub(r"\s+", " ", line).strip()
                distinctive = len(line) >= 10 and re.search(r"\d", line)
                if distinctive and not line.startswith("<") and line not in code:
                    lines.append(line)
    return lines


def check_search_index(site: Path, slugs: list[str]) -> None:
    index_file = site / "search" / "search_index.json"
    size = index_file.stat().st_size
    assert size < 2_000_000, f"search index is {size} bytes"
    entries = search_entries(site)
    indexed = _norm(" ".join(e["title"] + " " + e["text"] for e in entries))
    for slug in slugs:
        assert any(e["location"].startswith(f"{slug}/") for e in entries), f"{slug} not indexed"
        leaked = [
            line for line in output_lines(site / "notebooks" / f"{slug}.ipynb") if line in indexed
        ]
        assert not leaked, f"{slug}: notebook outputs in the search index: {leaked[:3]}"


def check_self_contained(site: Path) -> None:
    offenders = []
    for path in site.rglob("*"):
        if path.suffix not in (".html", ".css") or "mathjax" in path.parts:
            continue
        for match in _EXTERNAL.finditer(path.read_text(encoding="utf-8", errors="replace")):
            if 'rel="canonical"' in match.group():  # metadata for crawlers; browsers fetch nothing
                continue
            offenders.append(f"{path.relative_to(site)}: {match.group()[:120]}")
    assert offenders == [], "references that make the browser leave the site:\n" + "\n".join(
        offenders
    )
    assert (site / "assets" / "mathjax" / "tex-chtml.js").is_file()
    fonts = list(
        (site / "assets" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff")
    )
    assert len(fonts) > 10, "MathJax fonts missing"


# --------------------------------------------------------------------------------------------------
# chapters
# --------------------------------------------------------------------------------------------------


def test_the_supported_pythons_are_stated_once():
    """pyproject's requires-python says it; the build's texts take it from there (python_versions),
    and the Markdown pages that cannot must say the same."""
    from docs._build import bundle, python_versions

    versions = python_versions()
    assert re.fullmatch(r"3\.\d+–3\.\d+", versions)
    assert versions in bundle.README
    assert "python_versions()" in (ROOT / "docs" / "_build" / "hooks.py").read_text(
        encoding="utf-8"
    )
    stated = re.compile(r"Python (3\.\d+)\s*[–-]\s*(3\.\d+)")
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        for low, high in stated.findall(path.read_text(encoding="utf-8")):
            assert f"{low}–{high}" == versions, f"{path.name} says Python {low}–{high}"
    py_sources = [*(ROOT / "docs" / "_build").glob("*.py"), *(ROOT / "labcode").rglob("*.py")]
    for path in py_sources:
        assert not stated.search(path.read_text(encoding="utf-8")), f"{path}: use python_versions()"


def test_every_lesson_in_a_chapter_goes_through_the_gate():
    for source in (ROOT / "docs").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "print(lesson" not in text, f"{source.name}: lessons printed without the gate"
        if "lessons.check_all(" in text:
            assert text.count("lessons.check_all(") == text.count("lessons.report(lessons."), (
                f"{source.name}: lessons checked but not passed to lessons.report"
            )


# --------------------------------------------------------------------------------------------------
# fixture site: the rendering pipeline on a small known notebook
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fixture-site")
    config = sitetools.fixture_project(tmp, {"demo": FIXTURES / "demo.py"})
    result = sitetools.build(
        tmp / "site", config_file=config, extra_env={"LABCODE_NOTEBOOK_CACHE": str(tmp / "cache")}
    )
    assert result.returncode == 0, result.output[-4000:]
    return result, tmp, config


@pytest.mark.slow
def test_fixture_page_renders_like_material(fixture_site):
    result, tmp, _ = fixture_site
    site = result.site
    check_chapter_page(site, "demo")
    body = article((site / "demo" / "index.html").read_text(encoding="utf-8"))
    assert (
        '<div class="admonition note">' in body
        and '<p class="admonition-title">本节要点</p>' in body
    )
    assert '<details class="question">' in body and "思考题 1" in body
    assert '<div class="arithmatex">\\[' in body and '<span class="arithmatex">\\(' in body
    assert re.search(r'<h2 id="[^"]+">打印一个数', body), "headings keep their anchors"
    assert "0.25 的 5 次方 = 0.000977" in body, "printed output missing"
    check_search_index(site, ["demo"])
    check_self_contained(site)


@pytest.mark.slow
def test_fixture_search_index_has_prose_not_outputs(fixture_site):
    result, _, _ = fixture_site
    entries = search_entries(result.site)
    text = _norm(
        " ".join(e["title"] + " " + e["text"] for e in entries if e["location"].startswith("demo/"))
    )
    assert "梯度消失" in text and "本节要点" in text and "思考题 1" in text
    assert "0.000977" not in text, "printed output indexed"
    assert text.count("value = 0.25**5") == 1, (
        "code indexed more than once (hidden clipboard copy?)"
    )
    sections = [e["location"] for e in entries]
    assert any(loc.startswith("demo/#") for loc in sections), "no per-heading sections"


@pytest.mark.slow
def test_fixture_rebuild_executes_nothing(fixture_site):
    result, tmp, config = fixture_site
    again = sitetools.build(
        tmp / "site2", config_file=config, extra_env={"LABCODE_NOTEBOOK_CACHE": str(tmp / "cache")}
    )
    assert again.returncode == 0, again.output[-4000:]
    assert again.executed == 0, again.output[-2000:]


@pytest.mark.slow
def test_cell_error_fails_the_build(tmp_path):
    config = sitetools.fixture_project(tmp_path, {"failing": FIXTURES / "failing.py"})
    result = sitetools.build(
        tmp_path / "site",
        config_file=config,
        extra_env={"LABCODE_NOTEBOOK_CACHE": str(tmp_path / "cache")},
    )
    assert result.returncode != 0
    assert "failing.py: cell 2 raised ValueError" in result.output
    assert "fixture-cell-error" in result.output


def _fixture_build(tmp_path, notebooks, name="site", **env):
    config = tmp_path / "mkdocs.yml"
    if not config.exists():
        config = sitetools.fixture_project(tmp_path, notebooks)
    return sitetools.build(
        tmp_path / name,
        config_file=config,
        extra_env={"LABCODE_NOTEBOOK_CACHE": str(tmp_path / "cache"), **env},
    )


@pytest.mark.slow
def test_a_failed_build_keeps_the_previous_site(tmp_path):
    import subprocess

    config = sitetools.fixture_project(tmp_path, {"failing": FIXTURES / "failing.py"})
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("previous site", encoding="utf-8")
    env = {
        **os.environ,
        "LABCODE_NOTEBOOK_CACHE": str(tmp_path / "cache"),
        "NO_MKDOCS_2_WARNING": "1",
    }
    script = ROOT / "docs" / "_build" / "build_site.py"
    proc = subprocess.run(
        [sys.executable, str(script), "-d", str(site), "-f", str(config)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert (site / "index.html").read_text(encoding="utf-8") == "previous site"
    assert "保持不变" in proc.stderr
    assert not list(tmp_path.glob(".site.*")), "temporary build folders left behind"


@pytest.mark.slow
def test_failing_lesson_fails_the_build(tmp_path):
    result = _fixture_build(tmp_path, {"lesson": FIXTURES / "failing_lesson.py"})
    assert result.returncode != 0, "a lesson that does not hold must fail the build"
    assert "LessonFailedError" in result.output
    assert "fixture_impossible_lesson" in result.output and "实测 0.42" in result.output
    assert "lesson.py" in result.output  # names the chapter
    assert not (tmp_path / "site" / "lesson" / "index.html").exists()


@pytest.mark.slow
def test_expected_failure_that_passes_fails_the_build(tmp_path):
    result = _fixture_build(tmp_path, {"xpass": FIXTURES / "expected_failure_passes.py"})
    assert result.returncode != 0
    assert "fixture_naive_metric" in result.output and "却成立了" in result.output


@pytest.mark.slow
def test_prose_edit_executes_nothing_and_shows_the_new_text(tmp_path):
    first = _fixture_build(tmp_path, {"demo": FIXTURES / "demo.py"})
    assert first.returncode == 0, first.output[-4000:]
    assert first.executed == 1
    page = tmp_path / "docs" / "demo.py"
    text = page.read_text(encoding="utf-8")
    assert "梯度消失" in text
    page.write_text(
        text.replace("梯度消失", "梯度消失（改过的文字 prose-edit-7f3a）", 1), encoding="utf-8"
    )
    again = _fixture_build(tmp_path, {}, name="site2")
    assert again.returncode == 0, again.output[-4000:]
    assert again.executed == 0, "a Markdown edit must not execute anything"
    html = (tmp_path / "site2" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "prose-edit-7f3a" in html and "0.25 的 5 次方 = 0.000977" in html
    download = (tmp_path / "site2" / "notebooks" / "demo.ipynb").read_text(encoding="utf-8")
    assert "prose-edit-7f3a" in download and "0.000977" in download
    page.write_text(text + "\n# %%\nprint('new code cell')\n", encoding="utf-8")
    third = _fixture_build(tmp_path, {}, name="site3")
    assert third.returncode == 0 and third.executed == 1, "a code edit re-executes"


def _tiny_mnist(raw, n_train=30, n_test=10):
    import numpy as np

    from labcode.data import MNIST_FILES, write_idx

    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        write_idx(
            raw / MNIST_FILES[f"{split}_images"], rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
        )
        write_idx(raw / MNIST_FILES[f"{split}_labels"], (np.arange(n) % 10).astype(np.uint8))


@pytest.mark.slow
def test_data_change_re_executes_and_the_page_names_the_new_data(tmp_path):
    notebooks = {"data": FIXTURES / "which_data.py"}
    offline = {"LABCODE_OFFLINE": "1", "LABCODE_DATA_DIR": str(tmp_path / "data")}
    first = _fixture_build(tmp_path, notebooks, **offline)  # an empty data directory: a fresh clone
    assert first.returncode == 0, first.output[-4000:]
    assert first.executed == 1 and (tmp_path / "data" / "MNIST-subset").is_dir()
    assert "离线子集" in (tmp_path / "site" / "data" / "index.html").read_text(encoding="utf-8")
    # writing the subset during that execution must not change the key: the next build executes
    # nothing (the data directory's files are prepared before they are fingerprinted)
    same = _fixture_build(tmp_path, notebooks, name="site-same", **offline)
    assert same.returncode == 0, same.output[-4000:]
    assert same.executed == 0, "the build after a cold build must execute nothing"
    _tiny_mnist(tmp_path / "data" / "MNIST" / "raw")  # full-layout files appear in the data dir
    again = _fixture_build(tmp_path, notebooks, name="site2", **offline)
    assert again.returncode == 0, again.output[-4000:]
    assert again.executed == 1, "new data must re-execute the chapter"
    html = (tmp_path / "site2" / "data" / "index.html").read_text(encoding="utf-8")
    assert "离线子集" not in html and "训练 30 张" in html


# --------------------------------------------------------------------------------------------------
# the real site (quick profile)
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_page(site, slug):
    check_chapter_page(site, slug)


#: lessons no chapter checks in the quick build (a CNN over 5 seeds is over its time budget)
NOT_IN_THE_QUICK_BUILD = {"dropout_gap_over_seeds"}


@pytest.mark.slow
def test_every_lesson_holds_on_the_built_pages(site):
    """Seed set 0 of the lesson tests (tests/seed_sets.py): the chapters train it, the build's gate
    fails on a ✗, and here every registered lesson is read as ✓ from the pages."""
    from labcode.lessons.core import REGISTRY

    shown: dict[str, set[str]] = {"✓": set(), "✗": set()}
    for slug in CHAPTERS:
        body = article((site / slug / "index.html").read_text(encoding="utf-8"))
        text = htmlmod.unescape(_TAG.sub("", body))  # printed outputs included
        for mark, name in re.findall(r"^\s*(✓|✗) ([a-z0-9_]+)：", text, flags=re.MULTILINE):
            shown[mark].add(name)
    assert not shown["✗"], f"lessons that fail on the pages: {sorted(shown['✗'])}"
    missing = set(REGISTRY) - NOT_IN_THE_QUICK_BUILD - shown["✓"]
    assert not missing, f"lessons no chapter page shows as ✓: {sorted(missing)}"
    assert not NOT_IN_THE_QUICK_BUILD & shown["✓"], "update NOT_IN_THE_QUICK_BUILD"


@pytest.mark.slow
def test_site_search_and_self_contained(site):
    check_search_index(site, CHAPTERS)
    entries = search_entries(site)
    gv = _norm(
        " ".join(
            e["title"] + " " + e["text"]
            for e in entries
            if e["location"].startswith("gradient_vanishing/")
        )
    )
    assert "梯度消失" in gv
    check_self_contained(site)
    for page in ("index.html", "reference/index.html"):
        assert (site / page).is_file(), f"missing {page}"


def documented_modules() -> list[str]:
    """The modules docs/reference.md renders (its ``::: labcode.xxx`` lines)."""
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    return re.findall(r"^::: (labcode[\w.]*)$", text, flags=re.MULTILINE)


def top_level_names(module_name: str) -> set[str]:
    """Names the module's source binds at top level (def, class, assignment, import)."""
    tree = ast.parse(Path(importlib.util.find_spec(module_name).origin).read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def undocumented(page: str, modules: list[str]) -> list[str]:
    """Public names of labcode without an entry (an anchor ``<module>.<name>``) on the page.

    Public: ``labcode.__all__`` and, per documented module, its ``__all__`` (or its own top-level
    names). A name counts where any module has the entry: ``labcode.get_data`` is documented as
    ``labcode.data.get_data``, a lesson as ``labcode.lessons.<chapter>.<name>``. Exceptions: a
    constant without a docstring (its module's text describes it), and a class made at run time
    (``plotstyle.LabFigure``, created on first use), which must appear in the page's text.
    """
    entries = {i.rsplit(".", 1)[-1] for i in re.findall(r'id="(labcode\.[^"]+)"', page)}
    missing = []
    for module_name in ["labcode", *modules]:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", None) or [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", module_name) == module_name
        ]
        for name in names:
            obj = getattr(module, name)
            if name in entries or isinstance(obj, types.ModuleType):
                continue
            if not callable(obj) and module_name != "labcode":
                continue
            if name not in top_level_names(module_name) and f"<code>{name}</code>" in page:
                continue
            missing.append(f"{module_name}.{name}")
    return missing


def test_reference_documents_every_module_and_no_stale_ones():
    modules = documented_modules()
    assert len(modules) == len(set(modules)), "a module rendered twice in docs/reference.md"
    for name in modules:
        importlib.import_module(
            name
        )  # a renamed or removed module fails here, not only at build time
    packaged = {p.stem for p in (ROOT / "labcode").glob("[!_]*.py")}
    packaged |= {p.parent.name for p in (ROOT / "labcode").glob("[!_]*/__init__.py")}
    listed = {m.split(".")[1] for m in modules}
    assert packaged - listed == set(), "modules without a section in docs/reference.md"


@pytest.mark.slow
def test_reference_lists_every_public_name(site):
    """The API reference is generated (mkdocstrings): every public name of labcode has an entry."""
    page = (site / "reference" / "index.html").read_text(encoding="utf-8")
    assert undocumented(page, documented_modules()) == []
    assert ":func:" not in page and ":class:" not in page  # Sphinx roles rewritten (griffe_roles)


def build_machine_paths() -> list[str]:
    """Absolute paths of this machine that must not be published: repository, home, data directory."""
    from labcode import settings

    paths = {str(ROOT), str(Path.home()), str(settings.data_dir())}
    return sorted(p.rstrip("/") + "/" for p in paths if len(p) > 1)


def published_texts(site: Path):
    """(name, text) of every file of the site, the zip's members included."""
    import zipfile

    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(site).as_posix()
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    yield f"{rel}!{member}", archive.read(member).decode("utf-8", "replace")
        else:
            yield rel, path.read_bytes().decode("utf-8", "replace")


@pytest.mark.slow
def test_no_build_machine_path_is_published(site):
    needles = build_machine_paths()
    found = [
        (name, needle)
        for name, text in published_texts(site)
        for needle in needles
        if needle in text
    ]
    assert not found, f"build-machine paths published: {found[:10]} ({len(found)} in all)"


@pytest.mark.slow
@pytest.mark.parametrize("slug", CHAPTERS)
def test_student_notebook_and_folded_answers(site, slug):
    import nbformat

    from docs._build import exercises

    student = nbformat.read(site / "notebooks" / f"{slug}-exercises.ipynb", as_version=4)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code and "NotImplementedError('练习" in code
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    assert "练习版 Notebook" in student.cells[0].source
    found = exercises.exercises(execute.read_notebook(ROOT / "docs" / f"{slug}.py"))
    page = (site / slug / "index.html").read_text(encoding="utf-8")
    folds = re.findall(r"参考答案（练习 ([\d.、]+)）", page)
    shown = {n for fold in folds for n in fold.split("、")}
    assert shown == {e.number for e in found}, (shown, folds)
    body = article(page)
    assert body.count('<details class="success"') >= len(exercises.distinct(found))
    assert f'href="../notebooks/{slug}-exercises.ipynb"' in page
    assert "本页的数字与图来自一次真实的运行" in page and "规模 quick" in page


@pytest.mark.slow
def test_exercise_overview_and_course_bundle(site):
    import io
    import zipfile

    page = (site / "exercises" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr>\s*<td>(\d+\.\d+)</td>", page)
    assert len(rows) >= 12 and len(set(rows)) == len(rows), rows
    assert "labcode.selfcheck.check_forward" in page
    with zipfile.ZipFile(io.BytesIO((site / "downloads" / "labcode-course.zip").read_bytes())) as z:
        names = z.namelist()
        assert "labcode-course/README.md" in names and "labcode-course/pyproject.toml" in names
        assert "labcode-course/labcode/selfcheck/__init__.py" in names
        for slug in CHAPTERS:
            assert f"labcode-course/notebooks/{slug}-exercises.ipynb" in names
        nb = z.read("labcode-course/notebooks/activations-exercises.ipynb").decode()
        assert "BEGIN SOLUTION" not in nb


def test_course_bundle_is_deterministic():
    from docs._build import bundle

    a = bundle.course_bundle({"x": '{"cells": []}'})
    assert a == bundle.course_bundle({"x": '{"cells": []}'})


def test_a_build_record_survives_json(tmp_path):
    """pytest-xdist workers share the session's build through this record (tests/conftest.py)."""
    build = sitetools.Build(0, "notebooks: 5 executed, 0 from cache", 212.5, tmp_path / "site")
    build.cache_dir, build.peak_rss_mib = tmp_path / "cache", 1234.5
    again = sitetools.Build.from_json(build.to_json())
    assert again == build and again.executed == 5 and isinstance(again.site, Path)
    bare = sitetools.Build.from_json(sitetools.Build(1, "", 0.0, tmp_path).to_json())
    assert bare.cache_dir is None and bare.peak_rss_mib is None


def test_peak_rss_sums_the_processes_running_at_once():
    """mkdocs stays alive while its kernels run: the peak is the sum over the process tree."""
    import subprocess

    hold = (
        "import sys, time; b = bytearray(150 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
        "time.sleep(1.5); print('held', flush=True)"
    )
    parent = (  # two children holding 150 MiB each at the same time (a grandchild and a child)
        "import subprocess, sys; "
        f"ps = [subprocess.Popen([sys.executable, '-c', {hold!r}]) for _ in range(2)]; "
        "[p.wait() for p in ps]"
    )
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "docs" / "_build" / "peak_rss.py"),
            sys.executable,
            "-c",
            parent,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    output, peak = sitetools._split_peak(out)
    assert output == "held\nheld\n" and sitetools.PEAK_MARKER not in output
    assert 300 <= peak < 1000, f"{peak:.0f} MiB: the two 150 MiB processes were not summed"


@pytest.mark.slow
def test_site_build_peak_memory_under_4_gb(site_build):
    """A cold quick-profile build stays under 4 GB: mkdocs plus the kernel running beside it."""
    if site_build is None:
        pytest.skip("LABCODE_SITE_DIR given: the site was not built by this session")
    assert site_build.executed == len(CHAPTERS), "the session build must be cold"
    assert site_build.peak_rss_mib is not None, "the build wrapper reported no peak RSS"
    assert 200 < site_build.peak_rss_mib < 4096, f"peak RSS {site_build.peak_rss_mib:.0f} MiB"


@pytest.mark.slow
def test_site_rebuild_executes_nothing(site_build, tmp_path):
    if site_build is None:
        pytest.skip("LABCODE_SITE_DIR given: the site was not built by this session")
    again = sitetools.build(tmp_path / "site", cache_dir=site_build.cache_dir)
    assert again.returncode == 0, again.output[-4000:]
    assert again.executed == 0, (
        "a rebuild with nothing changed executed notebooks:\n" + again.output[-2000:]
    )
    assert again.seconds < 60, f"warm rebuild took {again.seconds:.1f} s"
