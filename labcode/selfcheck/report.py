"""自检的公共部分：错误类型、通过报告，以及调用学生代码时的保护措施。

- :class:`SelfCheckError`：所有自检未通过时抛出的错误（``AssertionError`` 的子类）；
- :class:`CheckReport`：通过时返回的简短报告（Notebook 中直接显示为文字，不带引号）；
- :func:`call_student`：调用学生的函数；未完成的练习（``NotImplementedError``）原样提示，
  其他异常转换为 :class:`SelfCheckError`，写明是哪个函数出错；
- :class:`Unchanged`：记下输入张量，调用后确认学生代码没有原地修改它们；
- :func:`isolated_rng`：在检查内部固定随机种子，结束后恢复全局随机数状态。
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

__all__ = [
    "CheckReport",
    "SelfCheckError",
    "Unchanged",
    "as_number",
    "call_student",
    "describe",
    "isolated_rng",
    "passed",
]


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


def call_student(
    fn: Callable,
    *args,
    call: str,
    hint: str | Callable[[Exception], str] = "",
    **kwargs,
):
    """调用学生的代码 ``fn(*args, **kwargs)``。

    ``NotImplementedError``（练习还没做完）原样抛出，信息不变、不带检查函数内部的调用链；
    其他异常变成 :class:`SelfCheckError`，写明调用的是 ``call``（如 ``"dropout_layer(X, 0.3)"``）
    和原来的异常（保留为 ``__cause__``）。``hint``（文字，或由异常得到文字的函数）附在信息末尾。
    """
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise unfinished(exc, call) from None
    except Exception as exc:
        message = f"调用 {call} 时出错：{type(exc).__name__}: {exc}"
        extra = hint(exc) if callable(hint) else hint
        raise SelfCheckError(message + (f"\n{extra}" if extra else "")) from exc


def unfinished(exc: NotImplementedError, call: str) -> NotImplementedError:
    """与 ``exc`` 信息相同的新 ``NotImplementedError``（没有信息时说明是哪个调用）。"""
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
