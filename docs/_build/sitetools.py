"""Helpers for building the site from tests and scripts (maintainer-facing).

* :func:`build` runs ``mkdocs build --strict`` in a subprocess (the same command nox and CI run).
* :func:`fixture_project` writes a miniature copy of the site's configuration around a few given
  notebooks, so the rendering pipeline can be tested without the real chapters (e.g. a notebook that
  raises, to check that the build fails).

The session-wide build of the real site is a pytest fixture (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PEAK_MARKER = "labcode-peak-rss-kib="  # printed by peak_rss.py


@dataclass
class Build:
    returncode: int
    output: str
    seconds: float
    site: Path
    #: the notebook cache the build used (None: the default, ``.cache/notebooks``)
    cache_dir: Path | None = None
    #: Peak RSS of the build's whole process tree (mkdocs + the notebook kernels running at the same
    #: time), MiB; see peak_rss.py.
    peak_rss_mib: float | None = None

    def to_json(self) -> str:
        """The record as JSON (pytest-xdist workers share one build through it)."""
        fields = {k: str(v) if isinstance(v, Path) else v for k, v in vars(self).items()}
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Build:
        fields = json.loads(text)
        for name in ("site", "cache_dir"):
            if fields[name] is not None:
                fields[name] = Path(fields[name])
        return cls(**fields)

    @property
    def executed(self) -> int | None:
        """Number of notebooks executed, from the hook's summary line (None if absent)."""
        for line in self.output.splitlines():
            if "notebooks:" in line and "executed," in line:
                return int(line.split("notebooks:")[1].split("executed")[0].strip())
        return None


def mkdocs_command() -> list[str]:
    return [sys.executable, "-m", "mkdocs"]


def build(
    site_dir: Path,
    *,
    config_file: Path | None = None,
    profile: str = "quick",
    device: str = "cpu",
    extra_env: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    timeout: float = 1800,
) -> Build:
    """``mkdocs build --strict`` into ``site_dir``; returns the exit code and combined output.

    ``cache_dir`` sets ``LABCODE_NOTEBOOK_CACHE`` (an empty one makes a cold build).
    """
    env = dict(os.environ)
    env.update(
        {
            "LABCODE_PROFILE": profile,
            "LABCODE_DEVICE": device,
            "NO_MKDOCS_2_WARNING": "1",
            "PYTHONUTF8": "1",
        }
    )
    if cache_dir is not None:
        env["LABCODE_NOTEBOOK_CACHE"] = str(cache_dir)
    env.update(extra_env or {})
    cmd = [*mkdocs_command(), "build", "--strict", "-d", str(site_dir)]
    if config_file is not None:
        cmd += ["-f", str(config_file)]
    start = time.perf_counter()
    # Own process group: on a timeout the wrapper, mkdocs and its kernels are all killed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "docs._build.peak_rss", *cmd],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    seconds = time.perf_counter() - start
    output, peak = _split_peak(stdout)
    return Build(proc.returncode, output, seconds, Path(site_dir), cache_dir, peak)


def _split_peak(output: str) -> tuple[str, float | None]:
    """Remove peak_rss.py's marker line from ``output``; return (output, peak RSS in MiB or None)."""
    lines, peak = [], None
    for line in output.splitlines(keepends=True):
        if line.startswith(PEAK_MARKER):
            peak = int(line[len(PEAK_MARKER) :].strip()) / 1024
        else:
            lines.append(line)
    return "".join(lines), peak


def fixture_project(dest: Path, notebooks: dict[str, Path], *, title: str = "测试站点") -> Path:
    """Write ``dest/mkdocs.yml`` + ``dest/docs`` using the real mkdocs.yml, hooks and assets.

    ``notebooks`` maps slug -> jupytext ``.py`` file. Returns the config file path.
    """
    docs = dest / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for sub in ("javascripts", "stylesheets"):
        if (DOCS / sub).is_dir():
            shutil.copytree(DOCS / sub, docs / sub, dirs_exist_ok=True)
    (docs / "index.md").write_text(f"# {title}\n\n这是测试用的首页。\n", encoding="utf-8")
    for slug, source in notebooks.items():
        shutil.copyfile(source, docs / f"{slug}.py")
    config = {
        "INHERIT": str(ROOT / "mkdocs.yml"),  # everything else exactly as the real site
        "docs_dir": str(docs),
        "nav": [{"首页": "index.md"}] + [{slug: f"{slug}.py"} for slug in notebooks],
        "hooks": [str(DOCS / "_build" / "hooks.py")],
        "theme": {"name": "material", "custom_dir": str(DOCS / "overrides")},
    }
    path = dest / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
