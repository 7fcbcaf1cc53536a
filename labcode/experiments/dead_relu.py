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

import dataclasses
import time

import torch

from ..checks import check_choices, check_seeds
from ..forward_signal import INIT_SCHEMES
from ..metrics import DeadUnitCounter
from ..models import Network, check_num_layers
from ..profiles import DeadReluConfig
from .gradient_vanishing import check_activations, seeded_mlp
from .results import ExperimentResult, RunResult
from .training import RunSpec, fit_classifier, resolve_profile_config, start_mnist_experiment

__all__ = [
    "SEED_RUNS",
    "SETTINGS",
    "dead_unit_stats",
    "run_dead_at_init",
    "run_dead_relu",
    "run_dead_relu_seeds",
]

SETTINGS = ("original", "dying")

#: 跨种子实验（:func:`run_dead_relu_seeds`）在每个种子上训练的 (设置, 激活函数)：原实验的设置只需 ReLU
#: （“输出为 0”与“死亡”的对照），危险设置要 ReLU（死亡）、LeakyReLU（负半轴）、Tanh 与 GELU（饱和）。
SEED_RUNS = (
    ("original", "relu"),
    ("dying", "relu"),
    ("dying", "leaky_relu"),
    ("dying", "tanh"),
    ("dying", "gelu"),
)


@torch.no_grad()
def dead_unit_stats(
    model: Network,
    x: torch.Tensor,
    batch_size: int = 2000,
    masks: bool = False,
    saturation_tol: float = 1e-3,
) -> dict[str, list]:
    """以当前参数在 ``x`` 上统计每个隐藏层（输入层和每个隐藏层的激活之后）：

    - ``dead_fraction``：死亡神经元的比例（0 到 1）：对所有样本激活函数导数都为 0 的神经元；
    - ``negative_fraction``：对所有样本预激活值都 ≤ 0 的神经元的比例（对 ReLU 就是死亡；LeakyReLU 的这种
      神经元没有死，但对每个样本只传回乘了 negative_slope 的梯度）；
    - ``saturated_fraction``：对所有样本激活函数的导数都小于 ``saturation_tol`` 的神经元的比例
      （Tanh、Sigmoid 的饱和；ReLU 的死亡神经元也算在内）；
    - ``zero_output_fraction``：输出恰好为 0 的比例（原实验的朴素指标，对所有样本和神经元平均）；
    - ``masks=True`` 时另有 ``dead_masks``：每层一个布尔张量（在设备上），标出哪些神经元死亡。

    用 eval 模式、不记录梯度，结束后恢复原模式；在设备上累加，最后读出一次。
    """
    counter = DeadUnitCounter(model.activation)
    # per layer: outputs that are 0; per unit: samples with z > 0, with |f'(z)| >= saturation_tol
    counts: list[torch.Tensor] | None = None
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            _, preacts = model(x[start : start + batch_size], return_preactivations=True)
            counter.update(preacts)
            now = (
                [(model.activation(z) == 0).sum() for z in preacts]
                + [(z > 0).sum(dim=0) for z in preacts]
                + [
                    (model.activation.derivative(z).abs() >= saturation_tol).sum(dim=0)
                    for z in preacts
                ]
            )
            counts = now if counts is None else [a + b for a, b in zip(counts, now, strict=True)]
        if counts is None:
            raise ValueError("dead_unit_stats 需要至少一个样本（x 为空）。")
        dead_masks = counter.dead_masks() if masks else None
        dead = counter.end_epoch()
        n = len(counts) // 3
        per_unit = [(c == 0).float().mean() for c in counts[n:]]  # units with no such sample
        totals = torch.stack([*counts[:n], *per_unit]).tolist()  # one read-out
    finally:
        model.train(was_training)
    per_layer = len(x) * model.hidden_dim
    out: dict[str, list] = {
        "dead_fraction": dead,
        "negative_fraction": totals[n : 2 * n],
        "saturated_fraction": totals[2 * n :],
        "zero_output_fraction": [z / per_layer for z in totals[:n]],
    }
    if dead_masks is not None:
        out["dead_masks"] = dead_masks
    return out


def _overall(fractions: list[float]) -> float:
    """各层比例的平均（每层神经元数相同，所以就是全部隐藏神经元中的比例）。"""
    return sum(fractions) / len(fractions)


def _train_dead(
    name: str, setting: str, config: DeadReluConfig, data, seed: int, device, run: str
) -> RunResult:
    """Train one MLP in one optimizer setting, measuring dead / negative / saturated units per epoch."""
    opt = config.setting(setting)
    model = seeded_mlp(name, config.num_layers, config.hidden_dim, seed, device)
    previous: dict[str, list] = {}

    def stats(m: Network) -> dict[str, list[float]]:
        """Dead fractions, and which dead units of the previous measurement are alive again."""
        out = dead_unit_stats(
            m,
            data.train_x,
            config.eval_batch_size,
            masks=True,
            saturation_tol=config.saturation_tol,
        )
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
    spec = RunSpec(
        experiment="dead_relu",
        run=run,
        optimizer=opt.optimizer,
        lr=opt.lr,
        batch_size=config.batch_size,
        epochs=config.epochs,
        seed=seed,
    )
    history, _ = fit_classifier(model, data, spec, epoch_end=stats)
    final_dead = history["dead_fraction"][-1]
    summary = {
        "dead_fraction_init": initial["dead_fraction"],
        "negative_fraction_init": initial["negative_fraction"],
        "saturated_fraction_init": initial["saturated_fraction"],
        "zero_output_fraction_init": initial["zero_output_fraction"],
        "final_dead_fraction": _overall(final_dead),
        "final_negative_fraction": _overall(history["negative_fraction"][-1]),
        "final_saturated_fraction": _overall(history["saturated_fraction"][-1]),
        "max_layer_dead_fraction": max(final_dead),
        "final_zero_output_fraction": _overall(history["zero_output_fraction"][-1]),
        "final_test_acc": history["test_acc"][-1],
    }
    params = {
        "activation": name,
        "setting": setting,
        "optimizer": opt.optimizer,
        "lr": opt.lr,
        "seed": seed,
    }
    return RunResult(
        run,
        params=params,
        history=history,
        summary=summary,
        layer_names=model.activated_layer_names(),
    )


def _reusable(reuse, kind: str, config: DeadReluConfig, device, data_info) -> dict:
    """Runs of earlier results (of experiment ``kind``) with the same config, device and data,
    keyed (setting, activation, seed)."""
    out = {}
    for other in reuse if isinstance(reuse, list | tuple) else (reuse,):
        if other is None:
            continue
        if getattr(other, "name", None) != kind:
            raise ValueError(
                f"reuse 应为 run_{kind} 的结果，"
                f"实际得到 {getattr(other, 'name', type(other).__name__)!r}。"
            )
        if other.config == config and str(other.device) == str(device) and other.data == data_info:
            for run in other.runs.values():
                p = run.params
                out[p["setting"], p["activation"], p.get("seed", other.seed)] = run
    return out


def run_dead_relu(
    activations=None,
    setting: str = "original",
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: DeadReluConfig | None = None,
    reuse=None,
) -> ExperimentResult:
    """训练 MLP，每个 epoch 结束后统计每层死亡神经元的比例。

    - ``activations``：默认取设置中的 ``("relu", "leaky_relu", "tanh")``；
    - ``setting``：``"original"``（原实验的优化器设置）或 ``"dying"``（让 ReLU 死亡的设置：对 Adam 过大的学习率），
      见 :class:`~labcode.profiles.DeadReluConfig`；
    - ``profile`` / ``config`` / ``seed`` / ``device``：同其他实验；
    - ``reuse``：:func:`run_dead_relu_seeds` 的结果；其中设置、设备、数据、种子都相同的运行直接复用，不再训练。

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
            f"未知的设置 setting={setting!r}。可选：'original'（原实验的设置）或 'dying'（让 ReLU 死亡的设置）。"
        )
    opt = config.setting(setting)
    names = check_activations(config.activations if activations is None else activations)
    notes = [
        f"设置 {setting!r}：{opt.description or f'{opt.optimizer}, lr={opt.lr:g}'}。",
        "死亡神经元：每个 epoch 结束后用 eval 模式遍历整个训练集，激活函数的导数对所有样本都为 0 的隐藏神经元。",
    ]
    device, data, result = start_mnist_experiment(
        "dead_relu", config, device, seed, profile_name, notes
    )
    reusable = _reusable(reuse, "dead_relu_seeds", config, device, data.info)
    for name in names:
        found = reusable.get((setting, name, seed))
        result.runs[name] = (
            _train_dead(name, setting, config, data, seed, device, name)
            if found is None
            else dataclasses.replace(found, name=name, params=dict(found.params))
        )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_dead_relu_seeds(
    seeds=None,
    profile: str | None = None,
    device=None,
    config: DeadReluConfig | None = None,
    reuse=(),
) -> ExperimentResult:
    """本章结论的依据：:data:`SEED_RUNS` 中的每个 (设置, 激活函数)，在 ``seeds``（默认取设置中的 ``seeds``）
    的每个种子上训练一次，统计同 :func:`run_dead_relu`。

    ``runs`` 的键如 ``"relu/dying/seed=3"``，``params`` 有 ``activation``、``setting``、``seed`` 等。
    ``reuse``：:func:`run_dead_relu` 的结果（可以多个）；与本实验设置、设备、数据相同的运行直接复用。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config("dead_relu", profile, config, DeadReluConfig)
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    note = f"{len(seed_list)} 个随机种子（{', '.join(map(str, seed_list))}）。"
    device, data, result = start_mnist_experiment(
        "dead_relu_seeds", config, device, seed_list[0], profile_name, [note]
    )
    reusable = _reusable(reuse, "dead_relu", config, device, data.info)
    for seed in seed_list:
        for setting, name in SEED_RUNS:
            key = f"{name}/{setting}/seed={seed}"
            found = reusable.get((setting, name, seed))
            result.runs[key] = (
                _train_dead(name, setting, config, data, seed, device, key)
                if found is None
                else dataclasses.replace(found, name=key, params={**found.params, "seed": seed})
            )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_dead_at_init(
    depth: int = 8,
    inits=("default", "he"),
    profile: str | None = None,
    seeds=None,
    device=None,
    config: DeadReluConfig | None = None,
) -> ExperimentResult:
    """还没训练的深层 ReLU 网络里有多少死亡神经元：每种初始化、每个种子（默认取设置中的 ``seeds``）
    建一个 ``depth`` 个隐藏层的网络，在整个训练集上按定义统计每层的死亡比例（不训练）。

    ``runs`` 的键如 ``"default/seed=0"``（``"default"``：PyTorch 默认；``"he"``：He 初始化），``params`` 有
    ``init``、``seed``、``num_layers``；``summary`` 有 ``dead_fraction``（每个带激活的层一个比例，从输入层起）
    与 ``deep_dead_fraction``（最深 3 层的平均）。
    """
    started = time.perf_counter()
    depth = check_num_layers(depth)
    if depth < 3:
        raise ValueError(f"depth 应至少为 3（要看最深的 3 层），实际得到 {depth}。")
    inits = check_choices(inits, INIT_SCHEMES, "初始化方案")
    config, profile_name = resolve_profile_config("dead_relu", profile, config, DeadReluConfig)
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    note = (
        f"{depth} 个隐藏层的 ReLU 网络，未训练；在整个训练集上统计；"
        f"{len(seed_list)} 个随机种子（{', '.join(map(str, seed_list))}）。"
    )
    device, data, result = start_mnist_experiment(
        "dead_at_init", config, device, seed_list[0], profile_name, [note]
    )
    for seed in seed_list:
        for init in inits:
            model = seeded_mlp("relu", depth, config.hidden_dim, seed, device, init=init)
            dead = dead_unit_stats(model, data.train_x, config.eval_batch_size)["dead_fraction"]
            key = f"{init}/seed={seed}"
            result.runs[key] = RunResult(
                key,
                params={"init": init, "num_layers": depth, "seed": seed},
                summary={"dead_fraction": dead, "deep_dead_fraction": sum(dead[-3:]) / 3},
                layer_names=model.activated_layer_names(),
            )
    result.elapsed_s = time.perf_counter() - started
    return result
