"""L2 正则化一章的结论。"""

from __future__ import annotations

from .core import fmt, lesson, pct, pp, require


def _scratch(result) -> bool:
    """主实验的自动检查只读手写 L2 的结果（权重衰减的结果由 weight_decay_matches_scratch 与它对照）。"""
    return all(r.params.get("method", "scratch") == "scratch" for r in result.runs.values())


def _lambda_runs(result):
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    if len(runs) < 2 or runs[0].params["lambda"] != 0:
        raise ValueError("需要 λ=0 和至少一个 λ>0 的运行。")
    return runs[0], runs[-1]


@lesson("l2", "lambda_sweep", applies=_scratch)
def unregularized_model_overfits(result, factor: float = 100.0):
    """λ=0 时 20 个样本、200 维：训练损失几乎为 0，测试损失比它大 ``factor`` 倍以上（过拟合）。"""
    base, _ = _lambda_runs(result)
    train, test = base.summary["final_train_loss"], base.summary["final_test_loss"]
    passed = test > factor * train
    detail = f"λ=0：训练损失 {fmt(train)}，测试损失 {fmt(test)}（要求测试损失是训练损失的 {factor:g} 倍以上）。"
    return (passed, detail, {"train_loss": train, "test_loss": test})


@lesson("l2", "lambda_sweep", applies=_scratch)
def l2_shrinks_weights(result, factor: float = 3.0):
    """最大的 λ 下 ‖w‖₂ 比 λ=0 时小 ``factor`` 倍以上。"""
    base, reg = _lambda_runs(result)
    n0, n1 = base.summary["w_norm"], reg.summary["w_norm"]
    passed = n1 * factor < n0
    detail = (
        f"‖w‖₂：λ=0 时 {n0:.3f}，λ={reg.params['lambda']:g} 时 {n1:.3f}"
        f"（缩小为 1/{n0 / n1:.1f}，要求小于 1/{factor:g}）。"
    )
    return (passed, detail, {"norm_unregularized": n0, "norm_regularized": n1})


@lesson("l2", "lambda_sweep", applies=_scratch)
def l2_reduces_test_loss(result, factor: float = 3.0):
    """最大的 λ 下测试损失比 λ=0 时小 ``factor`` 倍以上。"""
    base, reg = _lambda_runs(result)
    t0, t1 = base.summary["final_test_loss"], reg.summary["final_test_loss"]
    passed = t1 * factor < t0
    detail = (
        f"测试损失：λ=0 时 {fmt(t0)}，λ={reg.params['lambda']:g} 时 {fmt(t1)}"
        f"（降为 1/{t0 / t1:.1f}，要求小于 1/{factor:g}）。"
    )
    return (passed, detail, {"test_loss_unregularized": t0, "test_loss_regularized": t1})


@lesson("l2", "lambda_sweep", auto=False)
def weight_decay_matches_scratch(scratch, weight_decay, atol: float = 1e-5):
    """同一种子下，手写 ``λ·l2_penalty(w)`` 与 ``SGD(weight_decay=λ)`` 得到的权重逐元素相差不超过 ``atol``。"""
    require(weight_decay, ("l2", "lambda_sweep"), tuple(scratch.runs))
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
        f"两种实现最终权重逐元素最大差 {fmt(worst)}（要求 ≤ {atol:g}），最终测试损失最大差 {fmt(worst_loss)}："
        "λ·l2_penalty(w) 的梯度就是 λw，与权重衰减完全相同。"
    )
    return (passed, detail, {"max_weight_diff": worst, "max_test_loss_diff": worst_loss})


@lesson("lambda_sweep", "l2")
def lambda_sweep_trades_fit_for_size(result):
    """λ 增大时 ‖w‖₂ 单调减小、训练损失单调增大（容差 1e-9）；测试损失的最小值出现在某个 λ > 0 处。"""
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    if len(runs) < 3:
        raise ValueError("需要至少 3 个 λ。")
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
        f"测试损失最小在 λ={best:g}（{fmt(min(test))}）。"
    )
    return (
        passed,
        detail,
        {"lambdas": lams, "w_norm": norms, "train_loss": train, "test_loss": test},
    )


@lesson("l1_vs_l2", runs=("l1", "l2"))
def l1_is_sparser_than_l2(result, min_difference: float = 0.4):
    """接近 0（|wᵢ| < zero_tol）的权重比例：L1 比 L2 至少多 ``min_difference``。"""
    l1, l2 = result["l1"].summary, result["l2"].summary
    tol = getattr(result.config, "zero_tol", None)
    passed = l1["near_zero_fraction"] - l2["near_zero_fraction"] >= min_difference
    detail = (
        f"|wᵢ| < {tol:g} 的权重：L1 {pct(l1['near_zero_fraction'])}（其中正好为 0 的 {pct(l1['exact_zero_fraction'])}），"
        f"L2 {pct(l2['near_zero_fraction'])}（正好为 0 的 {pct(l2['exact_zero_fraction'])}）；"
        f"测试损失 L1 {fmt(l1['final_test_loss'])}、L2 {fmt(l2['final_test_loss'])}。要求 L1 的比例至少多 {pp(min_difference)}。"
    )
    return (
        passed,
        detail,
        {"l1_near_zero": l1["near_zero_fraction"], "l2_near_zero": l2["near_zero_fraction"]},
    )


# ---------------------------------------------------------------------------
