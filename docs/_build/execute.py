"""Execute the chapter notebooks (jupytext percent ``docs/<slug>.py``) with a content-addressed cache.

Maintainer-facing module (English; its error messages are Chinese like the rest of the lab). Used in
two ways:

* CLI: ``python docs/_build/execute.py [--profile quick|full] [--device auto|cpu|cuda[:N]] [--force]
  [--jobs N] [slug ...]`` executes every chapter (or the named ones) and prints what was executed /
  cached. Notebooks run in ``--jobs`` kernels at once (see :func:`default_jobs`), longest first.
* Library: the MkDocs hook (``docs/_build/hooks.py``) calls :func:`executed_notebook` for each
  chapter page, so ``mkdocs build`` alone is enough; running the CLI first only warms the cache.

Chapters are the ``*.py`` entries of ``nav`` in mkdocs.yml (:func:`chapters`), the one list.

The cache key (:func:`cache_key`) is sha256 over the notebook's **code cells** (not its Markdown),
every ``labcode/**/*.py`` file, a fingerprint of the data the kernel will load
(``labcode.data.data_fingerprint``: dataset, full files / stand-in / offline subset, sizes and
mtimes), the profile, the full device string (``cuda:1`` is not ``cuda``) and the versions of
torch / labcode / this executor. Markdown is taken fresh from the source at render time
(:func:`merged_notebook`), so a prose edit executes nothing. Settings come from ``labcode.settings``.

Cache entries live in ``.cache/notebooks/`` (``LABCODE_NOTEBOOK_CACHE``). Several builds may share it:
entries are written under unique temporary names and renamed atomically, a per-entry lock makes a
second build wait for (and then reuse) a notebook another build is executing, and eviction keeps the
newest entries per chapter (a running build reads its notebooks into memory when it resolves them).

Execution: nbclient with the *current interpreter's* ipykernel, cwd = repository root, the resolved
``LABCODE_PROFILE`` / ``LABCODE_DEVICE``, the inline Matplotlib backend, no progress bars
(``LABCODE_PROGRESS=0``), the lesson gate on (``LABCODE_LESSON_GATE=1``: a lesson that does not hold
raises in the kernel) and torch threads capped to the cores each kernel has. Any cell error raises
:class:`NotebookExecutionError` naming the notebook, the cell index and the traceback tail.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import dataclasses
import datetime
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
MKDOCS_YML = ROOT / "mkdocs.yml"
#: Executed notebooks; ``LABCODE_NOTEBOOK_CACHE`` overrides (tests use a temporary directory).
CACHE_DIR = Path(os.environ.get("LABCODE_NOTEBOOK_CACHE") or ROOT / ".cache" / "notebooks")

#: Bump when the way notebooks are executed changes (env, kernel, output post-processing).
EXECUTOR_VERSION = "2"

#: Seconds one cell may run before the build fails (``LABCODE_CELL_TIMEOUT``; full profile on CPU
#: can be slow).
CELL_TIMEOUT_ENV = "LABCODE_CELL_TIMEOUT"
DEFAULT_CELL_TIMEOUT_S = 3600

#: Cache entries kept per chapter, profile and device (newest first); older ones are evicted.
KEEP_PER_CHAPTER = 3


class ExecutorConfigError(ValueError):
    """A bad setting (environment variable or command-line option) for the executor."""


def cell_timeout() -> int:
    """Seconds per cell: ``LABCODE_CELL_TIMEOUT`` (a positive integer) or 3600."""
    raw = os.environ.get(CELL_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_CELL_TIMEOUT_S
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ExecutorConfigError(
            f"环境变量 {CELL_TIMEOUT_ENV} 的取值 {raw!r} 无效：应为正整数（每个单元格最多运行的秒数），"
            f"例如 export {CELL_TIMEOUT_ENV}=3600；不设置则为 {DEFAULT_CELL_TIMEOUT_S}。"
        )
    return value


def _ignore_python_tags(loader, suffix, node):  # mkdocs.yml uses !!python/object/apply (slugify)
    return None


def chapters(mkdocs_yml: Path = MKDOCS_YML) -> tuple[str, ...]:
    """Chapter slugs in reading order: the ``*.py`` pages of ``nav`` in mkdocs.yml (the one list)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", _ignore_python_tags)
    config = yaml.load(Path(mkdocs_yml).read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    pages = [p for p in walk(config.get("nav", [])) if p.endswith(".py") and "/" not in p]
    return tuple(dict.fromkeys(Path(p).stem for p in pages))


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
    device: str  # cpu | cuda | cuda:N, exactly as labcode.settings resolved it

    @property
    def device_kind(self) -> str:
        return self.device.split(":", 1)[0]


@dataclasses.dataclass
class Result:
    slug: str
    source: Path
    path: Path  # executed notebook (.ipynb, with outputs) in the cache
    key: str
    executed: bool  # False: served from the cache
    seconds: float
    #: the executed notebook, read when the result was resolved (the file may be evicted later)
    notebook: object = dataclasses.field(default=None, repr=False)


# --------------------------------------------------------------------------------------------------
# settings and cache key
# --------------------------------------------------------------------------------------------------


def resolve_settings(profile: str | None = None, device: str | None = None) -> Settings:
    """Resolve profile and device with ``labcode.settings`` (the lab's one implementation).

    Arguments win over ``LABCODE_PROFILE`` / ``LABCODE_DEVICE``. The device keeps its index
    (``cuda:1``); a device that does not exist raises labcode's Chinese error.
    """
    from labcode import settings as lab_settings

    dev = lab_settings.get_device(device)
    prof = lab_settings.get_profile(profile, dev)
    return Settings(profile=str(prof), device=str(dev))


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


def data_fingerprint() -> dict:
    """Which data a kernel started now would load (``labcode.data.data_fingerprint``)."""
    from labcode.data import data_fingerprint as fingerprint

    return fingerprint()


def code_cells(nb) -> list[dict]:
    """What of a notebook can change its outputs: each code cell's source and tags, in order."""
    return [
        {"source": cell.source, "tags": sorted(cell.metadata.get("tags", []))}
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


def cache_key(
    notebook,
    settings: Settings,
    *,
    labcode_dir: Path = LABCODE,
    data: dict | None = None,
    versions: dict[str, str] | None = None,
) -> str:
    """sha256 over code cells, labcode sources, data fingerprint, profile, device and versions.

    ``notebook`` is an nbformat notebook or a jupytext percent-format text. Markdown cells are not
    part of the key. ``data`` defaults to :func:`data_fingerprint`.
    """
    if isinstance(notebook, str):
        import jupytext

        notebook = jupytext.reads(notebook, fmt="py:percent")
    if data is None:
        data = data_fingerprint()
    if versions is None:
        versions = {
            "torch": _version("torch"),
            "labcode": _version("labcode"),
            # interactive figures embed Bokeh documents that must match the BokehJS the site serves
            "bokeh": _version("bokeh"),
            "executor": EXECUTOR_VERSION,
            "python": "{}.{}".format(*sys.version_info[:2]),
        }
    h = hashlib.sha256()

    def field(name: str, payload: bytes) -> None:
        # length-prefixed so that no two different inputs hash the same stream
        h.update(f"{name}:{len(payload)}:".encode())
        h.update(payload)

    field("code", json.dumps(code_cells(notebook), ensure_ascii=False).encode("utf-8"))
    for path in labcode_files(labcode_dir):
        field("labcode/" + path.relative_to(labcode_dir).as_posix(), path.read_bytes())
    field("data", json.dumps(data, sort_keys=True, ensure_ascii=False).encode("utf-8"))
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
    if settings.device_kind != "cuda":
        return 1
    cores = cpu_count or usable_cpus()
    return max(1, min(n_notebooks, cores))


def torch_threads(jobs: int, cpu_count: int | None = None) -> int:
    """Torch threads per kernel when ``jobs`` kernels share the machine's cores."""
    return max(1, (cpu_count or usable_cpus()) // max(1, jobs))


def kernel_env(settings: Settings, threads: int | None = None) -> dict[str, str]:
    """Environment of a notebook kernel.

    ``threads`` caps torch's CPU threads (default: every usable core, i.e. one kernel at a time);
    an ``OMP_NUM_THREADS`` already set by the caller wins. Lower ``OMP_WAIT_POLICY`` keeps idle
    threads from spinning when another build shares the cores.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(threads or torch_threads(1)))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(
        {
            "LABCODE_PROFILE": settings.profile,
            "LABCODE_DEVICE": settings.device,
            # ipykernel honours MPLBACKEND; plain "Agg" would stop figures from being captured as
            # outputs, so force the (non-GUI, Agg-based) inline backend explicitly.
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "LABCODE_PROGRESS": "0",  # no progress bars in the pages
            "TQDM_DISABLE": "1",
            "LABCODE_LESSON_GATE": "1",  # a lesson that does not hold fails its cell
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
    timeout: int | None = None,
    threads: int | None = None,
):
    """Execute ``source`` and return the executed notebook; raise NotebookExecutionError on error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = read_notebook(source)
    client = NotebookClient(
        nb,
        kernel_manager_class=_kernel_manager_class(),
        kernel_name="python3",
        timeout=timeout or cell_timeout(),
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
    except DeadKernelError as exc:  # killed (Ctrl-C, out of memory): no traceback to show
        raise NotebookExecutionError(
            source.name, -1, "DeadKernelError", f"内核意外退出（被中断或内存不足？）：{exc}", ""
        ) from None
    for cell in nb.cells:  # deterministic files: drop per-run metadata
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    return nb


# --------------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------------


def _safe_device(settings: Settings) -> str:
    return settings.device.replace(":", "")


def _entry_glob(slug: str, settings: Settings) -> str:
    return f"{slug}.{settings.profile}-{_safe_device(settings)}.*.ipynb"


def _cache_path(slug: str, settings: Settings, key: str, cache_dir: Path) -> Path:
    return cache_dir / f"{slug}.{settings.profile}-{_safe_device(settings)}.{key[:20]}.ipynb"


def _read_entry(path: Path):
    """The cached notebook at ``path``, or None when it is gone (evicted meanwhile) or unreadable."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        os.utime(path)  # most recently used: evicted last
    except (FileNotFoundError, json.JSONDecodeError, nbformat.reader.NotJSONError):
        return None
    return nb


def _write_entry(nb, path: Path) -> None:
    """Write under a unique temporary name, then rename atomically (readers see old or new)."""
    import nbformat

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _evict(slug: str, settings: Settings, cache_dir: Path, keep: int = KEEP_PER_CHAPTER) -> None:
    """Keep the ``keep`` most recently used entries of a chapter; never the only copy in use.

    A build reads a notebook into memory when it resolves it (:class:`Result.notebook`), so removing
    a file never breaks a build that already has it; one that has not read it yet finds it missing
    and executes it again instead of failing.
    """
    entries = []
    for entry in cache_dir.glob(_entry_glob(slug, settings)):
        try:
            entries.append((entry.stat().st_mtime_ns, entry))
        except FileNotFoundError:
            continue
    for _, stale in sorted(entries, reverse=True)[keep:]:
        stale.unlink(missing_ok=True)


class _EntryLock:
    """Cross-process lock for one cache entry: a second build waits, then reuses the result."""

    def __init__(self, path: Path):
        self.path = path.with_name(f".{path.name}.lock")
        self.handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")  # noqa: SIM115 (closed in __exit__)
        try:
            import fcntl
        except ImportError:  # Windows: no cross-process lock, atomic renames still hold
            return self
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        self.handle.close()  # releases the lock; the lock file stays (unlinking it would race)


def executed_notebook(
    source: Path,
    settings: Settings | None = None,
    *,
    cache_dir: Path | None = None,
    labcode_dir: Path = LABCODE,
    force: bool = False,
    timeout: int | None = None,
    threads: int | None = None,
    log=None,
) -> Result:
    """Return the executed notebook for ``source``, executing it only on a cache miss."""
    settings = settings or resolve_settings()
    cache_dir = Path(cache_dir or CACHE_DIR)
    source = Path(source)
    slug = source.stem
    data = data_fingerprint()  # once: part of the key and of the executed notebook's metadata
    key = cache_key(read_notebook(source), settings, labcode_dir=labcode_dir, data=data)
    path = _cache_path(slug, settings, key, cache_dir)
    if not force and (nb := _read_entry(path)) is not None:
        return Result(slug, source, path, key, executed=False, seconds=0.0, notebook=nb)
    with _EntryLock(path):
        # another build may have executed it while we waited for the lock
        if not force and (nb := _read_entry(path)) is not None:
            return Result(slug, source, path, key, executed=False, seconds=0.0, notebook=nb)
        if log:
            log(f"executing {source.name} (profile={settings.profile}, device={settings.device})")
        start = time.perf_counter()
        nb = execute_notebook(source, settings, timeout=timeout, threads=threads)
        seconds = time.perf_counter() - start
        nb.metadata["labcode_build"] = {
            "profile": settings.profile,
            "device": settings.device,
            "cache_key": key,
            "seconds": round(seconds, 2),
            "data": data,
            "executed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
        }
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_entry(nb, path)
    _evict(slug, settings, cache_dir)
    if log:
        log(f"executed {source.name} in {seconds:.1f} s")
    return Result(slug, source, path, key, executed=True, seconds=seconds, notebook=nb)


def merged_notebook(result: Result):
    """The page's notebook: Markdown fresh from the source, code cells with the cached outputs.

    The cache key covers only the code cells, so a prose edit is served from the cache; the code
    cells of the source and of the cached notebook are the same, in the same order.
    """
    import copy

    fresh = read_notebook(result.source)
    executed = [c for c in result.notebook.cells if c.cell_type == "code"]
    code = [c for c in fresh.cells if c.cell_type == "code"]
    if [c.source for c in code] != [c.source for c in executed]:
        raise RuntimeError(
            f"{result.source.name}: the cached notebook's code cells differ from the source "
            "(the source changed during the build?); build again"
        )
    for cell, done in zip(code, executed, strict=True):
        cell.outputs = copy.deepcopy(done.get("outputs", []))
        cell.execution_count = done.get("execution_count")
    fresh.metadata["labcode_build"] = copy.deepcopy(result.notebook.metadata.get("labcode_build"))
    return fresh


def chapter_sources(slugs: Iterable[str] | None = None, docs_dir: Path = DOCS) -> list[Path]:
    slugs = list(slugs) if slugs else list(chapters())
    return [docs_dir / f"{slug}.py" for slug in slugs]


def last_seconds(slug: str, settings: Settings, cache_dir: Path) -> float:
    """How long ``slug`` took the last time it was executed here (inf when unknown: start it first)."""
    best = (0, float("inf"))
    for entry in cache_dir.glob(_entry_glob(slug, settings)):
        try:
            mtime = entry.stat().st_mtime_ns
            if mtime > best[0]:
                meta = json.loads(entry.read_text(encoding="utf-8"))["metadata"]
                best = (mtime, float(meta["labcode_build"]["seconds"]))
        except (OSError, KeyError, ValueError, TypeError):
            continue
    return best[1]


def execute_all(
    slugs: Iterable[str] | None = None,
    settings: Settings | None = None,
    *,
    force: bool = False,
    jobs: int | None = None,
    docs_dir: Path = DOCS,
    cache_dir: Path | None = None,
    timeout: int | None = None,
    log=print,
) -> list[Result]:
    """Execute (or take from the cache) every chapter; results in reading order.

    ``jobs`` notebooks run at once (``None``: ``LABCODE_JOBS`` or :func:`default_jobs`), the ones that
    took longest last time first. When one fails, notebooks not yet started are cancelled, the
    running ones finish, and the first failure in reading order is raised
    (:class:`NotebookExecutionError`). ``timeout``: seconds per cell.
    """
    settings = settings or resolve_settings()
    cache_dir = Path(cache_dir or CACHE_DIR)
    timeout = timeout or cell_timeout()
    sources = list(dict.fromkeys(chapter_sources(slugs, docs_dir)))  # a slug named twice runs once
    for source in sources:
        if not source.exists():
            raise FileNotFoundError(f"找不到章节 Notebook：{source}")
    jobs = resolve_jobs(jobs, settings, len(sources))
    run = functools.partial(
        executed_notebook, settings=settings, cache_dir=cache_dir, force=force, timeout=timeout
    )
    if jobs == 1:
        return [run(s, log=log) for s in sources]
    threads = torch_threads(jobs)
    if log:
        log(f"executing up to {jobs} notebooks at once, {threads} torch thread(s) each")
    start_order = sorted(sources, key=lambda s: -last_seconds(s.stem, settings, cache_dir))
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
            raise ExecutorConfigError(
                f"环境变量 LABCODE_JOBS 的取值 {raw!r} 无效：应为正整数（同时执行几章 Notebook），例如 2。"
            ) from None
    if jobs < 1:
        raise ExecutorConfigError(f"jobs 应为正整数（同时执行几章 Notebook），收到的是 {jobs}。")
    return min(jobs, max(1, n_notebooks))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="chapters to execute (default: every chapter)")
    parser.add_argument("--profile", default=None, help="quick | full (default: LABCODE_PROFILE)")
    parser.add_argument(
        "--device", default=None, help="auto | cpu | cuda | cuda:N (default: LABCODE_DEVICE)"
    )
    parser.add_argument("--force", action="store_true", help="execute even on a cache hit")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks executed at once (default: LABCODE_JOBS, else 1 on CPU, one per core on CUDA)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        settings = resolve_settings(args.profile, args.device)
        unknown = [s for s in args.slugs if s not in chapters()]
        if unknown:
            raise ExecutorConfigError(
                f"没有这些章节：{', '.join(unknown)}。可选：{', '.join(chapters())}。"
            )
        results = execute_all(
            args.slugs,
            settings,
            force=args.force,
            jobs=args.jobs,
            log=lambda m: print(m, file=sys.stderr),
        )
    except KeyboardInterrupt:
        print("已中断（Ctrl-C）：没有执行完的章节不会写入缓存。", file=sys.stderr)
        return 130
    except (NotebookExecutionError, ValueError, RuntimeError, FileNotFoundError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
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
