"""整个实验课要花多少计算时间：按章节运行网站各章调用的全部实验，逐个计时。

网站构建时，每章 Notebook 调用 ``labcode.experiments`` 里的若干函数（见 :data:`CHAPTERS`，
测试保证它与 ``docs/*.py`` 中的调用一致）。这里在没有 Jupyter 的环境里（例如只装了 PyTorch 的 GPU
机器）按同样的顺序、同样的参数调用它们，得到“整个实验课”的计算时间，不含 Notebook 内核启动与画图。

运行::

    python -m benchmarks.lab_timing                                  # 本机，规模由 LABCODE_PROFILE 决定
    python -m benchmarks.lab_timing --profile full --device cuda --standin --jobs 4 --json lab.json

- ``--jobs N``：N 章同时运行（每章一个子进程）；
  总墙钟时间与各实验的秒数都会打印；
- ``--standin``：用 :mod:`benchmarks.standin` 写一份完整规模的计时替身（离线子集平铺到 60000/10000 张），
  适合下载不了 MNIST 的机器；结果只代表耗时。
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Arguments through which a chapter passes the student's own code (练习) to an experiment; for
#: timing, labcode's reference implementations (the defaults) are used instead.
STUDENT_ARGS = frozenset({"network_cls", "model_cls", "penalty", "dropout_fn"})


def chapter_calls(docs: Path = DOCS) -> dict[str, tuple[tuple[str, dict], ...]]:
    """每章按顺序调用的实验，直接从 ``docs/<章>.py`` 读出（章节顺序见 mkdocs.yml 的 nav）。

    ``var = run_xxx(k=v, ...)`` 形式的调用；字面量参数照抄，``reuse=var`` 记为 ``("reuse", var)``
    （运行时换成同一章中先前赋给 var 的结果），传入学生代码的参数（:data:`STUDENT_ARGS`）略去。
    """
    import ast

    from docs._build import execute

    calls: dict[str, tuple[tuple[str, dict], ...]] = {}
    for chapter in execute.chapters(docs.parent / "mkdocs.yml"):
        steps = []
        tree = ast.parse((docs / f"{chapter}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.value.func.id.startswith("run_")
            ):
                continue
            kwargs: dict = {"_assign": node.targets[0].id}
            for kw in node.value.keywords:
                if kw.arg in STUDENT_ARGS:
                    continue
                if kw.arg == "reuse" and isinstance(kw.value, ast.Name):
                    kwargs["reuse"] = ("reuse", kw.value.id)
                else:
                    kwargs[kw.arg] = ast.literal_eval(kw.value)
            steps.append((node.lineno, node.value.func.id, kwargs))
        if steps:
            calls[chapter] = tuple((f, k) for _, f, k in sorted(steps, key=lambda t: t[0]))
    return calls


#: 每章按顺序调用的实验（由 :func:`chapter_calls` 从 docs/<章>.py 读出，不手抄）。
CHAPTERS: dict[str, tuple[tuple[str, dict], ...]] = chapter_calls()


STANDIN_NOTE = "计时替身（离线子集平铺到 60000 / 10000 张，只代表耗时，不代表准确率）"


def _label(func: str, kwargs: dict) -> str:
    shown = {k: v for k, v in kwargs.items() if k not in ("reuse", "_assign")}
    return func + ("(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")" if shown else "()")


def run_chapter(
    chapter: str, profile: str, device: str, data_dir: str | None, threads: int | None = None
) -> dict:
    """在本进程中按顺序运行一章的实验，返回每个实验的秒数（GPU 上计时前同步）。

    ``threads``：torch 的 CPU 线程数（几章同时运行时平分 CPU 核）。"""
    if chapter not in CHAPTERS:
        raise ValueError(f"未知的章节 {chapter!r}，可选：{', '.join(CHAPTERS)}。")
    os.environ["LABCODE_PROFILE"] = profile
    os.environ["LABCODE_DEVICE"] = device
    os.environ.setdefault("LABCODE_PROGRESS", "0")
    if data_dir:
        os.environ["LABCODE_DATA_DIR"] = data_dir
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    from labcode import experiments
    from labcode.data import load_mnist
    from labcode.settings import get_device

    dev = get_device(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        if chapter != "l2":  # 与 Notebook 一样，数据读入算在本章的时间里（每个进程读一次）
            load_mnist(device=dev)
        load_s = time.perf_counter() - started
        steps, previous, results = [], None, {}
        for func, kwargs in CHAPTERS[chapter]:
            call = {
                k: (results[v[1]] if k == "reuse" else v)
                for k, v in kwargs.items()
                if k != "_assign"
            }
            t0 = time.perf_counter()
            previous = results[kwargs["_assign"]] = getattr(experiments, func)(**call)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            steps.append({"call": _label(func, kwargs), "seconds": time.perf_counter() - t0})
    return {
        "chapter": chapter,
        "load_s": load_s,
        "steps": steps,
        "seconds": time.perf_counter() - started,
        "data": getattr(previous, "data", None) and previous.data.description,
    }


def run_lab(
    chapters,
    profile: str,
    device: str,
    data_dir: str | None = None,
    jobs: int = 1,
    on_done=None,
) -> tuple[list[dict], float]:
    """运行各章（每章一个新的子进程，最多 ``jobs`` 个同时），返回 (各章结果, 总墙钟秒数)。

    ``on_done(result, elapsed_s)``：每章一结束就调用（例如立即打印），这样整体被 timeout 中断时，
    已经完成的章节的数字仍然留在输出里。结果按 ``chapters`` 的顺序返回。
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs 应为正整数，实际得到 {jobs!r}。")
    threads = max(1, _usable_cpus() // jobs) if jobs > 1 else None
    started = time.perf_counter()
    # 每章一个新的 spawn 进程（像每章一个 Notebook 内核；CUDA 不能在 fork 出来的子进程里使用）
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("spawn"), max_tasks_per_child=1
    )
    with pool:
        futures = {
            pool.submit(run_chapter, c, profile, device, data_dir, threads): c for c in chapters
        }
        by_chapter = {}
        for future in as_completed(futures):
            by_chapter[futures[future]] = future.result()
            if on_done is not None:
                on_done(by_chapter[futures[future]], time.perf_counter() - started)
    return [by_chapter[c] for c in chapters], time.perf_counter() - started


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def format_report(results: list[dict], wall_s: float, jobs: int) -> str:
    lines = [f"{'chapter / call':<52} {'seconds':>9}"]
    lines.append("-" * 62)
    for r in results:
        lines.append(f"{r['chapter']:<52} {r['seconds']:>9.2f}")
        lines.append(f"  {'(load MNIST)':<50} {r['load_s']:>9.2f}")
        for step in r["steps"]:
            lines.append(f"  {step['call']:<50} {step['seconds']:>9.2f}")
    lines.append("-" * 62)
    total = sum(r["seconds"] for r in results)
    lines.append(f"{'sum of chapters':<52} {total:>9.2f}")
    lines.append(f"{f'wall clock ({jobs} chapter(s) at once)':<52} {wall_s:>9.2f}")
    return "\n".join(lines)


def parse_args(argv=None):
    from benchmarks.run import split_choices

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lab_timing", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--profile",
        choices=("quick", "full"),
        default=None,
        help="默认 LABCODE_PROFILE，再默认按设备",
    )
    parser.add_argument(
        "--device", default=None, help="cpu / cuda（默认 LABCODE_DEVICE，再默认 auto）"
    )
    parser.add_argument(
        "--chapters", default=",".join(CHAPTERS), help=f"逗号分隔，可选 {','.join(CHAPTERS)}"
    )
    parser.add_argument("--jobs", type=int, default=1, help="同时运行的章节数（默认 1）")
    parser.add_argument(
        "--standin", action="store_true", help="用完整规模的计时替身数据（只代表耗时）"
    )
    parser.add_argument("--data-dir", default=None, help="MNIST 数据目录（默认 LABCODE_DATA_DIR）")
    parser.add_argument("--json", default=None, help="把结果写入这个 JSON 文件")
    args = parser.parse_args(argv)
    args.chapters = split_choices(parser, args.chapters, tuple(CHAPTERS), "章节")
    if args.jobs < 1:
        parser.error("--jobs 应为正整数")
    if args.standin and args.data_dir:
        parser.error("--standin 与 --data-dir 只能选一个")
    from labcode.settings import get_device, get_profile

    try:
        args.device = str(get_device(args.device))
        args.profile = get_profile(args.profile, args.device)
    except (RuntimeError, ValueError) as error:
        parser.error(str(error))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    card = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor()
    print(
        f"整个实验课的计算时间：profile={args.profile}，device={args.device}（{card or '?'}），"
        f"章节={','.join(args.chapters)}，同时 {args.jobs} 章，CPU 核数={os.cpu_count()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="labcode-standin-") as tmp:
        data_dir = args.data_dir
        if args.standin:
            from benchmarks.standin import write_standin

            data_dir = str(write_standin(tmp))
            print(f"数据：{STANDIN_NOTE}", flush=True)
        results, wall = run_lab(
            args.chapters,
            args.profile,
            args.device,
            data_dir,
            args.jobs,
            on_done=lambda r, t: print(
                f"  {r['chapter']} 完成：{r['seconds']:.1f} s（开始后 {t:.1f} s）", flush=True
            ),
        )
    if args.standin:
        for r in results:  # labcode 把平铺的文件当作“完整 MNIST”，这里改成实话
            r["data"] = STANDIN_NOTE
    else:
        described = next((r["data"] for r in results if r["data"]), None)
        if described:
            print(f"数据：{described}")
    print()
    print(format_report(results, wall, args.jobs))
    print(
        "chapter / call：章节及其中每个实验调用的秒数（GPU 上每个调用结束时同步）；(load MNIST)：读入数据；"
        "sum of chapters：各章之和；wall clock：总墙钟时间（几章同时运行时小于各章之和）。"
    )
    if args.json:
        payload = {
            "profile": args.profile,
            "device": args.device,
            "card": card,
            "jobs": args.jobs,
            "standin": args.standin,
            "wall_s": wall,
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "chapters": results,
        }
        Path(args.json).write_text(
            json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        print(f"结果已写入 {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
