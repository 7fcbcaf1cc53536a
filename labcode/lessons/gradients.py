"""梯度消失一章的结论：都读 :func:`~labcode.experiments.run_gradient_seeds` 的结果，在每个种子上配对比较。"""

from __future__ import annotations

import math

from .core import lesson, pct, pp, runs_by, seeds_of, span

KIND = "gradient_seeds"


def _main_depth(result) -> int:
    return getattr(result.config, "num_layers", 2)


def _times(x: float) -> str:
    return "∞" if math.isinf(x) else (f"{x:.0f}" if x < 1e4 else f"{x:.1e}")


def _points(x: float) -> str:
    return f"{100 * x:.1f}"


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


@lesson(KIND)
def sigmoid_first_layer_vanishes(result, factor: float = 10.0):
    """主实验的深度：每个种子上，Sigmoid 网络第一层（input_layer）的 mean|grad| 都比自己最后一层、
    也比同一种子的 ReLU 网络第一层小 ``factor`` 倍以上（最后一个 epoch，对该 epoch 所有批次取平均）。"""
    depth = _main_depth(result)
    sig = runs_by(result, "seed", activation="sigmoid", num_layers=depth, init="default")
    relu = runs_by(result, "seed", activation="relu", num_layers=depth, init="default")
    seeds = seeds_of(sig, relu)
    s = {k: sig[k].summary for k in seeds}
    vs_last = [_ratio(s[k]["last_layer_grad"], s[k]["first_layer_grad"]) for k in seeds]
    vs_relu = [_ratio(relu[k].summary["first_layer_grad"], s[k]["first_layer_grad"]) for k in seeds]
    passed = all(v > factor for v in vs_last) and all(v > factor for v in vs_relu)
    detail = (
        f"{depth} 个隐藏层，{len(seeds)} 个种子：Sigmoid 第一层的平均梯度是其最后一层的 "
        f"1/{_times(min(vs_last))} 到 1/{_times(max(vs_last))}，是同一种子 ReLU 第一层的 "
        f"1/{_times(min(vs_relu))} 到 1/{_times(max(vs_relu))}（要求每个种子都小于 1/{factor:g}）。"
    )
    return (
        passed,
        detail,
        {"seeds": seeds, "sigmoid_last_over_first": vs_last, "relu_over_sigmoid": vs_relu},
    )


@lesson(KIND)
def sigmoid_learns_slowest(result, margin: float = 0.05):
    """主实验的深度、同样的训练轮数：每个种子上，Sigmoid 网络最后一个 epoch 的测试准确率都比同一种子的
    其他每个激活函数至少低 ``margin``（比例，0.05 即 5 个百分点）。"""
    depth = _main_depth(result)
    names = sorted(
        {r.params["activation"] for r in result.runs.values() if r.params["num_layers"] == depth}
    )
    if "sigmoid" not in names or len(names) < 2:
        raise ValueError(f"需要 {depth} 个隐藏层的 Sigmoid 和至少一个别的激活函数。")
    acc = {
        n: runs_by(result, "seed", activation=n, num_layers=depth, init="default") for n in names
    }
    seeds = seeds_of(*acc.values())
    values = {n: [acc[n][k].summary["final_test_acc"] for k in seeds] for n in names}
    gaps = [
        min(values[n][i] for n in names if n != "sigmoid") - values["sigmoid"][i]
        for i in range(len(seeds))
    ]
    passed = all(g >= margin for g in gaps)
    listing = "，".join(f"{n} {span(v, pct)}" for n, v in values.items())
    detail = (
        f"{depth} 个隐藏层，{len(seeds)} 个种子，最后一个 epoch 的测试准确率：{listing}；"
        f"每个种子上 Sigmoid 比其余最低的低 {span(gaps, _points)} 个百分点（要求每个种子都至少低 {pp(margin)}）。"
    )
    return passed, detail, {"seeds": seeds, "test_acc": values, "gaps": gaps}


@lesson(KIND)
def sigmoid_vanishes_without_saturation(
    result, max_saturated: float = 0.01, min_derivative: float = 0.2
):
    """主实验的深度、训练结束时，每个种子上：Sigmoid 网络每一层中导数对每个训练样本都 < 1e-3（饱和）的神经元
    不超过 ``max_saturated``，导数的平均值不低于 ``min_derivative``（上限是 1/4）——这里的梯度消失不是饱和造成的，
    而是每层最多 1/4 的导数与权重的连乘。读运行的 ``summary["saturated_fraction"]`` 与 ``["mean_derivative"]``。"""
    depth = _main_depth(result)
    sig = runs_by(result, "seed", activation="sigmoid", num_layers=depth, init="default")
    seeds = seeds_of(sig)
    missing = [k for k in seeds if "mean_derivative" not in sig[k].summary]
    if missing:
        raise ValueError(f"种子 {missing} 的运行没有 saturated_fraction / mean_derivative。")
    saturated = [max(sig[k].summary["saturated_fraction"]) for k in seeds]
    derivative = [min(sig[k].summary["mean_derivative"]) for k in seeds]
    passed = all(s <= max_saturated for s in saturated) and all(
        d >= min_derivative for d in derivative
    )
    detail = (
        f"{depth} 个隐藏层、训练结束时，{len(seeds)} 个种子：Sigmoid 网络各层中对每个训练样本都饱和（σ′ < 1e-3）的"
        f"神经元最多占 {span(saturated, pct)}（要求每个种子 ≤ {pct(max_saturated)}）；各层 σ′ 的平均值最低为 "
        f"{span(derivative, '{:.3f}'.format)}（上限 0.25，要求每个种子 ≥ {min_derivative:g}）。"
    )
    return (
        passed,
        detail,
        {"seeds": seeds, "max_saturated": saturated, "min_mean_derivative": derivative},
    )


@lesson(KIND)
def sigmoid_forward_signal_collapses(result, per_layer: float = 0.3, vs_tanh: float = 10.0):
    """初始化时（主实验的深度）：每个种子上，Sigmoid 网络隐藏层输出中随输入变化的部分逐层缩小
    （相邻隐藏层之比的几何平均小于 ``per_layer``），输出层 logits 随输入的变化比同一种子的 Tanh 网络
    小 ``vs_tanh`` 倍以上。读运行的 ``summary["init_spread"]``（:func:`labcode.forward_signal.activation_spread`）。"""
    depth = _main_depth(result)
    sig = runs_by(result, "seed", activation="sigmoid", num_layers=depth, init="default")
    tanh = runs_by(result, "seed", activation="tanh", num_layers=depth, init="default")
    seeds = seeds_of(sig, tanh)
    factors, below = [], []
    for k in seeds:
        spread = sig[k].summary.get("init_spread")
        if not spread or len(spread) < 3:
            raise ValueError("需要至少 2 个隐藏层的网络在初始化时的 init_spread。")
        hidden = spread[:-1]
        factors.append(
            (hidden[-1] / hidden[0]) ** (1 / (len(hidden) - 1)) if hidden[0] > 0 else 0.0
        )
        below.append(_ratio(tanh[k].summary["init_spread"][-1], spread[-1]))
    passed = all(f < per_layer for f in factors) and all(b > vs_tanh for b in below)
    detail = (
        f"初始化时，{len(seeds)} 个种子：Sigmoid 隐藏层输出随输入变化的幅度每层约乘 {span(factors, '{:.2f}'.format)}"
        f"（要求每个种子都小于 {per_layer:g}）；输出层 logits 的幅度是同一种子 Tanh 网络的 "
        f"1/{_times(min(below))} 到 1/{_times(max(below))}（要求每个种子都小于 1/{vs_tanh:g}）。"
    )
    return passed, detail, {"seeds": seeds, "per_layer": factors, "tanh_over": below}


def _grad_ratios(result, activation: str) -> tuple[dict, int, int]:
    """{depth: {seed: grad_ratio}} of the default-initialised runs, and the shallowest / deepest depth."""
    depths = sorted(
        {
            r.params["num_layers"]
            for r in result.runs.values()
            if r.params["activation"] == activation and r.params["init"] == "default"
        }
    )
    if len(depths) < 2:
        raise ValueError(f"需要默认初始化的 {activation} 至少两个深度的结果。")
    ratios = {
        d: {
            k: r.summary["grad_ratio"]
            for k, r in runs_by(
                result, "seed", activation=activation, num_layers=d, init="default"
            ).items()
        }
        for d in (depths[0], depths[-1])
    }
    return ratios, depths[0], depths[-1]


@lesson(KIND)
def depth_makes_sigmoid_vanish(result, factor: float = 1e3, vs_relu: float = 100.0):
    """每个种子上：Sigmoid 的“第一层/最后一层梯度之比”在最深处比最浅处小 ``factor`` 倍以上，
    且比同一种子、同样深度、同为默认初始化的 ReLU 小 ``vs_relu`` 倍以上。"""
    sig, shallow, deep = _grad_ratios(result, "sigmoid")
    relu = runs_by(result, "seed", activation="relu", num_layers=deep, init="default")
    seeds = seeds_of(sig[shallow], sig[deep], relu)
    drop = [_ratio(sig[shallow][k], sig[deep][k]) for k in seeds]
    below = [_ratio(relu[k].summary["grad_ratio"], sig[deep][k]) for k in seeds]
    passed = all(d > factor for d in drop) and all(b > vs_relu for b in below)
    detail = (
        f"{len(seeds)} 个种子，Sigmoid 第一层/最后一层梯度之比：{shallow} 个隐藏层时 "
        f"{span([sig[shallow][k] for k in seeds])}，{deep} 个隐藏层时 {span([sig[deep][k] for k in seeds])}"
        f"（每个种子缩小 {_times(min(drop))} 倍以上，要求 > {factor:g}）；同为 {deep} 个隐藏层的默认初始化 ReLU 是它的 "
        f"{_times(min(below))} 倍以上（要求每个种子 > {vs_relu:g}）。"
    )
    return passed, detail, {"seeds": seeds, "sigmoid_drop": drop, "relu_over_sigmoid": below}


@lesson(KIND)
def relu_ratio_falls_far_less(result, min_drop: float = 3.0, vs_sigmoid: float = 100.0):
    """默认初始化的 ReLU 的“第一层/最后一层梯度之比”也随深度变小：每个种子上从最浅到最深缩小
    ``min_drop`` 倍以上，但 Sigmoid 在同一种子上缩小的倍数是它的 ``vs_sigmoid`` 倍以上。"""
    relu, shallow, deep = _grad_ratios(result, "relu")
    sig, s_shallow, s_deep = _grad_ratios(result, "sigmoid")
    if (s_shallow, s_deep) != (shallow, deep):
        raise ValueError("ReLU 与 Sigmoid 需要同样的最浅、最深深度。")
    seeds = seeds_of(relu[shallow], relu[deep], sig[shallow], sig[deep])
    r_drop = [_ratio(relu[shallow][k], relu[deep][k]) for k in seeds]
    s_drop = [_ratio(sig[shallow][k], sig[deep][k]) for k in seeds]
    more = [_ratio(s, r) for s, r in zip(s_drop, r_drop, strict=True)]
    passed = all(d > min_drop for d in r_drop) and all(m > vs_sigmoid for m in more)
    detail = (
        f"{len(seeds)} 个种子，默认初始化的 ReLU：第一层/最后一层梯度之比从 {shallow} 个隐藏层时的 "
        f"{span([relu[shallow][k] for k in seeds])} 降到 {deep} 个隐藏层时的 {span([relu[deep][k] for k in seeds])}，"
        f"缩小 {span(r_drop, _times)} 倍（要求每个种子 > {min_drop:g}）；同一种子上 Sigmoid 缩小的倍数是它的 "
        f"{_times(min(more))} 倍以上（要求 > {vs_sigmoid:g}）。"
    )
    return passed, detail, {"seeds": seeds, "relu_drop": r_drop, "sigmoid_drop": s_drop}


@lesson(KIND)
def initialisation_rescues_depth(result, margin: float = 0.3, floor: float = 0.5):
    """最深处：每个种子上，换成合适初始化（如 He 配 ReLU）的网络，测试准确率比同一种子、同样深度、
    默认初始化的同一激活函数至少高 ``margin``，且不低于 ``floor``。"""
    pairs = sorted(
        {(r.params["activation"], r.params["init"]) for r in result.runs.values()}
        - {(r.params["activation"], "default") for r in result.runs.values()}
    )
    if not pairs:
        raise ValueError("需要换了初始化的运行（设置中的 seed_runs，例如 ('relu', 8, 'he')）。")
    parts, passed, values = [], True, {}
    for activation, init in pairs:
        deep = max(
            r.params["num_layers"]
            for r in result.runs.values()
            if (r.params["activation"], r.params["init"]) == (activation, init)
        )
        good = runs_by(result, "seed", activation=activation, num_layers=deep, init=init)
        bad = runs_by(result, "seed", activation=activation, num_layers=deep, init="default")
        seeds = seeds_of(good, bad)
        g = [good[k].summary["final_test_acc"] for k in seeds]
        b = [bad[k].summary["final_test_acc"] for k in seeds]
        gains = [x - y for x, y in zip(g, b, strict=True)]
        passed &= all(d >= margin for d in gains) and all(x >= floor for x in g)
        values[f"{activation}+{init}"] = {"depth": deep, "seeds": seeds, init: g, "default": b}
        parts.append(
            f"{deep} 个隐藏层的 {activation}，{len(seeds)} 个种子：默认初始化 {span(b, pct)}，{init} 初始化 "
            f"{span(g, pct)}，每个种子高 {span(gains, _points)} 个百分点"
        )
    detail = "；".join(parts) + f"（要求每个种子都至少高 {pp(margin)}，且不低于 {pct(floor)}）。"
    return passed, detail, values


@lesson("init_gradients")
def large_init_explodes_gradients(result, factor: float = 10.0):
    """初始化时（不训练），每个种子上：权重方差取 He 初始化的 2 倍（Var(W) = 4/n，每层因子约为 √2）时，
    **每一层**的权重梯度范数都比同一种子 He 初始化的同一层大 ``factor`` 倍以上，初始损失也大 ``factor`` 倍以上。"""
    large = runs_by(result, "seed", init="large")
    he = runs_by(result, "seed", init="he")
    seeds = seeds_of(large, he)
    per_seed = [
        min(
            _ratio(a, b)
            for a, b in zip(large[k].summary["grad_norm"], he[k].summary["grad_norm"], strict=True)
        )
        for k in seeds
    ]
    loss_ratio = [_ratio(large[k].summary["loss"], he[k].summary["loss"]) for k in seeds]
    passed = all(r > factor for r in per_seed) and all(r > factor for r in loss_ratio)
    depth = large[seeds[0]].params["num_layers"]
    detail = (
        f"{depth} 个隐藏层的 ReLU 网络，初始化时，{len(seeds)} 个种子：Var(W) = 4/n 时各层权重梯度的范数是 He 初始化"
        f"同一层的 {_times(min(per_seed))} 倍以上（每个种子取最小的一层：{span(per_seed, _times)} 倍），"
        f"初始损失 {span([large[k].summary['loss'] for k in seeds])}，He 初始化 {span([he[k].summary['loss'] for k in seeds])}"
        f"（要求每个种子都大 {factor:g} 倍以上）。"
    )
    return passed, detail, {"seeds": seeds, "min_layer_ratio": per_seed, "loss_ratio": loss_ratio}
