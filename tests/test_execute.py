"""docs/_build/execute.py: cache key, settings, cache entries and the faults the executor survives.

The fault tests replace the kernel by a stand-in (:func:`fake_kernel`) and run in milliseconds;
the tests that start a real kernel on tiny fixture notebooks are ``slow``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from docs._build import execute

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "site"
DEMO = FIXTURES / "demo.py"

VERSIONS = {"torch": "2.14.1", "labcode": "0.1.0", "executor": "1", "python": "3.11"}
QUICK_CPU = execute.Settings(profile="quick", device="cpu")
SUBSET = {"dataset": "mnist", "source": "subset", "files": {"a": [1, 2]}, "offline": True}
NOTEBOOK = "# %% [markdown]\n# # 标题\n\n# %%\nprint(1)\n"


@pytest.fixture
def labcode_copy(tmp_path) -> Path:
    dest = tmp_path / "labcode"
    shutil.copytree(ROOT / "labcode", dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def key(labcode_dir, text=NOTEBOOK, settings=QUICK_CPU, versions=VERSIONS, data=SUBSET):
    return execute.cache_key(text, settings, labcode_dir=labcode_dir, versions=versions, data=data)


# --------------------------------------------------------------------------------------------------
# cache key
# --------------------------------------------------------------------------------------------------


def test_cache_key_is_stable(labcode_copy):
    assert key(labcode_copy) == key(labcode_copy)
    (labcode_copy / "__pycache__").mkdir(exist_ok=True)
    (labcode_copy / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")
    (labcode_copy / "notes.txt").write_text("not source")
    assert key(labcode_copy) == key(ROOT / "labcode")


def test_cache_key_covers_labcode_sources(labcode_copy):
    before = key(labcode_copy)
    source = sorted(labcode_copy.rglob("*.py"))[0]
    source.write_text(source.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    changed = key(labcode_copy)
    assert changed != before
    (labcode_copy / "extra_module.py").write_text("X = 1\n")
    assert key(labcode_copy) not in (before, changed)
    sub = labcode_copy / "subpkg"
    sub.mkdir()
    (sub / "deep.py").write_text("Y = 2\n")
    assert key(labcode_copy) not in (before, changed)


def test_cache_key_covers_code_profile_device_data_versions(labcode_copy):
    base = key(labcode_copy)
    assert key(labcode_copy, text=NOTEBOOK.replace("print(1)", "print(2)")) != base
    assert key(labcode_copy, settings=execute.Settings("full", "cpu")) != base
    cuda0 = key(labcode_copy, settings=execute.Settings("quick", "cuda:0"))
    cuda1 = key(labcode_copy, settings=execute.Settings("quick", "cuda:1"))
    assert len({base, cuda0, cuda1}) == 3, "the device index is part of the key"
    assert key(labcode_copy, versions={**VERSIONS, "torch": "2.15.0"}) != base
    assert key(labcode_copy, versions={**VERSIONS, "labcode": "0.2.0"}) != base
    full = {"dataset": "mnist", "source": "full", "files": {"x": [47040016, 1]}, "offline": False}
    assert key(labcode_copy, data=full) != base
    fashion = {**full, "dataset": "fashion-mnist"}
    assert key(labcode_copy, data=fashion) != key(labcode_copy, data=full)
    touched = {**full, "files": {"x": [47040016, 2]}}
    assert key(labcode_copy, data=touched) != key(labcode_copy, data=full)


def test_cache_key_ignores_markdown(labcode_copy):
    base = key(labcode_copy)
    edited = NOTEBOOK.replace("# # 标题", "# # 改过的标题\n#\n# 新增的一段文字。")
    assert key(labcode_copy, text=edited) == base
    added = NOTEBOOK + "\n# %% [markdown]\n# 新的 Markdown 单元格\n"
    assert key(labcode_copy, text=added) == base
    tagged = NOTEBOOK.replace("# %%\nprint(1)", '# %% tags=["remove-input"]\nprint(1)')
    assert key(labcode_copy, text=tagged) != base, "code cell tags can change the page"


# --------------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------------


def test_resolve_settings_uses_labcode_settings(monkeypatch):
    import torch

    monkeypatch.setenv("LABCODE_DEVICE", "cpu")
    monkeypatch.delenv("LABCODE_PROFILE", raising=False)
    assert execute.resolve_settings() == execute.Settings("quick", "cpu")
    monkeypatch.setenv("LABCODE_PROFILE", "full")
    assert execute.resolve_settings() == execute.Settings("full", "cpu")
    with pytest.raises(ValueError, match="quick"):
        execute.resolve_settings("huge")
    with pytest.raises(ValueError, match="cudaxyz"):
        execute.resolve_settings("quick", "cudaXYZ")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            execute.resolve_settings("quick", "cuda:7")
    assert execute.Settings("quick", "cuda:1").device_kind == "cuda"


def test_chapters_come_from_the_mkdocs_nav():
    slugs = execute.chapters()
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav_py = [
        line.split(":")[1].strip()
        for line in text.splitlines()
        if line.strip().startswith("- ") and ": " in line and line.endswith(".py")
    ]
    assert list(slugs) == [Path(p).stem for p in nav_py]
    assert slugs[0] == "activations" and "dropout" in slugs
    chapter_files = {p.stem for p in (ROOT / "docs").glob("*.py")}
    assert chapter_files == set(slugs), "a docs/*.py chapter missing from the nav (or vice versa)"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_bad_cell_timeout_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("LABCODE_CELL_TIMEOUT", value)
    with pytest.raises(execute.ExecutorConfigError, match="LABCODE_CELL_TIMEOUT"):
        execute.cell_timeout()


def test_cell_timeout_default_and_value(monkeypatch):
    monkeypatch.delenv("LABCODE_CELL_TIMEOUT", raising=False)
    assert execute.cell_timeout() == execute.DEFAULT_CELL_TIMEOUT_S
    monkeypatch.setenv("LABCODE_CELL_TIMEOUT", " 120 ")
    assert execute.cell_timeout() == 120


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "huge"], "quick"),
        (["--device", "cudaXYZ"], "cuda"),
        (["--device", "cpu", "no_such_chapter"], "no_such_chapter"),
    ],
)
def test_cli_bad_options_give_a_message_not_a_traceback(args, message, capsys):
    assert execute.main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("错误：") and message in err and "Traceback" not in err


def test_kernel_env(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = execute.kernel_env(execute.Settings("full", "cuda:1"))
    assert (env["LABCODE_PROFILE"], env["LABCODE_DEVICE"]) == ("full", "cuda:1")
    assert env["LABCODE_PROGRESS"] == "0" and env["LABCODE_LESSON_GATE"] == "1"
    # one kernel at a time: every usable core, never more (two builds at once must not oversubscribe)
    assert env["OMP_NUM_THREADS"] == str(execute.usable_cpus())
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's own setting wins
    assert execute.kernel_env(QUICK_CPU)["OMP_NUM_THREADS"] == "7"


# --------------------------------------------------------------------------------------------------
# cache entries, with a stand-in kernel
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_kernel(monkeypatch):
    """``execute_notebook`` without a kernel: every code cell gets a stream output. Returns the list
    of executed notebook names (one per execution). The data fingerprint is a constant."""
    import nbformat

    calls = []

    def run(source, settings, *, timeout=None):
        calls.append(Path(source).name)
        nb = execute.read_notebook(source)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
        return nb

    monkeypatch.setattr(execute, "execute_notebook", run)
    monkeypatch.setattr(execute, "data_fingerprint", lambda: SUBSET)
    return calls


def resolve(cache, log=None, source=DEMO):
    messages = []
    result = execute.executed_notebook(source, QUICK_CPU, cache_dir=cache, log=messages.append)
    if log is not None:
        log.extend(messages)
    return result


def test_entries_are_reused_and_evicted(tmp_path, fake_kernel):
    first = resolve(tmp_path)
    again = resolve(tmp_path)
    assert first.executed and not again.executed and again.path == first.path
    assert fake_kernel == ["demo.py"]
    build = again.notebook.metadata["labcode_build"]
    assert (build["profile"], build["device"], build["cache_key"]) == ("quick", "cpu", first.key)
    assert build["data"] == SUBSET


def test_cache_entries_are_written_atomically_and_concurrently(tmp_path, fake_kernel):
    import nbformat

    entry = resolve(tmp_path)
    nb, code = entry.notebook, execute.code_cells(entry.notebook)

    def write(_):
        for _ in range(20):
            execute._write_entry(nb, entry.path)
            assert execute._read_entry(entry.path, entry.key, code) is not None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    assert nbformat.read(entry.path, as_version=4).metadata["labcode_build"]["cache_key"]


def test_eviction_keeps_the_newest_entries(tmp_path):
    for i in range(6):
        entry = tmp_path / f"ch.quick-cpu.{i:020d}.ipynb"
        entry.write_text("{}")
        os.utime(entry, ns=(i * 10**9, i * 10**9))
    (tmp_path / "other.quick-cpu.00000000000000000000.ipynb").write_text("{}")
    execute._evict("ch", QUICK_CPU, tmp_path, keep=3)
    left = sorted(p.name for p in tmp_path.glob("ch.*"))
    assert left == [f"ch.quick-cpu.{i:020d}.ipynb" for i in (3, 4, 5)]
    assert (tmp_path / "other.quick-cpu.00000000000000000000.ipynb").exists()


def _other_chapter(path: Path, tmp_path: Path) -> None:
    """A valid executed notebook of another chapter, put under this chapter's key."""
    other = resolve(tmp_path / "other-cache", source=FIXTURES / "failing.py")
    shutil.copyfile(other.path, path)


def _right_key_other_code(path: Path, tmp_path: Path) -> None:
    """This chapter's key in the metadata, but the code cells of another version of it."""
    import nbformat

    good = resolve(tmp_path / "good-cache")
    nb = good.notebook
    next(c for c in nb.cells if c.cell_type == "code").source = "print('an older version')"
    nbformat.write(nb, path)


BROKEN = {
    "empty object": lambda path, tmp: path.write_text("{}"),
    "a list": lambda path, tmp: path.write_text("[]"),
    "cells is a number": lambda path, tmp: path.write_text('{"cells": 5}'),
    "not JSON": lambda path, tmp: path.write_text("{not json"),
    "not UTF-8": lambda path, tmp: path.write_bytes(b"\xff\xfe\x00garbage\x81"),
    "a directory": lambda path, tmp: (path / "inside").mkdir(parents=True),
    "another chapter": _other_chapter,
    "other code, same key": _right_key_other_code,
}


@pytest.mark.parametrize("fault", list(BROKEN))
def test_an_invalid_entry_is_discarded_said_so_and_re_executed(tmp_path, fake_kernel, fault):
    good = resolve(tmp_path / "probe")  # where this chapter's entry lives, and its key
    cache = tmp_path / "cache"
    cache.mkdir()
    path = cache / good.path.name
    BROKEN[fault](path, tmp_path)
    fake_kernel.clear()
    log = []
    result = resolve(cache, log)
    assert result.executed and fake_kernel == ["demo.py"]
    assert any("discarding the invalid cache entry" in m and path.name in m for m in log), log
    assert path.is_file() and not resolve(cache).executed, "the entry is valid again"


def test_the_cache_must_not_be_a_file(tmp_path, monkeypatch, fake_kernel):
    target = tmp_path / "cache.txt"
    target.write_text("not a folder")
    monkeypatch.setenv("LABCODE_NOTEBOOK_CACHE", str(target))
    with pytest.raises(execute.ExecutorConfigError, match="LABCODE_NOTEBOOK_CACHE") as info:
        execute.executed_notebook(DEMO, QUICK_CPU, log=None)
    assert "是一个文件" in str(info.value) and "Traceback" not in str(info.value)
    assert fake_kernel == []


def _read_only(monkeypatch, folder: Path) -> None:
    """Make ``folder`` unwritable: by permissions, or (as root, whom permissions don't stop) by
    failing every write into it the way a read-only mount does."""
    import errno

    import filelock

    if os.geteuid() != 0:
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        return

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    for name in ("utime", "replace", "unlink"):
        monkeypatch.setattr(os, name, refuse)
    monkeypatch.setattr(filelock.FileLock, "acquire", refuse)


def test_a_read_only_cache_with_the_right_entry_is_used(tmp_path, monkeypatch, fake_kernel):
    cache = tmp_path / "cache"
    resolve(cache)
    _read_only(monkeypatch, cache)
    result = resolve(cache)
    assert not result.executed and fake_kernel == ["demo.py"]


def test_a_read_only_cache_without_the_entry_says_what_to_do(tmp_path, monkeypatch, fake_kernel):
    cache = tmp_path / "cache"
    cache.mkdir()
    _read_only(monkeypatch, cache)
    monkeypatch.setenv("LABCODE_NOTEBOOK_CACHE", str(cache))
    with pytest.raises(execute.ExecutorConfigError, match="无法写入笔记本缓存") as info:
        execute.executed_notebook(DEMO, QUICK_CPU, log=None)
    assert "LABCODE_NOTEBOOK_CACHE" in str(info.value) and "可写" in str(info.value)


# --------------------------------------------------------------------------------------------------
# a real kernel on tiny fixture notebooks
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """A temporary directory of this test's own, where the kernel manager makes its folder."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.slow
def test_executor_caches_and_uses_current_interpreter(tmp_path, monkeypatch, scratch, labcode_copy):
    # a python3 kernelspec of another interpreter must not be picked up
    bogus = tmp_path / "jupyter" / "kernels" / "python3"
    bogus.mkdir(parents=True)
    argv = ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "other", "language": "python"}
    (bogus / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    cache = tmp_path / "cache"
    run = dict(cache_dir=cache, labcode_dir=labcode_copy, log=None)
    first = execute.executed_notebook(DEMO, QUICK_CPU, **run)
    assert first.executed and first.path.is_file()
    assert list(scratch.glob("labcode-kernel-*")) == [], (
        "the kernel's sockets and connection file were left behind"
    )
    again = execute.executed_notebook(DEMO, QUICK_CPU, **run)
    assert not again.executed and again.path == first.path
    outputs = [o for c in again.notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert any("0.000977" in o.get("text", "") for o in outputs)
    assert any("image/png" in o.get("data", {}) for o in outputs), "figure not captured (backend?)"
    build = again.notebook.metadata["labcode_build"]
    assert build["seconds"] > 0 and build["data"]["dataset"] == "mnist"
    module = labcode_copy / "settings.py"  # a labcode change re-executes
    module.write_text(module.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    changed = execute.executed_notebook(DEMO, QUICK_CPU, **run)
    assert changed.executed and changed.key != first.key


@pytest.mark.slow
def test_executor_reports_cell_errors(tmp_path):
    with pytest.raises(execute.NotebookExecutionError) as info:
        execute.executed_notebook(FIXTURES / "failing.py", QUICK_CPU, cache_dir=tmp_path, log=None)
    err = info.value
    assert err.notebook == "failing.py" and err.cell_index == 2 and err.ename == "ValueError"
    assert "fixture-cell-error" in str(err) and "broken()" in err.tail
    assert list(tmp_path.glob("*.ipynb")) == [], "a failed notebook must not be cached"


@pytest.mark.slow
def test_a_cell_timeout_names_the_variable(tmp_path):
    slow = tmp_path / "slow.py"
    slow.write_text("# %%\nx = 1\n\n# %%\nimport time\n\ntime.sleep(60)\n", encoding="utf-8")
    with pytest.raises(execute.NotebookExecutionError) as info:
        execute.executed_notebook(slow, QUICK_CPU, cache_dir=tmp_path / "c", timeout=2, log=None)
    err = info.value
    assert (err.notebook, err.cell_index, err.ename) == ("slow.py", 1, "CellTimeoutError")
    assert "LABCODE_CELL_TIMEOUT" in str(err) and "2 秒" in str(err)


@pytest.mark.slow
def test_a_killed_kernel_is_reported_and_leaves_no_files(tmp_path, scratch):
    killed = tmp_path / "killed.py"
    killed.write_text("# %%\nimport os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n")
    with pytest.raises(execute.NotebookExecutionError, match="内核意外退出"):
        execute.executed_notebook(killed, QUICK_CPU, cache_dir=tmp_path / "c", log=None)
    assert list(scratch.glob("labcode-kernel-*")) == [], (
        "a killed kernel's sockets and connection file stay behind"
    )


@pytest.mark.slow
def test_a_fresh_data_directory_executes_once(tmp_path, monkeypatch):
    """A fresh clone: the first execution writes the offline subset; the render step (a second
    resolution, as hooks.py does after ``nox -s docs``' execute step) must not execute again."""
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    monkeypatch.setenv("LABCODE_DATA_DIR", str(tmp_path / "data"))
    from labcode import data

    data.clear_cache()
    source = FIXTURES / "which_data.py"
    first = execute.executed_notebook(source, QUICK_CPU, cache_dir=tmp_path / "c", log=None)
    data.clear_cache()  # the render step is another process
    again = execute.executed_notebook(source, QUICK_CPU, cache_dir=tmp_path / "c", log=None)
    assert first.executed and not again.executed
    text = "".join(o.get("text", "") for c in first.notebook.cells for o in c.get("outputs", []))
    assert "离线子集" in text
