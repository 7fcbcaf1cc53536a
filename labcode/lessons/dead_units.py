"""ReLU 死亡一章的结论：都读跨种子的实验（:func:`~labcode.experiments.run_dead_relu_seeds`、
:func:`~labcode.experiments.run_dead_at_init`），在每个种子上检查。"""

from __future__ import annotations

from .core import lesson, pct, runs_by, seeds_of, span

KIND = "dead_relu_seeds"


def _per_seed(result, activation: str, setting: str) -> dict:
    return runs_by(result, "seed", activation=activation, setting=setting)


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


@lesson(KIND)
def naive_zero_fraction_is_not_death(result, min_zero: float = 0.25, max_dead: float = 0.05):
    """原实验的设置（ReLU），每个种子上：训练后输出为 0 的比例仍很高（≥ ``min_zero``），而真正死亡的神经元
    很少（≤ ``max_dead``）——“输出为 0”不等于“死亡”。说明里另给出训练前输出为 0 的比例。"""
    runs = _per_seed(result, "relu", "original")
    seeds = seeds_of(runs)
    zero = [runs[k].summary["final_zero_output_fraction"] for k in seeds]
    zero0 = [_mean(runs[k].summary["zero_output_fraction_init"]) for k in seeds]
    dead = [runs[k].summary["final_dead_fraction"] for k in seeds]
    passed = all(z >= min_zero for z in zero) and all(d <= max_dead for d in dead)
    detail = (
        f"{len(seeds)} 个种子：ReLU 输出为 0 的比例（原实验的“死亡率”）训练前为 {span(zero0, pct)}，"
        f"训练后为 {span(zero, pct)}；而真正死亡（对所有训练样本导数都为 0）的神经元只占 {span(dead, pct)}"
        f"（要求每个种子训练后前者 ≥ {pct(min_zero)}、后者 ≤ {pct(max_dead)}）。"
    )
    return passed, detail, {"seeds": seeds, "zero_init": zero0, "zero": zero, "dead": dead}


@lesson(KIND)
def relu_dies_in_dying_setting(result, min_fraction: float = 0.10):
    """危险设置下的 ReLU 网络，每个种子上：训练结束时死亡神经元的比例比训练前至少多 ``min_fraction``（配对：同一网络训练前后）。"""
    runs = _per_seed(result, "relu", "dying")
    seeds = seeds_of(runs)
    before = [_mean(runs[k].summary["dead_fraction_init"]) for k in seeds]
    after = [runs[k].summary["final_dead_fraction"] for k in seeds]
    rise = [a - b for a, b in zip(after, before, strict=True)]
    first = runs[seeds[0]]
    passed = all(r >= min_fraction for r in rise)
    layers = [
        _mean(runs[k].history["dead_fraction"][-1][i] for k in seeds)
        for i in range(len(first.layer_names))
    ]
    detail = (
        f"设置 'dying'（{first.params['optimizer']}，lr={first.params['lr']:g}），{len(seeds)} 个种子：死亡比例训练前 "
        f"{span(before, pct)}，训练后 {span(after, pct)}（各层的种子平均："
        + "，".join(f"第 {i + 1} 层 {pct(v)}" for i, v in enumerate(layers))
        + f"）；要求每个种子都至少多出 {pct(min_fraction)}。"
    )
    return passed, detail, {"seeds": seeds, "before": before, "after": after, "layers": layers}


@lesson(KIND)
def dead_units_partly_revive(result, min_units: int = 5):
    """危险设置下的 ReLU 网络，每个种子上：第一层之后的各层里，“上一次统计时死亡、这一次又活过来”的神经元
    （各 epoch、各层合计）不少于 ``min_units`` 个——死亡并非绝对不可逆。说明里另给出第一层（输入固定）复活的个数。"""
    runs = _per_seed(result, "relu", "dying")
    seeds = seeds_of(runs)
    deeper, first = [], []
    for k in seeds:
        run = runs[k]
        history = run.history.get("revived_fraction")
        if not history:
            raise ValueError(
                "需要 history 中的 revived_fraction（请用新版 run_dead_relu 重新运行）。"
            )
        width = getattr(result.config, "hidden_dim", 100)
        first.append(round(sum(epoch[0] for epoch in history) * width))
        deeper.append(round(sum(sum(epoch[1:]) for epoch in history) * width))
    passed = all(n >= min_units for n in deeper)
    detail = (
        f"{len(seeds)} 个种子：第一层之后的各层里，训练中先死亡、后又活过来的神经元（各 epoch 合计）有 "
        f"{span(deeper, str)} 个（要求每个种子至少 {min_units} 个）；输入固定的第一层有 {span(first, str)} 个。"
    )
    return passed, detail, {"seeds": seeds, "revived_deeper": deeper, "revived_first": first}


@lesson(KIND)
def leaky_relu_units_stuck_negative(result, min_fraction: float = 0.03):
    """危险设置下，每个种子上：LeakyReLU 网络里预激活值对**每个**训练样本都 ≤ 0 的神经元不少于 ``min_fraction``
    （按定义它们没有死：导数是 negative_slope，但每个样本传回的梯度都乘了这么小的系数），
    又都少于同一种子 ReLU 网络的死亡比例。"""
    leaky = _per_seed(result, "leaky_relu", "dying")
    relu = _per_seed(result, "relu", "dying")
    seeds = seeds_of(leaky, relu)
    neg = [leaky[k].summary["final_negative_fraction"] for k in seeds]
    first = [leaky[k].history["negative_fraction"][-1][0] for k in seeds]
    dead = [relu[k].summary["final_dead_fraction"] for k in seeds]
    passed = all(n >= min_fraction for n in neg) and all(
        n < d for n, d in zip(neg, dead, strict=True)
    )
    detail = (
        f"{len(seeds)} 个种子：训练后，LeakyReLU 网络中对每个训练样本都落在负半轴的神经元占 {span(neg, pct)}"
        f"（第一层 {span(first, pct)}），它们的梯度每个样本都乘了 negative_slope；同一种子 ReLU 的死亡比例为 "
        f"{span(dead, pct)}。要求每个种子前者 ≥ {pct(min_fraction)} 且小于后者。"
    )
    return (
        passed,
        detail,
        {"seeds": seeds, "negative": neg, "first_layer": first, "relu_dead": dead},
    )


@lesson(KIND)
def tanh_units_saturate(result, min_fraction: float = 0.02):
    """危险设置下，每个种子上：Tanh 网络第一层中，导数对**每个**训练样本都小于饱和阈值（默认 1e-3）的神经元，
    训练后不少于 ``min_fraction``，且比训练前多（配对：同一网络训练前后）。"""
    runs = _per_seed(result, "tanh", "dying")
    seeds = seeds_of(runs)
    after = [runs[k].history["saturated_fraction"][-1][0] for k in seeds]
    before = [runs[k].summary["saturated_fraction_init"][0] for k in seeds]
    overall = [runs[k].summary["final_saturated_fraction"] for k in seeds]
    tol = getattr(result.config, "saturation_tol", 1e-3)
    passed = all(a >= min_fraction and a > b for a, b in zip(after, before, strict=True))
    detail = (
        f"{len(seeds)} 个种子：Tanh 网络第一层中 tanh′ 对每个训练样本都 < {tol:g} 的神经元，训练前 {span(before, pct)}，"
        f"训练后 {span(after, pct)}（全部隐藏层 {span(overall, pct)}）。要求每个种子训练后 ≥ {pct(min_fraction)} 且多于训练前。"
    )
    return passed, detail, {"seeds": seeds, "before": before, "after": after, "overall": overall}


@lesson(KIND)
def gelu_units_stuck_like_dead(result, min_fraction: float = 0.05):
    """危险设置下，每个种子上：GELU 网络第一层中，导数对**每个**训练样本都小于饱和阈值（默认 1e-3）的神经元
    不少于 ``min_fraction``——负半轴导数不为 0 的光滑变体，被推到很负的地方后也几乎收不到梯度。"""
    runs = _per_seed(result, "gelu", "dying")
    relu = _per_seed(result, "relu", "dying")
    seeds = seeds_of(runs, relu)
    first = [runs[k].history["saturated_fraction"][-1][0] for k in seeds]
    dead = [relu[k].history["dead_fraction"][-1][0] for k in seeds]
    tol = getattr(result.config, "saturation_tol", 1e-3)
    passed = all(f >= min_fraction for f in first)
    detail = (
        f"{len(seeds)} 个种子：GELU 网络第一层中 GELU′ 对每个训练样本都 < {tol:g} 的神经元占 {span(first, pct)}"
        f"（同一种子 ReLU 网络第一层的死亡比例为 {span(dead, pct)}）。要求每个种子 ≥ {pct(min_fraction)}。"
    )
    return passed, detail, {"seeds": seeds, "gelu_first_layer": first, "relu_first_layer": dead}


@lesson("dead_at_init")
def deep_default_init_starts_dead(result, min_dead: float = 0.25, he_factor: float = 0.5):
    """还没训练的深层 ReLU 网络，每个种子上：默认初始化下最深 3 层的死亡比例平均不低于 ``min_dead``；
    同一种子的 He 初始化网络不到它的 ``he_factor`` 倍。"""
    default = runs_by(result, "seed", init="default")
    he = runs_by(result, "seed", init="he")
    seeds = seeds_of(default, he)
    d = [default[k].summary["deep_dead_fraction"] for k in seeds]
    h = [he[k].summary["deep_dead_fraction"] for k in seeds]
    passed = all(a >= min_dead and b <= he_factor * a for a, b in zip(d, h, strict=True))
    n_layers = len(default[seeds[0]].summary["dead_fraction"])
    layers_d = [
        _mean(default[k].summary["dead_fraction"][i] for k in seeds) for i in range(n_layers)
    ]
    layers_h = [_mean(he[k].summary["dead_fraction"][i] for k in seeds) for i in range(n_layers)]
    per_layer = "，".join(
        f"第 {i + 1} 层 {pct(a)}/{pct(b)}"
        for i, (a, b) in enumerate(zip(layers_d, layers_h, strict=True))
    )
    detail = (
        f"未训练的网络，{len(seeds)} 个种子平均的各层死亡比例（默认初始化/He 初始化）：{per_layer}。"
        f"最深 3 层平均：默认 {span(d, pct)}（要求每个种子 ≥ {pct(min_dead)}），He {span(h, pct)}"
        f"（要求每个种子不到默认的 {he_factor:g} 倍）。"
    )
    return (
        passed,
        detail,
        {"seeds": seeds, "default": d, "he": h, "layers_default": layers_d, "layers_he": layers_h},
    )
