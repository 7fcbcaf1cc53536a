"""正则化：L2 / L1 惩罚项与手写 dropout。"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["check_dropout_fn", "check_dropout_rate", "dropout_layer", "l1_penalty", "l2_penalty"]


def l2_penalty(w: torch.Tensor) -> torch.Tensor:
    """L2 惩罚：‖w‖²/2 = Σ w²/2。它对 w 的梯度正好是 w，所以 λ·l2_penalty(w) 的梯度是 λw。"""
    return torch.sum(w.pow(2)) / 2


def l1_penalty(w: torch.Tensor) -> torch.Tensor:
    """L1 惩罚：‖w‖₁ = Σ |w|（倾向于产生稀疏权重）。"""
    return torch.sum(torch.abs(w))


def check_dropout_rate(dropout) -> float:
    """检查 dropout 概率在 [0, 1] 内并返回 float；否则抛出 ValueError（不用 assert：python -O 会去掉它）。"""
    if isinstance(dropout, torch.Tensor) and dropout.numel() == 1:
        dropout = dropout.item()
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise ValueError(f"dropout 概率应为 0 到 1 之间的实数，实际得到 {dropout!r}。")
    dropout = float(dropout)
    if math.isnan(dropout) or not 0.0 <= dropout <= 1.0:
        raise ValueError(
            f"dropout 概率应在 [0, 1] 内（每个元素被丢弃的概率），实际得到 {dropout}；"
            "例如 0.3 表示丢弃 30% 的元素。"
        )
    return dropout


def check_dropout_fn(dropout_fn) -> None:
    """``dropout_fn`` 须是可调用的丢弃函数 ``dropout_fn(X, p)``（如 :func:`dropout_layer`），否则抛出 TypeError。"""
    if not callable(dropout_fn):
        raise TypeError(f"dropout_fn 应是函数 dropout_fn(X, p)，实际得到 {dropout_fn!r}。")


def dropout_layer(
    X: torch.Tensor,
    dropout: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """以概率 dropout 把 X 的每个元素置 0，其余元素除以 (1 - dropout)，使期望不变。

    dropout = 0 原样返回 X；dropout = 1 返回全 0。``generator`` 可用于可复现的随机掩码
    （需与 X 在同一设备上）。``X`` 须是浮点数张量，否则抛出 TypeError。
    """
    p = check_dropout_rate(dropout)
    if not isinstance(X, torch.Tensor):
        raise TypeError(
            f"dropout_layer 的输入 X 应为 torch.Tensor，实际得到 {type(X).__name__}。"
            "请先用 torch.tensor(...) 或 torch.as_tensor(...) 转换。"
        )
    if not X.is_floating_point():
        raise TypeError(
            f"dropout_layer 的输入 X 是 {X.dtype} 张量，不是浮点数：保留下来的元素要除以 (1 - dropout)，"
            "结果是小数。请先用 X.float() 转换。"
        )
    if p == 1.0:
        return torch.zeros_like(X)
    if p == 0.0:
        return X
    keep = torch.rand(X.shape, generator=generator, device=X.device, dtype=X.dtype) > p
    return keep.to(X.dtype) * X / (1.0 - p)
