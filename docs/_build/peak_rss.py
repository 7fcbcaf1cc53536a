"""Run a command and report the peak resident memory of its whole process tree (maintainer-facing).

Usage: ``python docs/_build/peak_rss.py COMMAND [ARGS...]``. The command's output passes through;
at the end one line ``labcode-peak-rss-kib=N`` is printed and the command's exit code is returned.

The peak is the largest *sum* of the RSS of the command and all its descendants seen at once
(``mkdocs build`` keeps running while each notebook kernel it started runs, so both count), sampled
every :data:`INTERVAL_S` seconds from ``/proc``. ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the
largest *single* process and serves as a lower bound (and as the answer where ``/proc`` is missing).
On a signal or timeout the caller should kill the process group (see ``sitetools.build``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

MARKER = "labcode-peak-rss-kib="
INTERVAL_S = 0.2


def _processes() -> tuple[dict[int, list[int]], dict[int, int]]:
    """(parent pid -> child pids, pid -> RSS in pages) for every readable process in /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])  # comm may contain spaces
            with open(f"/proc/{name}/statm", encoding="ascii") as f:
                pages = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(name))
        rss[int(name)] = pages
    return children, rss


def tree_rss_kib(root: int) -> int:
    """Current RSS of ``root`` and all its descendants, KiB (0 if /proc is unavailable)."""
    if not os.path.isdir("/proc"):
        return 0
    children, rss = _processes()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total * os.sysconf("SC_PAGE_SIZE") // 1024


def run(argv: list[str]) -> tuple[int, int]:
    """Run ``argv``; return (exit code, peak RSS of its process tree in KiB)."""
    proc = subprocess.Popen(argv)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(INTERVAL_S)
    single = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if sys.platform == "darwin":
        single //= 1024  # bytes there, KiB on Linux
    return proc.returncode, max(peak, single)


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python docs/_build/peak_rss.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    code, peak = run(sys.argv[1:])
    print(f"{MARKER}{peak}", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
