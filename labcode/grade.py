"""给一个班的练习版 Notebook 评分：``python -m labcode.grade 提交文件或文件夹... --out report.csv``。

对每个提交的 ``.ipynb``（文件夹中的全部 ``.ipynb``）：

1. 从 Notebook 的元数据 ``metadata.labcode.chapter``（网站构建练习版时写入）得知是哪一章；
2. 把它复制到一个临时文件夹，在那里启动一个全新的内核（当前的 Python 解释器），只运行各单元格中的
   ``import``、函数和类的定义以及不含调用的赋值——不运行本章的长实验，也不运行 Notebook 里的自检调用；
3. 对本章的每个练习，在内核中运行它的自检并记录自检对学生代码的每一次调用（见
   :mod:`labcode.selfcheck.replay`），在评分程序自己的进程里回放、判定：``pass``、``fail``、
   ``todo``（还是原来的 ``raise NotImplementedError``）或 ``error``（无法评分，附原因）；
4. 写出 CSV（每个提交一行：``file``，然后每个练习一列，如 ``4.1``）和一份 Markdown 摘要
   （默认与 CSV 同名、扩展名 ``.md``），其中写明每个未通过的练习的中文检查信息。

每个提交有总的时间限制（``--timeout``，秒），学生代码的每一次调用另有时间限制（``--call-timeout``）；
内核卡住、崩溃、输出大量文字、删除工作文件夹中的文件，都只影响这一个提交（内核崩溃后换一个新内核
继续评后面的练习）。它不是沙箱：提交的代码以评分者的身份运行，能读写评分者能读写的任何文件。
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CHAPTERS", "Grade", "grade_notebook", "grade_paths", "main", "program"]

CHAPTERS: dict[str, tuple[str, ...]] = {
    "activations": ("1.1", "1.2", "1.3", "1.4"),
    "gradient_vanishing": ("2.1", "2.2"),
    "dead_relu": ("3.1",),
    "l2": ("4.1", "4.2"),
    "dropout": ("5.1", "5.2", "5.3"),
}
ALL_EXERCISES = tuple(n for numbers in CHAPTERS.values() for n in numbers)
MAX_NOTEBOOK_BYTES = 50_000_000
MAX_RECORD_BYTES = 500_000_000
STATUSES = ("pass", "fail", "todo", "error")


@dataclass
class Grade:
    """一个提交的评分结果。"""

    file: str
    chapter: str | None = None
    results: dict[str, tuple[str, str]] = field(default_factory=dict)  # number -> (status, message)
    error: str | None = None  # the whole notebook could not be graded

    def status(self, number: str) -> str:
        if number in self.results:
            return self.results[number][0]
        if self.error is not None and (self.chapter is None or number in CHAPTERS[self.chapter]):
            return "error"
        return ""


# --------------------------------------------------------------------------------------------------
# which code runs: definitions only
# --------------------------------------------------------------------------------------------------

_MAGIC = re.compile(r"^\s*[%!]")
_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _definitions(source: str) -> str:
    """一个代码单元格中要运行的部分：import、def、class，以及右边不含调用的赋值。

    语法错误的单元格原样返回（在内核中报错，相应练习得到 error 和原因）。
    """
    lines = ["" if _MAGIC.match(line) else line for line in source.split("\n")]
    text = "\n".join(lines)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    kept = []
    for node in tree.body:
        simple_assign = isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(
            isinstance(sub, ast.Call) for sub in ast.walk(node)
        )
        if isinstance(node, _KEPT) or simple_assign:
            kept.append(ast.get_source_segment(text, node, padded=True) or "")
    return "\n".join(s for s in kept if s.strip())


def program(nb: dict) -> list[str]:
    """提交的 Notebook 中要在内核里依次运行的代码（每个代码单元格一段，空的略去）。"""
    out = []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(s) for s in source)
        code = _definitions(str(source))
        if code.strip():
            out.append(code)
    return out


def read_submission(path: Path) -> tuple[dict, str]:
    """读入并检查一个提交：返回 (notebook 的 JSON, 章节名)；不能评分时抛出 ValueError（中文原因）。"""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"无法读取文件：{exc.strerror or exc}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"文件太大（{size / 1e6:.0f} MB），不像是练习 Notebook。")
    try:
        raw = path.read_bytes()
    except OSError as exc:  # a folder named *.ipynb, no permission, ...
        raise ValueError(f"无法读取文件：{exc.strerror or exc}") from None
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("文件不是 UTF-8 文本，不是 Notebook（.ipynb）。") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"文件不是有效的 JSON（第 {exc.lineno} 行：{exc.msg}），不是 Notebook。"
        ) from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise ValueError("文件是 JSON，但不是 Notebook（没有 cells 列表）。")
    meta = nb.get("metadata")
    labcode_meta = meta.get("labcode") if isinstance(meta, dict) else None
    chapter = labcode_meta.get("chapter") if isinstance(labcode_meta, dict) else None
    if chapter not in CHAPTERS:
        raise ValueError(
            "Notebook 的元数据中没有本课程的章节（metadata.labcode.chapter）：请提交从网站下载的练习版 Notebook"
            f"（认得的章节：{'、'.join(CHAPTERS)}；这个文件的是 {chapter!r}）。"
        )
    return nb, chapter


# --------------------------------------------------------------------------------------------------
# the kernel
# --------------------------------------------------------------------------------------------------


class _KernelDied(Exception):
    pass


class _TimedOut(Exception):
    pass


def _kernel_manager(scratch: str):
    """当前解释器的内核（不依赖磁盘上名为 python3 的 kernelspec），ipc 文件放在 ``scratch``。"""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    class CurrentInterpreter(KernelManager):
        @property
        def kernel_spec(self):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (ipykernel)",
                language="python",
                metadata={},
            )

    if os.name == "posix":  # unix sockets in our temporary folder: no TCP ports
        km = CurrentInterpreter(transport="ipc")
        km.ip = os.path.join(scratch, "ipc")
    else:  # Windows has no ipc transport
        km = CurrentInterpreter()
    km.connection_file = os.path.join(scratch, "kernel.json")
    return km


class _Kernel:
    def __init__(self, cwd: Path, scratch: Path, deadline: float):
        self.deadline = deadline
        env = dict(os.environ)
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        self.km = _kernel_manager(str(scratch))
        # the kernel's own stdout/stderr (C-level prints, crash reports) do not reach the grader's terminal
        self.km.start_kernel(
            cwd=str(cwd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=max(1.0, min(120.0, deadline - time.monotonic())))
        except RuntimeError as exc:
            self.close()
            raise _KernelDied(f"内核没有启动：{exc}") from None

    def run(self, code: str, limit: float | None = None) -> str | None:
        """运行一段代码：返回其中的错误（"类型: 信息"），没有错误时为 None。"""
        deadline = self.deadline if limit is None else min(self.deadline, time.monotonic() + limit)
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        error = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.km.is_alive():
                    raise _KernelDied("内核崩溃了（进程退出）。") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error":
                error = f"{content.get('ename')}: {content.get('evalue')}"[:2000]
            elif kind == "status" and content.get("execution_state") == "idle":
                return error

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
            self.km.cleanup_resources()


# --------------------------------------------------------------------------------------------------
# grading one notebook
# --------------------------------------------------------------------------------------------------


def _probe(number: str, path: Path, call_timeout: float) -> str:
    return (
        "from labcode.selfcheck import replay as _labcode_grade_replay\n"
        f"_labcode_grade_replay.record({number!r}, globals(), {str(path)!r}, {call_timeout!r})\n"
    )


def grade_notebook(path: Path, *, timeout: float = 300.0, call_timeout: float = 30.0) -> Grade:
    """给一个提交评分（每个练习 pass/fail/todo/error）；学生的代码只在一个新内核里运行。"""
    from .selfcheck import replay

    grade = Grade(file=str(path))
    try:
        nb, chapter = read_submission(path)
    except ValueError as exc:
        grade.error = str(exc)
        return grade
    grade.chapter = chapter
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="labcode-grade-") as tmp:
        work, records, scratch = Path(tmp, "work"), Path(tmp, "records"), Path(tmp, "kernel")
        for folder in (work, records, scratch):
            folder.mkdir()
        shutil.copy2(path, work / "submission.ipynb")  # the kernel works in a copy
        setup = program(nb)
        pending = list(CHAPTERS[chapter])
        setup_errors: list[str] = []
        while pending:
            try:
                kernel = _Kernel(work, scratch, deadline)
            except (_KernelDied, _TimedOut, OSError) as exc:
                for number in pending:
                    grade.results[number] = ("error", f"无法启动内核：{exc}")
                break
            try:
                try:
                    setup_errors = _run_setup(kernel, setup)
                except _KernelDied as exc:
                    for number in pending:
                        grade.results[number] = ("error", f"运行提交中的定义时{exc}")
                    pending = []
                while pending:
                    number = pending[0]
                    target = records / f"{number}.pt"
                    kernel.run(_probe(number, target, call_timeout))
                    pending.pop(0)
                    grade.results[number] = _judge(replay, number, target, setup_errors)
            except _TimedOut:
                for number in pending:
                    grade.results[number] = (
                        "error",
                        f"超时：这个提交的评分超过了 {timeout:g} 秒（是不是有死循环？），没有评完。",
                    )
                pending = []
            except _KernelDied as exc:
                number = pending.pop(0)
                grade.results[number] = ("error", f"评分练习 {number} 时{exc}")
            finally:
                kernel.close()
    return grade


def _run_setup(kernel: _Kernel, setup: Sequence[str]) -> list[str]:
    errors = []
    for code in setup:
        error = kernel.run(code)
        if error:
            first = next((line for line in code.split("\n") if line.strip()), "")
            errors.append(f"{error}（单元格开头：{first[:80]}）")
    return errors


def _judge(replay, number: str, target: Path, setup_errors: list[str]) -> tuple[str, str]:
    import torch

    if not target.is_file():
        return (
            "error",
            "内核没有写出这个练习的记录（提交的代码是否删除了文件或替换了 torch.save？）。",
        )
    if target.stat().st_size > MAX_RECORD_BYTES:
        return "error", "这个练习的记录大得不正常，无法评分。"
    try:
        data = torch.load(target, weights_only=True)
    except Exception as exc:  # a record the submission overwrote
        return "error", f"这个练习的记录无法读取：{type(exc).__name__}: {exc}"
    try:
        status, message = replay.judge(number, data)
    except Exception as exc:  # an odd record must not stop the grading of the whole class
        return "error", f"无法复核这个练习的记录：{type(exc).__name__}: {exc}"[:2000]
    if status == "error" and setup_errors and isinstance(data, dict) and data.get("missing"):
        message += " 运行定义时的错误：" + "；".join(setup_errors[:3])
    return status, message


# --------------------------------------------------------------------------------------------------
# many notebooks, the CSV and the summary
# --------------------------------------------------------------------------------------------------


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """命令行给出的文件和文件夹 → 要评分的文件（文件夹中的全部 .ipynb，按路径排序）。"""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*.ipynb")
                if ".ipynb_checkpoints" not in p.parts and p.is_file()
            )
        else:
            found.append(path)  # missing or odd files are reported as errors
    return found


def grade_paths(
    paths: Iterable[str | Path], *, timeout: float = 300.0, call_timeout: float = 30.0, log=None
) -> list[Grade]:
    """给 ``paths``（Notebook 文件或文件夹）中的每份提交评分，返回每份的 :class:`Grade`。

    ``timeout``：每份 Notebook 最多运行的秒数；``call_timeout``：每次检查调用最多运行的秒数；
    ``log``：每评完一份调用一次的函数（如 ``print``），可省略。
    """
    grades = []
    for path in collect(paths):
        start = time.monotonic()
        grade = grade_notebook(path, timeout=timeout, call_timeout=call_timeout)
        grades.append(grade)
        if log:
            counts = {s: sum(1 for r in grade.results.values() if r[0] == s) for s in STATUSES}
            summary = grade.error or "，".join(f"{s} {n}" for s, n in counts.items() if n)
            log(f"{path}：{summary}（{time.monotonic() - start:.1f} 秒）")
    return grades


def write_csv(grades: Sequence[Grade], out: Path) -> None:
    columns = [n for n in ALL_EXERCISES if any(g.status(n) for g in grades)] or list(ALL_EXERCISES)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", *columns])
        for grade in grades:
            writer.writerow([grade.file, *(grade.status(n) for n in columns)])


def summary_markdown(grades: Sequence[Grade]) -> str:
    lines = ["# 评分摘要", ""]
    totals = {s: 0 for s in STATUSES}
    for grade in grades:
        for status, _ in grade.results.values():
            totals[status] += 1
    unreadable = sum(1 for g in grades if g.error)
    lines.append(
        f"共 {len(grades)} 个提交（无法评分的 {unreadable} 个）；练习结果："
        + "，".join(f"{s} {n}" for s, n in totals.items())
        + "。"
    )
    lines.append("")
    for grade in grades:
        lines.append(f"## {grade.file}")
        lines.append("")
        if grade.chapter:
            lines.append(f"章节：{grade.chapter}")
            lines.append("")
        if grade.error:
            lines += [f"无法评分：{grade.error}", ""]
            continue
        lines += ["| 练习 | 结果 |", "| --- | --- |"]
        lines += [f"| {n} | {status} |" for n, (status, _) in grade.results.items()]
        lines.append("")
        for number, (status, message) in grade.results.items():
            if status in ("fail", "error") and message:
                lines += [
                    f"### 练习 {number}：{status}",
                    "",
                    "```text",
                    message.replace("```", "'''"),
                    "```",
                    "",
                ]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """命令行入口 ``python -m labcode.grade``：评分并写出 CSV，返回退出码。"""
    parser = argparse.ArgumentParser(
        prog="python -m labcode.grade",
        description="给学生提交的练习版 Notebook 评分：每个练习 pass / fail / todo / error。",
    )
    parser.add_argument("submissions", nargs="+", help="提交的 .ipynb 文件或包含它们的文件夹")
    parser.add_argument("--out", required=True, type=Path, help="CSV 报告的路径，如 report.csv")
    parser.add_argument(
        "--summary", type=Path, help="Markdown 摘要的路径（默认：与 CSV 同名的 .md）"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="每个提交的时间限制（秒，默认 300）"
    )
    parser.add_argument(
        "--call-timeout", type=float, default=30.0, help="学生代码每次调用的时间限制（秒，默认 30）"
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.call_timeout <= 0:
        parser.error("--timeout 和 --call-timeout 必须是正数")
    grades = grade_paths(
        args.submissions,
        timeout=args.timeout,
        call_timeout=args.call_timeout,
        log=lambda line: print(line, file=sys.stderr),
    )
    if not grades:
        parser.error("没有找到要评分的 .ipynb 文件")
    write_csv(grades, args.out)
    summary = args.summary or args.out.with_suffix(".md")
    summary.write_text(summary_markdown(grades), encoding="utf-8")
    print(f"已写出 {args.out} 和 {summary}（{len(grades)} 个提交）", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
