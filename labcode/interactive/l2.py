"""L2 正则化一章的交互图：λ 扫描中每个 λ 的最终权重直方图与训练/测试损失曲线，滑块选择 λ。"""

from __future__ import annotations

from html import escape
from typing import Any

from .common import (
    InteractiveFigure,
    add_hover,
    add_legend,
    check_result,
    column_layout,
    index_slider,
    line_glyphs,
    new_plot,
    require_bokeh,
    shown_epochs,
    switched_text,
    values_block,
    values_table,
)

__all__ = ["FIGURE_ID", "lambda_explorer"]

FIGURE_ID = "lambda-explorer"


def _histogram(weights: list[float], edges: list[float]) -> list[int]:
    import numpy as np

    counts, _ = np.histogram(np.asarray(weights, dtype=float), bins=np.asarray(edges))
    return [int(c) for c in counts]


def lambda_explorer(sweep, lam: float | None = None, bins: int = 30) -> InteractiveFigure:
    """λ 扫描（:func:`~labcode.experiments.run_lambda_sweep` 的结果）的交互图：上图是最终权重
    ``run.arrays["weights"]`` 的直方图（所有 λ 用同一组分箱，虚线为真实权重 w*），下图是训练与
    测试损失 ``history["train_loss"]`` / ``history["test_loss"]`` 随 epoch 的变化（对数坐标）。
    滑块选择 λ；``lam`` 为最初显示的 λ（默认最小的）。
    """
    require_bokeh()
    import numpy as np
    from bokeh.models import ColumnDataSource, CustomJS, Range1d

    check_result(sweep, ("lambda_sweep", "l2"), "lambda_explorer")
    ordered = sorted(sweep.runs.values(), key=lambda r: r.params["lambda"])
    lambdas = [float(r.params["lambda"]) for r in ordered]
    if len(set(lambdas)) != len(lambdas):
        raise ValueError(f"lambda_explorer：λ 有重复（{lambdas}），每个 λ 只能有一次运行。")
    lam = lambdas[0] if lam is None else float(lam)
    if lam not in lambdas:
        raise ValueError(f"lam={lam!r} 不在扫描的 λ {lambdas} 中。")
    everything = [w for r in ordered for w in r.arrays["weights"]]
    if not everything:
        raise ValueError("lambda_explorer：运行中没有权重（arrays['weights']）。")
    true_w = getattr(sweep.config, "true_w", None)
    low, high = min(everything), max(everything)
    if true_w is not None:
        low, high = min(low, true_w), max(high, true_w)
    if high == low:
        high = low + 1e-3
    edges = [float(e) for e in np.linspace(low, high, bins + 1)]

    runs: dict[str, dict[str, Any]] = {}
    table: dict[str, dict[str, dict[str, list]]] = {}  # what the slider switches between
    texts: dict[str, str] = {}
    for run in ordered:
        lam_i = float(run.params["lambda"])
        counts = _histogram(run.arrays["weights"], edges)
        train, test = list(run.history["train_loss"]), list(run.history["test_loss"])
        runs[run.name] = {
            "lambda": lam_i,
            "weights": list(run.arrays["weights"]),
            "counts": counts,
            "train_loss": train,
            "test_loss": test,
            "w_norm": run.summary.get("w_norm"),
        }
        key = f"{lam_i:g}"
        table[key] = {
            "hist": {"left": edges[:-1], "right": edges[1:], "top": counts},
            "loss": {"x": list(range(1, len(train) + 1)), "train": train, "test": test},
        }
        norm = run.summary.get("w_norm")
        texts[key] = f"λ = {lam_i:g}：最终训练损失 {train[-1]:.2e}，测试损失 {test[-1]:.2e}" + (
            f"，权重的 L2 范数 {norm:.3f}。" if norm is not None else "。"
        )
    keys = [f"{v:g}" for v in lambdas]
    current = f"{lam:g}"

    hist = new_plot(
        "最终权重的分布",
        "权重值 w",
        "个数",
        name=f"{FIGURE_ID}/plot/weights",
        x_range=Range1d(edges[0] - 0.02 * (high - low), edges[-1] + 0.02 * (high - low)),
    )
    hist.y_range.start = 0
    hist.xaxis[0].ticker.desired_num_ticks = 5  # readable on a phone
    hist_source = ColumnDataSource(
        data=dict(table[current]["hist"]), name=f"{FIGURE_ID}/source/hist"
    )
    bars = hist.quad(
        left="left",
        right="right",
        top="top",
        bottom=0,
        source=hist_source,
        fill_color="#0072B2",
        fill_alpha=0.35,
        line_color="#0072B2",
        line_width=1.5,
    )
    items = [("最终权重", [bars])]
    if true_w is not None:
        star = hist.vspan(x=[true_w], line_color="#D55E00", line_width=2.5, line_dash="dashed")
        items.append((f"真实权重 w* = {true_w:g}", [star]))
    add_legend(hist, items, ncols=2)
    add_hover(hist, [bars], [("区间", "@left{0.0000} 到 @right{0.0000}"), ("个数", "@top")])

    loss = new_plot(
        "训练与测试损失（MSE，不含正则项）",
        "轮次（epoch）",
        "MSE 损失（对数坐标）",
        name=f"{FIGURE_ID}/plot/loss",
        y_log=True,
    )
    loss.xaxis[0].ticker.min_interval = 1
    loss_source = ColumnDataSource(
        data=dict(table[current]["loss"]), name=f"{FIGURE_ID}/source/loss"
    )
    long = len(table[current]["loss"]["x"]) > 25
    train_glyphs = line_glyphs(loss, loss_source, "x", "train", 0, markers=not long)
    test_glyphs = line_glyphs(loss, loss_source, "x", "test", 1, markers=not long)
    add_legend(loss, [("训练损失", train_glyphs), ("测试损失", test_glyphs)], ncols=2)
    add_hover(
        loss,
        [test_glyphs[0]],
        [("epoch", "@x"), ("训练损失", "@train{%.3e}"), ("测试损失", "@test{%.3e}")],
        formatters={"@train": "printf", "@test": "printf"},
        mode="vline",
    )

    summary, switch_args, switch_code = switched_text(FIGURE_ID, texts, current)
    slider = index_slider("正则化强度 λ", keys, lambdas.index(lam), f"{FIGURE_ID}/control/lambda")
    if slider is not None:
        slider.js_on_change(
            "value",
            CustomJS(
                args={
                    "hist": hist_source,
                    "loss": loss_source,
                    "table": table,
                    "keys": keys,
                    **switch_args,
                },
                code="""
const key = keys[Math.round(cb_obj.value)];
const row = table[key];
hist.data = {left: row.hist.left.slice(), right: row.hist.right.slice(), top: row.hist.top.slice()};
loss.data = {x: row.loss.x.slice(), train: row.loss.train.slice(), test: row.loss.test.slice()};
"""
                + switch_code,
            ),
        )
    alt = (
        "交互图：λ 扫描中每个 λ 的最终权重分布（直方图，虚线为真实权重）与训练、测试损失随 epoch 的变化"
        f"（对数坐标）。用滑块选择 λ（{'、'.join(keys)}）。"
        "在课程网站上可以交互；普通的 Jupyter 中只显示这段文字，静态图见上。"
    )
    data = {
        "experiment": sweep.name,
        "lambdas": lambdas,
        "bin_edges": edges,
        "true_w": true_w,
        "runs": runs,
    }
    layout = column_layout(slider, summary, hist, loss, name=FIGURE_ID)
    return InteractiveFigure(FIGURE_ID, layout, data, alt, values_html(table, texts, edges))


def values_html(table: dict, texts: dict, edges: list[float]) -> str:
    """The values as text, for each λ (``table``: what the slider switches between): its summary
    line, the histogram's counts and the losses at a few epochs."""
    parts = []
    for key, row in table.items():
        loss = row["loss"]
        rows = [
            [e, f"{loss['train'][e - 1]:.2e}", f"{loss['test'][e - 1]:.2e}"]
            for e in shown_epochs(len(loss["x"]))
        ]
        counts = "，".join(str(c) for c in row["hist"]["top"])
        parts.append(
            f"<p>{escape(texts[key])}各区间中的权重个数：{counts}。</p>"
            + values_table(
                f"λ = {key}：训练与测试损失（MSE）",
                ["轮次", "训练损失", "测试损失"],
                rows,
                setting=key,
            )
        )
    note = (
        f"每个 λ：最终的损失和权重范数、最终权重的直方图（{len(edges) - 1} 个等宽区间，"
        f"从 {edges[0]:.4g} 到 {edges[-1]:.4g}，从左到右）、几个 epoch 的损失。"
    )
    return values_block(FIGURE_ID, parts, note)
