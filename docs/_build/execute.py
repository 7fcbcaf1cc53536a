"""Execute the chapter notebooks (jupytext percent ``docs/<slug>.py``) with a content-addressed cache.

Maintainer-facing module (English). Used in two ways:

* CLI: ``python docs/_build/execute.py [--profile quick|full] [--device auto|cpu|cuda] [--force]
  [--jobs N] [slug ...]`` executes every chapter (or the named ones) and prints what was executed /
  cached. Notebooks run in ``--jobs`` kernels at once (see :func:`default_jobs`), longest first.
* Library: the MkDocs hook (``docs/_build/hooks.py``) calls :func:`executed_notebook` for each
  chapter page, so ``mkdocs build`` alone is enough; running the CLI first only warms the cache.

The cache key (:func:`cache_key`) is sha256 over the notebook text, every ``labcode/**/*.py`` file
(path and bytes), the profile, the device kind and the versions of torch / labcode / this executor,
so a changed labcode, profile or device re-executes, and a rebuild with nothing changed executes
nothing. Executed notebooks (with outputs, original Markdown) live in ``.cache/notebooks/``.

Execution: nbclient with the *current interpreter's* ipykernel (never a kernelspec found on disk that
could belong to another Python), cwd = repository root, ``LABCODE_PROFILE`` / ``LABCODE_DEVICE`` set
to the resolved values, the inline Matplotlib backend, tqdm silenced. Any cell error raises
:class:`NotebookExecutionError` naming the notebook, the cell index and the traceback tail.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LABCODE = ROOT / "labcode"
#: Executed notebooks; ``LABCODE_NOTEBOOK_CACHE`` overrides (tests use a temporary directory).
CACHE_DIR = Path(os.environ.get("LABCODE_NOTEBOOK_CACHE") or ROOT / ".cache" / "notebooks")

#: Chapter slugs, in reading order (``docs/<slug>.py``). Keep in sync with ``nav`` in mkdocs.yml.
CHAPTERS = ("activations", "gradient_vanishing", "dead_relu", "l2", "dropout")

#: Bump when the way notebooks are executed changes (env, kernel, output post-processing).
EXECUTOR_VERSION = "1"

#: Seconds one cell may run before the build fails (full profile on CPU can be slow).
DEFAULT_CELL_TIMEOUT = int(os.environ.get("LABCODE_CELL_TIMEOUT", "3600"))

#: Chapters in the order they are started when several run at once: longest first (quick on the
#: reference CPU: dropout ~35 s, gradient_vanishing ~10 s, the others 3-8 s), so the wall time is
#: close to the longest chapter's when jobs < chapters.
LONGEST_FIRST = ("dropout", "gradient_vanishing", "dead_relu", "l2", "activations")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookExecutionError(RuntimeError):
    """A cell of a chapter notebook raised; the build must fail."""

    def __init__(self, notebook: str, cell_index: int, ename: str, evalue: str, tail: str):
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.tail = tail
        super().__init__(
            f"notebook {notebook}: cell {cell_index} raised {ename}: {evalue}\n"
            f"--- traceback (tail) ---\n{tail}"
        )


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved execution settings (what goes into the cache key and into the kernel's env)."""

    profile: str  # quick | full
    device: str  # cpu | cuda


@dataclasses.dataclass
class Result:
    slug: str
    source: Path
    path: Path  # executed notebook (.ipynb, with outputs) in the cache
    key: str
    executed: bool  # False: served from the cache
    seconds: float


# --------------------------------------------------------------------------------------------------
# settings and cache key
# --------------------------------------------------------------------------------------------------


def _cuda_available() -> bool:
    try:
        import torch  # noqa: PLC0415  (only when LABCODE_DEVICE=auto: importing torch costs ~1 s)
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_settings(profile: str | None = None, device: str | None = None) -> Settings:
    """Resolve profile and device kind the way ``labcode.settings`` does.

    Arguments win over ``LABCODE_PROFILE`` / ``LABCODE_DEVICE``; device ``auto`` (the default) means
    cuda when available; profile defaults to full on cuda, quick on cpu.
    """
    dev = (device or os.environ.get("LABCODE_DEVICE", "").strip() or "auto").lower()
    if dev == "auto":
        dev = "cuda" if _cuda_available() else "cpu"
    elif dev.startswith("cuda"):
        dev = "cuda"
    elif dev != "cpu":
        raise ValueError(f"LABCODE_DEVICE must be auto, cpu or cuda, got {dev!r}")
    prof = (profile or os.environ.get("LABCODE_PROFILE", "").strip()).lower()
    if not prof:
        prof = "full" if dev == "cuda" else "quick"
    if prof not in ("quick", "full"):
        raise ValueError(f"LABCODE_PROFILE must be quick or full, got {prof!r}")
    return Settings(profile=prof, device=dev)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def labcode_files(labcode_dir: Path = LABCODE) -> list[Path]:
    """Every ``*.py`` of the labcode package (recursive), in a stable order."""
    return sorted(
        (p for p in labcode_dir.rglob("*.py") if "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(labcode_dir).as_posix(),
    )


def cache_key(
    notebook_text: str,
    settings: Settings,
    *,
    labcode_dir: Path = LABCODE,
    versions: dict[str, str] | None = None,
) -> str:
    """sha256 over notebook text, labcode sources, profile, device kind and versions."""
    if versions is None:
        versions = {
            "torch": _version("torch"),
            "labcode": _version("labcode"),
            "executor": EXECUTOR_VERSION,
            "python": "{}.{}".format(*sys.version_info[:2]),
        }
    h = hashlib.sha256()

    def field(name: str, data: bytes) -> None:
        # length-prefixed so that no two different inputs hash the same stream
        h.update(f"{name}:{len(data)}:".encode())
        h.update(data)

    field("notebook", notebook_text.encode("utf-8"))
    for path in labcode_files(labcode_dir):
        field("labcode/" + path.relative_to(labcode_dir).as_posix(), path.read_bytes())
    field("profile", settings.profile.encode())
    field("device", settings.device.encode())
    for name in sorted(versions):
        field("version:" + name, versions[name].encode())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------------


def _kernel_manager_class():
    """An AsyncKernelManager that always runs ``sys.executable -m ipykernel_launcher``.

    ``kernel_name='python3'`` alone would pick the first ``python3`` kernelspec on disk, which may
    belong to another interpreter (e.g. a user-level ``~/.local/share/jupyter/kernels/python3``);
    this one cannot, and it needs no ``ipykernel install`` in a fresh virtual environment.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class CurrentInterpreterKernelManager(AsyncKernelManager):
        transport = "ipc"  # unix sockets: no TCP ports, no "running over TCP" warning

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # jupyter_client's default socket path is "kernel-ipc-<n>" in the cwd, picked by checking
            # which files exist: kernels started at once (--jobs) would pick the same sockets.
            self.ip = os.path.join(tempfile.gettempdir(), f"labcode-{uuid.uuid4().hex}-ipc")

        @property
        def kernel_spec(self):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
                metadata={},
            )

    return CurrentInterpreterKernelManager


def usable_cpus() -> int:
    """CPU cores this process may run on (affinity / container limits where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs(settings: Settings, n_notebooks: int, cpu_count: int | None = None) -> int:
    """How many notebooks to execute at once when ``--jobs`` / ``LABCODE_JOBS`` is not given.

    CPU: one. The cores do the arithmetic; on the 2-core reference machine two kernels with one torch
    thread each took as long as one after the other with two threads (85.7 s vs 85.8 s, quick), so
    parallel jobs buy nothing there. CUDA: up to one notebook per CPU core. Expected, not yet
    measured on a GPU: with these small networks a kernel spends its time launching small GPU
    kernels from Python on one core, so several kernels can share the GPU and the wall time approaches
    the longest chapter's (``benchmarks/gpu_check.sh`` measures it).
    """
    if settings.device != "cuda":
        return 1
    cores = cpu_count or usable_cpus()
    return max(1, min(n_notebooks, cores))


def torch_threads(jobs: int, cpu_count: int | None = None) -> int:
    """Torch threads per kernel when ``jobs`` kernels share the machine's cores."""
    return max(1, (cpu_count or usable_cpus()) // max(1, jobs))


def kernel_env(settings: Settings, threads: int | None = None) -> dict[str, str]:
    """Environment of a notebook kernel; ``threads`` caps torch's CPU threads (parallel jobs)."""
    env = dict(os.environ)
    if threads is not None and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(threads)
    env.update(
        {
            "LABCODE_PROFILE": settings.profile,
            "LABCODE_DEVICE": settings.device,
            # ipykernel honours MPLBACKEND; plain "Agg" would stop figures from being captured as
            # outputs, so force the (non-GUI, Agg-based) inline backend explicitly.
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "TQDM_DISABLE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    return env


def _first_error(nb) -> tuple[int, dict] | None:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, output
    return None


def _tail(traceback: Sequence[str], lines: int = 25) -> str:
    text = _ANSI.sub("", "\n".join(traceback))
    return "\n".join(text.splitlines()[-lines:])


def read_notebook(source: Path):
    """Read a jupytext ``.py`` (or ``.ipynb``) into an nbformat v4 notebook without outputs."""
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata.pop("jupytext", None)  # the download is a plain .ipynb, not a paired notebook
    return nb


def execute_notebook(
    source: Path,
    settings: Settings,
    *,
    timeout: int = DEFAULT_CELL_TIMEOUT,
    threads: int | None = None,
):
    """Execute ``source`` and return the executed notebook; raise NotebookExecutionError on error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = read_notebook(source)
    client = NotebookClient(
        nb,
        kernel_manager_class=_kernel_manager_class(),
        kernel_name="python3",
        timeout=timeout,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(ROOT)}},
    )
    try:
        client.execute(cwd=str(ROOT), env=kernel_env(settings, threads))
    except CellExecutionError as exc:
        found = _first_error(nb)
        if found is None:  # should not happen; keep nbclient's message
            raise NotebookExecutionError(
                source.name, -1, type(exc).__name__, str(exc), ""
            ) from None
        index, output = found
        raise NotebookExecutionError(
            source.name,
            index,
            output.get("ename", "?"),
            _ANSI.sub("", output.get("evalue", "")),
            _tail(output.get("traceback", [])),
        ) from None
    for cell in nb.cells:  # deterministic files: drop per-run metadata
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    return nb


def _cache_path(slug: str, settings: Settings, key: str, cache_dir: Path) -> Path:
    return cache_dir / f"{slug}.{settings.profile}-{settings.device}.{key[:20]}.ipynb"


def executed_notebook(
    source: Path,
    settings: Settings | None = None,
    *,
    cache_dir: Path = CACHE_DIR,
    labcode_dir: Path = LABCODE,
    force: bool = False,
    timeout: int = DEFAULT_CELL_TIMEOUT,
    threads: int | None = None,
    log=None,
) -> Result:
    """Return the executed notebook for ``source``, executing it only on a cache miss."""
    import nbformat

    settings = settings or resolve_settings()
    source = Path(source)
    slug = source.stem
    key = cache_key(source.read_text(encoding="utf-8"), settings, labcode_dir=labcode_dir)
    path = _cache_path(slug, settings, key, cache_dir)
    if path.exists() and not force:
        return Result(slug, source, path, key, executed=False, seconds=0.0)
    if log:
        log(f"executing {source.name} (profile={settings.profile}, device={settings.device})")
    start = time.perf_counter()
    nb = execute_notebook(source, settings, timeout=timeout, threads=threads)
    nb.metadata["labcode_build"] = {
        "profile": settings.profile,
        "device": settings.device,
        "cache_key": key,
    }
    seconds = time.perf_counter() - start
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    # evict older results of the same chapter under the same profile/device
    for stale in cache_dir.glob(f"{slug}.{settings.profile}-{settings.device}.*.ipynb"):
        if stale != path:
            stale.unlink(missing_ok=True)
    if log:
        log(f"executed {source.name} in {seconds:.1f} s")
    return Result(slug, source, path, key, executed=True, seconds=seconds)


def chapter_sources(slugs: Iterable[str] | None = None, docs_dir: Path = DOCS) -> list[Path]:
    slugs = list(slugs) if slugs else list(CHAPTERS)
    return [docs_dir / f"{slug}.py" for slug in slugs]


def execute_all(
    slugs: Iterable[str] | None = None,
    settings: Settings | None = None,
    *,
    force: bool = False,
    jobs: int | None = None,
    docs_dir: Path = DOCS,
    cache_dir: Path = CACHE_DIR,
    timeout: int = DEFAULT_CELL_TIMEOUT,
    log=print,
) -> list[Result]:
    """Execute (or take from the cache) every chapter; results in reading order.

    ``jobs`` notebooks run at once (``None``: ``LABCODE_JOBS`` or :func:`default_jobs`). When one
    fails, notebooks not yet started are cancelled, the running ones finish, and the first failure in
    reading order is raised (:class:`NotebookExecutionError`). ``timeout``: seconds per cell.
    """
    settings = settings or resolve_settings()
    sources = list(dict.fromkeys(chapter_sources(slugs, docs_dir)))  # a slug named twice runs once
    for source in sources:
        if not source.exists():
            raise FileNotFoundError(f"chapter notebook missing: {source}")
    jobs = resolve_jobs(jobs, settings, len(sources))
    run = functools.partial(
        executed_notebook, settings=settings, cache_dir=cache_dir, force=force, timeout=timeout
    )
    if jobs == 1:
        return [run(s, log=log) for s in sources]
    threads = torch_threads(jobs)
    if log:
        log(f"executing up to {jobs} notebooks at once, {threads} torch thread(s) each")
    rank = {slug: i for i, slug in enumerate(LONGEST_FIRST)}
    start_order = sorted(sources, key=lambda s: rank.get(s.stem, -1))  # unknown: assume long
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {s: pool.submit(run, s, threads=threads, log=log) for s in start_order}
        done, _ = concurrent.futures.wait(
            futures.values(), return_when=concurrent.futures.FIRST_EXCEPTION
        )
        if any(f.exception() is not None for f in done):
            pool.shutdown(wait=True, cancel_futures=True)  # don't start the others
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # also on Ctrl-C: start nothing new
    for s in sources:  # the first failure in reading order
        f = futures[s]
        if not f.cancelled() and f.exception() is not None:
            raise f.exception()
    return [futures[s].result() for s in sources]


def resolve_jobs(jobs: int | None, settings: Settings, n_notebooks: int) -> int:
    """``jobs`` if given, else ``LABCODE_JOBS``, else :func:`default_jobs`; always >= 1."""
    if jobs is None:
        raw = os.environ.get("LABCODE_JOBS", "").strip()
        if not raw:
            return default_jobs(settings, n_notebooks)
        try:
            jobs = int(raw)
        except ValueError:
            raise ValueError(
                f"LABCODE_JOBS must be a positive integer (notebooks executed at once), got {raw!r}"
            ) from None
    if jobs < 1:
        raise ValueError(
            f"jobs must be a positive integer (notebooks executed at once), got {jobs}"
        )
    return min(jobs, max(1, n_notebooks))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "slugs", nargs="*", help=f"chapters to execute (default: {' '.join(CHAPTERS)})"
    )
    parser.add_argument("--profile", choices=("quick", "full"), default=None)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    parser.add_argument("--force", action="store_true", help="execute even on a cache hit")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks executed at once (default: LABCODE_JOBS, else 1 on CPU, one per core on CUDA)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = parser.parse_args(argv)
    settings = resolve_settings(args.profile, args.device)
    start = time.perf_counter()
    try:
        results = execute_all(
            args.slugs,
            settings,
            force=args.force,
            jobs=args.jobs,
            log=lambda m: print(m, file=sys.stderr),
        )
    except (NotebookExecutionError, ValueError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    executed = sum(r.executed for r in results)
    summary = {
        "profile": settings.profile,
        "device": settings.device,
        "executed": executed,
        "cached": len(results) - executed,
        "seconds": round(time.perf_counter() - start, 2),
        "notebooks": {
            r.slug: {"executed": r.executed, "path": str(r.path), "seconds": round(r.seconds, 2)}
            for r in results
        },
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{executed} executed, {len(results) - executed} from cache "
            f"(profile={settings.profile}, device={settings.device}, {summary['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
