"""Build the site into a temporary folder and swap it in only on success (maintainer-facing).

Usage: ``python -m docs._build.build_site [-d SITE_DIR] [mkdocs build options...]``. Runs
``mkdocs build --strict`` into ``<SITE_DIR>.building`` next to the target; when it succeeds the old
site is moved aside and the new one renamed into place, so a failed build (a cell error, a lesson
that does not hold, a broken link) leaves the previous ``site/`` exactly as it was.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build(site_dir: Path, mkdocs_args: list[str]) -> int:
    """mkdocs build --strict into a fresh folder, then swap; returns mkdocs' exit code."""
    site_dir = Path(site_dir).resolve()
    fresh = site_dir.with_name(f".{site_dir.name}.building")
    old = site_dir.with_name(f".{site_dir.name}.previous")
    for path in (fresh, old):
        shutil.rmtree(path, ignore_errors=True)
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(fresh), *mkdocs_args]
    code = subprocess.call(cmd, cwd=ROOT)
    if code != 0:
        shutil.rmtree(fresh, ignore_errors=True)
        print(f"构建失败（退出码 {code}）：{site_dir} 保持不变。", file=sys.stderr)
        return code
    if site_dir.exists():
        site_dir.rename(old)
    fresh.rename(site_dir)
    shutil.rmtree(old, ignore_errors=True)
    print(f"网站已构建到 {site_dir}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--site-dir", default=str(ROOT / "site"))
    args, rest = parser.parse_known_args(argv)
    return build(Path(args.site_dir), rest)


if __name__ == "__main__":
    sys.exit(main())
