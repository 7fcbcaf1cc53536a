"""实验用的网络：梯度消失 / ReLU 死亡实验的多层感知机，dropout 实验的卷积网络。"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from .activations import Activation, get_activation
from .checks import check_int
from .regularization import check_dropout_fn, check_dropout_rate, dropout_layer

__all__ = [
    "MAX_LAYERS",
    "DropoutMLP",
    "Network",
    "RegularizedNetwork",
    "TorchDropoutNetwork",
    "check_num_layers",
]

#: 隐藏层个数的上限。实验最深用到 8 层；上百层的全连接网络在这里既训练不动，层数再多还会耗尽内存。
MAX_LAYERS = 100


def _check_dtype(x: torch.Tensor, expected: torch.dtype, model_name: str) -> None:
    """输入的数据类型必须与网络参数相同（通常都是 float32），否则给出中文的 TypeError 和改法。"""
    if x.dtype == expected:
        return
    fixes = {torch.float32: "x.float()", torch.float64: "x.double()"}
    fix = fixes.get(expected, f"x.to({expected})")
    if not x.is_floating_point():
        raise TypeError(
            f"{model_name} 的输入是 {x.dtype} 张量，不是浮点数；网络的参数是 {expected}。"
            f"请先转换：x = {fix}（图像像素还应像 load_mnist 那样归一化）。"
        )
    raise TypeError(
        f"{model_name} 的输入是 {x.dtype}，而网络的参数是 {expected}，两者必须相同。"
        f"请用 x = {fix} 转换输入（或把网络转成与输入相同的类型，如 model.double()）。"
    )


def check_num_layers(value, what: str = "num_layers") -> int:
    """检查隐藏层个数：0 到 :data:`MAX_LAYERS` 之间的整数，返回 int；否则抛出 ValueError。"""
    return check_int(
        value,
        what,
        minimum=0,
        maximum=MAX_LAYERS,
        hint=f"（隐藏层个数，不含输入层和输出层；超过 {MAX_LAYERS} 层的网络训练不动，还可能耗尽内存。）",
    )


class Network(nn.Module):
    """多层感知机：输入层 → num_layers 个隐藏层（hidden_dim → hidden_dim）→ 输出层。

    每个线性层之后（输出层除外）都接同一个激活函数。输入可以是 (B, input_dim)，
    也可以是每个样本共 input_dim 个元素的形状（如 MNIST 的 (B, 1, 28, 28)），会先展平。
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        activation_name: str | Activation,
        num_layers: int = 5,
        hidden_dim: int = 100,
    ):
        super().__init__()
        self.input_dim = check_int(input_dim, "input_dim", minimum=1)
        self.output_dim = check_int(output_dim, "output_dim", minimum=1)
        self.hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=1)
        self.num_layers = check_num_layers(num_layers)
        # Same creation order as the original lab (hidden layers first), so that with the same
        # torch seed the weights are initialised identically to the original lab's Network.
        self.layers = nn.ModuleList(
            nn.Linear(self.hidden_dim, self.hidden_dim) for _ in range(self.num_layers)
        )
        if isinstance(activation_name, Activation):
            self.activation = activation_name
        else:
            self.activation = get_activation(activation_name)
        self.input_layer = nn.Linear(self.input_dim, self.hidden_dim)
        self.output_layer = nn.Linear(self.hidden_dim, self.output_dim)

    def linear_layers(self) -> list[tuple[str, nn.Linear]]:
        """所有线性层，按输入 → 输出的顺序：[("input_layer", ...), ("layers.0", ...), ..., ("output_layer", ...)]。"""
        return [
            ("input_layer", self.input_layer),
            *((f"layers.{i}", cast(nn.Linear, layer)) for i, layer in enumerate(self.layers)),
            ("output_layer", self.output_layer),
        ]

    def activated_layer_names(self) -> list[str]:
        """后面接激活函数的层（即 return_preactivations=True 时各个预激活值对应的层）。"""
        return [name for name, _ in self.linear_layers()[:-1]]

    def _flatten_input(self, x: torch.Tensor) -> torch.Tensor:
        if (
            isinstance(x, torch.Tensor)
            and x.dim() >= 2
            and math.prod(x.shape[1:]) == self.input_dim
        ):
            _check_dtype(x, self.input_layer.weight.dtype, type(self).__name__)
            return x.reshape(x.shape[0], self.input_dim)
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"Network 期望输入形状为 (B, {self.input_dim})，或每个样本共 {self.input_dim} 个元素、"
            f"可以展平的形状（如 MNIST 的 (B, 1, 28, 28)），实际得到 {shape}。"
            "单个样本请先用 x.unsqueeze(0) 加上批量维度。"
        )

    def forward(self, x: torch.Tensor, return_preactivations: bool = False):
        """返回 logits；return_preactivations=True 时返回 (logits, 预激活值列表)。

        预激活值列表对应每个接激活函数的层（输入层和每个隐藏层，共 num_layers + 1 个），
        每个形状为 (B, hidden_dim)。
        """
        h = self._flatten_input(x)
        preactivations = []
        for _, layer in self.linear_layers()[:-1]:
            z = layer(h)
            preactivations.append(z)
            h = self.activation(z)
        logits = self.output_layer(h)
        return (logits, preactivations) if return_preactivations else logits


def _check_mnist_shape(x, model_name: str) -> None:
    if not (isinstance(x, torch.Tensor) and x.dim() == 4 and tuple(x.shape[1:]) == (1, 28, 28)):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"{model_name} 期望输入形状为 (B, 1, 28, 28)（MNIST 图像），实际得到 {shape}；"
            "展平过的数据请先用 x.view(-1, 1, 28, 28) 还原。"
        )


class _MnistCNN(nn.Module):
    """两层卷积 + 两层全连接：conv(1→32) → pool → conv(32→64) → pool → 1600 → 128 → 10。"""

    def __init__(self, dropout_rate: float):
        super().__init__()
        self.dropout_rate = check_dropout_rate(dropout_rate)
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        _check_mnist_shape(x, type(self).__name__)
        _check_dtype(x, self.conv1.weight.dtype, type(self).__name__)
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return torch.flatten(x, 1)


class RegularizedNetwork(_MnistCNN):
    """实验的卷积网络，展平后接手写的 dropout_layer（只在训练模式 self.training 下生效）。"""

    def __init__(self, dropout_rate: float = 0.0):
        super().__init__(dropout_rate)
        self.fc1 = nn.Linear(1600, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.training:
            x = dropout_layer(x, self.dropout_rate)
        return self.fc2(torch.relu(self.fc1(x)))


class TorchDropoutNetwork(_MnistCNN):
    """与 RegularizedNetwork 结构相同，dropout 用 PyTorch 的 nn.Dropout（同样只在训练模式生效）。"""

    def __init__(self, dropout_rate: float = 0.0):
        super().__init__(dropout_rate)
        self.dropout = nn.Dropout(self.dropout_rate) if self.dropout_rate > 0 else None
        self.fc1 = nn.Linear(1600, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc2(torch.relu(self.fc1(x)))


class DropoutMLP(nn.Module):
    """两个隐藏层的多层感知机，输入和每个隐藏层之后各有自己的 dropout 比例。

    默认的比例（输入 0.2，两个隐藏层 0.5）是 Srivastava 等（2014）的做法；d2l 4.6 节的做法不同：
    第一个隐藏层后 0.2、第二个隐藏层后 0.5，输入不丢弃（``DropoutMLP(0.0, (0.2, 0.5))``）。

    ``dropout_fn(X, p)`` 默认是手写的 :func:`labcode.regularization.dropout_layer`，可以换成你自己写的；
    它只在训练模式（``self.training``）下调用。输入 ``(B, 1, 28, 28)`` 或 ``(B, 784)``。
    """

    def __init__(
        self,
        input_dropout: float = 0.2,
        hidden_dropout: tuple[float, float] = (0.5, 0.5),
        hidden_dim: int = 512,
        dropout_fn=dropout_layer,
    ):
        super().__init__()
        check_dropout_fn(dropout_fn)
        hidden = tuple(hidden_dropout)
        if len(hidden) != 2:
            raise ValueError(
                f"hidden_dropout 应为两个比例（每个隐藏层一个），实际得到 {hidden!r}。"
            )
        self.rates = tuple(check_dropout_rate(r) for r in (input_dropout, *hidden))
        self.hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=1)
        self.dropout_fn = dropout_fn
        self.hidden1 = nn.Linear(784, self.hidden_dim)
        self.hidden2 = nn.Linear(self.hidden_dim, self.hidden_dim)
        self.output = nn.Linear(self.hidden_dim, 10)

    def _drop(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        return self.dropout_fn(x, rate) if self.training and rate > 0 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._drop(x.flatten(1), self.rates[0])
        h = self._drop(torch.relu(self.hidden1(x)), self.rates[1])
        h = self._drop(torch.relu(self.hidden2(h)), self.rates[2])
        return self.output(h)
