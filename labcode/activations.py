"""激活函数：每个类把函数 f(x) 和它的导数 derivative(x) 写在一起。

网络反向传播时真正用的是这里手写的导数：``forward`` 通过一个自定义的
``torch.autograd.Function`` 计算 f(x)，其 backward 就是 ``grad * derivative(x)``。

所有公式都改写成数值稳定的形式：对任何有限的 float32/float64 输入（包括 ±3e38、±1e300）
都不会出现 NaN 或 inf。关键技巧是只对非正数求指数，例如用 e^{-|x|} 代替 e^{x}。
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "MyELU",
    "MyGELU",
    "MyLeakyReLU",
    "MyReLU",
    "MySiLU",
    "MySigmoid",
    "MyTanh",
    "get_activation",
]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class _HandWrittenBackward(torch.autograd.Function):
    """前向计算 f(x)；反向传播使用手写导数：dL/dx = dL/dy · f'(x)。"""

    @staticmethod
    def forward(ctx, x, activation):
        ctx.save_for_backward(x)
        ctx.activation = activation
        return activation.f(x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * ctx.activation.derivative(x), None


class Activation(nn.Module):
    """激活函数基类：子类实现 ``f(x)``（函数）和 ``derivative(x)``（导数）。

    ``act(x)`` 计算 f(x)；需要求梯度时，反向传播调用的是 ``derivative``。
    ``torch_reference(x)`` 给出 PyTorch 自带实现的结果，供测试和自检对照。
    """

    name: str = ""  # ACTIVATIONS 中的键，如 "relu"
    label: str = ""  # 画图用的名字，如 "ReLU"

    def f(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def torch_reference(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.label or type(self).__name__)
        if torch.is_grad_enabled() and x.requires_grad:
            return _HandWrittenBackward.apply(x, self)
        return self.f(x)


def _check_input(x, label: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{label} 的输入应为 torch.Tensor，实际得到 {type(x).__name__}；"
            "请先用 torch.tensor(...) 转换。"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{label} 的输入应为浮点张量（如 float32、float64），实际得到 {x.dtype}；"
            "请先调用 x.float()。"
        )


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 1/(1+e^{-x})，只对 -|x| 求指数：x ≥ 0 时 1/(1+z)，x < 0 时 z/(1+z)，z = e^{-|x|}。"""
    z = torch.exp(-x.abs())
    return torch.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _real_number(value, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} 应为实数，实际得到 {value!r}。") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} 应为有限实数，实际得到 {value!r}。")
    return value


class MyReLU(Activation):
    name, label = "relu", "ReLU"

    def f(self, x):
        """ReLU：f(x) = max(0, x)"""
        return x.clamp(min=0)

    def derivative(self, x):
        """f'(x) = 1（x > 0），0（x ≤ 0；在 0 处与 PyTorch 一致取 0）"""
        return (x > 0).to(x.dtype)

    def torch_reference(self, x):
        return torch.relu(x)


class MySigmoid(Activation):
    name, label = "sigmoid", "Sigmoid"

    def f(self, x):
        """Sigmoid：f(x) = 1/(1+e^{-x})"""
        return _sigmoid(x)

    def derivative(self, x):
        """f'(x) = f(x)·(1-f(x)) = e^{-|x|}/(1+e^{-|x|})²（对称，只对 -|x| 求指数，避免 1-f(x) 的相消误差）"""
        z = torch.exp(-x.abs())
        return z / (1 + z) ** 2

    def torch_reference(self, x):
        return torch.sigmoid(x)


class MyTanh(Activation):
    name, label = "tanh", "Tanh"

    def f(self, x):
        """Tanh：f(x) = (e^x - e^{-x})/(e^x + e^{-x}) = sign(x)·(1-e^{-2|x|})/(1+e^{-2|x|})"""
        t = torch.expm1(-2 * x.abs())  # t = e^{-2|x|} - 1 ∈ [-1, 0]，x 接近 0 时仍然精确
        return torch.copysign(-t / (2 + t), x)

    def derivative(self, x):
        """f'(x) = 1 - f(x)² = 4e^{-2|x|}/(1+e^{-2|x|})²（后一种写法在 |x| 大时相对误差也小）"""
        e = torch.exp(-2 * x.abs())
        return 4 * e / (1 + e) ** 2

    def torch_reference(self, x):
        return torch.tanh(x)


class MyLeakyReLU(Activation):
    name, label = "leaky_relu", "LeakyReLU"

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = _real_number(negative_slope, "LeakyReLU 的 negative_slope")

    def f(self, x):
        """LeakyReLU：f(x) = x（x > 0），a·x（x ≤ 0），a = negative_slope"""
        return torch.where(x > 0, x, self.negative_slope * x)

    def derivative(self, x):
        """f'(x) = 1（x > 0），a（x ≤ 0）：负半轴梯度不为 0，所以神经元不会“死亡”"""
        return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, self.negative_slope))

    def torch_reference(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class MyELU(Activation):
    name, label = "elu", "ELU"

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = _real_number(alpha, "ELU 的 alpha")

    def f(self, x):
        """ELU：f(x) = x（x > 0），α(e^x - 1)（x ≤ 0）"""
        return torch.where(x > 0, x, self.alpha * torch.expm1(x.clamp(max=0)))

    def derivative(self, x):
        """f'(x) = 1（x > 0），α·e^x（x ≤ 0）"""
        return torch.where(x > 0, torch.ones_like(x), self.alpha * torch.exp(x.clamp(max=0)))

    def torch_reference(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


def _normal_cdf(x):
    """Φ(x) = ½·erfc(-x/√2)：标准正态分布函数（erfc 在左尾也精确）"""
    return 0.5 * torch.special.erfc(-x * _INV_SQRT2)


def _normal_pdf(x):
    """φ(x) = e^{-x²/2}/√(2π)：标准正态密度（x² 溢出为 inf 时 e^{-inf} = 0，仍然有限）"""
    return torch.exp(-0.5 * x * x) * _INV_SQRT_2PI


class MyGELU(Activation):
    name, label = "gelu", "GELU"

    def f(self, x):
        """GELU（精确版）：f(x) = x·Φ(x)，Φ 为标准正态分布函数"""
        return x * _normal_cdf(x)

    def derivative(self, x):
        """f'(x) = Φ(x) + x·φ(x)，φ 为标准正态密度"""
        return _normal_cdf(x) + x * _normal_pdf(x)

    def torch_reference(self, x):
        return F.gelu(x)


class MySiLU(Activation):
    name, label = "silu", "SiLU"

    def f(self, x):
        """SiLU（Swish）：f(x) = x·σ(x)"""
        return x * _sigmoid(x)

    def derivative(self, x):
        """f'(x) = σ(x)·(1 + x·(1-σ(x))) = σ(x) + x·σ(x)·σ(-x)"""
        s = _sigmoid(x)
        return s + x * s * _sigmoid(-x)

    def torch_reference(self, x):
        return F.silu(x)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (MyReLU, MySigmoid, MyTanh, MyLeakyReLU, MyELU, MyGELU, MySiLU)
}
"""注册表：注册名（如 ``"relu"``、``"leaky_relu"``）→ 激活函数类，供 :func:`get_activation` 使用。"""


def get_activation(name: str, **kwargs) -> Activation:
    """按名称创建激活函数，例如 ``get_activation("leaky_relu", negative_slope=0.1)``。"""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in ACTIVATIONS:
        raise ValueError(f"未知的激活函数名称 {name!r}。可用的名称：{', '.join(ACTIVATIONS)}。")
    return ACTIVATIONS[key](**kwargs)
