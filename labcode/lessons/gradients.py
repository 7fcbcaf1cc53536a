"""梯度消失一章的结论。"""

from __future__ import annotations

from .core import fmt, lesson, pct, pp


@lesson("gradient_vanishing", runs=("sigmoid", "relu"))
def sigmoid_first_layer_vanishes(result, factor: float = 10.0):
    """Sigmoid 网络第一层（input_layer）的 mean|grad| 比自己最后一层、也比 ReLU 网络的第一层小 ``factor`` 倍以上
    （最后一个 epoch，对该 epoch 所有批次取平均）。"""
    s, r = result["sigmoid"].summary, result["relu"].summary
    vs_last = s["last_layer_grad"] / s["first_layer_grad"]
    vs_relu = r["first_layer_grad"] / s["first_layer_grad"]
    passed = vs_last > factor and vs_relu > factor
    detail = (
        f"Sigmoid 第一层的平均梯度 {fmt(s['first_layer_grad'])}，是其最后一层（{fmt(s['last_layer_grad'])}）的 "
        f"1/{vs_last:.0f}，是 ReLU 第一层（{fmt(r['first_layer_grad'])}）的 1/{vs_relu:.0f}"
        f"（要求都小于 1/{factor:g}）。"
    )
    return (
        passed,
        detail,
        {"sigmoid_last_over_first": vs_last, "relu_first_over_sigmoid_first": vs_relu},
    )


@lesson("gradient_vanishing", runs=("sigmoid",))
def sigmoid_learns_slowest(result, margin: float = 0.05):
    """最后一个 epoch 的测试准确率：Sigmoid 比其他每个激活函数都至少低 ``margin``（比例，0.05 即 5 个百分点）。"""
    others = [n for n in result.runs if n != "sigmoid"]
    if not others:
        raise ValueError("需要至少一个 Sigmoid 以外的激活函数作对照。")
    acc = {n: result[n].summary["final_test_acc"] for n in result.runs}
    best_other = min(acc[n] for n in others)
    passed = acc["sigmoid"] + margin <= best_other
    listing = "，".join(f"{n} {pct(a)}" for n, a in acc.items())
    detail = f"最后一个 epoch 的测试准确率：{listing}；Sigmoid 要比其余每个至少低 {pp(margin)}。"
    return passed, detail, {"test_acc": acc}


@lesson()
def sigmoid_forward_signal_collapses(spreads: dict, per_layer: float = 0.3, vs_tanh: float = 10.0):
    """初始化时，Sigmoid 网络隐藏层输出中随输入变化的部分逐层缩小（相邻隐藏层之比的几何平均
    小于 ``per_layer``），输出层 logits 随输入的变化比 Tanh 网络小 ``vs_tanh`` 倍以上。

    ``spreads``：``{"sigmoid": rows, "tanh": rows, ...}``，``rows`` 为
    :func:`labcode.forward_signal.activation_spread` 的结果。
    """
    missing = [a for a in ("sigmoid", "tanh") if a not in spreads]
    if missing:
        raise ValueError(f"需要 {missing} 的前向信号测量（activation_spread 的结果）。")
    sig = [row["spread"] for row in spreads["sigmoid"]]
    hidden = sig[:-1]
    if len(hidden) < 2:
        raise ValueError("需要至少 2 个隐藏层的网络。")
    ratio = (hidden[-1] / hidden[0]) ** (1 / (len(hidden) - 1)) if hidden[0] > 0 else 0.0
    logits_sig, logits_tanh = sig[-1], spreads["tanh"][-1]["spread"]
    below = logits_tanh / logits_sig if logits_sig > 0 else float("inf")
    passed = ratio < per_layer and below > vs_tanh
    detail = (
        f"初始化时 Sigmoid 各隐藏层输出随输入变化的幅度："
        f"{' → '.join(fmt(v) for v in hidden)}，每层约乘 {ratio:.2f}（要求小于 {per_layer:g}）；"
        f"输出层 logits 的幅度 {fmt(logits_sig)}，是 Tanh 网络（{fmt(logits_tanh)}）的 1/{below:.0f}"
        f"（要求小于 1/{vs_tanh:g}）。"
    )
    return passed, detail, {"per_layer": ratio, "logits_sigmoid": logits_sig, "tanh_over": below}


@lesson("depth_sweep")
def depth_makes_sigmoid_vanish(result, factor: float = 1e3, vs_relu: float = 100.0):
    """深度扫描：Sigmoid 的“第一层/最后一层梯度之比”在最深处比最浅处小 ``factor`` 倍以上，
    且比同样深度的 ReLU 小 ``vs_relu`` 倍以上。"""
    sig = {
        r.params["num_layers"]: r.summary["grad_ratio"]
        for r in result.runs.values()
        if r.params["activation"] == "sigmoid"
    }
    relu = {
        r.params["num_layers"]: r.summary["grad_ratio"]
        for r in result.runs.values()
        if r.params["activation"] == "relu"
    }
    if len(sig) < 2 or not relu:
        raise ValueError("需要 Sigmoid 至少两个深度、ReLU 至少一个深度的结果。")
    shallow, deep = min(sig), max(sig)
    if deep not in relu:
        raise ValueError(f"需要 ReLU 在深度 {deep} 的结果。")
    drop = sig[shallow] / sig[deep]
    below_relu = relu[deep] / sig[deep]
    passed = drop > factor and below_relu > vs_relu
    detail = (
        f"Sigmoid 第一层/最后一层梯度之比：{shallow} 个隐藏层时 {fmt(sig[shallow])}，{deep} 个隐藏层时 {fmt(sig[deep])}"
        f"（缩小 {drop:.1e} 倍，要求 > {factor:g}）；同为 {deep} 个隐藏层的 ReLU 为 {fmt(relu[deep])}"
        f"（是 Sigmoid 的 {below_relu:.1e} 倍，要求 > {vs_relu:g}）。"
    )
    return passed, detail, {"sigmoid_ratio": sig, "relu_ratio": relu}


@lesson(
    "depth_sweep",
    applies=lambda res: any(
        r.params.get("init", "default") != "default" for r in res.runs.values()
    ),
)
def initialisation_rescues_depth(result, margin: float = 0.3, floor: float = 0.5):
    """深度扫描的最深处：换成合适的初始化（He 配 ReLU、Xavier 配 Tanh）后，测试准确率比同样深度、
    默认初始化的同一激活函数至少高 ``margin``，且不低于 ``floor``。"""
    acc: dict[tuple[str, str], dict[int, float]] = {}
    for r in result.runs.values():
        key = (r.params["activation"], r.params.get("init", "default"))
        acc.setdefault(key, {})[r.params["num_layers"]] = r.summary["final_test_acc"]
    pairs = [(a, init) for a, init in acc if init != "default"]
    if not pairs:
        raise ValueError("需要换了初始化的运行（设置中的 sweep_inits，例如 (('relu', 'he'),)）。")
    parts, passed, values = [], True, {}
    for activation, init in pairs:
        base = acc.get((activation, "default"), {})
        deep = max(acc[activation, init])
        if deep not in base:
            raise ValueError(f"需要默认初始化的 {activation} 在深度 {deep} 的结果。")
        good, bad = acc[activation, init][deep], base[deep]
        ok = good >= bad + margin and good >= floor
        passed &= ok
        values[f"{activation}+{init}"] = {"depth": deep, "init": good, "default": bad}
        parts.append(
            f"{deep} 个隐藏层的 {activation}：默认初始化 {pct(bad)}，{init} 初始化 {pct(good)}"
        )
    detail = "；".join(parts) + f"（要求换初始化后至少高 {pp(margin)}，且不低于 {pct(floor)}）。"
    return passed, detail, values
