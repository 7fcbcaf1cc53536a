"""nox sessions for the lab: tests (fast loop), tests_all, lint, docs, serve, browser, bench.

All sessions that need torch share ONE virtual environment (``.nox/lab``): torch alone is
about 5.5 GB and two minutes to install, so it is installed once and only reinstalled when
``pyproject.toml`` or ``requirements/constraints.txt`` change (a stamp file records their hash).

Environment variables understood by the sessions (see README):
    LABCODE_PROFILE=quick|full   experiment sizes (default: full on CUDA, quick on CPU)
    LABCODE_DEVICE=auto|cpu|cuda
    LABCODE_DATA_DIR             where MNIST lives / is written
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_external_run = False

ROOT = Path(__file__).parent
LAB_ENV = ROOT / ".nox" / "lab"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
EXTRAS = "test,lint,docs,browser"
BASE_ENV = {"NO_MKDOCS_2_WARNING": "1", "PYTHONHASHSEED": "0"}


def _bin(name: str) -> str:
    sub = "Scripts" if sys.platform == "win32" else "bin"
    return str(LAB_ENV / sub / name)


def _stamp() -> str:
    digest = hashlib.sha256()
    for path in (ROOT / "pyproject.toml", CONSTRAINTS):
        digest.update(path.read_bytes())
    digest.update(EXTRAS.encode())
    return digest.hexdigest()


def lab_env(session: nox.Session) -> dict[str, str]:
    """Create or reuse the shared environment; return the env vars to run commands with."""
    stamp_file = LAB_ENV / ".labcode-stamp"
    if not (LAB_ENV / "bin" / "python").exists() and not (LAB_ENV / "Scripts").exists():
        session.run(sys.executable, "-m", "venv", str(LAB_ENV), external=True)
    if not stamp_file.exists() or stamp_file.read_text() != _stamp():
        session.run(
            _bin("python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(CONSTRAINTS),
            "-e",
            f".[{EXTRAS}]",
            external=True,
        )
        stamp_file.write_text(_stamp())
    else:
        session.log("shared environment .nox/lab is up to date; nothing installed")
    env = dict(BASE_ENV)
    env["PATH"] = str(Path(_bin("python")).parent) + os.pathsep + os.environ.get("PATH", "")
    env["VIRTUAL_ENV"] = str(LAB_ENV)
    return env


def ensure_chromium(session: nox.Session) -> None:
    """Install Debian's Chromium and a CJK font for the browser tests when missing (root only)."""
    fonts_ok = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").exists()
    if shutil.which("chromium") and fonts_ok:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        session.warn(
            "chromium/fonts-noto-cjk missing and apt-get unavailable (or not root): "
            "browser tests will be skipped"
        )
        return
    session.run("apt-get", "update", "-qq", external=True)
    session.run(
        "apt-get",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        "chromium",
        "fonts-noto-cjk",
        external=True,
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )


#: The fast loop leaves these out (they train over seed sets, build the site or drive Chromium).
FAST = "not slow and not browser"
#: Two pytest-xdist workers, a test file at a time, in the order tests/conftest.py sets (one worker
#: builds the site while the other runs the files that need none); one thread per process.
#: Measured on 2 cores (2026-12-05): fast loop 64 -> 41 s, complete suite 20.9 -> 12.1 min.
PARALLEL = ("-n", "2", "--dist", "loadfile", "--no-loadscope-reorder")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The fast loop: every test except ``slow`` and ``browser`` (under a minute on 2 cores)."""
    env = lab_env(session)
    pytest = (_bin("python"), "-m", "pytest", *PARALLEL)
    session.run(*pytest, "-m", FAST, *session.posargs, env=env, external=True)


@nox.session(venv_backend="none")
def tests_all(session: nox.Session) -> None:
    """The complete suite (README, CI): unit, lessons over seeds, site build, browser."""
    env = lab_env(session)
    ensure_chromium(session)
    session.run(_bin("python"), "-m", "pytest", *PARALLEL, *session.posargs, env=env, external=True)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """Lint every Python file with ruff (docs/_build included) and the workflows under .github.

    The workflows: actionlint (with shellcheck on the ``run:`` scripts) and zizmor's security audit
    (offline, strictest persona, accepted findings in .github/zizmor.yml). Any finding fails.
    """
    env = lab_env(session)
    session.run(_bin("ruff"), "check", ".", env=env, external=True)
    session.run(_bin("ruff"), "format", "--check", ".", env=env, external=True)
    session.run(_bin("mypy"), env=env, external=True)  # labcode; settings in pyproject [tool.mypy]
    # explicit tools, so that every machine checks the same (not whatever shellcheck is on PATH)
    session.run(
        _bin("actionlint"),
        f"-shellcheck={_bin('shellcheck')}",
        "-pyflakes=",
        env=env,
        external=True,
    )
    session.run(
        _bin("zizmor"),
        "--offline",
        "--persona=auditor",
        "--config",
        ".github/zizmor.yml",
        ".github/",
        env=env,
        external=True,
    )


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Execute the chapter notebooks (cached) and build the site into site/ with --strict.

    The site is built into a temporary folder next to site/ and swapped in only when the build
    succeeded, so a failed build leaves the previous site/ as it was.
    """
    env = lab_env(session)
    session.run(_bin("python"), "-m", "docs._build.execute", env=env, external=True)
    session.run(
        _bin("python"), "-m", "docs._build.build_site", *session.posargs, env=env, external=True
    )


@nox.session(venv_backend="none")
def serve(session: nox.Session) -> None:
    """Serve the site with live reload on http://127.0.0.1:8000 (chapters re-execute on change)."""
    env = lab_env(session)
    session.run(_bin("mkdocs"), "serve", *session.posargs, env=env, external=True)


BROWSER_ENV = ROOT / ".nox" / "browser"
#: What the browser test modules (and tests/conftest.py, docs/_build/execute.py) import at module
#: level, distribution -> module: all ``.nox/browser`` holds, pinned by requirements/constraints.txt.
#: tests/test_workflows.py fails when those modules import anything else (torch, labcode, ...).
BROWSER_REQUIREMENTS = {"pytest": "pytest", "playwright": "playwright", "PyYAML": "yaml"}
#: A test module with this line holds browser tests (``nox -s browser`` collects only those).
BROWSER_MARK = r"^(pytestmark\s*=.*\bpytest\.mark\.browser\b|@pytest\.mark\.browser\b)"


def browser_test_files() -> list[str]:
    """The test modules with browser tests, so that no other module is imported without torch."""
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").glob("test_*.py")
        if re.search(BROWSER_MARK, path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    )


def browser_env(session: nox.Session) -> tuple[str, dict[str, str]]:
    """Create or reuse ``.nox/browser`` (pytest, playwright, PyYAML; no torch): (python, env vars)."""
    sub = "Scripts" if sys.platform == "win32" else "bin"
    python = BROWSER_ENV / sub / ("python.exe" if sys.platform == "win32" else "python")
    stamp_file = BROWSER_ENV / ".labcode-stamp"
    digest = hashlib.sha256(CONSTRAINTS.read_bytes())
    digest.update(" ".join(sorted(BROWSER_REQUIREMENTS)).encode())
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(BROWSER_ENV), external=True)
    if not stamp_file.exists() or stamp_file.read_text() != digest.hexdigest():
        session.run(
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(CONSTRAINTS),
            *sorted(BROWSER_REQUIREMENTS),
            external=True,
        )
        stamp_file.write_text(digest.hexdigest())
    else:
        session.log("environment .nox/browser is up to date; nothing installed")
    env = dict(BASE_ENV)
    env["PATH"] = str(python.parent) + os.pathsep + os.environ.get("PATH", "")
    env["VIRTUAL_ENV"] = str(BROWSER_ENV)
    return str(python), env


@nox.session(venv_backend="none")
def browser(session: nox.Session) -> None:
    """Test the site in Debian's Chromium (Playwright): the ``browser`` tests.

    Without ``LABCODE_SITE_DIR`` the tests build the site themselves (shared ``.nox/lab``). With it
    (CI's browser job: the site the build job made) they run from ``.nox/browser``, a small
    environment without torch (:func:`browser_env`).
    """
    ensure_chromium(session)
    if os.environ.get("LABCODE_SITE_DIR"):
        python, env = browser_env(session)
    else:
        python, env = _bin("python"), lab_env(session)
    session.run(
        python,
        "-m",
        "pytest",
        "-m",
        "browser",
        *browser_test_files(),
        *session.posargs,
        env=env,
        external=True,
    )


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Benchmark the original lab's training path against labcode's (pass -- --device cuda on a GPU)."""
    env = lab_env(session)
    session.run(_bin("python"), "-m", "benchmarks.run", *session.posargs, env=env, external=True)
