"""梯度消失实验：不同激活函数的多层感知机在 MNIST 上训练，记录每层权重梯度的大小。

与原实验的不同（原实验没有测它所说的量）：

- 每层只看 **权重** 的梯度（原实验把权重和偏置混在一起，各算作一“层”）；
- 每个 epoch 的梯度是该 epoch **所有批次** 的 mean|grad| 的平均（原实验只画最后一个批次）；
- 梯度在设备上累加，每个 epoch 只读出一次（原实验每个批次都把所有梯度拷到 CPU）；
- 另加深度扫描（含 He / Xavier 初始化的对照），看梯度之比随深度的变化，以及初始化能改变什么；
- ``network_cls`` 可以换成学生自己写的 ``Network``（练习 2.1），实验就用学生的前向传播。
"""

from __future__ import annotations

import dataclasses
import functools
import time

import torch

from .. import settings
from ..activations import ACTIVATIONS
from ..checks import check_choices, check_seeds
from ..forward_signal import INIT_SCHEMES, activation_spread, init_weights
from ..metrics import activation_stats
from ..models import Network, check_num_layers
from ..profiles import GradientConfig
from .results import ExperimentResult, RunResult
from .training import (
    RunSpec,
    fit_classifier,
    resolve_profile_config,
    start_mnist_experiment,
)

__all__ = [
    "check_activations",
    "run_depth_sweep",
    "run_gradient_seeds",
    "run_init_gradients",
    "run_gradient_vanishing",
    "seeded_mlp",
    "sweep_key",
]

INPUT_DIM = 28 * 28
NUM_CLASSES = 10


def check_activations(activations, what: str = "activations") -> tuple[str, ...]:
    """检查激活函数名（须在 ``labcode.ACTIVATIONS`` 中），返回元组。"""
    if isinstance(activations, str):
        activations = (activations,)
    names = tuple(activations)
    if not names:
        raise ValueError(f"{what} 不能为空，请至少给出一个激活函数名，例如 ('relu', 'sigmoid')。")
    unknown = [n for n in names if n not in ACTIVATIONS]
    if unknown:
        raise ValueError(
            f"{what} 中有未知的激活函数名 {unknown}。可用的名称：{', '.join(ACTIVATIONS)}。"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{what} 中有重复的激活函数名：{names}。")
    return names


def check_network_cls(network_cls) -> type:
    """``network_cls`` 须是 :class:`~labcode.models.Network` 的子类（构造函数与属性名同原实验）。"""
    if not (isinstance(network_cls, type) and issubclass(network_cls, Network)):
        raise TypeError(
            "network_cls 应为 labcode.models.Network 或它的子类（例如练习 2.1 中你写的 "
            f"class Network(ReferenceNetwork)），实际得到 {network_cls!r}。"
        )
    return network_cls


def seeded_mlp(
    activation: str,
    num_layers: int,
    hidden_dim: int,
    seed: int,
    device: torch.device,
    network_cls: type = Network,
    init: str = "default",
) -> Network:
    """MNIST 上的 MLP，先 ``seed_everything(seed)`` 再建：同一种子下各激活函数的网络初始权重相同。

    ``init``：``"default"``（PyTorch 默认初始化，原实验）、``"xavier"`` 或 ``"he"``
    （见 :func:`labcode.forward_signal.init_weights`，用同一种子抽样）。
    """
    generator = settings.seed_everything(seed)
    model = check_network_cls(network_cls)(
        INPUT_DIM, NUM_CLASSES, activation, num_layers=num_layers, hidden_dim=hidden_dim
    )
    init_weights(model, init, generator=generator)
    return model.to(device)


def _train_mlp(
    activation: str,
    num_layers: int,
    epochs: int,
    config: GradientConfig,
    data,
    seed: int,
    device: torch.device,
    experiment: str,
    run: str,
    network_cls: type = Network,
    init: str = "default",
    measure_saturation: bool = False,
) -> RunResult:
    model = seeded_mlp(
        activation, num_layers, config.hidden_dim, seed, device, network_cls=network_cls, init=init
    )
    spec = RunSpec(
        experiment=experiment,
        run=run,
        optimizer=config.optimizer,
        lr=config.lr,
        batch_size=config.batch_size,
        epochs=epochs,
        seed=seed,
        track_gradients=True,
    )
    history, layer_names = fit_classifier(model, data, spec)
    last_grads = history["grad_mean"][-1]
    summary = {
        "final_train_acc": history["train_acc"][-1],
        "final_test_acc": history["test_acc"][-1],
        "first_layer_grad": last_grads[0],
        "last_layer_grad": last_grads[-1],
        "grad_ratio": last_grads[0] / last_grads[-1] if last_grads[-1] > 0 else float("nan"),
    }
    params = {
        "activation": activation,
        "num_layers": num_layers,
        "lr": config.lr,
        "epochs": epochs,
        "init": init,
        "network": f"{network_cls.__module__}.{network_cls.__qualname__}",
    }
    if measure_saturation:  # after training, on the whole training set (one pass)
        # the reference forward: a student's Network.forward (练习 2.1) returns only the logits
        reference = functools.partial(Network.forward, model)
        summary.update(activation_stats(model, data.train_x, forward=reference))
    return RunResult(run, params=params, history=history, summary=summary, layer_names=layer_names)


def run_gradient_vanishing(
    activations=None,
    num_layers: int | None = None,
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: GradientConfig | None = None,
    network_cls: type = Network,
) -> ExperimentResult:
    """梯度消失主实验：每个激活函数训练一个 MLP，逐 epoch 记录准确率、损失与每层的梯度。

    - ``network_cls``：网络的类，默认 :class:`labcode.models.Network`；可以换成你在练习 2.1 中写的子类；
    - ``activations``：激活函数名，默认取设置中的 ``("relu", "sigmoid", "tanh")``；
    - ``num_layers``：隐藏层个数，默认取设置（原实验为 2）；
    - ``profile`` / ``config``：规模或直接给出的 :class:`~labcode.profiles.GradientConfig`；
    - ``seed``：随机种子（每个激活函数用同一种子，初始权重相同）；``device``：见 ``settings.get_device``。

    返回 :class:`ExperimentResult`，``runs`` 以激活函数名为键；每个运行的 ``history`` 有
    ``train_loss``、``train_acc``、``test_loss``、``test_acc`` 和 ``grad_mean``（每个 epoch 一个列表，
    按 ``layer_names`` 的顺序：input_layer, layers.0, …, output_layer）；``summary`` 有
    ``first_layer_grad``、``last_layer_grad``、``grad_ratio``（最后一个 epoch）和最终准确率。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config(
        "gradient_vanishing", profile, config, GradientConfig
    )
    names = check_activations(config.activations if activations is None else activations)
    depth = check_num_layers(config.num_layers if num_layers is None else num_layers)
    network_cls = check_network_cls(network_cls)
    note = f"每个网络有 {depth} 个隐藏层（共 {depth + 2} 个线性层），优化器 {config.optimizer}，lr={config.lr:g}。"
    device, data, result = start_mnist_experiment(
        "gradient_vanishing", config, device, seed, profile_name, [note]
    )
    if network_cls is not Network:
        result.notes.append(f"网络：{network_cls.__qualname__}（{network_cls.__module__}）。")
    for name in names:
        result.runs[name] = _train_mlp(
            name,
            depth,
            config.epochs,
            config,
            data,
            seed,
            device,
            "gradient_vanishing",
            name,
            network_cls=network_cls,
            measure_saturation=True,
        )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_depth_sweep(
    depths=None,
    activations=None,
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: GradientConfig | None = None,
    reuse: ExperimentResult | None = None,
    inits=None,
) -> ExperimentResult:
    """深度扫描：对每个激活函数、每个隐藏层个数训练一个 MLP（``sweep_epochs`` 轮）。

    ``runs`` 的键为 ``"激活函数/depth=隐藏层个数"``（如 ``"sigmoid/depth=8"``），``params`` 中有
    ``activation``、``num_layers`` 和 ``init``。设置中的 ``sweep_inits``（如 ``(("relu", "he"),
    ("tanh", "xavier"))``）在每个深度再各训练一个换了初始化的网络，键为 ``"relu+he/depth=8"``；``summary`` 中有 ``grad_ratio``（最后一个 epoch 第一层与最后一层
    mean|grad| 之比）、``first_layer_grad``、``last_layer_grad``、``final_test_acc``。

    ``reuse``：:func:`run_gradient_vanishing` 的结果。若它与本次扫描的设置、随机种子、设备相同且
    ``epochs == sweep_epochs``（full 规模即如此），其中同一激活函数、同一深度的运行直接复用，
    不再重复训练（同样的网络、种子和轮数，结果完全相同）。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config(
        "gradient_vanishing", profile, config, GradientConfig
    )
    names = check_activations(config.sweep_activations if activations is None else activations)
    depth_list = tuple(config.sweep_depths if depths is None else depths)
    if not depth_list:
        raise ValueError("depths 不能为空，例如 depths=(1, 2, 4, 8)。")
    depth_list = tuple(check_num_layers(d, "depths 中的每一项") for d in depth_list)
    note = f"每个网络训练 {config.sweep_epochs} 个 epoch，优化器 {config.optimizer}，lr={config.lr:g}。"
    device, data, result = start_mnist_experiment(
        "depth_sweep", config, device, seed, profile_name, [note]
    )
    init_pairs = _check_inits(config.sweep_inits if inits is None else inits)
    reusable = _reusable(reuse, ("gradient_vanishing", "gradient_seeds"), config, device, data.info)
    for name, scheme in [*((n, "default") for n in names), *init_pairs]:
        for depth in depth_list:
            key = sweep_key(name, depth, scheme)
            found = reusable.get((name, depth, scheme, seed))
            if found is not None:
                params = {k: v for k, v in found.params.items() if k != "seed"}
                result.runs[key] = dataclasses.replace(found, name=key, params=params)
                continue
            result.runs[key] = _train_mlp(
                name,
                depth,
                config.sweep_epochs,
                config,
                data,
                seed,
                device,
                "depth_sweep",
                key,
                init=scheme,
            )
    result.elapsed_s = time.perf_counter() - started
    return result


def sweep_key(activation: str, depth: int, init: str = "default") -> str:
    """深度扫描中一次运行的键，如 ``"sigmoid/depth=8"``、``"relu+he/depth=8"``。"""
    prefix = activation if init == "default" else f"{activation}+{init}"
    return f"{prefix}/depth={depth}"


def _check_inits(pairs) -> tuple[tuple[str, str], ...]:
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ValueError(
                f"inits 的每一项应为 (激活函数名, 初始化方案)，例如 ('relu', 'he')，实际得到 {pair!r}。"
            )
        name, scheme = pair
        check_activations((name,), "inits 中的激活函数")
        if scheme not in INIT_SCHEMES or scheme == "default":
            raise ValueError(
                f"inits 中的初始化方案 {scheme!r} 无效：应为 {', '.join(INIT_SCHEMES[1:])}。"
            )
        out.append((name, scheme))
    return tuple(out)


def _reusable(reuse, kinds: tuple[str, ...], config: GradientConfig, device, data_info) -> dict:
    """Runs of earlier results that training would repeat exactly, keyed (activation, depth, init, seed).

    ``reuse``: one result or several, each of one of ``kinds`` (else ``ValueError``). A run is reusable when
    its result has the same config, device and data, and it trained ``sweep_epochs`` epochs.
    """
    out: dict[tuple[str, int, str, int], RunResult] = {}
    for other in reuse if isinstance(reuse, list | tuple) else (reuse,):
        if other is None:
            continue
        name = getattr(other, "name", None)
        if name not in kinds:
            raise ValueError(
                f"reuse 应为 {' 或 '.join(f'run_{k}' for k in kinds)} 的结果，"
                f"实际得到 {name or type(other).__name__!r}。"
            )
        if not (
            other.config == config and str(other.device) == str(device) and other.data == data_info
        ):
            continue
        for run in other.runs.values():
            p = run.params
            if p.get("epochs") == config.sweep_epochs:
                seed = p.get("seed", other.seed)
                out[p["activation"], p["num_layers"], p.get("init", "default"), seed] = run
    return out


def seed_key(activation: str, depth: int, init: str, seed: int) -> str:
    """跨种子实验中一次运行的键，如 ``"sigmoid/depth=8/seed=3"``、``"relu+he/depth=8/seed=0"``。"""
    return f"{sweep_key(activation, depth, init)}/seed={seed}"


def run_gradient_seeds(
    seeds=None,
    profile: str | None = None,
    device=None,
    config: GradientConfig | None = None,
    reuse=(),
    n_images: int = 1000,
) -> ExperimentResult:
    """本章结论的依据：设置中 ``seed_runs`` 列出的每个网络（激活函数, 隐藏层个数, 初始化方案），
    在 ``seeds`` 的每个种子上训练 ``sweep_epochs`` 轮。同一种子下各网络的数据顺序相同，
    所以结论按种子配对比较。

    ``runs`` 的键如 ``"sigmoid/depth=8/seed=3"``，``params`` 有 ``activation``、``num_layers``、``init``、
    ``seed``、``epochs``；``summary`` 同 :func:`run_depth_sweep`，主实验深度（``num_layers``）上的默认初始化
    网络另有 ``init_spread``：初始化时各层输出随输入变化的幅度（:func:`labcode.forward_signal.activation_spread`，
    测试集前 ``n_images`` 张图），从第一个隐藏层到输出层。

    ``reuse``：:func:`run_gradient_vanishing` / :func:`run_depth_sweep` 的结果（可以多个）。其中与本实验
    设置、设备、数据相同，种子、网络与训练轮数也相同的运行直接复用，不再训练。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config(
        "gradient_vanishing", profile, config, GradientConfig
    )
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    specs = []
    for spec in config.seed_runs:
        activation, depth, init = spec
        check_activations((activation,), "seed_runs 中的激活函数")
        check_num_layers(depth, "seed_runs 中的隐藏层个数")
        if init not in INIT_SCHEMES:
            raise ValueError(
                f"seed_runs 中的初始化方案 {init!r} 无效：应为 {', '.join(INIT_SCHEMES)}。"
            )
        specs.append((activation, depth, init))
    note = (
        f"{len(seed_list)} 个随机种子（{', '.join(map(str, seed_list))}），每个种子训练 {len(specs)} 个网络，"
        f"各 {config.sweep_epochs} 个 epoch，优化器 {config.optimizer}，lr={config.lr:g}。"
    )
    device, data, result = start_mnist_experiment(
        "gradient_seeds", config, device, seed_list[0], profile_name, [note]
    )
    reusable = _reusable(reuse, ("gradient_vanishing", "depth_sweep"), config, device, data.info)
    images = data.test_x[:n_images]
    for seed in seed_list:
        for activation, depth, init in specs:
            key = seed_key(activation, depth, init, seed)
            found = reusable.get((activation, depth, init, seed))
            if found is not None:
                run = dataclasses.replace(
                    found, name=key, params=dict(found.params), summary=dict(found.summary)
                )
            else:
                run = _train_mlp(
                    activation,
                    depth,
                    config.sweep_epochs,
                    config,
                    data,
                    seed,
                    device,
                    "gradient_seeds",
                    key,
                    init=init,
                    measure_saturation=depth == config.num_layers,
                )
            run.params["seed"] = seed
            if depth == config.num_layers and init == "default":
                model = seeded_mlp(activation, depth, config.hidden_dim, seed, device)
                run.summary["init_spread"] = [
                    row["spread"] for row in activation_spread(model, images)
                ]
            result.runs[key] = run
    result.elapsed_s = time.perf_counter() - started
    return result


#: 初始化方案 -> (init_weights 的方案, 之后把每层权重再乘的倍数)。"large"：He 初始化再乘 √2，即 Var(W) = 4/n。
INIT_GRADIENT_SCHEMES = {"default": ("default", 1.0), "he": ("he", 1.0), "large": ("he", 2**0.5)}


def run_init_gradients(
    depth: int = 8,
    inits=("default", "he", "large"),
    seeds=None,
    n_images: int = 256,
    profile: str | None = None,
    device=None,
    config: GradientConfig | None = None,
) -> ExperimentResult:
    """初始化时（不训练）的梯度：``depth`` 个隐藏层的 ReLU 网络，每种初始化、每个种子（默认取设置中的
    ``seeds``），在训练集前 ``n_images`` 张图上算一次交叉熵损失并反向传播，记录每个线性层权重梯度的范数。

    ``inits``：``"default"``（PyTorch 默认）、``"he"``（Var(W) = 2/n，每层因子约为 1）、``"large"``
    （Var(W) = 4/n，每层因子约为 √2：梯度爆炸）。``runs`` 的键如 ``"large/seed=3"``；``summary`` 有
    ``grad_norm``（每层一个，从输入层到输出层）、``loss``（初始损失）。
    """
    started = time.perf_counter()
    config, profile_name = resolve_profile_config(
        "gradient_vanishing", profile, config, GradientConfig
    )
    depth = check_num_layers(depth)
    inits = check_choices(inits, INIT_GRADIENT_SCHEMES, "初始化方案")
    seed_list = check_seeds(config.seeds if seeds is None else seeds)
    note = (
        f"{depth} 个隐藏层的 ReLU 网络，未训练；训练集前 {n_images} 张图上的一次反向传播；"
        f"{len(seed_list)} 个随机种子（{', '.join(map(str, seed_list))}）。"
    )
    device, data, result = start_mnist_experiment(
        "init_gradients", config, device, seed_list[0], profile_name, [note]
    )
    x, y = data.train_x[:n_images], data.train_y[:n_images]
    for seed in seed_list:
        for init in inits:
            scheme, gain = INIT_GRADIENT_SCHEMES[init]
            model = seeded_mlp("relu", depth, config.hidden_dim, seed, device, init=scheme)
            with torch.no_grad():
                for _, layer in model.linear_layers():
                    layer.weight.mul_(gain)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            grads = [layer.weight.grad for _, layer in model.linear_layers()]
            norms = torch.stack([g.norm() for g in grads if g is not None])
            values = torch.cat([norms, loss.detach().reshape(1)]).tolist()  # one read-out
            key = f"{init}/seed={seed}"
            result.runs[key] = RunResult(
                key,
                params={"activation": "relu", "num_layers": depth, "init": init, "seed": seed},
                summary={"grad_norm": values[:-1], "loss": values[-1]},
                layer_names=[name for name, _ in model.linear_layers()],
            )
    result.elapsed_s = time.perf_counter() - started
    return result
