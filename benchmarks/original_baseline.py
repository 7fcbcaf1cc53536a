"""原实验（original）的训练方式：忠实重现，只作为基准测试的对照基线。

这里的代码刻意保留原实验的写法（labcode 不使用它）：

- 数据：torchvision 的 ``datasets.MNIST`` + ``transforms.Compose([ToTensor(), Normalize((0.1307,),
  (0.3081,))])``，由 ``DataLoader(shuffle=True)`` 逐张图片做 PIL 变换后再拼成批次；
- 梯度消失实验：每个批次调用 :func:`analyze_gradients`，把每个参数的梯度 ``.cpu().numpy()``
  拷到 numpy 上求统计量；每个批次 ``.item()`` 读取正确数和损失；
- ReLU 死亡实验：每个 epoch 重新调用 ``get_data()``（重新读取、解析数据文件），每个批次、每层用
  ``.item()`` 统计激活值为 0 的个数；
- Dropout 实验：每个批次 ``.item()``，每个 epoch 在测试集上评估一次。

与原实验唯一的不同：数据文件的位置。原实验从 ``./data`` 读取（必要时下载），这里让 torchvision
读取 labcode 所用的同一份 idx 文件（完整 MNIST，或离线子集 ``MNIST-subset/raw/``），保证两条路径
训练的是同一份数据。离线子集不在 torchvision 期望的 ``<root>/MNIST/raw/`` 下，所以
:func:`prepare_mnist_root` 在一个临时目录里建 ``MNIST/raw/`` 并链接（``.gz`` 则解压）这 4 个文件；
读取、逐张图片 PIL 变换的过程完全是 torchvision 原本的代码。

模型由调用者传入（基准测试用 labcode 的 ``Network`` / ``RegularizedNetwork``），这样两条路径的
模型完全相同，测出的差别只来自训练方式。
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn, optim
from torch.utils.data import DataLoader

from labcode.data import MNIST_FILES as LABCODE_MNIST_FILES

SEED_MEAN = (0.1307,)
SEED_STD = (0.3081,)

MNIST_FILES = tuple(LABCODE_MNIST_FILES.values())  # labcode 与 torchvision 读同一批 idx 文件


def original_transform():
    """原实验的预处理：``ToTensor()`` + ``Normalize((0.1307,), (0.3081,))``，逐张图片执行。"""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(SEED_MEAN, SEED_STD)])


def prepare_mnist_root(raw_dir: str | os.PathLike, workdir: str | os.PathLike) -> Path:
    """在 ``workdir/MNIST/raw/`` 放好 ``raw_dir`` 中的 4 个 MNIST 文件，返回可传给
    ``datasets.MNIST(root=...)`` 的 ``workdir``。

    未压缩的文件用符号链接（不复制），只有 ``.gz`` 时解压到 ``workdir``。缺文件时抛出
    ``FileNotFoundError``。
    """
    raw_dir = Path(raw_dir)
    target = Path(workdir) / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        dest = target / name
        if dest.exists() or dest.is_symlink():
            dest.unlink()
        plain, packed = raw_dir / name, raw_dir / f"{name}.gz"
        if plain.is_file():
            try:
                dest.symlink_to(plain.resolve())
            except OSError:  # 不支持符号链接的文件系统
                shutil.copyfile(plain, dest)
        elif packed.is_file():
            with gzip.open(packed, "rb") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
        else:
            raise FileNotFoundError(
                f"{raw_dir} 中没有 MNIST 文件 {name}（或 {name}.gz）。"
                "请先运行一次 labcode.data.load_mnist()，它会准备好数据文件。"
            )
    return Path(workdir)


@dataclass
class OriginalData:
    """原实验的 ``get_data``，只是把 ``'./data'`` 换成 ``root``（见 :func:`prepare_mnist_root`）。

    ``n_train``：只用训练集的前 ``n_train`` 张（与 labcode 设置中的 ``n_train`` 相同，取的是同样的
    前 n 张）；``None`` 表示全部，即原实验的做法。
    """

    root: Path
    n_train: int | None = None

    def datasets(self):
        from torch.utils.data import Subset
        from torchvision import datasets

        transform = original_transform()
        # 原实验：datasets.MNIST('./data', train=True, download=True, transform=transform)。
        # 文件已在 root 中；download=False 只是不去联网检查，读取过程相同。
        train = datasets.MNIST(str(self.root), train=True, download=False, transform=transform)
        test = datasets.MNIST(str(self.root), train=False, transform=transform)
        if self.n_train is not None and self.n_train < len(train):
            train = Subset(train, range(self.n_train))
        return train, test

    def get_data(self, batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
        train_dataset, test_dataset = self.datasets()
        train_loader = DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
        test_loader = DataLoader(test_dataset, batch_size=batch_size, shuffle=False)
        return train_loader, test_loader


def analyze_gradients(model: nn.Module) -> list[dict]:
    """原实验的 ``analyze_gradients``：每个参数（权重和偏置各算一"层"）的梯度拷到 numpy。"""
    gradients_by_layer = []
    for name, param in model.named_parameters():
        if param.grad is not None:
            layer_grads = param.grad.cpu().numpy()
            grad_mean = np.mean(np.abs(layer_grads))
            grad_std = np.std(layer_grads)
            gradients_by_layer.append({"layer": name, "mean": grad_mean, "std": grad_std})
    return gradients_by_layer


def synchronize(device: torch.device | str) -> None:
    """读计时器之前等 GPU 上排队的计算做完（CPU 上什么也不做）。"""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class OriginalRun:
    """一次训练（一个模型）的计时与结果。``setup_s``：epoch 循环之前的准备时间（原实验在这里调用
    ``get_data()``）；``epoch_s``：每个 epoch 的秒数（ReLU 死亡实验的每个 epoch 含重新加载数据）。"""

    setup_s: float = 0.0
    epoch_s: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.setup_s + sum(self.epoch_s)


def train_gradient_vanishing(
    model: nn.Module,
    data: OriginalData,
    *,
    epochs: int,
    lr: float = 0.001,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> OriginalRun:
    """原实验 ``experiment_gradient_vanishing`` 中一个激活函数的训练循环。"""
    device = torch.device(device)
    run = OriginalRun()
    grad_history: list[list[float]] = []
    synchronize(device)
    start = time.perf_counter()
    criterion = nn.CrossEntropyLoss()
    train_loader, _ = data.get_data(batch_size)
    model = model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    run.setup_s = time.perf_counter() - start

    for _epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        total_loss = 0
        correct = 0
        total = 0
        for batch_idx, (data_batch, target) in enumerate(train_loader):
            data_batch, target = data_batch.to(device), target.to(device)
            data_batch = data_batch.view(data_batch.size(0), -1)

            optimizer.zero_grad()
            output = model(data_batch)
            loss = criterion(output, target)
            loss.backward()

            if batch_idx % 1 == 0:
                gradients = analyze_gradients(model)
                grad_history.append([g["mean"] for g in gradients])

            optimizer.step()

            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
            total += target.size(0)
            total_loss += loss.item()
        run.train_acc.append(100.0 * correct / total)
        synchronize(device)
        run.epoch_s.append(time.perf_counter() - start)
    run.extra["grad_history_batches"] = len(grad_history)
    run.extra["last_grad_means"] = [float(v) for v in grad_history[-1]] if grad_history else []
    return run


def train_dead_relu(
    model: nn.Module,
    data: OriginalData,
    *,
    epochs: int,
    lr: float = 0.001,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
) -> OriginalRun:
    """原实验 ``experiment_relu_death`` 中一个激活函数的训练循环：每个 epoch 重新 ``get_data()``，
    每个批次、每个隐藏层 ``.item()`` 统计激活值为 0 的个数。

    原实验在隐藏层循环里写的是 ``x = layer(x)``，算出 ``activated`` 却没有赋回 ``x``，训练的网络
    隐藏层没有激活函数。为了与 labcode 训练同一个模型（比较准确率），这里把 ``activated`` 赋回
    ``x``；计算量与原实验相同（原实验同样对每层算一次激活函数）。
    """
    device = torch.device(device)
    run = OriginalRun()
    synchronize(device)
    start = time.perf_counter()
    criterion = nn.CrossEntropyLoss()
    model = model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    run.setup_s = time.perf_counter() - start
    death_rates = []

    for _epoch in range(epochs):
        start = time.perf_counter()
        zero_activations = 0
        total_activations = 0
        train_loader, _ = data.get_data(batch_size)  # 原实验：每个 epoch 重新加载数据
        for data_batch, target in train_loader:
            data_batch = data_batch.to(device)
            target = target.to(device)
            data_batch = data_batch.view(data_batch.size(0), -1)
            optimizer.zero_grad()
            x = model.input_layer(data_batch)
            x = model.activation(x)
            for layer in model.layers:
                x = layer(x)
                activated = model.activation(x)
                zero_activations += torch.sum(activated == 0).item()
                total_activations += activated.numel()
                x = activated  # 原实验漏了这一句（见文档字符串）
            output = model.output_layer(x)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()
        death_rates.append(zero_activations / total_activations)
        synchronize(device)
        run.epoch_s.append(time.perf_counter() - start)
    run.extra["zero_fraction"] = death_rates
    return run


def train_dropout(
    model: nn.Module,
    data: OriginalData,
    *,
    epochs: int,
    lr: float = 0.5,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> OriginalRun:
    """原实验 ``experiment_regularization`` 中一个配置的训练循环（每个 epoch 训练 + 测试）。"""
    device = torch.device(device)
    run = OriginalRun()
    synchronize(device)
    start = time.perf_counter()
    model = model.to(device)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    train_loader, test_loader = data.get_data(batch_size=batch_size)
    run.setup_s = time.perf_counter() - start

    for _epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        train_correct = 0
        train_total = 0
        for data_batch, target in train_loader:
            data_batch, target = data_batch.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data_batch)
            loss = criterion(output, target)
            loss.backward()
            optimizer.step()

            pred = output.argmax(dim=1, keepdim=True)
            train_correct += pred.eq(target.view_as(pred)).sum().item()
            train_total += target.size(0)
        run.train_acc.append(100.0 * train_correct / train_total)

        model.eval()
        test_correct = 0
        test_total = 0
        with torch.no_grad():
            for data_batch, target in test_loader:
                data_batch, target = data_batch.to(device), target.to(device)
                output = model(data_batch)
                pred = output.argmax(dim=1, keepdim=True)
                test_correct += pred.eq(target.view_as(pred)).sum().item()
                test_total += target.size(0)
        run.test_acc.append(100.0 * test_correct / test_total)
        synchronize(device)
        run.epoch_s.append(time.perf_counter() - start)
    return run
