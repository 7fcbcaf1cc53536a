"""L2 正则化一章的结论。"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..experiments.results import require_experiment
from ..stats import mean_sd
from .core import fmt, lesson, paired, pct, pp

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.results import RunResult


def _mean_sd(values) -> str:
    mean, sd = mean_sd(values)
    return f"{fmt(mean)} ± {fmt(sd)}"


def _seeds(result) -> list[int]:
    seeds = sorted(
        r.params["seed"] for r in result.runs.values() if r.params.get("kind") == "closed_form"
    )
    if len(seeds) < 5:
        raise ValueError(f"需要至少 5 个种子的运行（run_l2_seeds），只有 {len(seeds)} 个。")
    return seeds


def _gd(result, seed: int) -> dict[float, RunResult]:
    """一个种子上，默认初始化的梯度下降运行，以 λ 为键。"""
    return {
        r.params["lambda"]: r
        for r in result.runs.values()
        if r.params.get("kind") == "gd" and r.params["seed"] == seed
    }


def _closed(result, seed: int) -> dict:
    return result[f"closed_form/seed={seed}"].summary


def _gd_lambda(result, seeds, lam: float | None) -> float:
    """要比较的 λ：给定时须在每个种子上都有；否则取最大的 λ。"""
    lams = set(_gd(result, seeds[0]))
    if 0.0 not in lams or len(lams) < 2:
        raise ValueError("需要 λ=0 和至少一个 λ>0 的运行。")
    lam = max(lams) if lam is None else float(lam)
    if any(lam not in _gd(result, s) for s in seeds):
        raise ValueError(f"不是每个种子都有 λ={lam:g} 的运行（有：{sorted(lams)}）。")
    return lam


@lesson("l2_seeds")
def unregularized_model_overfits(result, train_fraction: float = 0.01):
    """λ=0、默认初始化：每个种子上训练损失都不到常数预测（输出 0）训练损失的 ``train_fraction``
    （几乎记住训练集），测试损失却都比常数预测的测试损失大——过拟合到比什么都不学还差。"""
    seeds = _seeds(result)
    train = [_gd(result, s)[0.0].summary["final_train_loss"] for s in seeds]
    test = [_gd(result, s)[0.0].summary["final_test_loss"] for s in seeds]
    const_train = [_closed(result, s)["constant_train_loss"] for s in seeds]
    const_test = [_closed(result, s)["constant_test_loss"] for s in seeds]
    fit_ok, fit_text = paired(
        [train_fraction * c - t for t, c in zip(train, const_train, strict=True)]
    )
    worse, worse_text = paired([t - c for t, c in zip(test, const_test, strict=True)])
    detail = (
        f"λ=0：训练损失 {_mean_sd(train)}（常数预测 {_mean_sd(const_train)}；{train_fraction:g} 倍常数预测减训练损失："
        f"{fit_text}）；测试损失 {_mean_sd(test)}，常数预测 {_mean_sd(const_test)}（测试损失减常数预测：{worse_text}）。"
    )
    values = {"train_loss": train, "test_loss": test, "constant_test_loss": const_test}
    return fit_ok and worse, detail, values


def _smaller_by(result, lam: float | None, key: str, factor: float):
    """每个种子上 λ=0 与 λ=``lam`` 的 ``summary[key]``（默认初始化的梯度下降），以及配对比较
    “λ=0 的减 ``factor`` 倍 λ=``lam`` 的”：返回 ``(λ, λ=0 的值, λ=lam 的值, 是否成立, 说明)``。"""
    seeds = _seeds(result)
    lam = _gd_lambda(result, seeds, lam)
    at_zero, at_lam = ([_gd(result, s)[x].summary[key] for s in seeds] for x in (0.0, lam))
    passed, text = paired([a - factor * b for a, b in zip(at_zero, at_lam, strict=True)])
    return lam, at_zero, at_lam, passed, text


@lesson("l2_seeds")
def l2_shrinks_weights(result, lam: float = 3.0, factor: float = 3.0):
    """每个种子上，λ = ``lam``（原实验的 3）时的 ‖w‖₂ 都比 λ=0 时小 ``factor`` 倍以上。"""
    lam, n0, n1, passed, text = _smaller_by(result, lam, "w_norm", factor)
    detail = f"‖w‖₂：λ=0 时 {_mean_sd(n0)}，λ={lam:g} 时 {_mean_sd(n1)}；λ=0 的范数减 {factor:g} 倍 λ={lam:g} 的范数：{text}。"
    return passed, detail, {"norm_unregularized": n0, "norm_regularized": n1, "lambda": lam}


@lesson("l2_seeds")
def l2_reduces_test_loss(result, lam: float = 3.0, factor: float = 3.0):
    """每个种子上，λ = ``lam`` 时（默认初始化、同样的 epoch 数）的测试损失都比 λ=0 时小 ``factor`` 倍以上。"""
    lam, t0, t1, passed, text = _smaller_by(result, lam, "final_test_loss", factor)
    detail = (
        f"测试损失：λ=0 时 {_mean_sd(t0)}，λ={lam:g} 时 {_mean_sd(t1)}；"
        f"λ=0 的测试损失减 {factor:g} 倍 λ={lam:g} 的：{text}。"
    )
    return (
        passed,
        detail,
        {"test_loss_unregularized": t0, "test_loss_regularized": t1, "lambda": lam},
    )


@lesson("l2_seeds")
def l2_at_lambda_3_no_better_than_constant(result, lam: float = 3.0):
    """原实验的 λ = 3（默认初始化、原实验的 epoch 数）并不比常数预测（输出 0）好：测试损失的平均配对差
    （λ=3 减常数预测）大于 −2 × 标准误，即看不出 λ=3 更好。细节中另说明它是否可分辨地更差。"""
    seeds = _seeds(result)
    lam = _gd_lambda(result, seeds, lam)
    test = [_gd(result, s)[lam].summary["final_test_loss"] for s in seeds]
    const = [_closed(result, s)["constant_test_loss"] for s in seeds]
    diffs = [t - c for t, c in zip(test, const, strict=True)]
    mean, sd = mean_sd(diffs)
    se = sd / len(diffs) ** 0.5
    passed = mean > -2 * se
    worse = mean > 2 * se
    detail = (
        f"测试损失：λ={lam:g} 时 {_mean_sd(test)}，常数预测 {_mean_sd(const)}；λ={lam:g} 减常数预测的平均配对差 "
        f"{fmt(mean)}，标准误 {fmt(se)}（{len(diffs)} 个种子，要求平均差 > −2 × 标准误：看不出 λ={lam:g} 更好）；"
        f"{'可分辨地更差（平均差 > 2 × 标准误）' if worse else '与常数预测分不出高下（|平均差| < 2 × 标准误）' if mean < 2 * se and mean > -2 * se else ''}。"
    )
    values = {
        "test_loss": test,
        "constant_test_loss": const,
        "lambda": lam,
        "mean": mean,
        "se": se,
        "worse": worse,
    }
    return passed, detail, values


@lesson("l2_seeds")
def gradient_descent_from_zero_finds_min_norm(result, tol: float = 0.02):
    """隐式正则化：λ=0 但从 0 开始的梯度下降，每个种子上都收敛到最小范数插值解
    （相对距离 ‖w − w_mn‖/‖w_mn‖ < ``tol``），测试损失也都比默认初始化的 λ=0 低。"""
    seeds = _seeds(result)
    dist = [_closed(result, s)["gd_zero_distance_to_min_norm"] for s in seeds]
    zero = [result[f"gd_zero/seed={s}"].summary["final_test_loss"] for s in seeds]
    default = [_gd(result, s)[0.0].summary["final_test_loss"] for s in seeds]
    mn = [_closed(result, s)["min_norm_test_loss"] for s in seeds]
    close, close_text = paired([tol - d for d in dist])
    better, better_text = paired([d - z for d, z in zip(default, zero, strict=True)])
    detail = (
        f"从 0 开始的梯度下降到最小范数解的相对距离 {_mean_sd(dist)}（{tol:g} 减距离：{close_text}）；"
        f"测试损失：从 0 开始 {_mean_sd(zero)}，最小范数解（闭式）{_mean_sd(mn)}，默认初始化 {_mean_sd(default)}"
        f"（默认初始化减从 0 开始：{better_text}）。"
    )
    values = {
        "distance": dist,
        "test_loss_zero_init": zero,
        "test_loss_default_init": default,
        "min_norm_test_loss": mn,
    }
    return close and better, detail, values


def _best_loss(result, seed: int) -> tuple[float, str]:
    """一个种子上所有方法（各 λ 的梯度下降、从 0 开始的梯度下降、最小范数解、各 λ 的岭回归）中最低的测试损失。"""
    closed = _closed(result, seed)
    options = {
        f"梯度下降 λ={lam:g}": r.summary["final_test_loss"] for lam, r in _gd(result, seed).items()
    }
    options["从 0 开始的梯度下降"] = result[f"gd_zero/seed={seed}"].summary["final_test_loss"]
    options["最小范数解"] = closed["min_norm_test_loss"]
    options.update(
        {f"岭回归 {k.replace('lambda', 'λ')}": v for k, v in closed["ridge_test_loss"].items()}
    )
    best = min(options, key=options.__getitem__)
    return options[best], best


@lesson("l2_seeds")
def little_signal_to_learn(result, floor: float = 0.6):
    """20 个样本、200 维、信号这么弱：每个种子上，所有方法（各 λ、两种初始化、闭式解）中最低的测试损失都
    不低于常数预测（输出 0）的 ``floor`` 倍——没有哪种做法比“什么都不学”好很多。"""
    seeds = _seeds(result)
    best = [_best_loss(result, s) for s in seeds]
    const = [_closed(result, s)["constant_test_loss"] for s in seeds]
    ratios = [b / c for (b, _), c in zip(best, const, strict=True)]
    passed, text = paired([r - floor for r in ratios])
    winners = "、".join(dict.fromkeys(name for _, name in best))
    detail = (
        f"最低测试损失 / 常数预测的测试损失：{', '.join(f'{r:.2f}' for r in ratios)}（各种子；最低者为 {winners}）；"
        f"比值减 {floor:g}：{text}。"
    )
    return passed, detail, {"best_over_constant": ratios, "constant_test_loss": const}


@lesson("l2_seeds")
def fixed_epoch_sweep_measures_decay(result, slow: float = 2.0, close: float = 0.05):
    """固定 epoch 数的 λ 扫描量的是“衰减了多少”，而不只是正则化的强度：每个种子上，最小的正 λ 用梯度下降
    得到的测试损失都是同一 λ 的岭回归闭式解（训练到收敛的结果）的 ``slow`` 倍以上，而最大的 λ 与闭式解相差
    不到 ``close``（相对）。"""
    seeds = _seeds(result)
    lams = sorted(lam for lam in _gd(result, seeds[0]) if lam > 0)
    if len(lams) < 2:
        raise ValueError("需要至少两个 λ > 0。")
    small, large = lams[0], lams[-1]

    def ratio(seed, lam):
        return (
            _gd(result, seed)[lam].summary["final_test_loss"]
            / _closed(result, seed)["ridge_test_loss"][f"lambda={lam:g}"]
        )

    r_small = [ratio(s, small) for s in seeds]
    r_large = [ratio(s, large) for s in seeds]
    ok_small, text_small = paired([r - slow for r in r_small])
    ok_large, text_large = paired([close - abs(r - 1) for r in r_large])
    far = [lam for lam in lams if all(ratio(s, lam) > 1 + close for s in seeds)]
    detail = (
        f"梯度下降 / 闭式解的测试损失：λ={small:g} 时 {', '.join(f'{r:.1f}' for r in r_small)}（减 {slow:g}：{text_small}）；"
        f"λ={large:g} 时 {', '.join(f'{r:.3f}' for r in r_large)}（{close:g} 减 |比值 − 1|：{text_large}）。"
        f"每个种子上都离收敛还差 {pct(close)} 以上的 λ：{', '.join(f'{v:g}' for v in far) or '无'}。"
    )
    values = {
        "ratio_small": r_small,
        "ratio_large": r_large,
        "not_converged": far,
        "small": small,
        "large": large,
    }
    return ok_small and ok_large, detail, values


@lesson("l2", "lambda_sweep", auto=False)
def weight_decay_matches_scratch(scratch, weight_decay, atol: float = 1e-5):
    """同一种子下，手写 ``λ·l2_penalty(w)`` 与 ``SGD(weight_decay=λ)`` 得到的权重逐元素相差不超过 ``atol``。"""
    require_experiment(weight_decay, ("l2", "lambda_sweep"), runs=tuple(scratch.runs))
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


@lesson("l2_seeds")
def lambda_sweep_trades_fit_for_size(result):
    """λ 扫描（梯度下降，固定的 epoch 数）：每个种子上，λ 增大时 ‖w‖₂ 都严格减小、训练损失都不减小（容差 1e-9）。
    细节中给出每个 λ 测试损失的均值 ± 标准差，以及与最好的 λ 配对比较分不出高下（平均配对差 < 2 × 标准误）的 λ。"""
    seeds = _seeds(result)
    lams = sorted(_gd(result, seeds[0]))
    if len(lams) < 3:
        raise ValueError("需要至少 3 个 λ。")
    ordered = 0
    for s in seeds:
        runs = [_gd(result, s)[lam] for lam in lams]
        norms = [r.summary["w_norm"] for r in runs]
        train = [r.summary["final_train_loss"] for r in runs]
        ordered += all(b < a for a, b in zip(norms, norms[1:], strict=False)) and all(
            b >= a - 1e-9 for a, b in zip(train, train[1:], strict=False)
        )
    test = {lam: [_gd(result, s)[lam].summary["final_test_loss"] for s in seeds] for lam in lams}
    best = min(lams, key=lambda lam: sum(test[lam]))
    ties = [
        lam
        for lam in lams
        if lam == best
        or not paired([a - b for a, b in zip(test[lam], test[best], strict=True)], rule="se")[0]
    ]
    passed = ordered == len(seeds)
    listing = "；".join(f"λ={lam:g}：{_mean_sd(test[lam])}" for lam in lams)
    detail = (
        f"{ordered}/{len(seeds)} 个种子上 ‖w‖₂ 随 λ 严格减小、训练损失不减小（要求每个种子都如此）。"
        f"测试损失（均值 ± 标准差）：{listing}。平均最低在 λ={best:g}；与它分不出高下（平均配对差 < 2 × 标准误）的："
        f"{', '.join(f'{v:g}' for v in ties)}。"
    )
    return passed, detail, {"lambdas": lams, "test_loss": test, "best": best, "ties": ties}


@lesson("l1_vs_l2_seeds", "l1_vs_l2")
def l1_is_sparser_than_l2(result, min_difference: float = 0.4):
    """接近 0（|wᵢ| < zero_tol）的权重比例：每个种子上 L1 都比 L2 至少多 ``min_difference``
    （:func:`~labcode.experiments.run_l1_vs_l2_seeds` 的结果，至少 5 个种子）。"""
    runs: dict[str, dict[int, RunResult]] = {"l1": {}, "l2": {}}
    for run in result.runs.values():
        if run.params.get("penalty") in runs and "seed" in run.params:
            runs[run.params["penalty"]][run.params["seed"]] = run
    seeds = sorted(set(runs["l1"]) & set(runs["l2"]))
    if len(seeds) < 5:
        raise ValueError(
            f"需要至少 5 个种子上的 L1 与 L2 运行（run_l1_vs_l2_seeds），只有 {len(seeds)} 个；单次运行只能作示例。"
        )
    near = {k: [runs[k][s].summary["near_zero_fraction"] for s in seeds] for k in runs}
    exact = {k: [runs[k][s].summary["exact_zero_fraction"] for s in seeds] for k in runs}
    test = {k: [runs[k][s].summary["final_test_loss"] for s in seeds] for k in runs}
    passed, text = paired(
        [a - b - min_difference for a, b in zip(near["l1"], near["l2"], strict=True)]
    )
    tol = getattr(result.config, "zero_tol", None)

    def ms(values, percent=True):
        mean, sd = mean_sd(values)
        return f"{pct(mean)} ± {pp(sd)}" if percent else _mean_sd(values)

    detail = (
        f"|wᵢ| < {tol:g} 的权重：L1 {ms(near['l1'])}（其中正好为 0 的 {ms(exact['l1'])}），"
        f"L2 {ms(near['l2'])}（正好为 0 的 {ms(exact['l2'])}）；L1 减 L2 再减 {pp(min_difference)}：{text}。"
        f"测试损失 L1 {ms(test['l1'], False)}、L2 {ms(test['l2'], False)}。"
    )
    return passed, detail, {"l1_near_zero": near["l1"], "l2_near_zero": near["l2"]}
