"""把跨随机种子的实验结果排成文本表格（页面上直接 ``print``）。"""

from __future__ import annotations

from typing import Any

from .stats import mean_sd, tail_mean

__all__ = ["METRICS", "l2_cv_table", "l2_seed_table", "seed_table"]

#: 指标名 → (表头, 是否为比例：按百分数显示)
METRICS = {
    "loss_gap": ("损失差距", False),
    "gap": ("准确率差距", True),
    "test_acc": ("测试准确率", True),
    "test_loss": ("测试损失", False),
    "train_acc_eval": ("训练准确率(eval)", True),
}


def seed_table(result, metrics=("loss_gap", "gap", "test_acc"), variants=None) -> str:
    """``result`` 的运行按 ``params["variant"]`` 与 ``params["seed"]`` 分组（如 :func:`run_dropout_seeds`、
    :func:`run_dropout_mlp` 的结果），每个种子一行、每个变体每个指标一列，取后 1/3 个 epoch 的平均；
    最后一行是均值 ± 标准差。``variants`` 给出时只列这些变体（按给出的顺序）。"""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"未知的指标 {unknown}。可选：{', '.join(METRICS)}。")
    cells: dict[tuple[str, int], Any] = {}
    for run in result.runs.values():
        if "variant" not in run.params or "seed" not in run.params:
            raise ValueError(
                "seed_table 需要每个运行的 params 中有 variant 和 seed（例如 run_dropout_seeds 的结果）。"
            )
        cells[run.params["variant"], run.params["seed"]] = run
    present = list(dict.fromkeys(v for v, _ in cells))
    if variants is None:
        variants = present
    else:
        variants = list(variants)
        missing = [v for v in variants if v not in present]
        if missing:
            raise ValueError(f"结果中没有变体 {missing}（已有：{present}）。")
    seeds = sorted({s for _, s in cells})

    def fmt(value: float, pct: bool) -> str:
        return f"{100 * value:.1f}%" if pct else f"{value:.3f}"

    header = ["种子"] + [f"{METRICS[m][0]}·{v}" for m in metrics for v in variants]
    rows = []
    columns: dict[tuple[str, str], list[float]] = {}
    for seed in seeds:
        row = [str(seed)]
        for m in metrics:
            for v in variants:
                run = cells.get((v, seed))
                if run is None:
                    row.append("—")
                    continue
                value = tail_mean(run.history[m])
                columns.setdefault((m, v), []).append(value)
                row.append(fmt(value, METRICS[m][1]))
        rows.append(row)
    summary = ["均值±标准差"]
    for m in metrics:
        for v in variants:
            values = columns.get((m, v), [])
            if not values:
                summary.append("—")
                continue
            mean, sd = mean_sd(values)
            pct = METRICS[m][1]
            summary.append(f"{100 * mean:.1f}±{100 * sd:.1f}%" if pct else f"{mean:.3f}±{sd:.3f}")
    rows.append(summary)
    table = [header, *rows]
    widths = [max(_width(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(r))
        for r in table
    )


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)


# ---------------------------------------------------------------------------
# L2 一章：run_l2_seeds 的结果


def _align(table: list[list[str]]) -> str:
    widths = [max(_width(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(r))
        for r in table
    )


def _ms(values) -> str:
    mean, sd = mean_sd(values)
    if abs(mean) < 1e-3:
        return f"{mean:.1e}±{sd:.1e}"
    return f"{mean:.4f}±{sd:.4f}"


def l2_seed_table(result) -> str:
    """:func:`~labcode.experiments.run_l2_seeds` 的结果：每种做法一行，列出各种子上训练损失、测试损失与
    ‖w‖₂ 的均值 ± 标准差（常数预测、闭式解、各 λ 的梯度下降与岭回归）。"""
    closed = [r.summary for r in result.runs.values() if r.params.get("kind") == "closed_form"]
    gd: dict[float, list] = {}
    for run in result.runs.values():
        if run.params.get("kind") == "gd":
            gd.setdefault(run.params["lambda"], []).append(run.summary)
    zero = [r.summary for r in result.runs.values() if r.params.get("kind") == "gd_zero"]
    if not closed or not gd or not zero:
        raise ValueError("l2_seed_table 需要 run_l2_seeds 的结果。")
    rows = [["做法", "训练损失", "测试损失", "‖w‖₂"]]
    rows.append(
        [
            "常数预测（输出 0）",
            _ms([c["constant_train_loss"] for c in closed]),
            _ms([c["constant_test_loss"] for c in closed]),
            "0",
        ]
    )
    rows.append(
        [
            "最小范数插值解（闭式）",
            _ms([c["min_norm_train_loss"] for c in closed]),
            _ms([c["min_norm_test_loss"] for c in closed]),
            _ms([c["min_norm_w_norm"] for c in closed]),
        ]
    )
    rows.append(
        [
            "梯度下降 λ=0，从 0 开始",
            _ms([z["final_train_loss"] for z in zero]),
            _ms([z["final_test_loss"] for z in zero]),
            _ms([z["w_norm"] for z in zero]),
        ]
    )
    for lam in sorted(gd):
        runs = gd[lam]
        rows.append(
            [
                f"梯度下降 λ={lam:g}",
                _ms([r["final_train_loss"] for r in runs]),
                _ms([r["final_test_loss"] for r in runs]),
                _ms([r["w_norm"] for r in runs]),
            ]
        )
    for lam in sorted(gd):
        if lam == 0:
            continue
        key = f"lambda={lam:g}"
        rows.append(
            [
                f"岭回归 λ={lam:g}（闭式）",
                _ms([c["ridge_train_loss"][key] for c in closed]),
                _ms([c["ridge_test_loss"][key] for c in closed]),
                "",
            ]
        )
    return f"{len(closed)} 个种子的均值±标准差（梯度下降：默认初始化，除非注明）\n" + _align(rows)


def l2_cv_table(result) -> str:
    """每个种子一行：k 折交叉验证（只用训练集）选出的 λ 与它的测试损失（岭回归闭式解），对照常数预测、
    以及“偷看测试集”选出的 λ。"""
    rows = [["种子", "交叉验证选的 λ", "其测试损失", "看测试集选的 λ", "其测试损失", "常数预测"]]
    for run in sorted(result.runs.values(), key=lambda r: r.params.get("seed", 0)):
        if run.params.get("kind") != "closed_form":
            continue
        c = run.summary
        peek = min(c["ridge_test_loss"], key=c["ridge_test_loss"].get)
        rows.append(
            [
                str(run.params["seed"]),
                f"{c['cv_lambda']:g}",
                f"{c['cv_test_loss']:.4f}",
                peek.split("=")[1],
                f"{c['ridge_test_loss'][peek]:.4f}",
                f"{c['constant_test_loss']:.4f}",
            ]
        )
    if len(rows) == 1:
        raise ValueError("l2_cv_table 需要 run_l2_seeds 的结果。")
    return _align(rows)
