"""Execute the chapter notebooks (jupytext percent ``docs/<slug>.py``) with a content-addressed cache.

Maintainer-facing module (English; its error messages are Chinese like the rest of the lab).

* CLI: ``python -m docs._build.execute [--profile quick|full] [--device auto|cpu|cuda[:N]] [--force]
  [slug ...]`` executes every chapter (or the named ones), one after the other, and says
  what was executed and what came from the cache.
* Library: the MkDocs hook (``docs/_build/hooks.py``) calls :func:`executed_notebook` for each
  chapter page, so ``mkdocs build`` alone is enough; running the CLI first only warms the cache.

Chapters are the ``*.py`` entries of ``nav`` in mkdocs.yml (:func:`chapters`), the one list.

The cache key (:func:`cache_key`) is sha256 over the notebook's **code cells** (not its Markdown),
every ``labcode/**/*.py`` file, a fingerprint of the data the kernel will load
(``labcode.data.data_fingerprint``, taken after ``labcode.data.prepare_files`` so that the first
execution cannot change it), the profile, the full device string (``cuda:1`` is not ``cuda``) and the
versions of torch / labcode / bokeh / Python / this executor. Markdown is taken fresh from the source
at render time (:func:`merged_notebook`), so a prose edit executes nothing.

Cache entries live in ``.cache/notebooks/`` (``LABCODE_NOTEBOOK_CACHE``). An entry is used only when
it is a valid notebook whose recorded key and code cells are this chapter's; anything else is
discarded (and the log says so) and the chapter executes again. Several builds may share the cache:
entries are written under unique temporary names and renamed atomically, a per-entry ``filelock``
makes a second build wait for (and then reuse) a notebook another build is executing, and only the
newest :data:`KEEP_PER_CHAPTER` entries of a chapter are kept. A read-only cache that holds the
right entries is simply read.

Execution: nbclient with the *current interpreter's* ipykernel (its sockets and connection file in a
temporary folder removed afterwards, also when the kernel died), cwd = repository root, the resolved
profile and device, the inline Matplotlib backend, no progress bars, the lesson gate on (a lesson
that does not hold raises in the kernel). Any cell error or timeout raises
:class:`NotebookExecutionError` naming the notebook and the cell.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import datetime
import errno
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LABCODE = ROOT / "labcode"
MKDOCS_YML = ROOT / "mkdocs.yml"
DEFAULT_CACHE_DIR = ROOT / ".cache" / "notebooks"

#: Bump when the way notebooks are executed changes (env, kernel, output post-processing).
EXECUTOR_VERSION = "3"
#: Seconds one cell may run when ``LABCODE_CELL_TIMEOUT`` is not set (full profile on CPU is slow).
DEFAULT_CELL_TIMEOUT_S = 3600
#: Cache entries kept per chapter, profile and device (most recently used first).
KEEP_PER_CHAPTER = 3

Log = Callable[[str], object]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def _env():
    """``labcode.settings``: the names and values of the environment variables (imported late:
    importing this module must not import torch)."""
    from labcode import settings

    return settings


class ExecutorConfigError(ValueError):
    """A bad setting (environment variable or command-line option) for the executor."""


class NotebookExecutionError(RuntimeError):
    """A cell of a chapter notebook raised or ran out of time; the build must fail."""

    def __init__(self, notebook: str, cell_index: int, ename: str, evalue: str, tail: str = ""):
        self.notebook = notebook
        self.cell_index = cell_index
        self.ename = ename
        self.evalue = evalue
        self.tail = tail
        super().__init__(
            f"notebook {notebook}: cell {cell_index} raised {ename}: {evalue}"
            + (f"\n--- traceback (tail) ---\n{tail}" if tail else "")
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
    path: Path  # the cache entry
    key: str
    executed: bool  # False: served from the cache
    seconds: float
    #: the executed notebook, read when the result was resolved (the file may be evicted later)
    notebook: object = dataclasses.field(default=None, repr=False)


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------


def resolve_settings(profile: str | None = None, device: str | None = None) -> Settings:
    """Profile and device by ``labcode.settings`` (arguments win over the environment)."""
    settings = _env()
    dev = settings.get_device(device)
    return Settings(profile=str(settings.get_profile(profile, dev)), device=str(dev))


def cell_timeout() -> int:
    """Seconds per cell: ``LABCODE_CELL_TIMEOUT`` (a positive integer) or 3600."""
    name = _env().CELL_TIMEOUT_ENV
    raw = os.environ.get(name, "").strip()
    if not raw:
        return DEFAULT_CELL_TIMEOUT_S
    if not raw.isdigit() or int(raw) < 1:
        raise ExecutorConfigError(
            f"环境变量 {name} 的取值 {raw!r} 无效：应为正整数（每个单元格最多运行的秒数），"
            f"例如 export {name}=3600；不设置则为 {DEFAULT_CELL_TIMEOUT_S}。"
        )
    return int(raw)


def notebook_cache(path: str | os.PathLike | None = None) -> Path:
    """The notebook cache: ``path``, else ``LABCODE_NOTEBOOK_CACHE``, else ``.cache/notebooks``."""
    name = _env().NOTEBOOK_CACHE_ENV
    raw = str(path) if path is not None else os.environ.get(name, "").strip()
    folder = Path(raw).expanduser() if raw else DEFAULT_CACHE_DIR
    if folder.exists() and not folder.is_dir():
        raise ExecutorConfigError(
            f"笔记本缓存 {folder}（环境变量 {name}）是一个文件，不是文件夹。解决办法：把 {name} "
            f"指向一个文件夹（不存在时会自动创建），或取消设置它（默认 {DEFAULT_CACHE_DIR}）。"
        )
    return folder


def _not_writable(folder: Path, error: OSError) -> ExecutorConfigError:
    name = _env().NOTEBOOK_CACHE_ENV
    return ExecutorConfigError(
        f"无法写入笔记本缓存 {folder}（{error.strerror or error}），而有章节需要执行、结果要存进缓存。"
        f"解决办法：把环境变量 {name} 指向一个可写的文件夹（例如 export {name}=/tmp/notebooks），"
        "或修改这个文件夹的权限。"
    )


def _chapters_loader():
    import yaml

    class Loader(yaml.SafeLoader):  # mkdocs.yml uses !!python/name tags (slugify): ignore them
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return Loader


def chapters(mkdocs_yml: Path = MKDOCS_YML) -> tuple[str, ...]:
    """Chapter slugs in reading order: the ``*.py`` pages of ``nav`` in mkdocs.yml (the one list)."""
    import yaml

    config = yaml.load(Path(mkdocs_yml).read_text(encoding="utf-8"), Loader=_chapters_loader())

    def walk(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list | dict):
            for item in node.values() if isinstance(node, dict) else node:
                yield from walk(item)

    pages = [p for p in walk(config.get("nav", [])) if p.endswith(".py") and "/" not in p]
    return tuple(dict.fromkeys(Path(p).stem for p in pages))


# --------------------------------------------------------------------------------------------------
# cache key
# --------------------------------------------------------------------------------------------------


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
    """Which data a kernel started now will load: the files are put in place first (download or
    offline subset, as the kernel would), so executing a notebook cannot change the fingerprint."""
    from labcode import data

    data.prepare_files()
    return data.data_fingerprint()


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
            "bokeh": _version("bokeh"),  # the pages embed Bokeh documents for the BokehJS served
            "executor": EXECUTOR_VERSION,
            "python": "{}.{}".format(*sys.version_info[:2]),
        }
    h = hashlib.sha256()

    def field(name: str, payload: bytes) -> None:  # length-prefixed: no two inputs hash the same
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
    """An AsyncKernelManager that runs ``sys.executable -m ipykernel_launcher`` with its ipc sockets
    and connection file in a temporary folder of its own (:attr:`scratch`), removed on cleanup.

    ``kernel_name='python3'`` alone would pick the first ``python3`` kernelspec on disk, which may
    belong to another interpreter; this one cannot, and needs no ``ipykernel install``.
    """
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager

    class CurrentInterpreterKernelManager(AsyncKernelManager):
        transport = "ipc"  # unix sockets: no TCP ports

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.scratch = tempfile.mkdtemp(prefix="labcode-kernel-")
            self.ip = os.path.join(self.scratch, "ipc")
            self.connection_file = os.path.join(self.scratch, "kernel.json")

        @property
        def kernel_spec(self):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
                metadata={},
            )

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self.scratch, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources  # nbclient calls this name

    return CurrentInterpreterKernelManager


def usable_cpus() -> int:
    """CPU cores this process may run on (affinity / container limits where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def kernel_env(settings: Settings) -> dict[str, str]:
    """Environment of a notebook kernel (an ``OMP_NUM_THREADS`` set by the caller wins)."""
    names = _env()
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(usable_cpus()))
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle threads don't spin on a shared machine
    env.update(
        {
            names.PROFILE_ENV: settings.profile,
            names.DEVICE_ENV: settings.device,
            names.PROGRESS_ENV: "0",  # no progress bars in the pages
            names.LESSON_GATE_ENV: "1",  # a lesson that does not hold fails its cell
            # the inline backend (Agg-based) captures figures as outputs; plain Agg would not
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "TQDM_DISABLE": "1",
            "PYTHONUNBUFFERED": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
    )
    return env


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


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


def execute_notebook(source: Path, settings: Settings, *, timeout: int | None = None):
    """Execute ``source`` and return the executed notebook; raise NotebookExecutionError on error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    timeout = timeout or cell_timeout()
    nb = read_notebook(source)
    current = {"index": -1}
    client = NotebookClient(
        nb,
        kernel_manager_class=_kernel_manager_class(),
        kernel_name="python3",
        timeout=timeout,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(ROOT)}},
        on_cell_execute=lambda cell, cell_index: current.update(index=cell_index),
    )
    try:
        client.execute(cwd=str(ROOT), env=kernel_env(settings))
    except CellExecutionError:
        index, output = next(
            (
                (i, o)
                for i, cell in enumerate(nb.cells)
                for o in cell.get("outputs", [])
                if o.get("output_type") == "error"
            ),
            (current["index"], {}),
        )
        tail = _ANSI.sub("", "\n".join(output.get("traceback", [])))
        raise NotebookExecutionError(
            source.name,
            index,
            output.get("ename", "?"),
            _ANSI.sub("", output.get("evalue", "")),
            "\n".join(tail.splitlines()[-25:]),
        ) from None
    except CellTimeoutError:
        name = _env().CELL_TIMEOUT_ENV
        raise NotebookExecutionError(
            source.name,
            current["index"],
            "CellTimeoutError",
            f"这个单元格运行超过了 {timeout} 秒（环境变量 {name}）。解决办法：设置更大的 {name}"
            f"（例如 export {name}={timeout * 2}），或改用 quick 规模（LABCODE_PROFILE=quick）。",
        ) from None
    except DeadKernelError as exc:  # killed (Ctrl-C, out of memory): no traceback to show
        raise NotebookExecutionError(
            source.name,
            current["index"],
            "DeadKernelError",
            f"内核意外退出（被中断或内存不足？）：{exc}",
        ) from None
    finally:  # nbclient cleans up (CurrentInterpreterKernelManager removes its folder) unless it
        if client.km is not None:  # could not: then the folder goes here
            shutil.rmtree(client.km.scratch, ignore_errors=True)
    for cell in nb.cells:  # deterministic files: drop per-run metadata
        if cell.cell_type == "code":
            cell.metadata.pop("execution", None)
    return nb


# --------------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------------


def _entry_prefix(slug: str, settings: Settings) -> str:
    return f"{slug}.{settings.profile}-{settings.device.replace(':', '')}."


def _cache_path(slug: str, settings: Settings, key: str, folder: Path) -> Path:
    return folder / f"{_entry_prefix(slug, settings)}{key[:20]}.ipynb"


def _read_entry(path: Path, key: str, code: list[dict], log: Log = _stderr):
    """The cached notebook at ``path`` if it is a valid notebook with this ``key`` and these code
    cells; None when there is none. Anything else is discarded (and logged)."""
    import nbformat

    if not os.path.lexists(path):
        return None
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(nb)
        if nb.metadata["labcode_build"]["cache_key"] != key:
            raise ValueError("it was executed for another key")
        if code_cells(nb) != code:
            raise ValueError("its code cells are not this chapter's")
    except FileNotFoundError:  # evicted meanwhile
        return None
    except Exception as exc:
        log(f"discarding the invalid cache entry {path} ({type(exc).__name__}: {exc})"[:400])
        with contextlib.suppress(OSError):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return None
    with contextlib.suppress(OSError):  # most recently used; not possible in a read-only cache
        os.utime(path)
    return nb


def _write_entry(nb, path: Path) -> None:
    """Write under a unique temporary name, then rename atomically (readers see old or new)."""
    import nbformat

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        nbformat.write(nb, tmp)
        if path.is_dir():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _evict(slug: str, settings: Settings, folder: Path, keep: int = KEEP_PER_CHAPTER) -> None:
    """Keep the ``keep`` most recently used entries of a chapter. A build holds the notebooks it
    resolved in memory, so removing a file never breaks a running build."""
    entries = []
    for entry in folder.glob(_entry_prefix(slug, settings) + "*.ipynb"):
        with contextlib.suppress(OSError):
            entries.append((entry.stat().st_mtime_ns, entry))
    for _, stale in sorted(entries, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            stale.unlink()


def executed_notebook(
    source: Path,
    settings: Settings | None = None,
    *,
    cache_dir: Path | None = None,
    labcode_dir: Path = LABCODE,
    force: bool = False,
    timeout: int | None = None,
    log: Log | None = _stderr,
) -> Result:
    """Return the executed notebook for ``source``, executing it only on a cache miss."""
    from filelock import FileLock

    log = log or (lambda message: None)
    settings = settings or resolve_settings()
    folder = notebook_cache(cache_dir)
    source = Path(source)
    notebook = read_notebook(source)
    data = data_fingerprint()  # once: part of the key and of the executed notebook's metadata
    key = cache_key(notebook, settings, labcode_dir=labcode_dir, data=data)
    code = code_cells(notebook)
    path = _cache_path(source.stem, settings, key, folder)

    def cached() -> Result | None:
        nb = None if force else _read_entry(path, key, code, log)
        if nb is None:
            return None
        return Result(source.stem, source, path, key, executed=False, seconds=0.0, notebook=nb)

    if (hit := cached()) is not None:  # no lock needed to read: a read-only cache works
        return hit
    lock = FileLock(path.with_name(f".{path.name}.lock"))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # a read-only folder or mount: say so at once (a lock could not be taken there anyway)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, "没有写权限")
        lock.acquire()
    except OSError as exc:
        raise _not_writable(folder, exc) from None
    try:
        if (hit := cached()) is not None:  # another build executed it while we waited
            return hit
        log(f"executing {source.name} (profile={settings.profile}, device={settings.device})")
        start = time.perf_counter()
        nb = execute_notebook(source, settings, timeout=timeout)
        seconds = time.perf_counter() - start
        now = datetime.datetime.now(datetime.timezone.utc)
        nb.metadata["labcode_build"] = {
            "profile": settings.profile,
            "device": settings.device,
            "cache_key": key,
            "seconds": round(seconds, 2),
            "data": data,
            "executed_at": now.isoformat(timespec="seconds"),
        }
        try:
            _write_entry(nb, path)
        except OSError as exc:
            raise _not_writable(folder, exc) from None
    finally:
        lock.release()
    _evict(source.stem, settings, folder)
    log(f"executed {source.name} in {seconds:.1f} s")
    return Result(source.stem, source, path, key, executed=True, seconds=seconds, notebook=nb)


def merged_notebook(result: Result):
    """The page's notebook: Markdown fresh from the source, code cells with the cached outputs."""
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


def execute_all(
    slugs: Iterable[str] | None = None,
    settings: Settings | None = None,
    *,
    force: bool = False,
    docs_dir: Path = DOCS,
    cache_dir: Path | None = None,
    timeout: int | None = None,
    log: Log | None = _stderr,
) -> list[Result]:
    """Execute (or take from the cache) each chapter in reading order; stop at the first failure."""
    settings = settings or resolve_settings()
    timeout = timeout or cell_timeout()
    names = list(dict.fromkeys(slugs or chapters()))  # a slug named twice runs once
    sources = [docs_dir / f"{slug}.py" for slug in names]
    for source in sources:
        if not source.exists():
            raise FileNotFoundError(f"找不到章节 Notebook：{source}")
    return [
        executed_notebook(s, settings, cache_dir=cache_dir, force=force, timeout=timeout, log=log)
        for s in sources
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="chapters to execute (default: every chapter)")
    parser.add_argument("--profile", default=None, help="quick | full (default: LABCODE_PROFILE)")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--force", action="store_true", help="execute even on a cache hit")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        settings = resolve_settings(args.profile, args.device)
        unknown = [s for s in args.slugs if s not in chapters()]
        if unknown:
            raise ExecutorConfigError(
                f"没有这些章节：{', '.join(unknown)}。可选：{', '.join(chapters())}。"
            )
        results = execute_all(args.slugs, settings, force=args.force)
    except KeyboardInterrupt:
        _stderr("已中断（Ctrl-C）：没有执行完的章节不会写入缓存。")
        return 130
    except (NotebookExecutionError, ValueError, RuntimeError, FileNotFoundError) as exc:
        _stderr(f"错误：{exc}")
        return 1
    executed = sum(r.executed for r in results)
    print(
        f"{executed} executed, {len(results) - executed} from cache (profile={settings.profile}, "
        f"device={settings.device}, {time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
