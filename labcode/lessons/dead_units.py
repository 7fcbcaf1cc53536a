"""ReLU 死亡一章的结论。"""

from __future__ import annotations

from ..plotstyle import layer_label
from .core import lesson, pct


def _setting(name: str):
    return lambda res: any(r.params.get("setting") == name for r in res.runs.values())


@lesson("dead_relu", runs=("relu",), applies=_setting("seed"))
def naive_zero_fraction_is_not_death(result, min_zero: float = 0.25, max_dead: float = 0.05):
    """原实验的设置下，ReLU 输出为 0 的比例很高（≥ ``min_zero``，约一半），但真正死亡的神经元很少（≤ ``max_dead``）：
    “输出为 0”不等于“死亡”。"""
    run = result["relu"]
    zero, dead = run.summary["final_zero_output_fraction"], run.summary["final_dead_fraction"]
    passed = zero >= min_zero and dead <= max_dead
    detail = (
        f"ReLU 输出为 0 的比例（原实验的“死亡率”）为 {pct(zero)}，而真正死亡（对所有训练样本导数都为 0）"
        f"的神经元只占 {pct(dead)}（要求前者 ≥ {pct(min_zero)}、后者 ≤ {pct(max_dead)}）。"
    )
    return passed, detail, {"zero_output_fraction": zero, "dead_fraction": dead}


@lesson("dead_relu", runs=("relu",), applies=_setting("dying"))
def relu_dies_in_dying_setting(result, min_fraction: float = 0.10):
    """“让 ReLU 死亡”的设置下，训练结束时 ReLU 隐藏神经元中死亡的比例 ≥ ``min_fraction``，且比训练前至少多这么多。"""
    run = result["relu"]
    final = run.summary["final_dead_fraction"]
    init = sum(run.summary["dead_fraction_init"]) / len(run.summary["dead_fraction_init"])
    per_layer = run.history["dead_fraction"][-1]
    passed = final >= min_fraction and final - init >= min_fraction
    names = run.layer_names  # the activated layers, input -> output
    layers = "，".join(
        f"{layer_label(n, names)} {pct(f)}" for n, f in zip(names, per_layer, strict=True)
    )
    detail = (
        f"设置 {run.params['setting']!r}（{run.params['optimizer']}，lr={run.params['lr']:g}）：训练前死亡比例 {pct(init)}，"
        f"训练后 {pct(final)}（各层：{layers}）；要求训练后 ≥ {pct(min_fraction)} 且比训练前多出这么多。"
    )
    return passed, detail, {"final_dead_fraction": final, "init_dead_fraction": init}


@lesson("dead_relu", runs=("relu",), applies=_setting("dying"))
def dead_units_partly_revive(result, min_fraction: float = 0.02):
    """危险设置下的 ReLU 网络：训练中至少有一层，在某个 epoch 结束时有不少于 ``min_fraction`` 的神经元
    是“上一次统计时死亡、这一次又活过来的”——死亡并非绝对不可逆。"""
    history = result["relu"].history.get("revived_fraction")
    if not history:
        raise ValueError("需要 history 中的 revived_fraction（请用新版 run_dead_relu 重新运行）。")
    best_epoch, best_layer, best = 0, 0, -1.0
    for epoch, layers in enumerate(history, start=1):
        for layer, value in enumerate(layers):
            if value > best:
                best_epoch, best_layer, best = epoch, layer, value
    total = [sum(epoch[i] for epoch in history) for i in range(len(history[0]))]
    passed = best >= min_fraction
    detail = (
        f"ReLU 网络第 {best_layer + 1} 层在第 {best_epoch} 个 epoch 结束时，有 {pct(best)} 的神经元"
        f"是上一次统计时死亡、这次又活过来的（要求至少 {pct(min_fraction)}）；整个训练中各层复活的比例合计："
        + "，".join(pct(t) for t in total)
        + "。"
    )
    return passed, detail, {"epoch": best_epoch, "layer": best_layer, "revived": best}


@lesson(
    "dead_relu",
    runs=("leaky_relu",),
    applies=lambda res: "leaky_relu" in res.runs and _setting("dying")(res),
)
def leaky_relu_does_not_die(result):
    """LeakyReLU 在负半轴的导数是 negative_slope（> 0），任何 epoch、任何层都没有死亡神经元。"""
    run = result["leaky_relu"]
    worst = max(max(epoch) for epoch in run.history["dead_fraction"])
    passed = worst == 0.0
    extra = ""
    if "relu" in result.runs:
        extra = (
            f"同样设置下 ReLU 的死亡比例为 {pct(result['relu'].summary['final_dead_fraction'])}。"
        )
    detail = f"LeakyReLU 各 epoch、各层死亡比例的最大值为 {pct(worst)}（要求为 0）。{extra}"
    return passed, detail, {"max_dead_fraction": worst}


@lesson(
    "dead_relu",
    runs=("tanh",),
    applies=lambda res: "tanh" in res.runs and _setting("dying")(res),
)
def tanh_has_no_dead_units(result):
    """Tanh 的导数 1 − tanh²(x) 处处大于 0：没有死亡神经元（只会饱和、梯度变小）。"""
    run = result["tanh"]
    worst = max(max(epoch) for epoch in run.history["dead_fraction"])
    passed = worst == 0.0
    detail = f"Tanh 各 epoch、各层死亡比例的最大值为 {pct(worst)}（要求为 0）。"
    return passed, detail, {"max_dead_fraction": worst}


@lesson("dead_at_init", runs=("default", "he"))
def deep_default_init_starts_dead(result, min_dead: float = 0.25, he_factor: float = 0.5):
    """还没训练的深层 ReLU 网络：默认初始化下，最深 3 层的死亡比例平均不低于 ``min_dead``；
    He 初始化下不到它的 ``he_factor`` 倍。"""
    d, h = result["default"].summary, result["he"].summary
    passed = (
        d["deep_dead_fraction"] >= min_dead
        and h["deep_dead_fraction"] <= he_factor * d["deep_dead_fraction"]
    )
    names = result["default"].layer_names
    per_layer = "，".join(
        f"{layer_label(n, names)} {pct(a)}/{pct(b)}"
        for n, a, b in zip(names, d["dead_fraction"], h["dead_fraction"], strict=True)
    )
    detail = (
        f"未训练的网络，各层死亡比例（默认初始化/He 初始化）：{per_layer}。最深 3 层平均：默认 "
        f"{pct(d['deep_dead_fraction'])}（要求 ≥ {pct(min_dead)}），He {pct(h['deep_dead_fraction'])}"
        f"（要求不到默认的 {he_factor:g} 倍）。"
    )
    return passed, detail, {"default": d["dead_fraction"], "he": h["dead_fraction"]}
