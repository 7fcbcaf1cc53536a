"""前向信号：初始化方案，以及激活值“随输入变化的部分”逐层有多大。

梯度消失一章用它说明 Sigmoid 网络为什么在本实验中停在随机猜测：不只是反向的梯度逐层缩小，
前向信号中**依赖于输入**的部分（同一个神经元在不同输入上的取值差异）也以相近的倍数逐层缩小，
输出层的 logits 几乎与输入无关。
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "INIT_SCHEMES",
    "activation_spread",
    "init_weights",
    "spread_table",
]

#: ``default``：PyTorch 的默认初始化（``nn.Linear``：U(-1/√n, 1/√n)，方差 1/(3n)）；
#: ``xavier``：Glorot 正态初始化，方差 2/(n_in + n_out)（为 Tanh 设计）；
#: ``he``：Kaiming 正态初始化，方差 2/n_in（为 ReLU 设计）。偏置一律置 0（default 除外）。
INIT_SCHEMES = ("default", "xavier", "he")


def init_weights(
    model: nn.Module, scheme: str, generator: torch.Generator | None = None
) -> nn.Module:
    """按 ``scheme`` 重新初始化 ``model`` 中每个 ``nn.Linear`` 的权重（原地修改并返回 ``model``）。

    ``default`` 什么都不做（保留 PyTorch 建层时的初始化）。``generator`` 给定时用它抽样，结果可复现。
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(
            f"初始化方案 {scheme!r} 无效。可选：{', '.join(INIT_SCHEMES)}"
            "（default：PyTorch 默认；xavier：配合 Tanh；he：配合 ReLU）。"
        )
    if scheme == "default":
        return model
    with torch.no_grad():
        for layer in model.modules():
            if not isinstance(layer, nn.Linear):
                continue
            fan_out, fan_in = layer.weight.shape
            var = 2.0 / (fan_in + fan_out) if scheme == "xavier" else 2.0 / fan_in
            noise = torch.randn(layer.weight.shape, generator=generator, dtype=layer.weight.dtype)
            layer.weight.copy_(noise.to(layer.weight.device) * math.sqrt(var))
            if layer.bias is not None:
                layer.bias.zero_()
    return model


@torch.no_grad()
def activation_spread(model: nn.Module, x: torch.Tensor) -> list[dict]:
    """逐层测量前向信号：每个激活层输出的均值，以及“随输入变化的幅度”。

    ``model`` 是 :class:`labcode.models.Network`（需要 ``forward(x, return_preactivations=True)``
    和 ``activation``）；``x`` 是一批输入。对每个隐藏层的输出 ``h``（形状 (B, 单元数)）：

    - ``mean``：所有样本、所有单元上的均值；
    - ``spread``：每个单元在这批输入上的标准差，再对单元取平均——只有这一部分携带关于输入的信息。

    最后一项是输出层的 logits（不经过激活函数）。返回 ``[{"layer", "mean", "spread"}, ...]``，
    从第一个隐藏层到输出层。
    """
    if not hasattr(model, "activation") or not hasattr(model, "linear_layers"):
        raise TypeError(
            f"activation_spread 需要 labcode.models.Network 这样的模型，收到的是 {type(model).__name__}。"
        )
    if x.shape[0] < 2:
        raise ValueError(f"至少需要 2 个输入样本才能计算随输入变化的幅度，收到 {x.shape[0]} 个。")
    was_training = model.training
    model.eval()
    try:
        logits, preacts = model(x, return_preactivations=True)
    finally:
        model.train(was_training)
    activation: Callable[[torch.Tensor], torch.Tensor] = model.activation  # type: ignore[assignment]
    rows = []
    for i, z in enumerate(preacts, start=1):
        h = activation(z)
        rows.append(
            {"layer": f"第 {i} 层", "mean": float(h.mean()), "spread": float(h.std(0).mean())}
        )
    rows.append(
        {"layer": "输出层", "mean": float(logits.mean()), "spread": float(logits.std(0).mean())}
    )
    return rows


def spread_table(spreads: dict[str, list[dict]]) -> str:
    """把 ``{激活函数名: activation_spread(...) 的结果}`` 排成一张对齐的文本表（每行一层）。"""
    if not spreads:
        raise ValueError("spread_table 需要至少一个激活函数的测量结果。")
    names = list(spreads)
    layers = [row["layer"] for row in spreads[names[0]]]
    for name in names:
        if [row["layer"] for row in spreads[name]] != layers:
            raise ValueError(
                f"{name} 的层数与 {names[0]} 不同，不能排在同一张表里。请用同样深度的网络。"
            )
    header = "层".ljust(8) + "".join(f"{name:>12}" for name in names)
    lines = [header]
    for i, layer in enumerate(layers):
        lines.append(layer.ljust(8) + "".join(f"{spreads[n][i]['spread']:>12.4f}" for n in names))
    return "\n".join(lines)
