"""The site's build tools (maintainer-facing): ``docs._build.execute``, ``hooks``, ``sitetools``, ...

One import root, the repository: tests (``pythonpath`` in pyproject.toml), nox and benchmarks run
from it and import ``docs._build.<module>``; MkDocs loads ``hooks.py`` by path, and hooks.py puts
the repository on ``sys.path`` before it imports its siblings.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@functools.cache
def python_versions() -> str:
    """The Python versions labcode supports, e.g. ``"3.10–3.13"``, from ``requires-python`` in
    pyproject.toml (the one place that says it; pages and downloads show this text)."""
    text = PYPROJECT.read_text(encoding="utf-8")
    spec = re.search(r'^requires-python\s*=\s*"([^"]+)"', text, re.M)
    low = re.search(r">=\s*3\.(\d+)", spec.group(1)) if spec else None
    high = re.search(r"<\s*3\.(\d+)", spec.group(1)) if spec else None
    if not (low and high):
        raise ValueError(f'{PYPROJECT}: requires-python should read ">=3.X,<3.Y"')
    return f"3.{low.group(1)}–3.{int(high.group(1)) - 1}"
