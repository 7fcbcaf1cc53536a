"""把跨随机种子的实验结果排成文本表格（页面上直接 ``print``）。"""

from __future__ import annotations

from .stats import mean_sd, tail_mean

__all__ = ["METRICS", "seed_table"]

#: 指标名 → (表头, 是否为比例：按百分数显示)
METRICS = {
    "loss_gap": ("损失差距", False),
    "gap": ("准确率差距", True),
    "test_acc": ("测试准确率", True),
    "test_loss": ("测试损失", False),
    "train_acc_eval": ("训练准确率(eval)", True),
}


def seed_table(result, metrics=("loss_gap", "gap", "test_acc")) -> str:
    """``result`` 的运行按 ``params["variant"]`` 与 ``params["seed"]`` 分组（如 :func:`run_dropout_seeds`、
    :func:`run_dropout_mlp` 的结果），每个种子一行、每个变体每个指标一列，取后 1/3 个 epoch 的平均；
    最后一行是均值 ± 标准差。"""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"未知的指标 {unknown}。可选：{', '.join(METRICS)}。")
    cells: dict[tuple[str, int], object] = {}
    for run in result.runs.values():
        if "variant" not in run.params or "seed" not in run.params:
            raise ValueError(
                "seed_table 需要每个运行的 params 中有 variant 和 seed（例如 run_dropout_seeds 的结果）。"
            )
        cells[run.params["variant"], run.params["seed"]] = run
    variants = list(dict.fromkeys(v for v, _ in cells))
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
