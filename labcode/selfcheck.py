"""学生自检：把你自己写的 ReLU、Sigmoid、Tanh 与 PyTorch 对照。

``check_activation_function(MyReLU, MySigmoid, MyTanh)`` 在很宽的输入范围上
（-10 到 10，外加 ±100、±1e30、±3e38 等极端值；float32 和 float64 各一遍）比较：

- 函数值 与 ``torch.relu`` / ``torch.sigmoid`` / ``torch.tanh``；
- ``derivative(x)`` 与 PyTorch 自动求导的结果。

不通过时抛出 ``ActivationCheckError``，说明是哪个函数（函数值还是导数）、在哪些 x 处、
期望值与实际值各是多少，以及是否出现了 NaN/inf。
"""

from __future__ import annotations

import torch

__all__ = ["ActivationCheckError", "check_activation_function"]

RTOL = 1e-4
ATOL = 1e-4
_MAX_SHOWN = 5


class ActivationCheckError(AssertionError):
    """激活函数自检未通过（信息中说明哪个函数、哪些输入出错）。"""


# (label, PyTorch reference, points where the derivative is not defined: not compared there)
_SLOTS = (
    ("ReLU", torch.relu, (0.0,)),
    ("Sigmoid", torch.sigmoid, ()),
    ("Tanh", torch.tanh, ()),
)

_OVERFLOW_HINT = {
    "Sigmoid": "可以只对非正数求指数：z = e^{-|x|}，x ≥ 0 时 1/(1+z)，x < 0 时 z/(1+z)（用 torch.where 分段）。",
    "Tanh": "可以改写为 tanh(x) = sign(x)·(1 - e^{-2|x|}) / (1 + e^{-2|x|})，指数部分永远不会溢出。",
    "ReLU": "ReLU 不需要指数运算，torch.clamp(x, min=0) 或 torch.maximum(x, torch.zeros_like(x)) 即可。",
}


def _test_inputs(dtype: torch.dtype) -> torch.Tensor:
    core = torch.linspace(-10, 10, 1000, dtype=dtype)
    extremes = [0.0, 1e-30, 1e-7, 0.5, 20.0, 50.0, 88.0, 89.5, 100.0, 710.0, 1e4, 1e30, 3e38]
    if dtype == torch.float64:
        extremes += [1e300, 1.7e308]
    pos = torch.tensor(extremes, dtype=dtype)
    return torch.cat([core, -pos, pos])


def _reference(fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch 的函数值和自动求导得到的导数。"""
    xr = x.clone().requires_grad_(True)
    y = fn(xr)
    (grad,) = torch.autograd.grad(y.sum(), xr)
    return y.detach(), grad


def _instantiate(cls, label: str):
    if cls is None:
        raise ActivationCheckError(
            f"没有传入 {label} 的类：请把你写的类（不是 None）传给自检函数。"
        )
    if isinstance(cls, type):
        try:
            obj = cls()
        except Exception as exc:
            raise ActivationCheckError(
                f"无法创建 {label}：调用 {cls.__name__}() 时出错（{type(exc).__name__}: {exc}）。"
                "请确认构造函数不需要参数。"
            ) from exc
    else:
        obj = cls  # an instance also works
    if not callable(obj):
        raise ActivationCheckError(
            f"{label} 的实例不能像函数一样调用：请在类中实现 __call__(self, x)"
            "（或继承 torch.nn.Module 并实现 forward(self, x)）。"
        )
    if not callable(getattr(obj, "derivative", None)):
        raise ActivationCheckError(
            f"{label} 缺少导数方法：请在类中实现 def derivative(self, x)，返回 f'(x)。"
        )
    return obj


def _evaluate(fn, x: torch.Tensor, label: str, what: str) -> torch.Tensor:
    try:
        with torch.no_grad():
            out = fn(x.clone())
    except Exception as exc:
        raise ActivationCheckError(
            f"计算 {label} 的{what}时出错（{_dtype_name(x.dtype)} 输入）：{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor):
        raise ActivationCheckError(
            f"{label} 的{what}应返回 torch.Tensor，实际返回 {type(out).__name__}"
            "（是不是忘了 return？）。"
        )
    if out.shape != x.shape:
        raise ActivationCheckError(
            f"{label} 的{what}形状应与输入相同 {tuple(x.shape)}，实际为 {tuple(out.shape)}。"
        )
    return out.detach().to("cpu", torch.float64)


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _compare(label, what, x, expected, got, skip=()):
    expected = expected.to(torch.float64)
    xs = x.to(torch.float64)
    considered = torch.ones_like(xs, dtype=torch.bool)
    for point in skip:
        considered &= xs != point
    nonfinite = considered & ~torch.isfinite(got) & torch.isfinite(expected)
    wrong = considered & ~torch.isclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True)
    bad = nonfinite if nonfinite.any() else wrong
    if not bad.any():
        return
    idx = bad.nonzero().flatten().tolist()
    lines = [
        f"{label} 的{what}有误（{_dtype_name(x.dtype)} 输入，{xs.numel()} 个测试点中 {len(idx)} 个不对）：",
        *(
            f"  x = {_fmt(xs[i].item()):>12}   期望 {_fmt(expected[i].item()):>12}"
            f"   实际 {_fmt(got[i].item())}"
            for i in idx[:_MAX_SHOWN]
        ),
    ]
    if len(idx) > _MAX_SHOWN:
        lines.append(f"  ……还有 {len(idx) - _MAX_SHOWN} 个")
    if nonfinite.any():
        lines.append(
            "出现了 NaN/inf：通常是 torch.exp 溢出（float32 中 x > 88.7 时 e^x = inf，"
            "inf/inf 或 inf-inf 得到 NaN）。"
        )
        lines.append("提示：" + _OVERFLOW_HINT[label])
    else:
        lines.append(f"（比较容差：rtol={RTOL}, atol={ATOL}。）")
    raise ActivationCheckError("\n".join(lines))


def check_activation_function(MyReLU, MySigmoid, MyTanh, *, show_plot: bool = True):  # noqa: N803
    """检查你实现的 ReLU、Sigmoid、Tanh：函数值对照 PyTorch，导数对照自动求导。

    参数是三个**类**（不是实例），例如 ``check_activation_function(MyReLU, MySigmoid, MyTanh)``；
    每个类的实例要能调用（``f(x)``），并有 ``derivative(x)`` 方法。

    通过时打印确认信息；``show_plot=True`` 时画出函数与导数两幅图并返回 matplotlib Figure
    （``show_plot=False`` 时返回 None）。不通过时抛出 ``ActivationCheckError``。
    ReLU 的导数在 x = 0 处没有定义，那一点不比较。
    """
    objects = []
    for (label, reference, kinks), cls in zip(_SLOTS, (MyReLU, MySigmoid, MyTanh), strict=True):
        obj = _instantiate(cls, label)
        for dtype in (torch.float32, torch.float64):
            x = _test_inputs(dtype)
            want_y, want_dy = _reference(reference, x)
            _compare(label, "函数值", x, want_y, _evaluate(obj, x, label, "函数值"))
            got_dy = _evaluate(obj.derivative, x, label, "导数")
            _compare(label, "导数", x, want_dy, got_dy, skip=kinks)
        objects.append((label, obj))

    print(
        "自检通过：ReLU、Sigmoid、Tanh 的函数值和导数都与 PyTorch 一致"
        "（float32 与 float64，-10 到 10 以及 ±1e30、±3e38 等极端输入）。"
    )
    if not show_plot:
        return None
    return _plot(objects)


def _plot(objects):
    import matplotlib.pyplot as plt

    x = torch.linspace(-10, 10, 1000)
    fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(15, 6))
    for label, obj in objects:
        with torch.no_grad():
            ax_f.plot(x.numpy(), _as_numpy(obj(x)), label=label)
            ax_d.plot(x.numpy(), _as_numpy(obj.derivative(x)), label=f"{label}'")
    for ax, title, ylabel in (
        (ax_f, "Activation Functions", "y"),
        (ax_d, "Derivatives of Activation Functions", "y'"),
    ):
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(True)
    fig.tight_layout()
    _show_or_release(fig)
    return fig


def _as_numpy(t):
    return t.detach().to("cpu", torch.float64).numpy()


def _show_or_release(fig) -> None:
    """GUI 后端：plt.show()；Agg / Jupyter inline 等：不调用 show，把 Figure 交给调用者。

    Jupyter 中返回的 Figure 作为单元格的值显示一次；先关闭 pyplot 对它的管理，
    以免 inline 后端在单元格结束时再画一遍。
    """
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend().lower()
    try:
        from matplotlib.backends import BackendFilter, backend_registry

        gui = backend in backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # older matplotlib
        gui = backend in [b.lower() for b in matplotlib.rcsetup.interactive_bk]
    if gui:
        plt.show()
    else:
        plt.close(fig)
