"""ReLU 死亡实验：统计真正“死亡”的神经元，而不是输出为 0 的比例。

定义：在某个 epoch 结束时，若一个隐藏神经元对 **训练集中的每一个样本**，激活函数的导数都为 0，
它就是死亡的——它的输入权重和偏置从此收不到任何梯度（对 ReLU 即预激活值对所有样本都 ≤ 0）。

统计方式（我们的选择）：每个 epoch 结束后，固定参数，用 eval 模式把整个训练集过一遍
（:class:`labcode.metrics.DeadUnitCounter`）。这样判定的是“以当前参数，它对哪个训练样本都没有梯度”；
若在训练过程中边训练边统计，一个 epoch 内参数一直在变，早期批次里活着、后来已经死亡的神经元也会被算作活着。

原实验统计的是“输出恰好为 0 的比例”：ReLU 网络里约一半的输出本来就是 0（负半轴），这并不是死亡。
我们把这个朴素指标也保留为 ``zero_output_fraction``，页面可以对照说明。
"""

from __future__ import annotations

import time

import torch

from ..metrics import DeadUnitCounter
from ..models import Network
from ..profiles import DeadReluConfig
from .gradient_vanishing import check_activations, seeded_mlp
from .results import ExperimentResult, RunResult
from .training import fit_classifier, resolve_profile_config, start_mnist_experiment

__all__ = ["SETTINGS", "dead_unit_stats", "run_dead_relu"]

SETTINGS = ("seed", "dying")


@torch.no_grad()
def dead_unit_stats(
    model: Network, x: torch.Tensor, batch_size: int = 2000, masks: bool = False
) -> dict[str, list]:
    """以当前参数在 ``x`` 上统计每个隐藏层（输入层和每个隐藏层的激活之后）：

    - ``dead_fraction``：死亡神经元的比例（0 到 1）：对所有样本激活函数导数都为 0 的神经元；
    - ``zero_output_fraction``：输出恰好为 0 的比例（原实验的朴素指标，对所有样本和神经元平均）；
    - ``masks=True`` 时另有 ``dead_masks``：每层一个布尔张量（在设备上），标出哪些神经元死亡。

    用 eval 模式、不记录梯度，结束后恢复原模式；在设备上累加，最后读出一次。
    """
    counter = DeadUnitCounter(model.activation)
    zero_counts: list[torch.Tensor] | None = None
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            _, preacts = model(x[start : start + batch_size], return_preactivations=True)
            counter.update(preacts)
            zeros = [(model.activation(z) == 0).sum() for z in preacts]
            zero_counts = (
                zeros
                if zero_counts is None
                else [a + b for a, b in zip(zero_counts, zeros, strict=True)]
            )
        dead_masks = counter.dead_masks() if masks else None
        dead = counter.end_epoch()
        zero_totals = torch.stack(zero_counts).tolist()
    finally:
        model.train(was_training)
    per_layer = len(x) * model.hidden_dim
    out = {"dead_fraction": dead, "zero_output_fraction": [z / per_layer for z in zero_totals]}
    if masks:
        out["dead_masks"] = dead_masks
    return out


def _overall(fractions: list[float]) -> float:
    """各层比例的平均（每层神经元数相同，所以就是全部隐藏神经元中的比例）。"""
    return sum(fractions) / len(fractions)


def run_dead_relu(
    activations=None,
    setting: str = "seed",
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DeadReluConfig | None = None,
) -> ExperimentResult:
    """训练 MLP，每个 epoch 结束后统计每层死亡神经元的比例。

    - ``activations``：默认取设置中的 ``("relu", "leaky_relu", "tanh")``；
    - ``setting``：``"seed"``（原实验的优化器设置）或 ``"dying"``（让 ReLU 死亡的设置：对 Adam 过大的学习率），
      见 :class:`~labcode.profiles.DeadReluConfig`；
    - ``profile`` / ``config`` / ``seed`` / ``device``：同其他实验。

    每个运行的 ``history`` 除准确率与损失外有 ``dead_fraction``、``revived_fraction``（上一次统计时死亡、
    这一次又活过来的神经元占该层的比例）与 ``zero_output_fraction``（每个 epoch 一个
    列表，每层一个 0 到 1 之间的比例，层名见 ``layer_names``）；``summary`` 有训练前的
    ``dead_fraction_init`` / ``zero_output_fraction_init``、最后一个 epoch 全部隐藏神经元中的
    ``final_dead_fraction``、``final_zero_output_fraction``、``max_layer_dead_fraction`` 和 ``final_test_acc``。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config("dead_relu", profile, config, DeadReluConfig)
    if setting not in SETTINGS:
        raise ValueError(
            f"未知的设置 setting={setting!r}。可选：'seed'（原实验的设置）或 'dying'（让 ReLU 死亡的设置）。"
        )
    opt = config.setting(setting)
    names = check_activations(config.activations if activations is None else activations)
    device, data, result = start_mnist_experiment(
        "dead_relu",
        config,
        config.n_train,
        device,
        seed,
        profile_name,
        notes=[
            f"设置 {setting!r}：{opt.description or f'{opt.optimizer}, lr={opt.lr:g}'}。",
            "死亡神经元：每个 epoch 结束后用 eval 模式遍历整个训练集，激活函数的导数对所有样本都为 0 的隐藏神经元。",
        ],
    )

    for name in names:
        model = seeded_mlp(name, config.num_layers, config.hidden_dim, seed, device)

        previous: dict[str, list] = {}

        def stats(m: Network, previous=previous) -> dict[str, list[float]]:
            """Dead fractions, and which dead units of the previous measurement are alive again."""
            out = dead_unit_stats(m, data.train_x, config.eval_batch_size, masks=True)
            now = out.pop("dead_masks")
            before = previous.get("masks")
            revived = (
                [(b & ~n).sum() for b, n in zip(before, now, strict=True)]
                if before is not None
                else [torch.zeros((), device=now[0].device)] * len(now)
            )
            out["revived_fraction"] = [r / config.hidden_dim for r in torch.stack(revived).tolist()]
            previous["masks"] = now
            return out

        initial = stats(model)
        history, _ = fit_classifier(
            model,
            data,
            experiment="dead_relu",
            run=name,
            optimizer=opt.optimizer,
            lr=opt.lr,
            batch_size=config.batch_size,
            epochs=config.epochs,
            seed=seed,
            epoch_end=stats,
        )
        final_dead = history["dead_fraction"][-1]
        summary = {
            "dead_fraction_init": initial["dead_fraction"],
            "zero_output_fraction_init": initial["zero_output_fraction"],
            "final_dead_fraction": _overall(final_dead),
            "max_layer_dead_fraction": max(final_dead),
            "final_zero_output_fraction": _overall(history["zero_output_fraction"][-1]),
            "final_test_acc": history["test_acc"][-1],
        }
        params = {"activation": name, "setting": setting, "optimizer": opt.optimizer, "lr": opt.lr}
        result.runs[name] = RunResult(
            name,
            params=params,
            history=history,
            summary=summary,
            layer_names=model.activated_layer_names(),
        )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_dead_at_init(
    depth: int = 8,
    inits=("default", "he"),
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DeadReluConfig | None = None,
) -> ExperimentResult:
    """还没训练的深层 ReLU 网络里有多少死亡神经元：每种初始化建一个 ``depth`` 个隐藏层的网络，
    在整个训练集上按定义统计每层的死亡比例（不训练）。

    ``runs`` 以初始化方案为键（``"default"``：PyTorch 默认；``"he"``：He 初始化），``summary`` 有
    ``dead_fraction``（每个带激活的层一个比例，从输入层起）与 ``deep_dead_fraction``（最深 3 层的平均）。
    """
    from ..forward_signal import INIT_SCHEMES
    from ..models import check_num_layers
    from .gradient_vanishing import seeded_mlp

    started = time.perf_counter()
    depth = check_num_layers(depth)
    if depth < 3:
        raise ValueError(f"depth 应至少为 3（要看最深的 3 层），实际得到 {depth}。")
    inits = tuple(inits)
    unknown = [i for i in inits if i not in INIT_SCHEMES]
    if unknown or not inits:
        raise ValueError(f"未知的初始化方案 {unknown or inits}。可选：{', '.join(INIT_SCHEMES)}。")
    config, profile_name = resolve_profile_config("dead_relu", profile, config, DeadReluConfig)
    device, data, result = start_mnist_experiment(
        "dead_at_init",
        config,
        config.n_train,
        device,
        seed,
        profile_name,
        notes=[f"{depth} 个隐藏层的 ReLU 网络，未训练；在整个训练集上统计。"],
    )
    for init in inits:
        model = seeded_mlp("relu", depth, config.hidden_dim, seed, device, init=init)
        dead = dead_unit_stats(model, data.train_x, config.eval_batch_size)["dead_fraction"]
        result.runs[init] = RunResult(
            init,
            params={"init": init, "num_layers": depth},
            summary={"dead_fraction": dead, "deep_dead_fraction": sum(dead[-3:]) / 3},
            layer_names=model.activated_layer_names(),
        )
    result.elapsed_s = time.perf_counter() - started
    return result
