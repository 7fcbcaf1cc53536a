"""Dropout 一章的结论。"""

from __future__ import annotations

from ..stats import mean_sd, tail_mean
from .core import lesson, pct, pp, require


def _tail_len(run) -> int:
    return max(1, len(run.history["test_acc"]) // 3)


@lesson(
    "dropout",
    runs=("scratch", "torch"),
    applies=lambda r: "scratch" in r.runs and "torch" in r.runs,
)
def dropout_implementations_agree(result, tol: float = 0.03):
    """手写 dropout 与 ``nn.Dropout`` 是同一个算法：最后几个 epoch（后 1/3）的平均测试准确率相差不超过 ``tol``。"""
    a, b = result["scratch"], result["torch"]
    n = _tail_len(a)
    acc_a, acc_b = tail_mean(a.history["test_acc"], n), tail_mean(b.history["test_acc"], n)
    passed = abs(acc_a - acc_b) <= tol
    detail = (
        f"最后 {n} 个 epoch 的平均测试准确率：手写 dropout {pct(acc_a)}，nn.Dropout {pct(acc_b)}"
        f"（相差 {pp(abs(acc_a - acc_b))}，要求 ≤ {pp(tol)}；随机掩码不同，所以不会完全相同）。"
    )
    return (passed, detail, {"scratch": acc_a, "torch": acc_b})


@lesson("dropout", "dropout_sweep", applies=lambda r: "none" in r.runs and "scratch" in r.runs)
def dropout_narrows_loss_gap(result, baseline: str = "none", regularized: str = "scratch"):
    """有 dropout 时，训练集与测试集的 **损失** 差距（test_loss − train_loss_eval，后 1/3 个 epoch 的平均）比没有时小。"""
    require(result, ("dropout", "dropout_sweep"), (baseline, regularized))
    base, reg = result[baseline], result[regularized]
    n = _tail_len(base)
    g0, g1 = tail_mean(base.history["loss_gap"], n), tail_mean(reg.history["loss_gap"], n)
    a0, a1 = tail_mean(base.history["gap"], n), tail_mean(reg.history["gap"], n)
    passed = g1 < g0
    detail = (
        f"最后 {n} 个 epoch 平均的损失差距（测试 − 训练，均为 eval 模式）：{baseline} {g0:.3f}，{regularized} {g1:.3f}"
        f"（要求后者更小）。作为对照，准确率差距为 {pct(a0)} 与 {pct(a1)}（一次运行，它的变化是否超出随机种子间的波动，"
        "要看跨种子的比较）。"
    )
    return (
        passed,
        detail,
        {"loss_gap": {baseline: g0, regularized: g1}, "acc_gap": {baseline: a0, regularized: a1}},
    )


@lesson("dropout_sweep")
def dropout_reduces_overfitting_at_high_rate(result, high: float | None = None):
    """dropout 比例扫描：最大比例下的损失差距（后 1/3 个 epoch 平均）比 p=0 时小。"""
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 2:
        raise ValueError("需要 p=0 和至少一个 p>0 的运行。")
    high = max(by_rate) if high is None else high
    base, reg = by_rate[0.0], by_rate[high]
    n = _tail_len(base)
    g0, g1 = tail_mean(base.history["loss_gap"], n), tail_mean(reg.history["loss_gap"], n)
    passed = g1 < g0
    detail = f"最后 {n} 个 epoch 平均的损失差距（测试 − 训练）：p=0 时 {g0:.3f}，p={high:g} 时 {g1:.3f}（要求后者更小）。"
    return (passed, detail, {"loss_gap_p0": g0, "loss_gap_high": g1, "high": high})


@lesson("dropout_sweep", applies=lambda r: len(r.runs) >= 3)
def high_dropout_underfits(result, margin: float = 0.005):
    """dropout 比例扫描的最大比例（如 p=0.9）欠拟合：后 1/3 个 epoch 平均的测试准确率比扫描中最好的低
    ``margin`` 以上，eval 模式的训练准确率也比 p=0 时低。"""
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 3:
        raise ValueError("需要 p=0 和至少两个 p>0 的运行。")
    n = _tail_len(by_rate[0.0])
    test = {p: tail_mean(r.history["test_acc"], n) for p, r in by_rate.items()}
    train = {p: tail_mean(r.history["train_acc_eval"], n) for p, r in by_rate.items()}
    high, best = max(by_rate), max(test, key=test.get)
    passed = test[best] - test[high] >= margin and train[high] < train[0.0]
    detail = (
        f"p={high:g} 时测试准确率 {pct(test[high])}，比扫描中最好的 p={best:g}（{pct(test[best])}）低 "
        f"{pp(test[best] - test[high])}（要求至少 {pp(margin)}）；eval 模式的训练准确率 {pct(train[high])}，"
        f"p=0 时 {pct(train[0.0])}（要求更低）：丢弃太多，网络连训练集都拟合不好。"
    )
    return (passed, detail, {"test_acc": test, "train_acc_eval": train, "high": high})


@lesson("dropout_sweep", "dropout")
def seed_train_accuracy_understates_with_dropout(result, margin: float = 0.01):
    """原实验“边训练边统计”的训练准确率（dropout 开着）会低估网络对训练集的拟合：最大 dropout 比例下，
    eval 模式的差距与原实验方式的差距之差，比 p=0 时至少大 ``margin``（后 1/3 个 epoch 平均）。"""
    by_rate = {r.params["dropout"]: r for r in result.runs.values()}
    if 0.0 not in by_rate or len(by_rate) < 2:
        raise ValueError("需要 p=0 和至少一个 p>0 的运行。")
    high = max(by_rate)
    n = _tail_len(by_rate[0.0])

    def bias(run):
        return tail_mean(run.history["gap"], n) - tail_mean(run.history["gap_seed_style"], n)

    b0, b1 = bias(by_rate[0.0]), bias(by_rate[high])
    seed_gap = tail_mean(by_rate[high].history["gap_seed_style"], n)
    honest_gap = tail_mean(by_rate[high].history["gap"], n)
    passed = b1 - b0 >= margin
    detail = (
        f"p={high:g} 时，按原实验方式（训练中、dropout 开着）算的训练–测试差距为 {pct(seed_gap)}，"
        f"用 eval 模式在训练集上评估则为 {pct(honest_gap)}（低估了 {pp(b1)}）；p=0 时只低估 {pp(b0)}。"
        f"要求多低估至少 {pp(margin)}。"
    )
    return (passed, detail, {"understatement_p0": b0, "understatement_high": b1, "high": high})


def _by_variant(result, variants: tuple[str, str]) -> dict[str, dict[int, object]]:
    runs: dict[str, dict[int, object]] = {v: {} for v in variants}
    for run in result.runs.values():
        if run.params.get("variant") in runs:
            runs[run.params["variant"]][run.params["seed"]] = run
    seeds = sorted(set(runs[variants[0]]) & set(runs[variants[1]]))
    return runs, seeds


@lesson("dropout_seeds")
def dropout_gap_over_seeds(result, min_seeds: int = 3):
    """原实验的设置，跨随机种子：每个种子上，有 dropout 时的损失差距（test_loss − train_loss_eval，
    后 1/3 个 epoch 的平均）都比没有时小。细节中给出两者的均值 ± 标准差与准确率差距，供读者判断幅度。"""
    runs, seeds = _by_variant(result, ("none", "scratch"))
    if len(seeds) < min_seeds:
        raise ValueError(f"需要至少 {min_seeds} 个种子上的 none 与 scratch 运行。")
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
        f"准确率差距：{pct(a0)} ± {pp(t0)} 对 {pct(a1)} ± {pp(t1)}。"
    )
    return (
        passed,
        detail,
        {"loss_gap": loss, "acc_gap": acc, "loss_gap_reduction": diffs, "seeds": seeds},
    )


@lesson("dropout_mlp")
def dropout_helps_small_data_mlp(result, max_acc_loss: float = 0.005):
    """训练图很少的宽 MLP（后 1/3 个 epoch 的平均）：同一个种子（同样的初始权重与批次顺序）配对比较，
    每个种子上有 dropout 的测试损失都更低；测试准确率平均不降低超过 ``max_acc_loss``。
    细节中给出损失与准确率的均值 ± 标准差，供读者判断幅度。"""
    runs, seeds = _by_variant(result, ("none", "dropout"))
    if len(seeds) < 2:
        raise ValueError("需要至少 2 个种子上的 none 与 dropout 运行。")
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
        f"平均 {mean_drop:.3f}，要求每个种子都大于 0）。测试准确率：{pct(m0)} ± {pp(s0)} 对 "
        f"{pct(m1)} ± {pp(s1)}（平均变化 {pp(mean_gain)}，要求不降低超过 {pp(max_acc_loss)}）。"
    )
    return (
        passed,
        detail,
        {"test_acc": acc, "test_loss": loss, "loss_drops": drops, "gains": gains},
    )


# ---------------------------------------------------------------------------
