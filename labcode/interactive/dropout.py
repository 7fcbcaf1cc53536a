"""Dropout 一章的交互图：dropout 比例扫描中每个 p 的训练/测试准确率曲线与泛化差距，滑块选择 p。"""

from __future__ import annotations

from html import escape

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
    style_axis,
    switched_text,
    values_block,
    values_table,
)

__all__ = ["FIGURE_ID", "dropout_explorer"]

FIGURE_ID = "dropout-explorer"

METRICS = ("train_acc_eval", "test_acc", "gap", "loss_gap")


def dropout_explorer(sweep, p: float | None = None) -> InteractiveFigure:
    """dropout 比例扫描（:func:`~labcode.experiments.run_dropout_sweep` 的结果）的交互图：上图为
    每个 epoch 的训练准确率（评估模式，``history["train_acc_eval"]``）与测试准确率
    （``history["test_acc"]``），下图为准确率差距 ``history["gap"]``（左纵轴）与损失差距
    ``history["loss_gap"]``（右纵轴）。滑块选择 p（``run.params["dropout"]``）；``p`` 为最初显示的
    比例（默认最小的）。
    """
    require_bokeh()
    from bokeh.models import (
        ColumnDataSource,
        CustomJS,
        DataRange1d,
        LinearAxis,
        NumeralTickFormatter,
    )
    from bokeh.models.annotations import Span

    check_result(sweep, ("dropout_sweep",), "dropout_explorer")
    ordered = sorted(sweep.runs.values(), key=lambda r: r.params["dropout"])
    rates = [float(r.params["dropout"]) for r in ordered]
    if len(set(rates)) != len(rates):
        raise ValueError(f"dropout_explorer：p 有重复（{rates}），每个 p 只能有一次运行。")
    p = rates[0] if p is None else float(p)
    if p not in rates:
        raise ValueError(f"p={p!r} 不在扫描的 dropout 比例 {rates} 中。")

    runs, table, texts = {}, {}, {}
    for run in ordered:
        rate = float(run.params["dropout"])
        values = {m: list(run.history[m]) for m in METRICS}
        epochs = list(range(1, len(values["test_acc"]) + 1))
        runs[run.name] = {"dropout": rate, "epochs": epochs, **values}
        key = f"{rate:g}"
        table[key] = {"x": epochs, **values}
        texts[key] = (
            f"p = {rate:g}，最后一个 epoch：训练准确率（评估模式）{values['train_acc_eval'][-1]:.2%}，"
            f"测试准确率 {values['test_acc'][-1]:.2%}，差距 {100 * values['gap'][-1]:.2f} 个百分点。"
        )
    keys = [f"{r:g}" for r in rates]
    current = f"{p:g}"
    source = ColumnDataSource(data=dict(table[current]), name=f"{FIGURE_ID}/source/curves")

    acc = new_plot("准确率", "轮次（epoch）", "准确率", name=f"{FIGURE_ID}/plot/accuracy")
    acc.yaxis[0].formatter = NumeralTickFormatter(format="0.0%")
    acc.xaxis[0].ticker.min_interval = 1
    train = line_glyphs(acc, source, "x", "train_acc_eval", 0)
    test = line_glyphs(acc, source, "x", "test_acc", 1)
    add_legend(acc, [("训练（评估模式）", train), ("测试", test)], ncols=2)
    add_hover(
        acc,
        [test[-1]],
        [
            ("epoch", "@x"),
            ("训练（评估模式）", "@train_acc_eval{0.00%}"),
            ("测试", "@test_acc{0.00%}"),
        ],
        mode="vline",
    )

    gap = new_plot(
        "泛化差距（训练 − 测试）",
        "轮次（epoch）",
        "准确率差距",
        name=f"{FIGURE_ID}/plot/gap",
    )
    gap.yaxis[0].formatter = NumeralTickFormatter(format="0.0%")
    gap.xaxis[0].ticker.min_interval = 1
    acc_gap = line_glyphs(gap, source, "x", "gap", 0)
    gap.y_range = DataRange1d(renderers=acc_gap)
    gap.extra_y_ranges = {"loss": DataRange1d()}
    loss_gap = line_glyphs(gap, source, "x", "loss_gap", 1, y_range_name="loss")
    gap.extra_y_ranges["loss"].renderers = loss_gap
    right = LinearAxis(y_range_name="loss", axis_label="损失差距（交叉熵，测试 − 训练）")
    style_axis(right)
    gap.add_layout(right, "right")
    gap.add_layout(Span(location=0, dimension="width", line_color="#7F7F7F", line_width=1))
    add_legend(gap, [("准确率差距（左轴）", acc_gap), ("损失差距（右轴）", loss_gap)], ncols=1)
    add_hover(
        gap,
        [acc_gap[-1]],
        [("epoch", "@x"), ("准确率差距", "@gap{0.00%}"), ("损失差距", "@loss_gap{0.0000}")],
        mode="vline",
    )

    summary, switch_args, switch_code = switched_text(FIGURE_ID, texts, current)
    slider = index_slider("丢弃概率 p", keys, rates.index(p), f"{FIGURE_ID}/control/p")
    if slider is not None:
        slider.js_on_change(
            "value",
            CustomJS(
                args={
                    "source": source,
                    "table": table,
                    "keys": keys,
                    **switch_args,
                },
                code="""
const key = keys[Math.round(cb_obj.value)];
const row = table[key];
const data = {};
for (const [name, values] of Object.entries(row)) data[name] = values.slice();
source.data = data;
"""
                + switch_code,
            ),
        )
    alt = (
        "交互图：dropout 比例扫描中每个 p 的训练准确率（评估模式）与测试准确率随 epoch 的变化，"
        "以及准确率差距与损失差距。"
        f"用滑块选择丢弃概率 p（{'、'.join(keys)}）。"
        "在课程网站上可以交互；普通的 Jupyter 中只显示这段文字，静态图见上。"
    )
    data = {"experiment": sweep.name, "rates": rates, "metrics": list(METRICS), "runs": runs}
    layout = column_layout(slider, summary, acc, gap, name=FIGURE_ID)
    return InteractiveFigure(FIGURE_ID, layout, data, alt, values_html(table, texts))


def values_html(table: dict, texts: dict) -> str:
    """The values as text, for each p (``table``: what the slider switches between): its summary
    line and the four curves at a few epochs."""
    parts = []
    for key, row in table.items():
        rows = [
            [
                e,
                f"{row['train_acc_eval'][e - 1]:.2%}",
                f"{row['test_acc'][e - 1]:.2%}",
                f"{100 * row['gap'][e - 1]:.2f}",
                f"{row['loss_gap'][e - 1]:.4f}",
            ]
            for e in shown_epochs(len(row["x"]))
        ]
        parts.append(
            f"<p>{escape(texts[key])}</p>"
            + values_table(
                f"p = {key}：准确率与泛化差距",
                ["轮次", "训练（评估模式）", "测试", "准确率差距（百分点）", "损失差距"],
                rows,
                setting=key,
            )
        )
    note = (
        "每个丢弃概率 p：最后一个 epoch 的准确率，以及几个 epoch 的训练、测试准确率和两种泛化差距。"
    )
    return values_block(FIGURE_ID, parts, note)
