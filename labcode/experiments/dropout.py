"""Dropout 实验：原实验的卷积网络在 MNIST 上训练，有 / 无 dropout。

训练准确率的两种统计方式（都记录）：

- ``train_acc``：原实验的方式——在训练过程中边训练边统计（训练模式，dropout 开着，参数一直在变）。
  开 dropout 时它被随机丢弃的神经元拉低，与测试准确率（eval 模式）不可比；
- ``train_acc_eval``：每个 epoch 结束后用 eval 模式（dropout 关闭）在训练集上重新评估（整个训练集，
  或设置 ``train_eval_size`` 给出的固定样本），与测试集的统计方式相同。训练–测试差距 ``gap`` = ``train_acc_eval`` − ``test_acc``（另记 ``gap_original_style`` =
  ``train_acc`` − ``test_acc``，即原实验图上看到的差距）。损失同理：``loss_gap`` = ``test_loss`` − ``train_loss_eval``。
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch

from .. import settings
from ..checks import check_choices, check_seeds
from ..models import DropoutMLP, RegularizedNetwork, TorchDropoutNetwork
from ..profiles import DropoutConfig, DropoutMLPConfig
from ..regularization import check_dropout_fn, check_dropout_rate, dropout_layer
from .results import ExperimentResult, RunResult
from .training import (
    RunSpec,
    fit_classifier,
    resolve_profile_config,
    start_mnist_experiment,
    sweep_can_reuse,
)

__all__ = [
    "VARIANTS",
    "rate_key",
    "run_dropout",
    "run_dropout_mlp",
    "run_dropout_mlp_sweep",
    "run_dropout_seeds",
    "run_dropout_sweep",
    "seed_key",
    "sweep_seed_means",
]

VARIANTS = {
    "none": "无 dropout（RegularizedNetwork(dropout_rate=0)）",
    "scratch": "手写 dropout_layer（RegularizedNetwork）",
    "torch": "PyTorch 的 nn.Dropout（TorchDropoutNetwork）",
}


def rate_key(rate: float) -> str:
    """扫描中一次运行的键，如 ``"p=0.3"``。"""
    return f"p={rate:g}"


def add_gaps(history: dict[str, list]) -> None:
    """在 ``history`` 中加上每个 epoch 的泛化差距：``gap`` = 训练准确率 − 测试准确率，``loss_gap`` =
    测试损失 − 训练损失（都用 eval 模式）；``gap_original_style`` = ``train_acc`` − 测试准确率（原实验的方式）。"""
    for key, a, b in (
        ("gap", "train_acc_eval", "test_acc"),
        ("loss_gap", "test_loss", "train_loss_eval"),
        ("gap_original_style", "train_acc", "test_acc"),
    ):
        history[key] = [x - y for x, y in zip(history[a], history[b], strict=True)]


def _train_cnn(model_cls, rate, epochs, config, data, seed, device, experiment, run) -> RunResult:
    settings.seed_everything(seed)  # 同一种子：各变体的初始权重相同（两种网络的参数创建顺序一致）
    model = model_cls(dropout_rate=rate).to(device)
    if device.type == "cpu":
        # 只改内存布局，网络与公式不变（换了底层实现，结果只有浮点舍入级的差别）：CPU 上卷积与最大池化
        # 在 channels_last（NHWC）布局下更快，批量 64 时训练快约 1.4 倍（主要是 max_pool2d，
        # 见 benchmarks/README.md）；GPU 上未实测，保持默认布局。
        model = model.to(memory_format=torch.channels_last)
    spec = RunSpec(
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
    history, _ = fit_classifier(model, data, spec)
    add_gaps(history)
    summary = {
        key: history[src][-1]
        for key, src in (
            ("final_train_acc", "train_acc"),
            ("final_train_acc_eval", "train_acc_eval"),
            ("final_test_acc", "test_acc"),
            ("final_train_loss_eval", "train_loss_eval"),
            ("final_test_loss", "test_loss"),
            ("final_gap", "gap"),
            ("final_gap_original_style", "gap_original_style"),
            ("final_loss_gap", "loss_gap"),
        )
    }
    params = {"dropout": rate, "model": model_cls.__name__, "lr": config.lr, "epochs": epochs}
    return RunResult(run, params=params, history=history, summary=summary)


def _prepare(profile, config, seed, device, name):
    config, profile_name = resolve_profile_config("dropout", profile, config, DropoutConfig)
    notes = [
        f"优化器 {config.optimizer}，lr={config.lr:g}，批量 {config.batch_size}。",
        "train_acc：边训练边统计（dropout 开着，原实验的方式）；train_acc_eval：每个 epoch 后用 eval 模式在训练集上评估。",
    ]
    device, data, result = start_mnist_experiment(name, config, device, seed, profile_name, notes)
    return config, data, result, device


def run_dropout(
    variants=("none", "scratch", "torch"),
    dropout: float | None = None,
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DropoutConfig | None = None,
    model_cls: type = RegularizedNetwork,
) -> ExperimentResult:
    """Dropout 主实验。

    - ``model_cls``：``"none"`` 与 ``"scratch"`` 两个变体用的网络类，默认 :class:`~labcode.models.RegularizedNetwork`；
      可以换成你在练习中写的（``model_cls(dropout_rate=p)``，只在训练模式下丢弃）；
    - ``variants``：``"none"``（无 dropout）、``"scratch"``（手写 ``dropout_layer``）、``"torch"``（``nn.Dropout``）
      中的若干个；
    - ``dropout``：dropout 比例，默认取设置（原实验 0.3），必须在 [0, 1] 内。

    ``runs`` 以变体名为键；``history`` 有 ``train_loss``、``train_acc``（原实验方式）、``train_loss_eval``、
    ``train_acc_eval``（eval 模式）、``test_loss``、``test_acc``、``gap``、``gap_original_style``、``loss_gap``；
    ``summary`` 有它们最后一个 epoch 的值（``final_*``）。
    """
    started = time.perf_counter()
    variants = check_choices(variants, VARIANTS, "变体")
    if not (isinstance(model_cls, type) and issubclass(model_cls, torch.nn.Module)):
        raise TypeError(
            f"model_cls 应为 torch.nn.Module 的子类（用 model_cls(dropout_rate=p) 建网络），实际得到 {model_cls!r}。"
        )
    config, data, result, device = _prepare(profile, config, seed, device, "dropout")
    rate = check_dropout_rate(config.dropout if dropout is None else dropout)
    if model_cls is not RegularizedNetwork:
        result.notes.append(f"网络：{model_cls.__qualname__}（{model_cls.__module__}）。")
    for variant in variants:
        cls = TorchDropoutNetwork if variant == "torch" else model_cls
        p = 0.0 if variant == "none" else rate
        run = _train_cnn(cls, p, config.epochs, config, data, seed, device, "dropout", variant)
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
    model_cls: type = RegularizedNetwork,
) -> ExperimentResult:
    """Dropout 比例扫描（手写 dropout，默认 ``RegularizedNetwork``），默认取设置中的 ``sweep_rates``
    （``(0, 0.1, 0.3, 0.5, 0.7, 0.9)``），
    每个比例训练 ``sweep_epochs`` 轮。``runs`` 的键为 ``"p=0.3"`` 等，内容同 :func:`run_dropout`。

    ``reuse``：:func:`run_dropout` 的结果。若它与本次扫描的设置、随机种子、设备相同且
    ``epochs == sweep_epochs``，其中 p=0（``"none"``）与 p=dropout（``"scratch"``）两次运行直接复用，
    不再重复训练（同样的网络、种子和轮数，结果完全相同）。"""
    started = time.perf_counter()
    config, data, result, device = _prepare(profile, config, seed, device, "dropout_sweep")
    values = [check_dropout_rate(r) for r in (config.sweep_rates if rates is None else rates)]
    if not values:
        raise ValueError("rates 不能为空，例如 rates=(0, 0.3, 0.5)。")
    reusable = _reusable_runs(reuse, config, seed, device, data.info, model_cls)
    for rate in values:
        key = rate_key(rate)
        if rate in reusable:
            result.runs[key] = reusable[rate]
            continue
        result.runs[key] = _train_cnn(
            model_cls,
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


def seed_key(variant: str, seed: int) -> str:
    """跨种子比较中一次运行的键，如 ``"scratch/seed=1"``。"""
    return f"{variant}/seed={seed}"


def run_dropout_seeds(
    seeds=None,
    dropout: float | None = None,
    profile: str | None = None,
    device=None,
    config: DropoutConfig | None = None,
    reuse: ExperimentResult | None = None,
    model_cls: type = RegularizedNetwork,
) -> ExperimentResult:
    """原实验的设置下，有 / 无 dropout 各在几个随机种子上训练，看差距的变化是否超出种子间的波动。

    ``seeds`` 默认取设置中的 ``seeds``；``runs`` 的键为 ``"none/seed=0"``、``"scratch/seed=0"`` 等，内容同
    :func:`run_dropout`。``reuse``：:func:`run_dropout` 的结果，与它种子相同的两次运行直接复用。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config("dropout", profile, config, DropoutConfig)
    seed_list = check_seeds(config.seeds if seeds is None else seeds, minimum=2)
    config, data, result, device = _prepare(profile, config, seed_list[0], device, "dropout_seeds")
    result.notes.append(f"随机种子：{', '.join(map(str, seed_list))}。")
    rate = check_dropout_rate(config.dropout if dropout is None else dropout)
    for seed in seed_list:
        reusable = {}
        if reuse is not None and reuse.seed == seed:
            reusable = _reusable_runs(reuse, config, seed, device, data.info, model_cls)
        for variant, p in (("none", 0.0), ("scratch", rate)):
            key = seed_key(variant, seed)
            run = reusable.get(p)
            if run is None:
                run = _train_cnn(
                    model_cls,
                    p,
                    config.epochs,
                    config,
                    data,
                    seed,
                    device,
                    "dropout_seeds",
                    key,
                )
            else:
                run = dataclasses.replace(run, name=key, params=dict(run.params))
            run.params.update(variant=variant, seed=seed)
            result.runs[key] = run
    result.elapsed_s = time.perf_counter() - started
    return result


MLP_VARIANTS = {
    "none": "无 dropout（所有比例为 0）",
    "dropout": "手写 dropout_layer（或你传入的 dropout_fn），每层的比例见设置",
    "torch": "torch.nn.functional.dropout，比例同上",
    "weight_decay": "无 dropout，权重衰减 λ（设置中的 weight_decay，只衰减权重、不衰减偏置）",
    "dropout_wd": 'dropout（比例同 "dropout"）加权重衰减 λ',
    "early_stop": "无 dropout，从训练图中留出 n_val 张作验证集，用其余的训练；按验证损失选 epoch（提前停止）",
}


def _mlp_notes(config: DropoutMLPConfig, seed_list, dropout: str) -> list[str]:
    """小数据 MLP 实验的说明：数据与网络的规模、``dropout`` 的用法、随机种子。"""
    return [
        f"只用 {config.n_train} 张训练图；两个 {config.hidden_dim} 宽的隐藏层；训练 {config.epochs} 个 epoch；{dropout}",
        f"随机种子：{', '.join(map(str, seed_list))}。",
    ]


def _decay_weights(model: DropoutMLP, lam: float) -> None:
    """SGD 的权重衰减，只作用于三个 Linear 层的权重（偏置不衰减，见 L2 一章）：每个权重的梯度加上 λw。"""
    for weight in (model.hidden1.weight, model.hidden2.weight, model.output.weight):
        weight.register_hook(lambda grad, w=weight: grad + lam * w.detach())


def _validation_metrics(val_x, val_y):
    """每个 epoch 结束后在验证集上（eval 模式）算损失与准确率，供 ``fit_classifier(epoch_end=...)``。"""

    def metrics(model) -> dict:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
            loss = float(torch.nn.functional.cross_entropy(logits, val_y))
            acc = float((logits.argmax(dim=1) == val_y).float().mean())
        model.train(was_training)
        return {"val_loss": loss, "val_acc": acc}

    return metrics


def _train_mlp(
    config,
    data,
    device,
    seed,
    key,
    experiment,
    p_in,
    p_hidden,
    dropout_fn,
    params,
    weight_decay: float = 0.0,
    n_val: int = 0,
):
    settings.seed_everything(seed)  # 同一种子：同样的初始权重与批次顺序（配对比较）
    model = DropoutMLP(p_in, p_hidden, config.hidden_dim, dropout_fn=dropout_fn).to(device)
    if weight_decay > 0:
        _decay_weights(model, weight_decay)
    epoch_end = None
    if n_val > 0:  # 最后 n_val 张训练图留作验证集，不参加训练
        n = len(data.train_y) - n_val
        epoch_end = _validation_metrics(data.train_x[n:], data.train_y[n:])
        data = dataclasses.replace(data, train_x=data.train_x[:n], train_y=data.train_y[:n])
    spec = RunSpec(
        experiment=experiment,
        run=key,
        optimizer=config.optimizer,
        lr=config.lr,
        batch_size=config.batch_size,
        epochs=config.epochs,
        seed=seed,
        eval_batch_size=config.eval_batch_size,
        eval_train=True,
    )
    history, _ = fit_classifier(model, data, spec, epoch_end=epoch_end)
    add_gaps(history)
    summary = {
        "final_test_acc": history["test_acc"][-1],
        "final_test_loss": history["test_loss"][-1],
        "final_train_acc_eval": history["train_acc_eval"][-1],
        "final_gap": history["gap"][-1],
        "final_loss_gap": history["loss_gap"][-1],
    }
    if n_val > 0:
        best = min(range(len(history["val_loss"])), key=history["val_loss"].__getitem__)
        summary.update(
            stop_epoch=best + 1,
            stopped_test_loss=history["test_loss"][best],
            stopped_test_acc=history["test_acc"][best],
        )
    params = {
        **params,
        "seed": seed,
        "input_dropout": p_in,
        "hidden_dropout": tuple(p_hidden),
        "epochs": config.epochs,
        "weight_decay": weight_decay,
        "n_val": n_val,
    }
    return RunResult(key, params=params, history=history, summary=summary)


def run_dropout_mlp(
    seeds=None,
    profile: str | None = None,
    device=None,
    config: DropoutMLPConfig | None = None,
    dropout_fn=dropout_layer,
    variants=("none", "dropout", "torch"),
) -> ExperimentResult:
    """Dropout 效果明显的设置：很少的训练图、很宽的 MLP、很长的训练，每层不同的 dropout 比例。

    每个种子训练 :class:`~labcode.models.DropoutMLP` 的几个变体（``variants``）：``"none"``（所有比例为 0）、
    ``"dropout"``（设置中的 ``input_dropout`` / ``hidden_dropout``，丢弃函数为 ``dropout_fn``，默认手写的
    ``dropout_layer``，可以换成你自己写的）与 ``"torch"``（同样的比例，丢弃函数为
    ``torch.nn.functional.dropout``）；另可选 ``"weight_decay"``（权重衰减 ``config.weight_decay``，只衰减权重）、
    ``"dropout_wd"``（两者同时）与 ``"early_stop"``（最后 ``config.n_val`` 张训练图留作验证集，``history`` 多出
    ``val_loss`` / ``val_acc``，``summary`` 有按验证损失选出的 ``stop_epoch`` 及那个 epoch 的 ``stopped_test_loss``）。同一个种子的各变体初始权重与批次顺序相同，供配对比较。
    ``runs`` 的键为 ``"none/seed=0"``、``"dropout/seed=0"`` 等，``history`` 同 :func:`run_dropout`
    （含 eval 模式的训练集指标与原实验方式的 ``gap_original_style``）。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config("dropout_mlp", profile, config, DropoutMLPConfig)
    check_dropout_fn(dropout_fn)
    variants = check_choices(variants, MLP_VARIANTS, "变体")
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    notes = _mlp_notes(
        config,
        seed_list,
        f"dropout：输入 {config.input_dropout:g}，隐藏层 {config.hidden_dropout[0]:g} / {config.hidden_dropout[1]:g}"
        "（Srivastava 等，2014 的做法）。",
    )
    device, data, result = start_mnist_experiment(
        "dropout_mlp", config, device, seed_list[0], profile_name, notes
    )
    recipe = (config.input_dropout, tuple(config.hidden_dropout))
    setups = {
        "none": (0.0, (0.0, 0.0), dropout_layer),
        "dropout": (*recipe, dropout_fn),
        "torch": (*recipe, torch.nn.functional.dropout),
        "weight_decay": (0.0, (0.0, 0.0), dropout_layer),
        "dropout_wd": (*recipe, dropout_fn),
        "early_stop": (0.0, (0.0, 0.0), dropout_layer),
    }
    extra: dict[str, dict[str, Any]] = {
        "weight_decay": {"weight_decay": config.weight_decay},
        "dropout_wd": {"weight_decay": config.weight_decay},
        "early_stop": {"n_val": config.n_val},
    }
    if "early_stop" in variants and not config.n_val < len(data.train_y):
        raise ValueError(
            f"变体 early_stop 要从 {len(data.train_y)} 张训练图中留出 n_val={config.n_val} 张作验证集，"
            "n_val 必须小于训练图的张数。请减小 n_val（dataclasses.replace(config, n_val=...)）。"
        )
    if any(v in extra for v in variants):
        result.notes.append(
            f"权重衰减 λ = {config.weight_decay:g}（事先固定，没有在测试集上挑选；只衰减权重）；"
            f"提前停止：最后 {config.n_val} 张训练图留作验证集，按验证损失最低选 epoch。"
        )
    for seed in seed_list:
        for variant in variants:
            p_in, p_hidden, fn = setups[variant]
            key = seed_key(variant, seed)
            result.runs[key] = _train_mlp(
                config,
                data,
                device,
                seed,
                key,
                "dropout_mlp",
                p_in,
                p_hidden,
                fn,
                {"variant": variant, "dropout": max(p_in, *p_hidden)},
                **extra.get(variant, {}),
            )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_dropout_mlp_sweep(
    rates=None,
    seeds=None,
    profile: str | None = None,
    device=None,
    config: DropoutMLPConfig | None = None,
    dropout_fn=dropout_layer,
    reuse: ExperimentResult | None = None,
) -> ExperimentResult:
    """小数据 MLP 上的 dropout 比例扫描：两个隐藏层之后都用比例 p（输入不丢弃），每个 p 在每个种子上训练一次。

    ``rates`` 默认取设置中的 ``sweep_rates``，``seeds`` 默认取 ``seeds``。``runs`` 的键为 ``"p=0.5/seed=0"``，
    ``params`` 有 ``dropout``（p）与 ``seed``。``reuse``：:func:`run_dropout_mlp` 的结果；设置、设备与数据相同时，
    其中的 ``"none"`` 运行就是 p = 0 的运行，直接复用。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config("dropout_mlp", profile, config, DropoutMLPConfig)
    check_dropout_fn(dropout_fn)
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    values = [check_dropout_rate(r) for r in (config.sweep_rates if rates is None else rates)]
    if not values or len(set(values)) != len(values) or any(r >= 1 for r in values):
        raise ValueError(
            f"rates 应为不重复、小于 1 的比例，例如 (0, 0.5, 0.9)，实际得到 {values!r}。"
        )
    notes = _mlp_notes(config, seed_list, "两个隐藏层之后的 dropout 比例都为 p，输入不丢弃。")
    device, data, result = start_mnist_experiment(
        "dropout_mlp_sweep", config, device, seed_list[0], profile_name, notes
    )
    reusable = {}
    if reuse is not None:
        if getattr(reuse, "name", None) != "dropout_mlp":
            raise ValueError(
                f"reuse 应为 run_dropout_mlp 的结果，实际得到 {getattr(reuse, 'name', type(reuse).__name__)!r}。"
            )
        if reuse.config == config and str(reuse.device) == str(device) and reuse.data == data.info:
            reusable = {
                run.params["seed"]: run
                for run in reuse.runs.values()
                if run.params.get("variant") == "none"
            }
    for seed in seed_list:
        for rate in values:
            key = f"{rate_key(rate)}/seed={seed}"
            if rate == 0 and seed in reusable:
                run = dataclasses.replace(
                    reusable[seed], name=key, params=dict(reusable[seed].params)
                )
            else:
                run = _train_mlp(
                    config,
                    data,
                    device,
                    seed,
                    key,
                    "dropout_mlp_sweep",
                    0.0,
                    (rate, rate),
                    dropout_fn,
                    {},
                )
            run.params.update(dropout=rate, seed=seed, variant=rate_key(rate))
            result.runs[key] = run
    result.elapsed_s = time.perf_counter() - started
    return result


def sweep_seed_means(result: ExperimentResult) -> ExperimentResult:
    """把 :func:`run_dropout_mlp_sweep` 的结果按 p 对种子取平均（每个 epoch 的各项指标），得到每个 p 一次
    “平均运行”的 ``"dropout_sweep"`` 结果，供 :func:`labcode.plots.plot_dropout_sweep` 与交互图使用。"""
    if getattr(result, "name", None) != "dropout_mlp_sweep":
        raise ValueError(
            f"需要 run_dropout_mlp_sweep 的结果，实际得到 {getattr(result, 'name', type(result).__name__)!r}。"
        )
    groups: dict[float, list[RunResult]] = {}
    for run in result.runs.values():
        groups.setdefault(run.params["dropout"], []).append(run)
    view = dataclasses.replace(result, name="dropout_sweep", runs={}, notes=list(result.notes))
    view.notes.append("每个 p 的曲线是各种子的平均。")
    for rate in sorted(groups):
        runs = groups[rate]
        keys = [k for k, v in runs[0].history.items() if v and isinstance(v[0], int | float)]
        history = {
            k: [sum(vals) / len(vals) for vals in zip(*(r.history[k] for r in runs), strict=True)]
            for k in keys
        }
        params = {"dropout": rate, "seeds": [r.params["seed"] for r in runs]}
        view.runs[rate_key(rate)] = RunResult(rate_key(rate), params=params, history=history)
    return view


def _reusable_runs(
    reuse, config: DropoutConfig, seed: int, device, data_info, model_cls=RegularizedNetwork
) -> dict[float, RunResult]:
    """主实验中与扫描的某个比例完全相同的运行（"none" 与 "scratch"，且网络类与 ``model_cls`` 相同），
    以实际训练时的 dropout 比例为键（run_dropout 的 dropout= 参数可能与设置不同）。"""
    if not sweep_can_reuse(reuse, "dropout", config, seed, device, data_info):
        return {}
    return {
        run.params["dropout"]: run
        for variant, run in reuse.runs.items()
        if variant in ("none", "scratch") and run.params.get("model") == model_cls.__name__
    }
