"""Run a command and report the peak resident memory of its whole process tree (maintainer-facing).

Usage: ``python -m docs._build.peak_rss COMMAND [ARGS...]``. The command's output passes through;
at the end one line ``labcode-peak-rss-kib=N`` is printed and the command's exit code is returned.

The peak is the largest *sum* of the RSS of the command and all its descendants seen at once
(``mkdocs build`` keeps running while each notebook kernel it started runs, so both count), sampled
every :data:`INTERVAL_S` seconds with psutil (Linux, macOS, Windows). On a signal or timeout the
caller should kill the process group (see ``sitetools.build``).
"""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

MARKER = "labcode-peak-rss-kib="
INTERVAL_S = 0.2


def tree_rss_kib(root: int) -> int:
    """Current RSS of ``root`` and all its descendants, KiB (0 once ``root`` has ended)."""
    try:
        parent = psutil.Process(root)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in processes:
        try:
            total += proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended while we looked
    return total // 1024


def run(argv: list[str]) -> tuple[int, int]:
    """Run ``argv``; return (exit code, peak RSS of its process tree in KiB)."""
    proc = subprocess.Popen(argv)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(INTERVAL_S)
    return proc.returncode, peak


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python -m docs._build.peak_rss COMMAND [ARGS...]", file=sys.stderr)
        return 2
    code, peak = run(sys.argv[1:])
    print(f"{MARKER}{peak}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
