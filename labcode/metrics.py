"""训练中的统计量：累加器、数据集上的平均损失、各层梯度、死亡神经元。

统计量尽量留在张量所在的设备上累加，只在需要读出时（例如每个 epoch 结束）才转成 Python 数，
避免每个批次都让 GPU 与 CPU 同步。
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import torch
from torch import nn

from .activations import Activation, get_activation
from .checks import check_int

__all__ = [
    "Accumulator",
    "activation_stats",
    "DeadUnitCounter",
    "GradientTracker",
    "analyze_gradients",
    "count_dead_units",
    "evaluate_batches",
    "evaluate_loss",
    "weight_layers",
]


class Accumulator:
    """在 n 个变量上累加。"""

    def __init__(self, n: int):
        self.data = [0.0] * check_int(n, "Accumulator 的变量个数 n", minimum=1)

    def add(self, *args) -> None:
        if len(args) != len(self.data):
            raise ValueError(
                f"Accumulator 有 {len(self.data)} 个变量，add() 却收到 {len(args)} 个值。"
            )
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]

    def __len__(self) -> int:
        return len(self.data)


def evaluate_batches(
    net, batches: Iterable, batch_loss, *, classify: bool = False, what: str = "evaluate_batches"
) -> tuple[float, float | None]:
    """在 ``batches`` 的每个 ``(X, y)`` 上评估，返回 ``(平均损失, 准确率)``；``classify=False`` 时准确率为 ``None``。

    ``batch_loss(out, y)`` 返回 ``(本批损失之和（张量）, 计入的个数)``，平均损失 = Σ 损失之和 / Σ 个数。
    不记录梯度；``net`` 是 nn.Module 时暂时切换到 eval 模式（dropout 关闭），结束后恢复原模式。
    统计量在设备上累加，最后只读出一次（一次主机同步）。``what`` 用于错误信息。
    """
    was_training = isinstance(net, nn.Module) and net.training
    if isinstance(net, nn.Module):
        net.eval()
    loss_sum: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    count = n_samples = 0
    try:
        with torch.no_grad():
            for X, y in batches:
                out = net(X)
                batch_sum, batch_count = batch_loss(out, y)
                loss_sum = batch_sum if loss_sum is None else loss_sum + batch_sum
                count += batch_count
                n_samples += len(y)
                if classify:
                    hits = (out.argmax(dim=1) == y).sum()
                    correct = hits if correct is None else correct + hits
    finally:
        if was_training:
            net.train()
    if count == 0 or loss_sum is None:
        raise ValueError(f"{what} 收到的数据为空：请检查数据是否至少有一个批次、一个样本。")
    totals = [loss_sum] if correct is None else [loss_sum, correct]  # correct: when classify
    values = _stack_common(totals).tolist()  # the only host read
    return values[0] / count, (values[1] / n_samples if classify else None)


def evaluate_loss(net, data_iter, loss) -> float:
    """评估模型在数据集上的平均损失：Σ 每个样本的损失 / 样本数。

    ``loss`` 应返回逐样本的损失（如 ``nn.MSELoss(reduction="none")``）。
    评估时不记录梯度，nn.Module 暂时切换到 eval 模式（dropout 关闭），结束后恢复原模式。
    """

    def per_sample(out, y):
        losses = loss(out, y.reshape(out.shape))
        return losses.sum(), losses.numel()

    return evaluate_batches(net, data_iter, per_sample, what="evaluate_loss")[0]


def weight_layers(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """模型各层的权重，按输入 → 输出顺序：[(层名, weight), ...]。

    有 ``linear_layers()`` 的模型（如 Network）按它给出的顺序；其他模型取所有名字以
    "weight" 结尾的参数（按注册顺序），层名去掉结尾的 ".weight"。
    """
    linear_layers = getattr(model, "linear_layers", None)
    if callable(linear_layers):
        return [(name, layer.weight) for name, layer in linear_layers()]
    return [
        (name.removesuffix(".weight"), p)
        for name, p in model.named_parameters()
        if name.endswith("weight")
    ]


def _stack_common(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    device = tensors[0].device
    return torch.stack([t.to(device, dtype) for t in tensors])


def analyze_gradients(model: nn.Module) -> list[dict]:
    """各层权重梯度的统计：[{"layer": 层名, "mean": mean|grad|, "std": std(grad)}, ...]。

    每层一项（只看权重，不看偏置），按输入 → 输出顺序。统计量在设备上算好后一次读出。
    还没有梯度的层（未调用 backward）记为 NaN。
    """
    layers = weight_layers(model)
    if not layers:
        raise ValueError("analyze_gradients：模型中没有名字以 weight 结尾的参数。")
    if all(w.grad is None for _, w in layers):
        raise ValueError("analyze_gradients：模型还没有梯度，请先调用 loss.backward()。")
    stats = []
    for _, w in layers:
        g = w.grad
        if g is None:
            stats.append(torch.full((2,), float("nan"), device=w.device))
        else:
            stats.append(torch.stack((g.abs().mean(), g.std(correction=0))))
    values = _stack_common(stats).tolist()  # one host sync for all layers
    return [
        {"layer": name, "mean": mean, "std": std}
        for (name, _), (mean, std) in zip(layers, values, strict=True)
    ]


class GradientTracker:
    """在设备上累加各层权重的 mean|grad|，每个 epoch 读出一次批次平均值。

    用法::

        tracker = GradientTracker(model)
        for X, y in loader:
            ...; loss.backward(); tracker.step(); optimizer.step()
        per_layer = tracker.end_epoch()   # list[float]，每层一个数
        tracker.epoch_means()             # 目前为止每个 epoch 的列表

    ``layers`` 可选，只跟踪其中列出的层名（默认全部，见 ``weight_layers``）。
    """

    def __init__(self, model: nn.Module, layers: Iterable[str] | None = None):
        available = weight_layers(model)
        if layers is not None:
            wanted = list(layers)
            by_name = dict(available)
            unknown = [n for n in wanted if n not in by_name]
            if unknown:
                raise ValueError(
                    f"GradientTracker：模型中没有层 {unknown}。可选的层：{', '.join(by_name)}。"
                )
            available = [(n, by_name[n]) for n in wanted]
        if not available:
            raise ValueError("GradientTracker：模型中没有可跟踪的权重参数。")
        self.layer_names = [name for name, _ in available]
        self._weights = [w for _, w in available]
        self._sum: torch.Tensor | None = None
        self._batches = 0
        self.history: list[list[float]] = []

    def step(self) -> None:
        """在 loss.backward() 之后调用：把本批次各层的 mean|grad| 加到累计值上（不同步）。"""
        grads = [w.grad for w in self._weights]
        missing = [n for n, g in zip(self.layer_names, grads, strict=True) if g is None]
        if missing:
            raise RuntimeError(
                f"GradientTracker.step()：层 {missing} 还没有梯度，请在 loss.backward() 之后调用。"
            )
        batch = _stack_common([g.abs().mean() for g in grads if g is not None]).detach()
        self._sum = batch if self._sum is None else self._sum + batch
        self._batches += 1

    def end_epoch(self) -> list[float]:
        """返回本 epoch 各层 mean|grad| 的批次平均（一次同步），记入 history 并清零。"""
        if self._sum is None:  # None exactly when no step() since the last end_epoch()
            raise RuntimeError("GradientTracker.end_epoch()：本 epoch 还没有调用过 step()。")
        means = (self._sum / self._batches).tolist()
        self.history.append(means)
        self._sum, self._batches = None, 0
        return means

    def epoch_means(self) -> list[list[float]]:
        """每个已结束的 epoch 一项，每项为各层的平均 mean|grad|。"""
        return [list(m) for m in self.history]


class DeadUnitCounter:
    """统计一个 epoch 内的“死亡”神经元：对该 epoch 的所有样本，激活函数的导数都为 0。

    对 ReLU 而言就是预激活值对所有样本都 ≤ 0（输出恒为 0，梯度也恒为 0）。
    每批调用 ``update(preactivations)``（每层一个 (B, width) 张量，如
    ``Network.forward(x, return_preactivations=True)`` 返回的列表），
    epoch 结束时 ``end_epoch()`` 返回每层的死亡比例。累计在设备上进行。
    """

    def __init__(
        self,
        activation: str | Activation,
        n_layers: int | None = None,
        width: int | Sequence[int] | None = None,
    ):
        self.activation = get_activation(activation) if isinstance(activation, str) else activation
        if not callable(getattr(self.activation, "derivative", None)):
            raise ValueError("DeadUnitCounter 需要带 derivative(x) 方法的激活函数（或其名称）。")
        self.n_layers = n_layers
        self.width = width
        self._alive: list[torch.Tensor] | None = None
        self.history: list[list[float]] = []

    def _check(self, preacts: Sequence[torch.Tensor]) -> None:
        if self.n_layers is not None and len(preacts) != self.n_layers:
            raise ValueError(
                f"DeadUnitCounter 期望 {self.n_layers} 层的预激活值，实际收到 {len(preacts)} 层。"
            )
        widths = [self.width] * len(preacts) if isinstance(self.width, int) else self.width
        for i, z in enumerate(preacts):
            if z.dim() < 2:
                raise ValueError(
                    f"DeadUnitCounter：第 {i} 层的预激活值应为 (B, width)，实际形状 {tuple(z.shape)}。"
                )
            if widths is not None and z[0].numel() != widths[i]:
                raise ValueError(
                    f"DeadUnitCounter：第 {i} 层应有 {widths[i]} 个神经元，"
                    f"实际形状 {tuple(z.shape)}。"
                )
        if self._alive is not None and [a.numel() for a in self._alive] != [
            z[0].numel() for z in preacts
        ]:
            raise ValueError("DeadUnitCounter：本批次各层的宽度与之前的批次不一致。")

    @torch.no_grad()
    def update(self, preactivations: Sequence[torch.Tensor]) -> None:
        """记录本批次：某个神经元只要对任一样本导数不为 0，本 epoch 就算“活着”。"""
        preacts = list(preactivations)
        self._check(preacts)
        active = [
            (self.activation.derivative(z.detach().flatten(1)) != 0).any(dim=0) for z in preacts
        ]
        if self._alive is None:
            self._alive = active
        else:
            self._alive = [a | b for a, b in zip(self._alive, active, strict=True)]

    def dead_masks(self) -> list[torch.Tensor]:
        """本 epoch 到目前为止每层的死亡神经元（布尔张量，在设备上；不清零、不同步）。"""
        if self._alive is None:
            raise RuntimeError("DeadUnitCounter.dead_masks()：本 epoch 还没有调用过 update()。")
        return [~a for a in self._alive]

    def end_epoch(self) -> list[float]:
        """每层死亡神经元的比例（一次同步），记入 history 并清零。"""
        if self._alive is None:
            raise RuntimeError("DeadUnitCounter.end_epoch()：本 epoch 还没有调用过 update()。")
        n_dead = torch.stack([(~a).sum() for a in self._alive]).tolist()
        dead = [d / a.numel() for d, a in zip(n_dead, self._alive, strict=True)]
        self.history.append(dead)
        self._alive = None
        return dead


def _activation(model: nn.Module, what: str) -> Activation:
    activation = getattr(model, "activation", None)
    if not isinstance(activation, Activation):
        raise TypeError(
            f"{what} 需要带 activation 属性（labcode 的 Activation）的模型，如 Network；"
            f"{type(model).__name__} 的 activation 是 {activation!r}。"
        )
    return activation


@torch.no_grad()
def count_dead_units(model: nn.Module, loader) -> list[float]:
    """在整个数据集上统计每层死亡神经元的比例（不记录梯度，用 eval 模式，结束后恢复）。

    ``model`` 需支持 ``forward(x, return_preactivations=True)`` 并有 ``activation`` 属性
    （如 Network）；``loader`` 每次给出 (x, y) 或 x。
    """
    counter = DeadUnitCounter(_activation(model, "count_dead_units"))
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            _, preacts = model(x, return_preactivations=True)
            counter.update(preacts)
    finally:
        model.train(was_training)
    return counter.end_epoch()


@torch.no_grad()
def activation_stats(
    model: nn.Module,
    x: torch.Tensor,
    batch_size: int = 2000,
    saturation_tol: float = 1e-3,
    forward=None,
) -> dict[str, list[float]]:
    """以当前参数在 ``x`` 上统计每个带激活的层（``forward(x, return_preactivations=True)``，默认 ``forward``
    就是 ``model``；学生写的 ``forward`` 不返回预激活值时，传入参考实现，如
    ``functools.partial(Network.forward, model)``）：

    - ``saturated_fraction``：激活函数的导数对**每个**样本都小于 ``saturation_tol`` 的神经元的比例；
    - ``mean_derivative``：激活函数导数在所有样本、所有神经元上的平均（Sigmoid 不超过 1/4）。

    用 eval 模式，结束后恢复原模式；在设备上累加，最后读出一次。
    """
    activation = _activation(model, "activation_stats")
    was_training = model.training
    model.eval()
    try:
        unsaturated, sums, count = None, None, 0
        for start in range(0, len(x), batch_size):
            _, preacts = (forward or model)(
                x[start : start + batch_size], return_preactivations=True
            )
            grads = [activation.derivative(z.flatten(1)).abs() for z in preacts]
            now = [(g >= saturation_tol).any(dim=0) for g in grads]
            total = [
                g.sum() / g.shape[1] for g in grads
            ]  # per layer: sum over samples, mean over units
            unsaturated = (
                now
                if unsaturated is None
                else [a | b for a, b in zip(unsaturated, now, strict=True)]
            )
            sums = total if sums is None else [a + b for a, b in zip(sums, total, strict=True)]
            count += len(grads[0])
        if unsaturated is None or sums is None:
            raise ValueError("activation_stats 需要至少一个样本。")
        values = torch.stack([(~u).float().mean() for u in unsaturated] + list(sums)).tolist()
    finally:
        model.train(was_training)
    n = len(unsaturated)
    return {"saturated_fraction": values[:n], "mean_derivative": [s / count for s in values[n:]]}
