"""各章节陈述的结论，写成对实验结果的检查。

每个函数接收实验结果（:class:`labcode.experiments.results.ExperimentResult`），返回
:class:`Lesson`：``name``、``passed``（是否成立）、``detail``（中文，带实测数值）和 ``values``（实测数值）。
阈值留有余量：测试在 quick 规模下用至少 3 组随机种子检查它们。full 规模在完整的 Fashion-MNIST 上实际运行过一次，
全部成立（见仓库 README）；在完整 MNIST 上的 full 规模尚未运行，那里成立只是预期。网站构建时每条结论都会被再检查一次（把关）。

用法::

    from labcode import lessons
    lesson = lessons.sigmoid_first_layer_vanishes(result)
    print(lesson)            # ✓/✗ 名称：说明
    lessons.report(lessons.check_all(gradient=result))   # 章节里的写法：打印，并把关

**把关。** 网站构建时（环境变量 ``LABCODE_LESSON_GATE=1``，由构建脚本设置），:func:`report` 遇到不成立的
结论会抛出 :class:`LessonFailedError`，构建随之失败：页面不可能陈述一条被自己的数字推翻的结论。
章节若要故意展示一条不成立的检查（例如原实验的朴素指标），必须在源码里用 ``expected_failures=``
标明；标明会失败的结论却成立了，同样是错误。自己运行 Notebook 时（没有设置该变量），不成立的结论只打印
✗ 并发出警告，方便改参数做实验。
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .plotstyle import layer_label
from .stats import mean_sd, tail_mean

#: 设为 1 时（网站构建），:func:`report` 遇到不成立的结论就抛出 :class:`LessonFailedError`。
GATE_ENV = "LABCODE_LESSON_GATE"

__all__ = [
    "GATE_ENV",
    "Lesson",
    "LessonFailedError",
    "report",
    "check_all",
    "dead_units_partly_revive",
    "deep_default_init_starts_dead",
    "depth_makes_sigmoid_vanish",
    "dropout_gap_over_seeds",
    "dropout_helps_small_data_mlp",
    "dropout_implementations_agree",
    "dropout_narrows_loss_gap",
    "dropout_reduces_overfitting_at_high_rate",
    "l1_is_sparser_than_l2",
    "l2_reduces_test_loss",
    "l2_shrinks_weights",
    "high_dropout_underfits",
    "initialisation_rescues_depth",
    "lambda_sweep_trades_fit_for_size",
    "leaky_relu_does_not_die",
    "naive_zero_fraction_is_not_death",
    "relu_dies_in_dying_setting",
    "seed_train_accuracy_understates_with_dropout",
    "sigmoid_first_layer_vanishes",
    "sigmoid_forward_signal_collapses",
    "sigmoid_learns_slowest",
    "tanh_has_no_dead_units",
    "unregularized_model_overfits",
    "weight_decay_matches_scratch",
]


@dataclass(frozen=True)
class Lesson:
    """一条结论的检查结果。"""

    name: str
    passed: bool
    detail: str
    values: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.name}：{self.detail}"

    def __bool__(self) -> bool:
        return self.passed


class LessonFailedError(AssertionError):
    """构建时有结论不成立（或标明会失败的结论却成立了）。``lessons`` 属性是出问题的 :class:`Lesson` 列表。"""

    def __init__(self, message: str, failed: list[Lesson]):
        super().__init__(message)
        self.lessons = failed


def _gate_on() -> bool:
    value = os.environ.get(GATE_ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(
        f"环境变量 {GATE_ENV} 的取值 {value!r} 无效。可选值：1（把关）或 0（只打印）。"
    )


def report(
    checks: Iterable[Lesson], *, expected_failures: Iterable[str] = (), gate: bool | None = None
) -> None:
    """打印每条结论（✓/✗ 名称：说明），并在需要时把关。

    ``expected_failures``：故意展示、预期不成立的结论名称（例如原实验的朴素指标），打印时标明“预期不成立”。
    ``gate``：``True`` 时，有结论不成立、或预期不成立的结论却成立了，就抛出 :class:`LessonFailedError`，
    信息中列出每条结论的名称与实测数值；``False`` 时只打印并发出 ``UserWarning``；``None``（默认）时
    由环境变量 ``LABCODE_LESSON_GATE`` 决定（网站构建时为 1）。
    """
    if gate is None:
        gate = _gate_on()  # a bad LABCODE_LESSON_GATE fails even when every lesson holds
    checks = list(checks)
    for item in checks:
        if not isinstance(item, Lesson):
            raise TypeError(
                f"report 需要 Lesson 对象的列表（例如 lessons.check_all(...) 的返回值），"
                f"收到了 {type(item).__name__}。"
            )
    expected = set(expected_failures)
    names = {c.name for c in checks}
    unknown = expected - names
    if unknown:
        raise ValueError(
            f"expected_failures 中的 {sorted(unknown)} 不在这组结论里（有：{sorted(names)}）。请检查名称。"
        )
    problems: list[str] = []
    bad: list[Lesson] = []
    for lesson in checks:
        if lesson.name in expected:
            print(f"{lesson}（预期不成立）")
            if lesson.passed:
                bad.append(lesson)
                problems.append(f"标明预期不成立的结论 {lesson.name} 却成立了：{lesson.detail}")
        else:
            print(lesson)
            if not lesson.passed:
                bad.append(lesson)
                problems.append(f"结论 {lesson.name} 不成立：{lesson.detail}")
    if problems:
        message = "；\n".join(problems) + (
            "\n页面的文字陈述的结论必须被本次构建的数字支持：请修改实验或文字（不要只改阈值）。"
        )
        if gate:
            raise LessonFailedError(message, bad)
        warnings.warn(message, UserWarning, stacklevel=2)


def _require(result, names: tuple[str, ...], runs: tuple[str, ...], lesson: str):
    experiment = getattr(result, "name", None)
    if experiment not in names:
        raise ValueError(
            f"结论 {lesson} 需要 {' 或 '.join(names)} 实验的结果，实际得到 {experiment or type(result).__name__!r}。"
        )
    missing = [r for r in runs if r not in result.runs]
    if missing:
        raise ValueError(
            f"结论 {lesson} 需要运行 {list(runs)}，结果中缺少 {missing}（已有：{list(result.runs)}）。"
            "请在运行实验时包含它们。"
        )


def _fmt(x: float) -> str:
    return f"{x:.2e}" if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4) else f"{x:.4g}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pp(x: float) -> str:
    """两个比例之差，以百分点表示。"""
    return f"{100 * x:.1f} 个百分点"


# ---------------------------------------------------------------------------
# 梯度消失


def sigmoid_first_layer_vanishes(result, factor: float = 10.0) -> Lesson:
    """Sigmoid 网络第一层（input_layer）的 mean|grad| 比自己最后一层、也比 ReLU 网络的第一层小 ``factor`` 倍以上
    （最后一个 epoch，对该 epoch 所有批次取平均）。"""
    name = "sigmoid_first_layer_vanishes"
    _require(result, ("gradient_vanishing",), ("sigmoid", "relu"), name)
    s, r = result["sigmoid"].summary, result["relu"].summary
    vs_last = s["last_layer_grad"] / s["first_layer_grad"]
    vs_relu = r["first_layer_grad"] / s["first_layer_grad"]
    passed = vs_last > factor and vs_relu > factor
    detail = (
        f"Sigmoid 第一层的平均梯度 {_fmt(s['first_layer_grad'])}，是其最后一层（{_fmt(s['last_layer_grad'])}）的 "
        f"1/{vs_last:.0f}，是 ReLU 第一层（{_fmt(r['first_layer_grad'])}）的 1/{vs_relu:.0f}"
        f"（要求都小于 1/{factor:g}）。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"sigmoid_last_over_first": vs_last, "relu_first_over_sigmoid_first": vs_relu},
    )


def sigmoid_forward_signal_collapses(
    spreads: dict, per_layer: float = 0.3, vs_tanh: float = 10.0
) -> Lesson:
    """初始化时，Sigmoid 网络隐藏层输出中随输入变化的部分逐层缩小（相邻隐藏层之比的几何平均
    小于 ``per_layer``），输出层 logits 随输入的变化比 Tanh 网络小 ``vs_tanh`` 倍以上。

    ``spreads``：``{"sigmoid": rows, "tanh": rows, ...}``，``rows`` 为
    :func:`labcode.forward_signal.activation_spread` 的结果。
    """
    name = "sigmoid_forward_signal_collapses"
    missing = [a for a in ("sigmoid", "tanh") if a not in spreads]
    if missing:
        raise ValueError(f"结论 {name} 需要 {missing} 的前向信号测量（activation_spread 的结果）。")
    sig = [row["spread"] for row in spreads["sigmoid"]]
    hidden = sig[:-1]
    if len(hidden) < 2:
        raise ValueError(f"结论 {name} 需要至少 2 个隐藏层的网络。")
    ratio = (hidden[-1] / hidden[0]) ** (1 / (len(hidden) - 1)) if hidden[0] > 0 else 0.0
    logits_sig, logits_tanh = sig[-1], spreads["tanh"][-1]["spread"]
    below = logits_tanh / logits_sig if logits_sig > 0 else float("inf")
    passed = ratio < per_layer and below > vs_tanh
    detail = (
        f"初始化时 Sigmoid 各隐藏层输出随输入变化的幅度："
        f"{' → '.join(_fmt(v) for v in hidden)}，每层约乘 {ratio:.2f}（要求小于 {per_layer:g}）；"
        f"输出层 logits 的幅度 {_fmt(logits_sig)}，是 Tanh 网络（{_fmt(logits_tanh)}）的 1/{below:.0f}"
        f"（要求小于 1/{vs_tanh:g}）。"
    )
    return Lesson(
        name, passed, detail, {"per_layer": ratio, "logits_sigmoid": logits_sig, "tanh_over": below}
    )


def sigmoid_learns_slowest(result, margin: float = 0.05) -> Lesson:
    """最后一个 epoch 的测试准确率：Sigmoid 比其他每个激活函数都至少低 ``margin``（比例，0.05 即 5 个百分点）。"""
    name = "sigmoid_learns_slowest"
    _require(result, ("gradient_vanishing",), ("sigmoid",), name)
    others = [n for n in result.runs if n != "sigmoid"]
    if not others:
        raise ValueError(f"结论 {name} 需要至少一个 Sigmoid 以外的激活函数作对照。")
    acc = {n: result[n].summary["final_test_acc"] for n in result.runs}
    best_other = min(acc[n] for n in others)
    passed = acc["sigmoid"] + margin <= best_other
    listing = "，".join(f"{n} {_pct(a)}" for n, a in acc.items())
    detail = f"最后一个 epoch 的测试准确率：{listing}；Sigmoid 要比其余每个至少低 {_pp(margin)}。"
    return Lesson(name, passed, detail, {"test_acc": acc})


def depth_makes_sigmoid_vanish(result, factor: float = 1e3, vs_relu: float = 100.0) -> Lesson:
    """深度扫描：Sigmoid 的“第一层/最后一层梯度之比”在最深处比最浅处小 ``factor`` 倍以上，
    且比同样深度的 ReLU 小 ``vs_relu`` 倍以上。"""
    name = "depth_makes_sigmoid_vanish"
    _require(result, ("depth_sweep",), (), name)
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
        raise ValueError(f"结论 {name} 需要 Sigmoid 至少两个深度、ReLU 至少一个深度的结果。")
    shallow, deep = min(sig), max(sig)
    if deep not in relu:
        raise ValueError(f"结论 {name} 需要 ReLU 在深度 {deep} 的结果。")
    drop = sig[shallow] / sig[deep]
    below_relu = relu[deep] / sig[deep]
    passed = drop > factor and below_relu > vs_relu
    detail = (
        f"Sigmoid 第一层/最后一层梯度之比：{shallow} 个隐藏层时 {_fmt(sig[shallow])}，{deep} 个隐藏层时 {_fmt(sig[deep])}"
        f"（缩小 {drop:.1e} 倍，要求 > {factor:g}）；同为 {deep} 个隐藏层的 ReLU 为 {_fmt(relu[deep])}"
        f"（是 Sigmoid 的 {below_relu:.1e} 倍，要求 > {vs_relu:g}）。"
    )
    return Lesson(name, passed, detail, {"sigmoid_ratio": sig, "relu_ratio": relu})


def initialisation_rescues_depth(result, margin: float = 0.3, floor: float = 0.5) -> Lesson:
    """深度扫描的最深处：换成合适的初始化（He 配 ReLU、Xavier 配 Tanh）后，测试准确率比同样深度、
    默认初始化的同一激活函数至少高 ``margin``，且不低于 ``floor``。"""
    name = "initialisation_rescues_depth"
    _require(result, ("depth_sweep",), (), name)
    acc: dict[tuple[str, str], dict[int, float]] = {}
    for r in result.runs.values():
        key = (r.params["activation"], r.params.get("init", "default"))
        acc.setdefault(key, {})[r.params["num_layers"]] = r.summary["final_test_acc"]
    pairs = [(a, init) for a, init in acc if init != "default"]
    if not pairs:
        raise ValueError(
            f"结论 {name} 需要换了初始化的运行（设置中的 sweep_inits，例如 (('relu', 'he'),)）。"
        )
    parts, passed, values = [], True, {}
    for activation, init in pairs:
        base = acc.get((activation, "default"), {})
        deep = max(acc[activation, init])
        if deep not in base:
            raise ValueError(f"结论 {name} 需要默认初始化的 {activation} 在深度 {deep} 的结果。")
        good, bad = acc[activation, init][deep], base[deep]
        ok = good >= bad + margin and good >= floor
        passed &= ok
        values[f"{activation}+{init}"] = {"depth": deep, "init": good, "default": bad}
        parts.append(
            f"{deep} 个隐藏层的 {activation}：默认初始化 {_pct(bad)}，{init} 初始化 {_pct(good)}"
        )
    detail = "；".join(parts) + f"（要求换初始化后至少高 {_pp(margin)}，且不低于 {_pct(floor)}）。"
    return Lesson(name, passed, detail, values)


# ---------------------------------------------------------------------------
# ReLU 死亡


def dead_units_partly_revive(result, min_fraction: float = 0.02) -> Lesson:
    """危险设置下的 ReLU 网络：训练中至少有一层，在某个 epoch 结束时有不少于 ``min_fraction`` 的神经元
    是“上一次统计时死亡、这一次又活过来的”——死亡并非绝对不可逆。"""
    name = "dead_units_partly_revive"
    _require(result, ("dead_relu",), ("relu",), name)
    history = result["relu"].history.get("revived_fraction")
    if not history:
        raise ValueError(
            f"结论 {name} 需要 history 中的 revived_fraction（请用新版 run_dead_relu 重新运行）。"
        )
    best_epoch, best_layer, best = 0, 0, -1.0
    for epoch, layers in enumerate(history, start=1):
        for layer, value in enumerate(layers):
            if value > best:
                best_epoch, best_layer, best = epoch, layer, value
    total = [sum(epoch[i] for epoch in history) for i in range(len(history[0]))]
    passed = best >= min_fraction
    detail = (
        f"ReLU 网络第 {best_layer + 1} 层在第 {best_epoch} 个 epoch 结束时，有 {_pct(best)} 的神经元"
        f"是上一次统计时死亡、这次又活过来的（要求至少 {_pct(min_fraction)}）；整个训练中各层复活的比例合计："
        + "，".join(_pct(t) for t in total)
        + "。"
    )
    return Lesson(name, passed, detail, {"epoch": best_epoch, "layer": best_layer, "revived": best})


def deep_default_init_starts_dead(result, min_dead: float = 0.25, he_factor: float = 0.5) -> Lesson:
    """还没训练的深层 ReLU 网络：默认初始化下，最深 3 层的死亡比例平均不低于 ``min_dead``；
    He 初始化下不到它的 ``he_factor`` 倍。"""
    name = "deep_default_init_starts_dead"
    _require(result, ("dead_at_init",), ("default", "he"), name)
    d, h = result["default"].summary, result["he"].summary
    passed = (
        d["deep_dead_fraction"] >= min_dead
        and h["deep_dead_fraction"] <= he_factor * d["deep_dead_fraction"]
    )
    names = result["default"].layer_names
    per_layer = "，".join(
        f"{layer_label(n, names)} {_pct(a)}/{_pct(b)}"
        for n, a, b in zip(names, d["dead_fraction"], h["dead_fraction"], strict=True)
    )
    detail = (
        f"未训练的网络，各层死亡比例（默认初始化/He 初始化）：{per_layer}。最深 3 层平均：默认 "
        f"{_pct(d['deep_dead_fraction'])}（要求 ≥ {_pct(min_dead)}），He {_pct(h['deep_dead_fraction'])}"
        f"（要求不到默认的 {he_factor:g} 倍）。"
    )
    return Lesson(name, passed, detail, {"default": d["dead_fraction"], "he": h["dead_fraction"]})


def relu_dies_in_dying_setting(result, min_fraction: float = 0.10) -> Lesson:
    """“让 ReLU 死亡”的设置下，训练结束时 ReLU 隐藏神经元中死亡的比例 ≥ ``min_fraction``，且比训练前至少多这么多。"""
    name = "relu_dies_in_dying_setting"
    _require(result, ("dead_relu",), ("relu",), name)
    run = result["relu"]
    final = run.summary["final_dead_fraction"]
    init = sum(run.summary["dead_fraction_init"]) / len(run.summary["dead_fraction_init"])
    per_layer = run.history["dead_fraction"][-1]
    passed = final >= min_fraction and final - init >= min_fraction
    names = run.layer_names  # the activated layers, input -> output
    layers = "，".join(
        f"{layer_label(n, names)} {_pct(f)}"
        for n, f in zip(run.layer_names, per_layer, strict=True)
    )
    detail = (
        f"设置 {run.params['setting']!r}（{run.params['optimizer']}，lr={run.params['lr']:g}）：训练前死亡比例 {_pct(init)}，"
        f"训练后 {_pct(final)}（各层：{layers}）；要求训练后 ≥ {_pct(min_fraction)} 且比训练前多出这么多。"
    )
    return Lesson(name, passed, detail, {"final_dead_fraction": final, "init_dead_fraction": init})


def leaky_relu_does_not_die(result) -> Lesson:
    """LeakyReLU 在负半轴的导数是 negative_slope（> 0），任何 epoch、任何层都没有死亡神经元。"""
    name = "leaky_relu_does_not_die"
    _require(result, ("dead_relu",), ("leaky_relu",), name)
    run = result["leaky_relu"]
    worst = max(max(epoch) for epoch in run.history["dead_fraction"])
    passed = worst == 0.0
    extra = ""
    if "relu" in result.runs:
        extra = (
            f"同样设置下 ReLU 的死亡比例为 {_pct(result['relu'].summary['final_dead_fraction'])}。"
        )
    detail = f"LeakyReLU 各 epoch、各层死亡比例的最大值为 {_pct(worst)}（要求为 0）。{extra}"
    return Lesson(name, passed, detail, {"max_dead_fraction": worst})


def tanh_has_no_dead_units(result) -> Lesson:
    """Tanh 的导数 1 − tanh²(x) 处处大于 0：没有死亡神经元（只会饱和、梯度变小）。"""
    name = "tanh_has_no_dead_units"
    _require(result, ("dead_relu",), ("tanh",), name)
    run = result["tanh"]
    worst = max(max(epoch) for epoch in run.history["dead_fraction"])
    passed = worst == 0.0
    detail = f"Tanh 各 epoch、各层死亡比例的最大值为 {_pct(worst)}（要求为 0）。"
    return Lesson(name, passed, detail, {"max_dead_fraction": worst})


def naive_zero_fraction_is_not_death(
    result, min_zero: float = 0.25, max_dead: float = 0.05
) -> Lesson:
    """原实验的设置下，ReLU 输出为 0 的比例很高（≥ ``min_zero``，约一半），但真正死亡的神经元很少（≤ ``max_dead``）：
    “输出为 0”不等于“死亡”。"""
    name = "naive_zero_fraction_is_not_death"
    _require(result, ("dead_relu",), ("relu",), name)
    run = result["relu"]
    zero, dead = run.summary["final_zero_output_fraction"], run.summary["final_dead_fraction"]
    passed = zero >= min_zero and dead <= max_dead
    detail = (
        f"ReLU 输出为 0 的比例（原实验的“死亡率”）为 {_pct(zero)}，而真正死亡（对所有训练样本导数都为 0）"
        f"的神经元只占 {_pct(dead)}（要求前者 ≥ {_pct(min_zero)}、后者 ≤ {_pct(max_dead)}）。"
    )
    return Lesson(name, passed, detail, {"zero_output_fraction": zero, "dead_fraction": dead})


# ---------------------------------------------------------------------------
# L2 / L1


def _lambda_runs(result, lesson: str):
    _require(result, ("l2", "lambda_sweep"), (), lesson)
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    if len(runs) < 2 or runs[0].params["lambda"] != 0:
        raise ValueError(f"结论 {lesson} 需要 λ=0 和至少一个 λ>0 的运行。")
    return runs[0], runs[-1]


def unregularized_model_overfits(result, factor: float = 100.0) -> Lesson:
    """λ=0 时 20 个样本、200 维：训练损失几乎为 0，测试损失比它大 ``factor`` 倍以上（过拟合）。"""
    name = "unregularized_model_overfits"
    base, _ = _lambda_runs(result, name)
    train, test = base.summary["final_train_loss"], base.summary["final_test_loss"]
    passed = test > factor * train
    detail = f"λ=0：训练损失 {_fmt(train)}，测试损失 {_fmt(test)}（要求测试损失是训练损失的 {factor:g} 倍以上）。"
    return Lesson(name, passed, detail, {"train_loss": train, "test_loss": test})


def l2_shrinks_weights(result, factor: float = 3.0) -> Lesson:
    """最大的 λ 下 ‖w‖₂ 比 λ=0 时小 ``factor`` 倍以上。"""
    name = "l2_shrinks_weights"
    base, reg = _lambda_runs(result, name)
    n0, n1 = base.summary["w_norm"], reg.summary["w_norm"]
    passed = n1 * factor < n0
    detail = (
        f"‖w‖₂：λ=0 时 {n0:.3f}，λ={reg.params['lambda']:g} 时 {n1:.3f}"
        f"（缩小为 1/{n0 / n1:.1f}，要求小于 1/{factor:g}）。"
    )
    return Lesson(name, passed, detail, {"norm_unregularized": n0, "norm_regularized": n1})


def l2_reduces_test_loss(result, factor: float = 3.0) -> Lesson:
    """最大的 λ 下测试损失比 λ=0 时小 ``factor`` 倍以上。"""
    name = "l2_reduces_test_loss"
    base, reg = _lambda_runs(result, name)
    t0, t1 = base.summary["final_test_loss"], reg.summary["final_test_loss"]
    passed = t1 * factor < t0
    detail = (
        f"测试损失：λ=0 时 {_fmt(t0)}，λ={reg.params['lambda']:g} 时 {_fmt(t1)}"
        f"（降为 1/{t0 / t1:.1f}，要求小于 1/{factor:g}）。"
    )
    return Lesson(
        name, passed, detail, {"test_loss_unregularized": t0, "test_loss_regularized": t1}
    )


def weight_decay_matches_scratch(scratch, weight_decay, atol: float = 1e-5) -> Lesson:
    """同一种子下，手写 ``λ·l2_penalty(w)`` 与 ``SGD(weight_decay=λ)`` 得到的权重逐元素相差不超过 ``atol``。"""
    name = "weight_decay_matches_scratch"
    _require(scratch, ("l2", "lambda_sweep"), (), name)
    _require(weight_decay, ("l2", "lambda_sweep"), tuple(scratch.runs), name)
    worst, worst_loss = 0.0, 0.0
    for key, run in scratch.runs.items():
        other = weight_decay[key]
        diffs = [
            abs(a - b) for a, b in zip(run.arrays["weights"], other.arrays["weights"], strict=True)
        ]
        worst = max(worst, max(diffs))
        worst_loss = max(
            worst_loss, abs(run.summary["final_test_loss"] - other.summary["final_test_loss"])
        )
    passed = worst <= atol
    detail = (
        f"两种实现最终权重逐元素最大差 {_fmt(worst)}（要求 ≤ {atol:g}），最终测试损失最大差 {_fmt(worst_loss)}："
        "λ·l2_penalty(w) 的梯度就是 λw，与权重衰减完全相同。"
    )
    return Lesson(
        name, passed, detail, {"max_weight_diff": worst, "max_test_loss_diff": worst_loss}
    )


def lambda_sweep_trades_fit_for_size(result) -> Lesson:
    """λ 增大时 ‖w‖₂ 单调减小、训练损失单调增大（容差 1e-9）；测试损失的最小值出现在某个 λ > 0 处。"""
    name = "lambda_sweep_trades_fit_for_size"
    _require(result, ("lambda_sweep", "l2"), (), name)
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    if len(runs) < 3:
        raise ValueError(f"结论 {name} 需要至少 3 个 λ。")
    lams = [r.params["lambda"] for r in runs]
    norms = [r.summary["w_norm"] for r in runs]
    train = [r.summary["final_train_loss"] for r in runs]
    test = [r.summary["final_test_loss"] for r in runs]
    norms_fall = all(b < a for a, b in zip(norms, norms[1:], strict=False))
    train_rises = all(b >= a - 1e-9 for a, b in zip(train, train[1:], strict=False))
    best = lams[min(range(len(test)), key=test.__getitem__)]
    passed = norms_fall and train_rises and best > 0
    detail = (
        f"λ = {', '.join(f'{v:g}' for v in lams)}：‖w‖₂ = {', '.join(f'{v:.3f}' for v in norms)}"
        f"（{'单调减小' if norms_fall else '并非单调减小'}）；训练损失 {'单调增大' if train_rises else '并非单调增大'}；"
        f"测试损失最小在 λ={best:g}（{_fmt(min(test))}）。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"lambdas": lams, "w_norm": norms, "train_loss": train, "test_loss": test},
    )


def l1_is_sparser_than_l2(result, min_difference: float = 0.4) -> Lesson:
    """接近 0（|wᵢ| < zero_tol）的权重比例：L1 比 L2 至少多 ``min_difference``。"""
    name = "l1_is_sparser_than_l2"
    _require(result, ("l1_vs_l2",), ("l1", "l2"), name)
    l1, l2 = result["l1"].summary, result["l2"].summary
    tol = getattr(result.config, "zero_tol", None)
    passed = l1["near_zero_fraction"] - l2["near_zero_fraction"] >= min_difference
    detail = (
        f"|wᵢ| < {tol:g} 的权重：L1 {_pct(l1['near_zero_fraction'])}（其中正好为 0 的 {_pct(l1['exact_zero_fraction'])}），"
        f"L2 {_pct(l2['near_zero_fraction'])}（正好为 0 的 {_pct(l2['exact_zero_fraction'])}）；"
        f"测试损失 L1 {_fmt(l1['final_test_loss'])}、L2 {_fmt(l2['final_test_loss'])}。要求 L1 的比例至少多 {_pp(min_difference)}。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"l1_near_zero": l1["near_zero_fraction"], "l2_near_zero": l2["near_zero_fraction"]},
    )


# ---------------------------------------------------------------------------
# Dropout


def _tail_len(run) -> int:
    return max(1, len(run.history["test_acc"]) // 3)


def dropout_implementations_agree(result, tol: float = 0.03) -> Lesson:
    """手写 dropout 与 ``nn.Dropout`` 是同一个算法：最后几个 epoch（后 1/3）的平均测试准确率相差不超过 ``tol``。"""
    name = "dropout_implementations_agree"
    _require(result, ("dropout",), ("scratch", "torch"), name)
    a, b = result["scratch"], result["torch"]
    n = _tail_len(a)
    acc_a, acc_b = tail_mean(a.history["test_acc"], n), tail_mean(b.history["test_acc"], n)
    passed = abs(acc_a - acc_b) <= tol
    detail = (
        f"最后 {n} 个 epoch 的平均测试准确率：手写 dropout {_pct(acc_a)}，nn.Dropout {_pct(acc_b)}"
        f"（相差 {_pp(abs(acc_a - acc_b))}，要求 ≤ {_pp(tol)}；随机掩码不同，所以不会完全相同）。"
    )
    return Lesson(name, passed, detail, {"scratch": acc_a, "torch": acc_b})


def dropout_narrows_loss_gap(
    result, baseline: str = "none", regularized: str = "scratch"
) -> Lesson:
    """有 dropout 时，训练集与测试集的 **损失** 差距（test_loss − train_loss_eval，后 1/3 个 epoch 的平均）比没有时小。"""
    name = "dropout_narrows_loss_gap"
    _require(result, ("dropout", "dropout_sweep"), (baseline, regularized), name)
    base, reg = result[baseline], result[regularized]
    n = _tail_len(base)
    g0, g1 = tail_mean(base.history["loss_gap"], n), tail_mean(reg.history["loss_gap"], n)
    a0, a1 = tail_mean(base.history["gap"], n), tail_mean(reg.history["gap"], n)
    passed = g1 < g0
    detail = (
        f"最后 {n} 个 epoch 平均的损失差距（测试 − 训练，均为 eval 模式）：{baseline} {g0:.3f}，{regularized} {g1:.3f}"
        f"（要求后者更小）。作为对照，准确率差距为 {_pct(a0)} 与 {_pct(a1)}（一次运行，它的变化是否超出随机种子间的波动，"
        "要看跨种子的比较）。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"loss_gap": {baseline: g0, regularized: g1}, "acc_gap": {baseline: a0, regularized: a1}},
    )


def dropout_reduces_overfitting_at_high_rate(result, high: float | None = None) -> Lesson:
    """dropout 比例扫描：最大比例下的损失差距（后 1/3 个 epoch 平均）比 p=0 时小。"""
    name = "dropout_reduces_overfitting_at_high_rate"
    _require(result, ("dropout_sweep",), (), name)
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 2:
        raise ValueError(f"结论 {name} 需要 p=0 和至少一个 p>0 的运行。")
    high = max(by_rate) if high is None else high
    base, reg = by_rate[0.0], by_rate[high]
    n = _tail_len(base)
    g0, g1 = tail_mean(base.history["loss_gap"], n), tail_mean(reg.history["loss_gap"], n)
    passed = g1 < g0
    detail = f"最后 {n} 个 epoch 平均的损失差距（测试 − 训练）：p=0 时 {g0:.3f}，p={high:g} 时 {g1:.3f}（要求后者更小）。"
    return Lesson(name, passed, detail, {"loss_gap_p0": g0, "loss_gap_high": g1, "high": high})


def high_dropout_underfits(result, margin: float = 0.005) -> Lesson:
    """dropout 比例扫描的最大比例（如 p=0.9）欠拟合：后 1/3 个 epoch 平均的测试准确率比扫描中最好的低
    ``margin`` 以上，eval 模式的训练准确率也比 p=0 时低。"""
    name = "high_dropout_underfits"
    _require(result, ("dropout_sweep",), (), name)
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 3:
        raise ValueError(f"结论 {name} 需要 p=0 和至少两个 p>0 的运行。")
    n = _tail_len(by_rate[0.0])
    test = {p: tail_mean(r.history["test_acc"], n) for p, r in by_rate.items()}
    train = {p: tail_mean(r.history["train_acc_eval"], n) for p, r in by_rate.items()}
    high, best = max(by_rate), max(test, key=test.get)
    passed = test[best] - test[high] >= margin and train[high] < train[0.0]
    detail = (
        f"p={high:g} 时测试准确率 {_pct(test[high])}，比扫描中最好的 p={best:g}（{_pct(test[best])}）低 "
        f"{_pp(test[best] - test[high])}（要求至少 {_pp(margin)}）；eval 模式的训练准确率 {_pct(train[high])}，"
        f"p=0 时 {_pct(train[0.0])}（要求更低）：丢弃太多，网络连训练集都拟合不好。"
    )
    return Lesson(name, passed, detail, {"test_acc": test, "train_acc_eval": train, "high": high})


def seed_train_accuracy_understates_with_dropout(result, margin: float = 0.01) -> Lesson:
    """原实验“边训练边统计”的训练准确率（dropout 开着）会低估网络对训练集的拟合：最大 dropout 比例下，
    eval 模式的差距与原实验方式的差距之差，比 p=0 时至少大 ``margin``（后 1/3 个 epoch 平均）。"""
    name = "seed_train_accuracy_understates_with_dropout"
    _require(result, ("dropout_sweep", "dropout"), (), name)
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 2:
        raise ValueError(f"结论 {name} 需要 p=0 和至少一个 p>0 的运行。")
    high = max(by_rate)
    n = _tail_len(by_rate[0.0])

    def bias(run):
        return tail_mean(run.history["gap"], n) - tail_mean(run.history["gap_seed_style"], n)

    b0, b1 = bias(by_rate[0.0]), bias(by_rate[high])
    seed_gap = tail_mean(by_rate[high].history["gap_seed_style"], n)
    honest_gap = tail_mean(by_rate[high].history["gap"], n)
    passed = b1 - b0 >= margin
    detail = (
        f"p={high:g} 时，按原实验方式（训练中、dropout 开着）算的训练–测试差距为 {_pct(seed_gap)}，"
        f"用 eval 模式在训练集上评估则为 {_pct(honest_gap)}（低估了 {_pp(b1)}）；p=0 时只低估 {_pp(b0)}。"
        f"要求多低估至少 {_pp(margin)}。"
    )
    return Lesson(
        name, passed, detail, {"understatement_p0": b0, "understatement_high": b1, "high": high}
    )


def _by_variant(result, variants: tuple[str, str]) -> dict[str, dict[int, object]]:
    runs: dict[str, dict[int, object]] = {v: {} for v in variants}
    for run in result.runs.values():
        if run.params.get("variant") in runs:
            runs[run.params["variant"]][run.params["seed"]] = run
    seeds = sorted(set(runs[variants[0]]) & set(runs[variants[1]]))
    return runs, seeds


def dropout_gap_over_seeds(result, min_seeds: int = 3) -> Lesson:
    """原实验的设置，跨随机种子：每个种子上，有 dropout 时的损失差距（test_loss − train_loss_eval，
    后 1/3 个 epoch 的平均）都比没有时小。细节中给出两者的均值 ± 标准差与准确率差距，供读者判断幅度。"""
    name = "dropout_gap_over_seeds"
    _require(result, ("dropout_seeds",), (), name)
    runs, seeds = _by_variant(result, ("none", "scratch"))
    if len(seeds) < min_seeds:
        raise ValueError(f"结论 {name} 需要至少 {min_seeds} 个种子上的 none 与 scratch 运行。")
    n = _tail_len(runs["none"][seeds[0]])

    def tail(variant, key):
        return [tail_mean(runs[variant][s].history[key], n) for s in seeds]

    loss = {v: tail(v, "loss_gap") for v in ("none", "scratch")}
    acc = {v: tail(v, "gap") for v in ("none", "scratch")}
    diffs = [a - b for a, b in zip(loss["none"], loss["scratch"], strict=True)]
    passed = all(d > 0 for d in diffs)
    (l0, s0), (l1, s1) = mean_sd(loss["none"]), mean_sd(loss["scratch"])
    (a0, t0), (a1, t1) = mean_sd(acc["none"]), mean_sd(acc["scratch"])
    detail = (
        f"{len(seeds)} 个种子，最后 {n} 个 epoch 平均。损失差距：无 dropout {l0:.3f} ± {s0:.3f}，"
        f"有 dropout {l1:.3f} ± {s1:.3f}；每个种子上都变小（降幅 {min(diffs):.3f}–{max(diffs):.3f}，要求都大于 0）。"
        f"准确率差距：{_pct(a0)} ± {_pp(t0)} 对 {_pct(a1)} ± {_pp(t1)}。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"loss_gap": loss, "acc_gap": acc, "loss_gap_reduction": diffs, "seeds": seeds},
    )


def dropout_helps_small_data_mlp(result, max_acc_loss: float = 0.005) -> Lesson:
    """训练图很少的宽 MLP（后 1/3 个 epoch 的平均）：同一个种子（同样的初始权重与批次顺序）配对比较，
    每个种子上有 dropout 的测试损失都更低；测试准确率平均不降低超过 ``max_acc_loss``。
    细节中给出损失与准确率的均值 ± 标准差，供读者判断幅度。"""
    name = "dropout_helps_small_data_mlp"
    _require(result, ("dropout_mlp",), (), name)
    runs, seeds = _by_variant(result, ("none", "dropout"))
    if len(seeds) < 2:
        raise ValueError(f"结论 {name} 需要至少 2 个种子上的 none 与 dropout 运行。")
    n = _tail_len(runs["none"][seeds[0]])
    acc = {v: [tail_mean(runs[v][s].history["test_acc"], n) for s in seeds] for v in runs}
    loss = {v: [tail_mean(runs[v][s].history["test_loss"], n) for s in seeds] for v in runs}
    drops = [a - b for a, b in zip(loss["none"], loss["dropout"], strict=True)]
    gains = [b - a for a, b in zip(acc["none"], acc["dropout"], strict=True)]
    mean_drop, mean_gain = sum(drops) / len(drops), sum(gains) / len(gains)
    (l0, t0), (l1, t1) = mean_sd(loss["none"]), mean_sd(loss["dropout"])
    (m0, s0), (m1, s1) = mean_sd(acc["none"]), mean_sd(acc["dropout"])
    passed = all(d > 0 for d in drops) and mean_gain >= -max_acc_loss
    detail = (
        f"{len(seeds)} 个种子，最后 {n} 个 epoch 平均。测试损失：无 dropout {l0:.3f} ± {t0:.3f}，"
        f"有 dropout {l1:.3f} ± {t1:.3f}；配对比较，每个种子上都更低（降幅 {min(drops):.3f}–{max(drops):.3f}，"
        f"平均 {mean_drop:.3f}，要求每个种子都大于 0）。测试准确率：{_pct(m0)} ± {_pp(s0)} 对 "
        f"{_pct(m1)} ± {_pp(s1)}（平均变化 {_pp(mean_gain)}，要求不降低超过 {_pp(max_acc_loss)}）。"
    )
    return Lesson(
        name,
        passed,
        detail,
        {"test_acc": acc, "test_loss": loss, "loss_drops": drops, "gains": gains},
    )


# ---------------------------------------------------------------------------


def check_all(
    gradient=None,
    depth_sweep=None,
    dead_seed=None,
    dead_dying=None,
    l2=None,
    l2_weight_decay=None,
    lambda_sweep=None,
    l1_vs_l2=None,
    dropout=None,
    dropout_sweep=None,
    dropout_seeds=None,
    dropout_mlp=None,
    dead_at_init=None,
) -> list[Lesson]:
    """对给出的结果检查所有相关结论（没给的结果跳过），返回 :class:`Lesson` 列表。"""
    out: list[Lesson] = []
    if gradient is not None:
        out += [sigmoid_first_layer_vanishes(gradient), sigmoid_learns_slowest(gradient)]
    if depth_sweep is not None:
        out.append(depth_makes_sigmoid_vanish(depth_sweep))
        if any(r.params.get("init", "default") != "default" for r in depth_sweep.runs.values()):
            out.append(initialisation_rescues_depth(depth_sweep))
    if dead_seed is not None:
        out.append(naive_zero_fraction_is_not_death(dead_seed))
    if dead_dying is not None:
        out.append(relu_dies_in_dying_setting(dead_dying))
        out.append(dead_units_partly_revive(dead_dying))
        if "leaky_relu" in dead_dying:
            out.append(leaky_relu_does_not_die(dead_dying))
        if "tanh" in dead_dying:
            out.append(tanh_has_no_dead_units(dead_dying))
    if dead_at_init is not None:
        out.append(deep_default_init_starts_dead(dead_at_init))
    if l2 is not None:
        out += [unregularized_model_overfits(l2), l2_shrinks_weights(l2), l2_reduces_test_loss(l2)]
        if l2_weight_decay is not None:
            out.append(weight_decay_matches_scratch(l2, l2_weight_decay))
    if lambda_sweep is not None:
        out.append(lambda_sweep_trades_fit_for_size(lambda_sweep))
    if l1_vs_l2 is not None:
        out.append(l1_is_sparser_than_l2(l1_vs_l2))
    if dropout is not None:
        if "none" in dropout and "scratch" in dropout:
            out.append(dropout_narrows_loss_gap(dropout))
        if "scratch" in dropout and "torch" in dropout:
            out.append(dropout_implementations_agree(dropout))
    if dropout_sweep is not None:
        out.append(dropout_reduces_overfitting_at_high_rate(dropout_sweep))
        if len(dropout_sweep.runs) >= 3:
            out.append(high_dropout_underfits(dropout_sweep))
        out.append(seed_train_accuracy_understates_with_dropout(dropout_sweep))
    if dropout_seeds is not None:
        out.append(dropout_gap_over_seeds(dropout_seeds))
    if dropout_mlp is not None:
        out.append(dropout_helps_small_data_mlp(dropout_mlp))
    return out
