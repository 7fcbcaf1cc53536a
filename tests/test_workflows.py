"""The GitHub workflows: actions from one table, pinned, on node24; safe checkouts; nox only.

``.github/actions-pins.yml`` is the one list of actions the workflows may use (commit, release,
runtime). A SHA pin hides an action's runtime from actionlint, so the table records it and these
tests hold every workflow under ``.github/workflows`` to it. Each rule is shown to fail on a small
bad workflow (or table) first. The browser job's environment without torch (``nox -s browser``
with ``LABCODE_SITE_DIR``) is checked here too: the modules it imports must need nothing else.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
PINS = ROOT / ".github" / "actions-pins.yml"
NOXFILE = ROOT / "noxfile.py"

RUNTIME = "node24"
SHA = re.compile(r"[0-9a-f]{40}")
VERSION = re.compile(r"v\d+\.\d+\.\d+")
# `uses: owner/name@ref  # comment`, quoted or not, as a step or a job (reusable workflow)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*['\"]?([^'\"\s#]+)['\"]?[ \t]*(?:#[ \t]*(.*?))?\s*$")
# what a run: step must leave to a nox session
DIRECT_TOOLS = re.compile(r"\b(pytest|mkdocs|ruff|actionlint|zizmor)\b|docs/_build/\w+\.py")
NOX_CALL = re.compile(r"\bnox\b[^\n]*?\s-s\s+([\w\- ]+)")
#: write permissions a job may hold, and the action that needs them
WRITE_ALLOWED = {"actions/deploy-pages": {"pages", "id-token"}}


# --------------------------------------------------------------------------------------------------
# the rules
# --------------------------------------------------------------------------------------------------


def pin_problems(pins: dict) -> list[str]:
    """What is wrong with the table itself: malformed entries, a runtime other than node24."""
    problems = []
    for action, entry in pins.items():
        if not SHA.fullmatch(str(entry.get("sha", ""))):
            problems.append(f"{action}: sha is not a full 40-hex commit")
        if not VERSION.fullmatch(str(entry.get("version", ""))):
            problems.append(f"{action}: version is not a release like v1.2.3")
        runtime = entry.get("runtime")
        if runtime == "composite":
            wraps = entry.get("wraps") or []
            if not wraps:
                problems.append(f"{action}: composite action without its wrapped actions (wraps)")
            for used in wraps:
                name, _, ref = used.partition("@")
                inner = pins.get(name)
                if inner is None:
                    problems.append(f"{action}: wraps {name}, which is not in the table")
                elif inner.get("sha") != ref:
                    problems.append(f"{action}: wraps {used}, the table pins {inner.get('sha')}")
                elif inner.get("runtime") != RUNTIME:
                    problems.append(f"{action}: wraps {name}, runtime {inner.get('runtime')}")
        elif runtime != RUNTIME:
            problems.append(f"{action}: runtime {runtime}, not {RUNTIME}")
    return problems


def nox_sessions(noxfile: Path = NOXFILE) -> set[str]:
    """The session names noxfile.py defines (read with ast: nox need not be importable)."""
    names = set()
    for node in ast.parse(noxfile.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            func = call.func if call else deco
            if isinstance(func, ast.Attribute) and func.attr == "session":
                named = [k.value.value for k in (call.keywords if call else []) if k.arg == "name"]
                names.add(named[0] if named else node.name)
    return names


def _steps(job: dict) -> list[dict]:
    return [step for step in job.get("steps") or [] if isinstance(step, dict)]


def workflow_problems(text: str, pins: dict, sessions: set[str]) -> list[str]:
    """Everything a workflow does against the rules of this repository."""
    problems = []
    workflow = yaml.safe_load(text)
    jobs = workflow.get("jobs") or {}

    # every action: in the table, pinned to its commit, its release in the comment
    uses_lines = [m for m in map(USES_LINE.match, text.splitlines()) if m]
    uses_yaml = [s["uses"] for job in jobs.values() for s in _steps(job) if "uses" in s]
    uses_yaml += [job["uses"] for job in jobs.values() if "uses" in job]
    if sorted(m.group(1) for m in uses_lines) != sorted(uses_yaml):
        problems.append("a uses: is written in a form this test cannot read (one per line)")
    for match in uses_lines:
        used, comment = match.group(1), (match.group(2) or "").strip()
        name, _, ref = used.partition("@")
        entry = pins.get(name)
        if entry is None:
            problems.append(f"{used}: not in .github/actions-pins.yml")
            continue
        if ref != entry["sha"]:
            problems.append(f"{used}: pin {entry['sha']} ({entry['version']}), as in the table")
        if comment != entry["version"]:
            problems.append(f"{used}: comment {comment!r}, the table says {entry['version']}")

    # permissions: none for the workflow, the least for each job
    if workflow.get("permissions") != {}:
        problems.append("top-level permissions must be {} (each job declares its own)")
    for job_id, job in jobs.items():
        if "permissions" not in job:
            problems.append(f"job {job_id}: no permissions")
            continue
        perms = job["permissions"]
        if not isinstance(perms, dict):
            problems.append(f"job {job_id}: permissions {perms!r}, list them one by one")
            continue
        used = {s["uses"].partition("@")[0] for s in _steps(job) if "uses" in s}
        allowed = set().union(*(WRITE_ALLOWED.get(name, set()) for name in used))
        for scope, level in perms.items():
            if level == "write" and scope not in allowed:
                problems.append(f"job {job_id}: {scope}: write, which none of its actions needs")

    for job_id, job in jobs.items():
        for step in _steps(job):
            uses = str(step.get("uses", ""))
            keeps_token = (step.get("with") or {}).get("persist-credentials") is not False
            if uses.startswith("actions/checkout@") and keeps_token:
                problems.append(f"job {job_id}: checkout without persist-credentials: false")
            script = step.get("run")
            if script is None:
                continue
            for tool in DIRECT_TOOLS.finditer(script):
                problems.append(f"job {job_id}: run: calls {tool.group(0)}, use a nox session")
            for call in NOX_CALL.finditer(script):
                for name in call.group(1).split():
                    if name == "--":
                        break
                    if name not in sessions:
                        problems.append(f"job {job_id}: nox session {name} is not in noxfile.py")
    return problems


# --------------------------------------------------------------------------------------------------
# each rule fails on a bad workflow / table
# --------------------------------------------------------------------------------------------------

CHECKOUT = "a" * 40
UPLOAD = "b" * 40
DEPLOY = "c" * 40
PAGES = "d" * 40
TOY_PINS = {
    "actions/checkout": {"sha": CHECKOUT, "version": "v7.0.1", "runtime": "node24"},
    "actions/upload-artifact": {"sha": UPLOAD, "version": "v7.0.0", "runtime": "node24"},
    "actions/deploy-pages": {"sha": DEPLOY, "version": "v5.0.0", "runtime": "node24"},
    "actions/upload-pages-artifact": {
        "sha": PAGES,
        "version": "v5.0.0",
        "runtime": "composite",
        "wraps": [f"actions/upload-artifact@{UPLOAD}"],
    },
}
TOY_SESSIONS = {"lint", "tests_all", "docs", "browser"}
GOOD = f"""\
on: push
permissions: {{}}
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@{CHECKOUT}  # v7.0.1
        with:
          persist-credentials: false
      - run: python -m pip install -r requirements/nox.txt
      - run: python -m nox -s lint tests_all -- -m "not browser"
      - run: python -m nox -s docs
      - uses: "actions/upload-pages-artifact@{PAGES}" # v5.0.0
        with:
          path: site
  deploy:
    needs: build
    runs-on: ubuntu-latest
    permissions:
      pages: write
      id-token: write
    steps:
      - uses: actions/deploy-pages@{DEPLOY}  # v5.0.0
"""
CHECKOUT_LINE = f"      - uses: actions/checkout@{CHECKOUT}  # v7.0.1\n"
NOX_LINE = '      - run: python -m nox -s lint tests_all -- -m "not browser"\n'
BAD_WORKFLOWS = {
    "action not in the table": (
        CHECKOUT_LINE,
        f"      - uses: someone/action@{'e' * 40}  # v1.0.0\n" + CHECKOUT_LINE,
        "someone/action@",
    ),
    "a tag, not a commit": (
        CHECKOUT_LINE,
        "      - uses: actions/checkout@v7  # v7.0.1\n",
        "pin " + CHECKOUT,
    ),
    "another commit": (CHECKOUT, "f" * 40, "pin " + CHECKOUT),
    "comment disagrees with the table": ("# v7.0.1", "# v6.0.2", "comment 'v6.0.2'"),
    "no comment": ("  # v7.0.1", "", "comment ''"),
    "step in flow style": (
        CHECKOUT_LINE,
        f"      - {{uses: actions/upload-artifact@{UPLOAD}}}\n" + CHECKOUT_LINE,
        "cannot read",
    ),
    "checkout keeps the token": ("persist-credentials: false", "fetch-depth: 1", "persist-cred"),
    "persist-credentials true": (
        "persist-credentials: false",
        "persist-credentials: true",
        "persist-cred",
    ),
    "pytest directly": (NOX_LINE, "      - run: python -m pytest -m 'not slow'\n", "calls pytest"),
    "mkdocs directly": (NOX_LINE, "      - run: mkdocs build --strict\n", "calls mkdocs"),
    "executor directly": (
        NOX_LINE,
        "      - run: |\n          python docs/_build/execute.py --json\n",
        "calls docs/_build/execute.py",
    ),
    "ruff directly": (NOX_LINE, "      - run: ruff check .\n", "calls ruff"),
    "unknown nox session": ("-s docs", "-s site", "session site"),
    "workflow-wide permissions": ("permissions: {}", "permissions: write-all", "top-level"),
    "job without permissions": ("    permissions:\n      contents: read\n", "", "no permissions"),
    "write where nothing needs it": ("contents: read", "contents: write", "contents: write"),
}


def test_a_good_workflow_and_table_pass():
    assert pin_problems(TOY_PINS) == []
    assert workflow_problems(GOOD, TOY_PINS, TOY_SESSIONS) == []


@pytest.mark.parametrize("case", list(BAD_WORKFLOWS))
def test_each_rule_fails_on_a_bad_workflow(case):
    old, new, expected = BAD_WORKFLOWS[case]
    assert GOOD.count(old) == 1, "the bad variant must change the good workflow in one place"
    problems = workflow_problems(GOOD.replace(old, new), TOY_PINS, TOY_SESSIONS)
    assert any(expected in problem for problem in problems), problems


def _bad_pins(action: str, **changes) -> dict:
    pins = {name: dict(entry) for name, entry in TOY_PINS.items()}
    pins[action].update(changes)
    return pins


@pytest.mark.parametrize(
    ("pins", "expected"),
    [
        (_bad_pins("actions/checkout", runtime="node20"), "runtime node20"),
        (_bad_pins("actions/checkout", runtime=None), "runtime None"),
        (_bad_pins("actions/upload-artifact", runtime="node20"), "wraps actions/upload-artifact"),
        (_bad_pins("actions/upload-pages-artifact", wraps=[]), "without its wrapped"),
        (
            _bad_pins(
                "actions/upload-pages-artifact", wraps=[f"actions/upload-artifact@{'0' * 40}"]
            ),
            "the table pins",
        ),
        (
            _bad_pins("actions/upload-pages-artifact", wraps=[f"actions/cache@{'0' * 40}"]),
            "not in the table",
        ),
        (_bad_pins("actions/checkout", sha="v7.0.1"), "full 40-hex"),
        (_bad_pins("actions/checkout", version="v7"), "release like"),
    ],
)
def test_each_rule_fails_on_a_bad_table(pins, expected):
    problems = pin_problems(pins)
    assert any(expected in problem for problem in problems), problems


def test_nox_sessions_are_read_from_the_noxfile(tmp_path):
    noxfile = tmp_path / "noxfile.py"
    noxfile.write_text(
        "import nox\n\n@nox.session(venv_backend='none')\ndef lint(session): ...\n\n"
        "@nox.session(name='tests-all')\ndef tests_all(session): ...\n\n"
        "@nox.session\ndef docs(session): ...\n\ndef helper(session): ...\n"
    )
    assert nox_sessions(noxfile) == {"lint", "tests-all", "docs"}


# --------------------------------------------------------------------------------------------------
# the real workflows and table
# --------------------------------------------------------------------------------------------------


def _pins() -> dict:
    return yaml.safe_load(PINS.read_text(encoding="utf-8"))


def test_the_table_lists_node24_actions_only():
    assert pin_problems(_pins()) == []


def test_the_rules_see_the_deploy_workflow():
    assert ROOT / ".github" / "workflows" / "deploy.yml" in WORKFLOWS


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_follows_the_rules(workflow):
    text = workflow.read_text(encoding="utf-8")
    assert workflow_problems(text, _pins(), nox_sessions()) == []


def test_every_action_in_the_table_is_used():
    pins = _pins()
    used = set()
    for workflow in WORKFLOWS:
        for line in workflow.read_text(encoding="utf-8").splitlines():
            if match := USES_LINE.match(line):
                used.add(match.group(1).partition("@")[0])
    for entry in pins.values():
        used.update(wrapped.partition("@")[0] for wrapped in entry.get("wraps") or [])
    assert set(pins) - used == set(), "drop actions no workflow uses from the table"


def test_the_build_job_runs_the_readme_test_command():
    """The README's test command (nox -s lint tests_all) is what CI's build job runs."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m nox -s lint tests_all" in readme
    deploy = ROOT / ".github" / "workflows" / "deploy.yml"
    jobs = yaml.safe_load(deploy.read_text(encoding="utf-8"))["jobs"]
    scripts = [step.get("run", "") for step in _steps(jobs["build"])]
    assert any(re.search(r"\bnox -s lint tests_all\b", script) for script in scripts), scripts
    assert any(re.search(r"\bnox -s docs\b", script) for script in scripts), scripts
    browser = _steps(jobs["browser"])
    assert any(
        "nox -s browser" in step.get("run", "") and (step.get("env") or {}).get("LABCODE_SITE_DIR")
        for step in browser
    ), browser


# --------------------------------------------------------------------------------------------------
# the browser job's environment without torch
# --------------------------------------------------------------------------------------------------


def _noxfile_constant(name: str):
    for node in ast.parse(NOXFILE.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py defines no {name}")


#: the repository's own packages that browser tests may import from (followed, not allowed blindly)
LOCAL_PACKAGES = {"tests": ROOT / "tests", "benchmarks": ROOT / "benchmarks"}


def _module_imports(path: Path) -> set[str]:
    """Top-level module names imported when ``path`` is imported (not inside functions)."""
    names: set[str] = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module == "docs._build":
                # the build tools' package: follow its __init__ and the modules imported from it
                build = ROOT / "docs" / "_build"
                names.add("__init__")
                names.update(a.name for a in node.names if (build / f"{a.name}.py").is_file())
            elif isinstance(node, ast.ImportFrom) and node.module in LOCAL_PACKAGES:
                # "from tests import test_browser": follow the modules imported from the package
                folder = LOCAL_PACKAGES[node.module]
                names.update(a.name for a in node.names if (folder / f"{a.name}.py").is_file())
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] in LOCAL_PACKAGES
            ):
                names.add(node.module.split(".")[-1])  # "from tests.test_browser import X"
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                visit(getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return names


def import_problems(modules: list[Path], local_dirs: list[Path], allowed: set[str]) -> list[str]:
    """Imports, followed through local modules, that are neither stdlib nor ``allowed``."""
    local = {p.stem: p for d in local_dirs for p in sorted(d.glob("*.py"))}
    problems, seen, todo = [], set(), list(modules)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in sorted(_module_imports(path)):
            if name in local:
                todo.append(local[name])
            elif name not in sys.stdlib_module_names and name not in allowed:
                problems.append(f"{path.name} imports {name}")
    return problems


def _has_browser_tests(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "browser"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"
        ):
            return True
    return False


def _browser_test_files() -> list[Path]:
    mark = re.compile(_noxfile_constant("BROWSER_MARK"), flags=re.MULTILINE)
    return sorted(
        p for p in (ROOT / "tests").glob("test_*.py") if mark.search(p.read_text(encoding="utf-8"))
    )


def test_nox_browser_collects_every_module_with_browser_tests():
    found = _browser_test_files()
    assert ROOT / "tests" / "test_browser.py" in found
    assert found == sorted(p for p in (ROOT / "tests").glob("test_*.py") if _has_browser_tests(p))


def test_the_browser_tests_need_no_torch():
    """What `nox -s browser` imports in .nox/browser: stdlib, pytest, playwright, PyYAML."""
    allowed = set(_noxfile_constant("BROWSER_REQUIREMENTS").values())
    assert "torch" not in allowed
    modules = [ROOT / "tests" / "conftest.py", *_browser_test_files()]
    # benchmarks first: docs/_build/__init__.py is the "__init__" the build-tool imports follow
    local = [ROOT / "benchmarks", ROOT / "tests", ROOT / "docs" / "_build"]
    assert import_problems(modules, local, allowed) == []


def test_import_check_follows_local_modules(tmp_path):
    (tmp_path / "test_page.py").write_text("import json\nimport pytest\nimport helper\n")
    (tmp_path / "helper.py").write_text(
        "import os\ntry:\n    import torch\nexcept ImportError:\n    pass\n"
    )
    problems = import_problems([tmp_path / "test_page.py"], [tmp_path], {"pytest"})
    assert problems == ["helper.py imports torch"]
    (tmp_path / "helper.py").write_text("from labcode.settings import resolve\n")
    assert import_problems([tmp_path / "test_page.py"], [tmp_path], {"pytest"}) == [
        "helper.py imports labcode"
    ]
    (tmp_path / "helper.py").write_text("def later():\n    import torch\n")
    assert import_problems([tmp_path / "test_page.py"], [tmp_path], {"pytest"}) == []
