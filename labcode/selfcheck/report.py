"""自检的公共部分：错误类型、通过报告，以及调用学生代码时的保护措施。

- :class:`SelfCheckError`：所有自检未通过时抛出的错误（``AssertionError`` 的子类）；
- :class:`CheckReport`：通过时返回的简短报告（Notebook 中直接显示为文字，不带引号）；
- :func:`call_student`：调用学生的函数；未完成的练习（``NotImplementedError``）原样提示，
  其他异常转换为 :class:`SelfCheckError`，写明是哪个函数出错；
- :class:`Unchanged`：记下输入张量，调用后确认学生代码没有原地修改它们；
- :func:`isolated_rng`：在检查内部固定随机种子，结束后恢复全局随机数状态；
- :func:`student_code`：学生代码运行时的保护：时间限制（:data:`TIME_LIMIT` 秒）、``sys.exit``；
- :func:`need_class` / :func:`need_function`：传错了东西（实例、函数、类）时给出清楚的提示；
- :func:`diagnose`：对照常见错误的列表，给出第一个吻合的说明。
"""

from __future__ import annotations

import math
import numbers
import re
import signal
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = [
    "CheckReport",
    "SelfCheckError",
    "Unchanged",
    "TIME_LIMIT",
    "as_number",
    "call_student",
    "describe",
    "diagnose",
    "wrong_device",
    "isolated_rng",
    "need_class",
    "need_function",
    "passed",
    "student_code",
]

_META_ERROR = re.compile(r"\bmeta\b", re.IGNORECASE)
TIME_LIMIT = 60.0  # seconds for one call of the student's code (only where SIGALRM exists)


class SelfCheckError(AssertionError):
    """自检未通过：信息中说明哪里不对、在什么输入下，以及可能的原因。"""


class CheckReport(str):
    """自检通过时返回的报告。它就是一个字符串，在 Notebook 中显示为纯文字（没有引号）。"""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython
        p.text(str(self))


def passed(check: str, what: str) -> CheckReport:
    """``"check_xxx 通过：……"`` 形式的报告。"""
    return CheckReport(f"{check} 通过：{what}")


def describe(fn) -> str:
    """学生的函数或类在错误信息中的名字（方法写成 类名.方法名，嵌套函数只写函数名）。"""
    name = getattr(fn, "__qualname__", None)
    if not isinstance(name, str) or "<locals>" in name:
        name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


class _TimeLimitExceeded(BaseException):
    """Raised by the alarm inside the student's code (a BaseException: ``except Exception`` in the
    student's code does not swallow it)."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    usable = (
        seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def ring(signum, frame):
        raise _TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, ring)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # an outer timer was running: give it back what is left of it (at least a tick)
            left = outer - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


@contextmanager
def student_code(call: str, error: type[SelfCheckError] | None = None) -> Iterator[None]:
    """运行一段学生代码：超过 :data:`TIME_LIMIT` 秒、调用 ``sys.exit``/``exit()`` 时给出中文的失败信息。

    其他异常原样抛出（由调用者解释）。``error`` 是抛出的错误类型（默认 :class:`SelfCheckError`）。
    """
    error = error or SelfCheckError
    try:
        with _alarm(TIME_LIMIT):
            yield
    except _TimeLimitExceeded:
        raise error(
            f"{call} 运行超过了 {TIME_LIMIT:g} 秒还没有结束，检查已停止。"
            "常见原因：死循环（while 的条件永远成立），或在很大的张量上逐个元素用 Python 循环计算。"
        ) from None
    except SystemExit as exc:
        raise error(
            f"{call} 调用了 sys.exit({'' if exc.code is None else repr(exc.code)})（或 exit()、quit()）："
            "这会结束整个程序或 Notebook 单元格，检查无法继续。请删掉它，出错时用 raise 抛出异常，或 return 返回结果。"
        ) from None


def call_student(
    fn: Callable,
    *args,
    call: str,
    hint: str | Callable[[Exception], str] = "",
    error: type[SelfCheckError] | None = None,
    **kwargs,
):
    """调用学生的代码 ``fn(*args, **kwargs)``。

    ``NotImplementedError``（练习还没做完）原样抛出，信息不变、不带检查函数内部的调用链；
    其他异常变成 :class:`SelfCheckError`，写明调用的是 ``call``（如 ``"dropout_layer(X, 0.3)"``）
    和原来的异常（保留为 ``__cause__``）。``hint``（文字，或由异常得到文字的函数）附在信息末尾。
    超时和 ``sys.exit`` 见 :func:`student_code`。
    """
    error = error or SelfCheckError
    try:
        with student_code(call, error):
            return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise unfinished(exc, call, error) from None
    except SelfCheckError:
        raise
    except Exception as exc:
        message = f"调用 {call} 时出错：{type(exc).__name__}: {exc}"
        extra = hint(exc) if callable(hint) else hint
        raise error(message + (f"\n{extra}" if extra else "")) from exc


def need_class(obj, check: str, example: str, why: str = "") -> None:
    """``obj`` 应是一个类（``check(Network)`` 这样传入类本身）：传入实例或函数时给出清楚的提示。"""
    if isinstance(obj, type):
        return
    if obj is None:
        got = "None"
    elif _is_plain_function(obj):
        got = f"一个函数（{describe(obj)}）"
    else:
        got = f"创建好的实例（{type(obj).__name__} 的对象）"
    raise SelfCheckError(
        f"请传入类本身，如 {check}({example})，而不是{got}：不要写括号，也不要传函数。"
        + (why or "检查要自己用不同的参数创建对象。")
    )


def need_function(obj, check: str, example: str) -> None:
    """``obj`` 应是一个函数：传入类（或不能调用的对象）时给出清楚的提示。"""
    if isinstance(obj, type):
        raise SelfCheckError(
            f"{check} 要检查的是函数，你传入的是类 {describe(obj)}：请传入你写的函数本身，如 {check}({example})。"
        )
    if not callable(obj):
        raise SelfCheckError(
            f"{check} 要检查的是函数，你传入的是 {type(obj).__name__}（不能调用）："
            f"请传入你写的函数本身，如 {check}({example})（不要写括号）。"
        )


def _is_plain_function(obj) -> bool:
    return isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType))


def diagnose(candidates: Iterable[tuple[Any, str]], matches: Callable[[Any], bool]) -> str | None:
    """常见错误的列表 ``[(这种错误会得到的结果, 说明), ...]`` 中第一个 ``matches`` 的说明；都不吻合时为 None。

    结果可以是值，也可以是不带参数、返回值的函数（只在需要时才计算）。
    """
    for candidate, message in candidates:
        value = candidate() if callable(candidate) else candidate
        if matches(value):
            return message
    return None


def wrong_device(out: torch.Tensor, like: torch.Tensor, call: str) -> str | None:
    """输出与输入不在同一设备上时的说明（``None`` 表示设备一致）。"""
    if out.device == like.device:
        return None
    return (
        f"{call} 的输出在设备 {out.device} 上，而输入在 {like.device} 上：新建的张量要放在输入所在的设备上，"
        "例如 torch.rand(X.shape, device=X.device)、torch.zeros_like(X)；不要用 .cpu()、.numpy() 或写死 device。"
    )


def unfinished(
    exc: NotImplementedError, call: str, error: type[SelfCheckError] = SelfCheckError
) -> Exception:
    """与 ``exc`` 信息相同的新 ``NotImplementedError``（没有信息时说明是哪个调用）。

    PyTorch 在 meta 设备上（只有形状、没有数值的张量）也抛出 ``NotImplementedError``；那不是
    "练习没做完"，而是张量到了不该去的设备上：这时返回一个说明原因的 :class:`SelfCheckError`。
    """
    text = str(exc)
    if _META_ERROR.search(text) and not text.startswith("练习"):
        return error(
            f"调用 {call} 时出错：NotImplementedError: {text[:300]}\n"
            "这个错误来自 PyTorch 的 meta 设备（只有形状、没有数值的张量）：你的代码得到了一个不在输入所在设备上的张量。"
            "新建的张量要放在输入所在的设备上（device=x.device、torch.zeros_like(x)），不要写死 device。"
        )
    if exc.args:
        return NotImplementedError(*exc.args)
    return NotImplementedError(
        f"{call} 还没有实现（抛出了 NotImplementedError）：请先完成这个练习。"
    )


class Unchanged:
    """记下若干输入张量的副本；:meth:`verify` 确认它们的形状和数值都没有被改动。

    用法::

        guard = Unchanged(X=X, y=y)
        out = student_fn(X, y)
        guard.verify("dropout_layer")
    """

    def __init__(self, **tensors: torch.Tensor):
        self._tensors = tensors
        self._copies = {name: t.detach().clone() for name, t in tensors.items()}

    def verify(self, who: str, hint: str = "") -> None:
        for name, tensor in self._tensors.items():
            copy = self._copies[name]
            if same_values(tensor.detach(), copy):
                continue
            raise SelfCheckError(
                f"{who} 原地修改了传入的 {name}：调用之后 {name} 的"
                f"{'形状' if tensor.shape != copy.shape else '数值'}变了。"
                f"请不要修改输入（不要用 {name}[...] = …、{name} *= …、{name}.zero_() 这类原地操作；"
                f"确实需要时先复制一份：{name} = {name}.clone()）。" + (f"\n{hint}" if hint else "")
            )


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """形状、数值完全相同（NaN 与 NaN 视为相同）。"""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if torch.equal(a, b):
        return True
    if not a.is_floating_point():
        return False
    return torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


@contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """在这段代码中把 torch 的全局随机数发生器设为 ``seed``，结束后恢复原来的状态。

    只重设 CPU 的发生器（``torch.manual_seed`` 还会排队设置 CUDA 的种子，这里不用它）；
    已经初始化的 CUDA 设备的随机数状态同样会被保存和恢复。
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        yield


def as_number(value, what: str) -> float:
    """把学生返回的一个数（Python/NumPy 数，或只有一个元素的张量）转成 float。"""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise SelfCheckError(
                f"{what} 应为一个数，你返回的是形状为 {tuple(value.shape)} 的张量"
                "（是不是忘了求平均或求和？）。"
            )
        if value.device.type == "meta":
            raise SelfCheckError(
                f"{what} 是 meta 设备上的张量（只有形状、没有数值），无法读出数值：请在输入所在的设备上计算。"
            )
        return float(value.detach().to("cpu", torch.float64).item())
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SelfCheckError(
            f"{what} 应为一个数（float），你返回的是 {type(value).__name__}：{value!r}。"
        )
    return float(value)


def fmt(value: float) -> str:
    """数值的简短写法（错误信息中用）。"""
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return f"{value:.6g}"
