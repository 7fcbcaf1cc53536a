"""The downloaded exercise notebook in a real client: JupyterLab, headless, driven by Chromium.

Starts ``jupyter lab`` (the ``jupyterlab`` package, pinned in requirements/constraints.txt) on a free
local port in a temporary folder holding the chapter's exercise notebook as the build writes it
(docs/_build/hooks.py ``exercises_copy``), opens it in Debian's Chromium with Playwright and checks
what a student sees: no MkDocs markup (``!!!``/``???``), reference answers hidden until their
``<details>`` is opened, math typeset by JupyterLab's MathJax, and, after "Run All Cells", the first
stub's error showing the exercise's Chinese message.

Needs the lab environment (jupyterlab, torch and labcode for the kernel); elsewhere it is skipped.
Module-level imports stay within pytest (the browser job collects this file without torch).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from benchmarks.a11y import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
SLUG = "activations"
FIGURE_NOTEBOOK = "interactive-figure.ipynb"
SITE_URL = "https://labcode-course.github.io/regularization-activation-lab/"
#: JupyterLab settings for the test: every cell rendered (no windowing), no news or update checks
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def notebook(tmp_path_factory) -> Path:
    for module in ("jupyterlab", "torch", "playwright", "mkdocs"):
        pytest.importorskip(module, reason=f"the JupyterLab test needs {module} (the lab venv)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install -y chromium fonts-noto-cjk")
    from docs._build import hooks

    folder = tmp_path_factory.mktemp("jupyterlab")
    source = ROOT / "docs" / f"{SLUG}.py"
    (folder / f"{SLUG}-exercises.ipynb").write_text(
        hooks.exercises_copy(source, SITE_URL), encoding="utf-8"
    )
    # an interactive figure's output as a cell leaves it (the answers notebook keeps these)
    import nbformat

    from labcode import interactive

    fig = interactive.activation_explorer()
    bundle, metadata = fig._repr_mimebundle_()
    cell = nbformat.v4.new_code_cell("interactive.activation_explorer()")
    cell.outputs = [nbformat.v4.new_output("display_data", data=bundle, metadata=metadata)]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / FIGURE_NOTEBOOK)
    return folder


@pytest.fixture(scope="module")
def lab(notebook):
    """A running JupyterLab serving the notebook's folder: its base URL with the token."""
    home = notebook.parent / "jupyter-home"
    settings_dir = home / "settings"
    for name, value in SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")
    token = secrets.token_hex(16)
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        # the kernel: offline data (the subset), quick profile on the CPU, one thread
        "LABCODE_OFFLINE": "1",
        "LABCODE_PROGRESS": "0",
        "LABCODE_PROFILE": "quick",
        "LABCODE_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    log = (home / "lab.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI containers run as root
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={notebook}",
            "--LabApp.news_url=",
        ],
        env=env,
        cwd=notebook,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n" + (home / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        # nothing leaves the machine (JupyterLab itself serves everything the notebook needs)
        page.route(re.compile(r"^(?!http://127\.0\.0\.1:)https?://"), lambda route: route.abort())
        page.goto(f"{base}/lab/tree/{SLUG}-exercises.ipynb?token={token}")
        page.locator(".jp-Notebook .jp-MarkdownCell").first.wait_for(timeout=60_000)
        page.wait_for_function(
            "document.querySelectorAll('.jp-Notebook mjx-container').length > 10",
            timeout=60_000,
        )
        yield page
        context.close()
        browser.close()


def _markdown_cells(folder: Path) -> int:
    nb = json.loads((folder / f"{SLUG}-exercises.ipynb").read_text(encoding="utf-8"))
    return sum(cell["cell_type"] == "markdown" for cell in nb["cells"])


def test_markdown_reads_as_a_jupyter_document(page, notebook):
    cells = page.locator(".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown")
    assert cells.count() == _markdown_cells(notebook)  # every cell rendered
    text = "\n".join(cells.all_text_contents())
    assert "!!!" not in text and "???" not in text, "MkDocs markup shown as text"
    assert ".py)" not in text
    # an admonition: a blockquote whose first line is the bold title (not run into the body)
    box = page.locator(".jp-RenderedMarkdown blockquote", has_text="练习 1.1–1.3").first
    assert (
        box.locator("p")
        .first.locator("strong")
        .inner_text()
        .endswith("练习 1.1–1.3：ReLU、Sigmoid、Tanh 及其导数")
    )
    assert box.locator("pre").count() == 0, "prose inside the box became a code block"
    # links between chapters go to the bundle's notebooks
    link = page.locator(".jp-RenderedMarkdown a", has_text="梯度消失").first
    href = urllib.parse.urlsplit(link.get_attribute("href")).path  # JupyterLab: /files/<path>
    assert href.endswith("/gradient_vanishing-exercises.ipynb"), href
    # math typeset by MathJax, no TeX source left in view
    assert page.locator(".jp-RenderedMarkdown mjx-container").count() > 10
    assert "\\frac" not in text and "\\sigma" not in text


def test_answers_are_hidden_until_opened(page):
    details = page.locator(".jp-RenderedMarkdown details")
    assert details.count() >= 9
    assert page.evaluate(
        "Array.from(document.querySelectorAll('.jp-RenderedMarkdown details')).every(d => !d.open)"
    )
    target = (
        page.locator(".jp-RenderedMarkdown details")
        .filter(has=page.locator("summary", has_text="参考答案"))
        .first
    )
    body = target.locator("p").first
    assert not body.is_visible(), "a reference answer is in plain view"
    target.locator("summary").first.scroll_into_view_if_needed()
    target.locator("summary").first.click()
    body.wait_for(state="visible", timeout=5_000)
    assert target.evaluate("d => d.open")
    # the Markdown and the math inside the opened answer are rendered
    assert target.locator("mjx-container").count() > 0
    assert "$" not in body.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # for a person to look at (CI artifact)
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab-exercises-answer-open.png"))


def test_run_all_stops_at_the_first_exercise_with_its_chinese_message(page):
    page.locator(".jp-Notebook").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    error.first.wait_for(timeout=120_000)
    text = error.first.inner_text()
    assert "NotImplementedError" in text, text[-2000:]
    assert "练习 1.1：请实现 MyReLU 的 f 与 derivative" in text, text[-2000:]
    assert error.count() == 1


def test_interactive_figure_falls_back_to_html_that_jupyter_renders(lab, page):
    base, token = lab
    page.goto(f"{base}/lab/tree/{FIGURE_NOTEBOOK}?token={token}")
    output = page.locator(".jp-Notebook .jp-OutputArea-output").first
    output.wait_for(timeout=60_000)
    assert output.get_attribute("data-mime-type") == "text/html"
    assert "静态图就在上方" in output.inner_text()
    link = output.locator("a", has_text="在课程网站上打开这张交互图")
    assert link.get_attribute("href") == f"{SITE_URL}activations/#lab-activation-explorer"
