"""Dropout 实验：原实验的卷积网络在 MNIST 上训练，有 / 无 dropout。

训练准确率的两种统计方式（都记录）：

- ``train_acc``：原实验的方式——在训练过程中边训练边统计（训练模式，dropout 开着，参数一直在变）。
  开 dropout 时它被随机丢弃的神经元拉低，与测试准确率（eval 模式）不可比；
- ``train_acc_eval``：每个 epoch 结束后用 eval 模式（dropout 关闭）在训练集上重新评估（整个训练集，
  或设置 ``train_eval_size`` 给出的固定样本），与测试集的统计方式相同。训练–测试差距 ``gap`` = ``train_acc_eval`` − ``test_acc``（另记 ``gap_seed_style`` =
  ``train_acc`` − ``test_acc``，即原实验图上看到的差距）。损失同理：``loss_gap`` = ``test_loss`` − ``train_loss_eval``。
"""

from __future__ import annotations

import time

import torch

from .. import settings
from ..models import RegularizedNetwork, TorchDropoutNetwork
from ..profiles import DropoutConfig
from ..regularization import check_dropout_rate
from .results import ExperimentResult, RunResult
from .training import (
    fit_classifier,
    resolve_profile_config,
    start_mnist_experiment,
    sweep_can_reuse,
)

__all__ = ["VARIANTS", "rate_key", "run_dropout", "run_dropout_sweep"]

VARIANTS = {
    "none": "无 dropout（RegularizedNetwork(dropout_rate=0)）",
    "scratch": "手写 dropout_layer（RegularizedNetwork）",
    "torch": "PyTorch 的 nn.Dropout（TorchDropoutNetwork）",
}


def rate_key(rate: float) -> str:
    """扫描中一次运行的键，如 ``"p=0.3"``。"""
    return f"p={rate:g}"


def _train_cnn(model_cls, rate, epochs, config, data, seed, device, experiment, run) -> RunResult:
    settings.seed_everything(seed)  # 同一种子：各变体的初始权重相同（两种网络的参数创建顺序一致）
    model = model_cls(dropout_rate=rate).to(device)
    if device.type == "cpu":
        # 只改内存布局，网络与公式不变（换了底层实现，结果只有浮点舍入级的差别）：CPU 上卷积与最大池化
        # 在 channels_last（NHWC）布局下更快，批量 64 时训练快约 1.4 倍（主要是 max_pool2d，
        # 见 benchmarks/README.md）；GPU 上未实测，保持默认布局。
        model = model.to(memory_format=torch.channels_last)
    history, _ = fit_classifier(
        model,
        data,
        experiment=experiment,
        run=run,
        optimizer=config.optimizer,
        lr=config.lr,
        batch_size=config.batch_size,
        epochs=epochs,
        seed=seed,
        eval_batch_size=config.eval_batch_size,
        eval_train=True,
        train_eval_size=config.train_eval_size,
    )
    history["gap"] = [
        a - b for a, b in zip(history["train_acc_eval"], history["test_acc"], strict=True)
    ]
    history["gap_seed_style"] = [
        a - b for a, b in zip(history["train_acc"], history["test_acc"], strict=True)
    ]
    history["loss_gap"] = [
        a - b for a, b in zip(history["test_loss"], history["train_loss_eval"], strict=True)
    ]
    summary = {
        key: history[src][-1]
        for key, src in (
            ("final_train_acc", "train_acc"),
            ("final_train_acc_eval", "train_acc_eval"),
            ("final_test_acc", "test_acc"),
            ("final_train_loss_eval", "train_loss_eval"),
            ("final_test_loss", "test_loss"),
            ("final_gap", "gap"),
            ("final_gap_seed_style", "gap_seed_style"),
            ("final_loss_gap", "loss_gap"),
        )
    }
    params = {"dropout": rate, "model": model_cls.__name__, "lr": config.lr, "epochs": epochs}
    return RunResult(run, params=params, history=history, summary=summary)


def _prepare(profile, config, seed, device, name):
    config, profile_name = resolve_profile_config("dropout", profile, config, DropoutConfig)
    device, data, result = start_mnist_experiment(
        name,
        config,
        config.n_train,
        device,
        seed,
        profile_name,
        notes=[
            f"优化器 {config.optimizer}，lr={config.lr:g}，批量 {config.batch_size}。",
            "train_acc：边训练边统计（dropout 开着，原实验的方式）；train_acc_eval：每个 epoch 后用 eval 模式在训练集上评估。",
        ],
    )
    return config, data, result, device


def run_dropout(
    variants=("none", "scratch", "torch"),
    dropout: float | None = None,
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DropoutConfig | None = None,
) -> ExperimentResult:
    """Dropout 主实验。

    - ``variants``：``"none"``（无 dropout）、``"scratch"``（手写 ``dropout_layer``）、``"torch"``（``nn.Dropout``）
      中的若干个；
    - ``dropout``：dropout 比例，默认取设置（原实验 0.3），必须在 [0, 1] 内。

    ``runs`` 以变体名为键；``history`` 有 ``train_loss``、``train_acc``（原实验方式）、``train_loss_eval``、
    ``train_acc_eval``（eval 模式）、``test_loss``、``test_acc``、``gap``、``gap_seed_style``、``loss_gap``；
    ``summary`` 有它们最后一个 epoch 的值（``final_*``）。
    """
    started = time.perf_counter()
    if isinstance(variants, str):
        variants = (variants,)
    variants = tuple(variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise ValueError(
            f"未知的变体 {unknown or variants}。可选：{', '.join(VARIANTS)}（可以选多个）。"
        )
    config, data, result, device = _prepare(profile, config, seed, device, "dropout")
    rate = check_dropout_rate(config.dropout if dropout is None else dropout)
    for variant in variants:
        model_cls = TorchDropoutNetwork if variant == "torch" else RegularizedNetwork
        p = 0.0 if variant == "none" else rate
        run = _train_cnn(
            model_cls, p, config.epochs, config, data, seed, device, "dropout", variant
        )
        run.params["variant"] = variant
        run.params["description"] = VARIANTS[variant]
        result.runs[variant] = run
    result.elapsed_s = time.perf_counter() - started
    return result


def run_dropout_sweep(
    rates=None,
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DropoutConfig | None = None,
    reuse: ExperimentResult | None = None,
) -> ExperimentResult:
    """Dropout 比例扫描（手写 dropout，``RegularizedNetwork``），默认取设置中的 ``(0, 0.1, 0.3, 0.5, 0.7)``，
    每个比例训练 ``sweep_epochs`` 轮。``runs`` 的键为 ``"p=0.3"`` 等，内容同 :func:`run_dropout`。

    ``reuse``：:func:`run_dropout` 的结果。若它与本次扫描的设置、随机种子、设备相同且
    ``epochs == sweep_epochs``，其中 p=0（``"none"``）与 p=dropout（``"scratch"``）两次运行直接复用，
    不再重复训练（同样的网络、种子和轮数，结果完全相同）。"""
    started = time.perf_counter()
    config, data, result, device = _prepare(profile, config, seed, device, "dropout_sweep")
    values = [check_dropout_rate(r) for r in (config.sweep_rates if rates is None else rates)]
    if not values:
        raise ValueError("rates 不能为空，例如 rates=(0, 0.3, 0.5)。")
    reusable = _reusable_runs(reuse, config, seed, device, data.info)
    for rate in values:
        key = rate_key(rate)
        if rate in reusable:
            result.runs[key] = reusable[rate]
            continue
        result.runs[key] = _train_cnn(
            RegularizedNetwork,
            rate,
            config.sweep_epochs,
            config,
            data,
            seed,
            device,
            "dropout_sweep",
            key,
        )
    result.elapsed_s = time.perf_counter() - started
    return result


def _reusable_runs(
    reuse, config: DropoutConfig, seed: int, device, data_info
) -> dict[float, RunResult]:
    """主实验中与扫描的某个比例完全相同的运行（"none" 与 "scratch"，都是 RegularizedNetwork），
    以实际训练时的 dropout 比例为键（run_dropout 的 dropout= 参数可能与设置不同）。"""
    if not sweep_can_reuse(reuse, "dropout", config, seed, device, data_info):
        return {}
    return {
        run.params["dropout"]: run
        for variant, run in reuse.runs.items()
        if variant in ("none", "scratch")
    }
