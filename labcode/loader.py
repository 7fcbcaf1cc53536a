"""按索引分批：数据已经是设备上的张量，每个批次直接切片，不再逐张图片做变换。"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from .checks import check_int
from .sources import DataInfo

__all__ = ["TensorLoader"]


class TensorLoader:
    """按索引从张量中取批次的数据迭代器，用法与 ``DataLoader`` 相同：``for x, y in loader``。

    ``shuffle=True`` 时，每次迭代（每个 epoch）用一个带种子的 CPU ``torch.Generator`` 生成新的
    随机顺序，同一 ``seed`` 的顺序序列完全可复现；``seed=None`` 时从 torch 的全局随机数生成器取
    一个种子（所以 :func:`labcode.settings.seed_everything` 之后也可复现）。
    ``len(loader)`` 是每个 epoch 的批次数。
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
        info: DataInfo | None = None,
    ) -> None:
        batch_size = check_int(batch_size, "batch_size", minimum=1, hint="例如 batch_size=64。")
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("x 和 y 都必须是 torch.Tensor。")
        if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
            raise ValueError(
                f"x 和 y 的第一维（样本数）必须相同，收到的形状是 {tuple(x.shape)} 和 {tuple(y.shape)}。"
            )
        if x.device != y.device:
            raise ValueError(f"x 在 {x.device} 上，y 在 {y.device} 上，请先把它们放到同一设备上。")
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.info = info
        if self.shuffle and seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = seed
        self._generator = (
            torch.Generator().manual_seed(seed) if self.shuffle and seed is not None else None
        )

    @property
    def dataset_size(self) -> int:
        """样本总数。"""
        return len(self.x)

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        if self.drop_last:
            return self.dataset_size // self.batch_size
        return math.ceil(self.dataset_size / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, size = self.dataset_size, self.batch_size
        stop = len(self) * size
        if self._generator is None:
            for start in range(0, min(stop, n), size):
                yield self.x[start : start + size], self.y[start : start + size]
            return
        order = torch.randperm(n, generator=self._generator).to(self.device)
        for start in range(0, min(stop, n), size):
            index = order[start : start + size]
            yield self.x[index], self.y[index]

    def __repr__(self) -> str:
        return (
            f"TensorLoader(样本数={self.dataset_size}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, device={self.device})"
        )
