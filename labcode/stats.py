"""两个小统计量，结论检查（lessons）与跨种子表格（tables）共用。"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["mean_sd", "tail_mean"]


def tail_mean(values: Sequence[float], n: int | None = None) -> float:
    """最后 ``n`` 个值的平均；``n`` 为 ``None`` 时取最后 1/3（至少 1 个），即各章所说的"后 1/3 个 epoch"。"""
    if n is None:
        n = max(1, len(values) // 3)
    tail = list(values)[-n:]
    return sum(tail) / len(tail)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """均值与样本标准差（n − 1；只有一个值时标准差为 0）。"""
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
    return mean, var**0.5
