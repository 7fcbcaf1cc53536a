"""激活函数的自检：把你自己写的激活函数与 PyTorch 对照。

- ``check_activation_function(MyReLU, MySigmoid, MyTanh)``：三个基本激活函数；
- ``check_modern_activation(MyModernActivation)``：从 LeakyReLU、ELU、GELU、SiLU 中任选一个，
  自检先认出你实现的是哪一个，再与 PyTorch 对照。

两者都在很宽的输入范围上（-10 到 10，外加 ±100、±1e30、±3e38 等极端值；float32 和 float64 各一遍）
比较函数值与 PyTorch 的实现、``derivative(x)`` 与 PyTorch 自动求导的结果。

不通过时抛出 ``ActivationCheckError``，说明是哪个函数（函数值还是导数）、在哪些 x 处
（差得最多的点在前）、期望值与实际值各是多少、是否出现了 NaN/inf，以及认得出的常见错误。
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .report import (
    CheckReport,
    SelfCheckError,
    _is_plain_function,
    describe,
    passed,
    same_values,
    student_code,
    unfinished,
    wrong_device,
)

__all__ = ["ActivationCheckError", "check_activation_function", "check_modern_activation"]

RTOL = 1e-4
ATOL = 1e-4
_MAX_SHOWN = 5


class ActivationCheckError(SelfCheckError):
    """激活函数自检未通过（信息中说明哪个函数、哪些输入出错）。"""


# (label, PyTorch reference, points where the derivative is not compared). ReLU'(0) is compared:
# the course takes PyTorch's value 0 there.
_SLOTS = (
    ("ReLU", torch.relu, ()),
    ("Sigmoid", torch.sigmoid, ()),
    ("Tanh", torch.tanh, ()),
)

_OVERFLOW_HINT = {
    "Sigmoid": "可以只对非正数求指数：z = e^{-|x|}，x ≥ 0 时 1/(1+z)，x < 0 时 z/(1+z)（用 torch.where 分段）。",
    "Tanh": "可以改写为 tanh(x) = sign(x)·(1 - e^{-2|x|}) / (1 + e^{-2|x|})，指数部分永远不会溢出。",
    "ReLU": "ReLU 不需要指数运算，torch.clamp(x, min=0) 或 torch.maximum(x, torch.zeros_like(x)) 即可。",
    "LeakyReLU": "LeakyReLU 不需要指数运算：torch.where(x > 0, x, 0.01 * x)。",
    "ELU": "只对非正数求指数：torch.where(x > 0, x, torch.expm1(x.clamp(max=0)))。"
    "注意 torch.where 的两个分支都会计算，所以要先 clamp 再求指数。",
    "GELU": "用 Φ(x) = ½·erfc(-x/√2)（torch.special.erfc）计算 x·Φ(x)；导数中的 x·φ(x) 可写成 "
    "x·exp(-x²/2)/√(2π)，x² 溢出为 inf 时 exp(-inf) = 0，结果仍然有限。",
    "SiLU": "σ(x) 只对 -|x| 求指数：z = e^{-|x|}，x ≥ 0 时 1/(1+z)，x < 0 时 z/(1+z)；"
    "再算 x·σ(x)。不要写成 e^x/(1+e^x)（x 大时 inf/inf = NaN）。",
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
    if _is_plain_function(cls):
        raise ActivationCheckError(
            f"{label}：请传入你写的类本身（如 MyReLU），不是函数 {describe(cls)}：检查要创建它的实例，"
            "调用 f(x) 和 derivative(x)（函数缺少导数方法 derivative）。"
        )
    if isinstance(cls, type):
        try:
            with student_code(f"{cls.__name__}()", ActivationCheckError):
                obj = cls()
        except NotImplementedError as exc:
            raise unfinished(exc, f"{cls.__name__}()", ActivationCheckError) from None
        except ActivationCheckError:
            raise
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
    given = x.clone()
    try:
        with torch.no_grad(), student_code(f"{label} 的{what}", ActivationCheckError):
            out = fn(given)
    except NotImplementedError as exc:
        raise unfinished(exc, f"{label} 的{what}", ActivationCheckError) from None
    except ActivationCheckError:
        raise
    except Exception as exc:
        raise ActivationCheckError(
            f"计算 {label} 的{what}时出错（{_dtype_name(x.dtype)} 输入）：{type(exc).__name__}: {exc}"
        ) from exc
    if not same_values(given, x):
        raise ActivationCheckError(
            f"{label} 的{what}原地修改了输入 x（例如 x[x < 0] *= 0.01 或 x.clamp_(...)）："
            "网络中同一个张量还要用于反向传播，激活函数不能改动它。"
            "请用 torch.where(...)、x.clamp(...) 等返回新张量的写法，或先 x = x.clone()。"
        )
    if not isinstance(out, torch.Tensor):
        raise ActivationCheckError(
            f"{label} 的{what}应返回 torch.Tensor，实际返回 {type(out).__name__}"
            "（是不是忘了 return？）。"
        )
    if (moved := wrong_device(out, x, f"{label} 的{what}")) is not None:
        raise ActivationCheckError(moved)
    if out.shape != x.shape:
        raise ActivationCheckError(
            f"{label} 的{what}形状应与输入相同 {tuple(x.shape)}，实际为 {tuple(out.shape)}。"
        )
    if out.is_floating_point() and out.dtype.itemsize > x.dtype.itemsize:  # float64 for float32
        raise ActivationCheckError(
            f"{label} 的{what}类型应与输入相同（{_dtype_name(x.dtype)}），实际为 {_dtype_name(out.dtype)}："
            "网络里的张量都是 float32，混入 float64 会出错或变慢。不要用 torch.tensor(...)、.double() 或"
            " Python/NumPy 的 float64 常数数组重新包装结果；新建张量时用 torch.ones_like(x)、x.new_tensor(...)。"
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
    error = (got - expected).abs().nan_to_num(nan=torch.inf)
    idx = sorted(bad.nonzero().flatten().tolist(), key=lambda i: -float(error[i]))  # worst first
    lines = [
        f"{label} 的{what}有误（{_dtype_name(x.dtype)} 输入，{xs.numel()} 个测试点中 {len(idx)} 个不对，"
        "差得最多的在前）：",
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


def _derivative_mistakes(label: str, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:
    """常见的错误导数在 x（float64）上的值与说明。"""
    s, t = torch.sigmoid(x), torch.tanh(x)
    own = {"ReLU": torch.relu(x), "Sigmoid": s, "Tanh": t}[label]
    right = {"ReLU": (x > 0).double(), "Sigmoid": s * (1 - s), "Tanh": 1 - t * t}[label]
    common = [
        (-right, "符号反了：你的导数是正确导数的相反数，检查公式中的减号。"),
        (own, f"你返回的是函数值 f(x) 本身，不是导数 f'(x)（{label} 的导数公式见上文）。"),
    ]
    specific = {
        "ReLU": [
            (
                x,
                "ReLU 的导数返回了 x 本身：导数应为 1（x > 0）或 0（x ≤ 0），例如 (x > 0).to(x.dtype)。",
            ),
            (
                (x >= 0).double(),
                "x = 0 处的导数取了 1：ReLU 在 0 处不可导，本课程与 PyTorch 一致取 0"
                "（torch.relu 的自动求导在 0 处给出 0），请用 (x > 0) 而不是 (x >= 0)。",
            ),
        ],
        "Sigmoid": [
            (s * (1 + s), "导数写成了 σ(x)(1 + σ(x))：应为 σ(x)(1 - σ(x))，是减号。"),
            (1 - s, "导数写成了 1 - σ(x)：应为 σ(x)(1 - σ(x))，还要乘以 σ(x)。"),
        ],
        "Tanh": [
            (1 + t * t, "导数写成了 1 + tanh²(x)：应为 1 - tanh²(x)，是减号。"),
            (1 - t, "导数写成了 1 - tanh(x)：应为 1 - tanh²(x)，tanh 要平方。"),
            (
                t * (1 - t),
                "导数写成了 tanh(x)(1 - tanh(x))（Sigmoid 导数的形式）：Tanh 的导数是 1 - tanh²(x)。",
            ),
        ],
    }[label]
    return specific + common


def _derivative_hint(label: str, x: torch.Tensor, got: torch.Tensor) -> str:
    """认出常见的错误导数（只比较 [-10, 10] 内的点）；认不出时为空字符串。"""
    xs = x.to(torch.float64)
    core = xs.abs() <= 10
    for value, message in _derivative_mistakes(label, xs[core]):
        if bool(torch.isclose(got[core], value, rtol=RTOL, atol=ATOL).all()):
            return "可能的原因：" + message
    return ""


def check_activation_function(MyReLU, MySigmoid, MyTanh, *, show_plot: bool = True):
    """检查你实现的 ReLU、Sigmoid、Tanh：函数值对照 PyTorch，导数对照自动求导。

    参数是三个**类**（也可以传实例），例如 ``check_activation_function(MyReLU, MySigmoid, MyTanh)``；
    每个类的实例要能调用（``f(x)``），并有 ``derivative(x)`` 方法。输出的形状、类型（float32/float64）
    和设备都要与输入相同。

    通过时打印确认信息；``show_plot=True`` 时画出函数与导数两幅图并返回 matplotlib Figure
    （``show_plot=False`` 时返回 None）。不通过时抛出 ``ActivationCheckError``。
    ReLU 在 x = 0 处不可导；本课程与 PyTorch 一致取 0，检查在这一点同样逐点比较。
    导数不对时，能认出：ReLU 的导数返回了 x、x = 0 处取了 1、σ' 写成 σ(1+σ) 或 1-σ、tanh' 写成 1+tanh²
    或 1-tanh、符号反了、返回了函数值本身。
    """
    objects = []
    for (label, reference, kinks), cls in zip(_SLOTS, (MyReLU, MySigmoid, MyTanh), strict=True):
        obj = _instantiate(cls, label)
        for dtype in (torch.float32, torch.float64):
            x = _test_inputs(dtype)
            want_y, want_dy = _reference(reference, x)
            _compare(label, "函数值", x, want_y, _evaluate(obj, x, label, "函数值"))
            got_dy = _evaluate(obj.derivative, x, label, "导数")
            try:
                _compare(label, "导数", x, want_dy, got_dy, skip=kinks)
            except ActivationCheckError as exc:
                hint = _derivative_hint(label, x, got_dy)
                if not hint:
                    raise
                raise ActivationCheckError(f"{exc}\n{hint}") from None
        objects.append((label, obj))

    print(
        "自检通过：ReLU、Sigmoid、Tanh 的函数值和导数都与 PyTorch 一致"
        "（float32 与 float64，-10 到 10 以及 ±1e30、±3e38 等极端输入）。"
    )
    if not show_plot:
        return None
    return _plot(objects)


# (label, what the student implemented, PyTorch function in messages, PyTorch reference,
#  points where the derivative is not defined, derivative formula)
_MODERN = (
    (
        "LeakyReLU",
        "LeakyReLU（negative_slope = 0.01）",
        "F.leaky_relu(x, 0.01)",
        lambda x: F.leaky_relu(x, 0.01),
        (0.0,),
        "f'(x) = 1（x > 0），0.01（x ≤ 0）",
    ),
    (
        "ELU",
        "ELU（alpha = 1）",
        "F.elu(x)",
        lambda x: F.elu(x, 1.0),
        (),
        "f'(x) = 1（x > 0），α·e^x（x ≤ 0），α = 1",
    ),
    (
        "GELU",
        "GELU（精确形式 x·Φ(x)）",
        "F.gelu(x)",
        F.gelu,
        (),
        "f'(x) = Φ(x) + x·φ(x)，其中 φ(x) = e^{-x²/2}/√(2π) 是标准正态密度",
    ),
    (
        "SiLU",
        "SiLU（x·σ(x)）",
        "F.silu(x)",
        F.silu,
        (),
        "f'(x) = σ(x)·(1 + x·(1 - σ(x)))",
    ),
)
_MODERN_NAMES = "、".join(m[0] for m in _MODERN)


def _modern_reference(fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """在 float64 中计算参考值（PyTorch 的 float32 GELU 在 x = 3e38 处会上溢为 inf）。"""
    return _reference(fn, x.to(torch.float64))


def _known_mistake(x: torch.Tensor, got: torch.Tensor) -> tuple[str, str] | None:
    """常见的参数错误：(候选名, 提示)；认不出时为 None（x, got 为 float64）。"""
    neg = x < -0.5

    def close(a, b) -> bool:
        return bool(torch.isclose(a, b, rtol=RTOL, atol=ATOL).all())

    pos = x > 0.5
    if close(got[neg], x[neg]):  # identity on the negative half: the slopes swapped sides
        slope = (got[pos] / x[pos]).median().item()
        if close(got[pos], slope * x[pos]):
            return "LeakyReLU", (
                f"你的 LeakyReLU 把两侧弄反了：负半轴上 f(x) = x，正半轴上斜率约为 {_fmt(slope)}。"
                "应为 f(x) = x（x > 0），0.01·x（x ≤ 0）：torch.where(x > 0, x, 0.01 * x)。"
            )
    if close(got[x > 0], x[x > 0]):  # identity on the positive half: LeakyReLU or ELU
        slope = (got[neg] / x[neg]).median().item()
        if close(got[neg], slope * x[neg]):
            relu = "（斜率为 0 就是 ReLU）" if abs(slope) < 1e-12 else ""
            return "LeakyReLU", (
                f"你的负半轴斜率约为 {_fmt(slope)}{relu}，本练习要求 negative_slope = 0.01："
                "f(x) = 0.01·x（x ≤ 0）。"
            )
        alpha = (got[neg] / torch.expm1(x[neg])).median().item()
        if close(got[neg], alpha * torch.expm1(x[neg])):
            return "ELU", f"你的 α 约为 {_fmt(alpha)}，本练习要求 α = 1：f(x) = e^x - 1（x ≤ 0）。"
    if close(got, F.gelu(x, approximate="tanh")):
        return "GELU", (
            "你实现的是 GELU 的 tanh 近似 ½x(1 + tanh(√(2/π)(x + 0.044715x³)))；"
            "本练习要求精确形式 x·Φ(x)，Φ(x) = ½·erfc(-x/√2)（torch.special.erfc 或 torch.erf）。"
        )
    return None


def _identify(obj, name: str):
    """比较 [-10, 10] 上的函数值，认出学生实现的是哪个候选；都对不上时报告最接近的一个。"""
    x = torch.linspace(-10, 10, 1000, dtype=torch.float64)
    got = _evaluate(obj, x, name, "函数值")
    wanted = [_modern_reference(candidate[3], x)[0] for candidate in _MODERN]
    for candidate, want in zip(_MODERN, wanted, strict=True):
        if torch.isclose(got, want, rtol=RTOL, atol=ATOL).all():
            return candidate
    labels = [candidate[0] for candidate in _MODERN]
    known = _known_mistake(x, got)
    if known is not None:
        best, hint = labels.index(known[0]), known[1]
    else:  # the smallest mean absolute difference (NaN counts as far away)
        errors = [float((got - want).abs().nan_to_num(nan=1e30).mean()) for want in wanted]
        best, hint = min(range(len(errors)), key=errors.__getitem__), ""
    label, _, torch_name, _, _, _ = _MODERN[best]
    agree = int(torch.isclose(got, wanted[best], rtol=RTOL, atol=ATOL).sum())
    header = (
        f"{name} 的函数值与 {_MODERN_NAMES} 都对不上。最接近的是 {label}"
        f"（与 {torch_name} 比较，-10 到 10 的 {x.numel()} 个点中 {agree} 个一致）。"
    )
    try:
        _compare(label, "函数值", x, wanted[best], got)
    except ActivationCheckError as exc:
        detail = str(exc)
    else:  # pragma: no cover - no candidate matched, so _compare fails
        detail = ""
    raise ActivationCheckError("\n".join(part for part in (header, detail, hint) if part))


def check_modern_activation(cls) -> CheckReport:
    """检查你实现的现代激活函数：LeakyReLU、ELU、GELU、SiLU 中的任意一个。

    参数是你的**类**（也可以传实例），实例要能调用（``f(x)``，例如继承
    ``labcode.activations.Activation`` 并实现 ``f``），并有 ``derivative(x)`` 方法。
    要求的参数：LeakyReLU 的 negative_slope = 0.01，ELU 的 alpha = 1，GELU 用精确形式 x·Φ(x)。

    先在 [-10, 10] 上比较函数值，认出你写的是哪一个（都对不上时指出最接近的候选和出错的点）；
    再像 ``check_activation_function`` 一样，在 float32 与 float64、包括 ±1e30、±3e38 等极端输入上
    比较函数值（对照 ``F.leaky_relu``/``F.elu``/``F.gelu``/``F.silu``）和导数（对照自动求导）。
    LeakyReLU 的导数在 x = 0 处没有定义，那一点不比较。

    通过时返回报告（写明认出的是哪个激活函数），不通过时抛出 ``ActivationCheckError``。

    用法::

        class MyModernActivation(Activation):
            def f(self, x): ...
            def derivative(self, x): ...

        check_modern_activation(MyModernActivation)
    """
    name = describe(cls) if isinstance(cls, type) else type(cls).__name__
    obj = _instantiate(cls, name)
    label, what, torch_name, reference, kinks, formula = _identify(obj, name)
    for dtype in (torch.float32, torch.float64):
        x = _test_inputs(dtype)
        want_y, want_dy = _modern_reference(reference, x)
        _compare(label, "函数值", x, want_y, _evaluate(obj, x, label, "函数值"))
        got_dy = _evaluate(obj.derivative, x, label, "导数")
        try:
            _compare(label, "导数", x, want_dy, got_dy, skip=kinks)
        except ActivationCheckError as exc:
            raise ActivationCheckError(f"{exc}\n{label} 的导数应为 {formula}。") from None
    skipped = "；x = 0 处的导数没有定义，不比较" if kinks else ""
    return passed(
        "check_modern_activation",
        f"你实现的是 {what}。函数值与 {torch_name} 一致，derivative 与自动求导一致"
        f"（float32 与 float64，-10 到 10 以及 ±1e30、±3e38 等极端输入{skipped}）。",
    )


def _plot(objects):
    """两幅上下排列的图：你实现的函数与导数（课程统一的中文图样式，不经过 pyplot，只显示一次）。"""
    from .. import plotstyle

    x = torch.linspace(-10, 10, 1000)
    with plotstyle.style():
        fig, (ax_f, ax_d) = plotstyle.figure(2)
        for i, (label, obj) in enumerate(objects):
            st = plotstyle.line_style(i, len(x))
            with torch.no_grad():
                ax_f.plot(x.numpy(), _as_numpy(obj(x)), label=label, **st)
                ax_d.plot(x.numpy(), _as_numpy(obj.derivative(x)), label=f"{label}'", **st)
        ax_f.set(title="你实现的激活函数", xlabel="x", ylabel="f(x)")
        ax_d.set(title="你实现的导数（derivative）", xlabel="x", ylabel="f'(x)")
        ax_f.legend()
        ax_d.legend()
    return plotstyle.finish(fig)


def _as_numpy(t):
    return t.detach().to("cpu", torch.float64).numpy()
