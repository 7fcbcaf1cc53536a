"""ReLU 死亡一章的交互图：各层死亡神经元的比例随 epoch 的变化，按优化器设置与激活函数选择。"""

from __future__ import annotations

from ..plots import _label
from ..plotstyle import layer_label
from .common import (
    InteractiveFigure,
    add_hover,
    add_legend,
    check_result,
    column_layout,
    line_glyphs,
    new_plot,
    require_bokeh,
    select_widget,
    switched_text,
    values_block,
    values_table,
)

__all__ = ["FIGURE_ID", "dead_units_explorer"]

FIGURE_ID = "dead-units-explorer"

SETTING_LABELS = {"original": "原实验的设置", "dying": "让 ReLU 死亡的设置"}


def _setting(result) -> tuple[str, str]:
    run = next(iter(result.runs.values()))
    setting = run.params.get("setting", result.name)
    optimizer, lr = run.params.get("optimizer"), run.params.get("lr")
    label = SETTING_LABELS.get(setting, str(setting))
    if optimizer is not None and lr is not None:
        name = {"sgd": "SGD", "adam": "Adam"}.get(optimizer, str(optimizer))
        label += f"（{name}，lr = {lr:g}）"
    return str(setting), label


def dead_units_explorer(
    *results, setting: str | None = None, activation: str | None = None
) -> InteractiveFigure:
    """ReLU 死亡实验（:func:`~labcode.experiments.run_dead_relu`，如 ``setting="original"`` 与
    ``"dying"`` 各一次）的交互图：每层一条线，死亡神经元所占比例随 epoch 的变化（第 0 个 epoch
    为训练前，取自 ``summary["dead_fraction_init"]``，之后取自 ``history["dead_fraction"]``）。
    下拉框选择优化器设置和激活函数。
    """
    require_bokeh()
    from bokeh.models import ColumnDataSource, CustomJS, NumeralTickFormatter, Range1d

    if not results:
        raise ValueError(
            "dead_units_explorer 需要至少一个 run_dead_relu 的结果，例如 (mild, dying)。"
        )
    settings: dict[str, str] = {}
    runs: dict[str, dict] = {}
    activations: dict[str, str] = {}
    for result in results:
        check_result(result, ("dead_relu",), "dead_units_explorer")
        key, label = _setting(result)
        if key in settings:
            raise ValueError(f"dead_units_explorer：设置 {key!r} 出现了两次。")
        settings[key] = label
        for name, run in result.runs.items():
            activations.setdefault(name, _label(name))
            init = run.summary.get("dead_fraction_init")
            history = run.history["dead_fraction"]
            per_epoch = ([init] if init is not None else []) + [list(e) for e in history]
            first_epoch = 0 if init is not None else 1
            runs[f"{key}/{name}"] = {
                "setting": key,
                "activation": name,
                "epochs": list(range(first_epoch, first_epoch + len(per_epoch))),
                "layer_names": list(run.layer_names),
                "layers": [layer_label(n, run.layer_names) for n in run.layer_names],
                "dead_fraction_init": init,
                "dead_fraction": [list(e) for e in history],
                "final_test_acc": run.summary.get("final_test_acc"),
            }
    setting = next(iter(settings)) if setting is None else setting
    activation = next(iter(activations)) if activation is None else activation
    if f"{setting}/{activation}" not in runs:
        raise ValueError(f"没有设置 {setting!r}、激活函数 {activation!r} 的运行。")

    n_slots = max(len(r["layer_names"]) for r in runs.values())
    slot_labels = []
    for i in range(n_slots):  # the legend: the layer names of the first run that has this layer
        run = next(r for r in runs.values() if len(r["layers"]) > i)
        slot_labels.append(run["layers"][i])

    def series(run: dict) -> dict[str, dict]:
        """one line per layer: x = epoch, y = dead fraction of that layer"""
        per_epoch = (
            [run["dead_fraction_init"]] if run["dead_fraction_init"] is not None else []
        ) + run["dead_fraction"]
        out = {}
        for i in range(n_slots):
            if i < len(run["layers"]):
                out[str(i)] = {
                    "x": run["epochs"],
                    "y": [epoch[i] for epoch in per_epoch],
                    "layer": [run["layers"][i]] * len(per_epoch),
                }
            else:
                out[str(i)] = {"x": [], "y": [], "layer": []}
        return out

    table = {key: series(run) for key, run in runs.items()}
    texts = {
        key: (
            f"{settings[run['setting']]} · {activations[run['activation']]}："
            f"最后一个 epoch 死亡神经元占全部隐藏神经元的 "
            f"{sum(run['dead_fraction'][-1]) / len(run['dead_fraction'][-1]):.1%}"
            + (
                f"，测试准确率 {run['final_test_acc']:.1%}。"
                if run["final_test_acc"] is not None
                else "。"
            )
        )
        for key, run in runs.items()
    }
    current = f"{setting}/{activation}"
    p = new_plot(
        "各层死亡神经元的比例",
        "轮次（epoch；0 = 训练前）",
        "死亡神经元",
        name=f"{FIGURE_ID}/plot",
        y_range=Range1d(start=-0.03, end=1.03),
    )
    p.yaxis[0].formatter = NumeralTickFormatter(format="0%")
    p.xaxis[0].ticker.min_interval = 1
    sources, items, points = {}, [], []
    for i in range(n_slots):
        source = ColumnDataSource(data=dict(table[current][str(i)]), name=f"{FIGURE_ID}/source/{i}")
        glyphs = line_glyphs(p, source, "x", "y", i)
        sources[str(i)] = source
        items.append((slot_labels[i], glyphs))
        points.append(glyphs[-1])
    add_legend(p, items, ncols=3)
    add_hover(p, points, [("层", "@layer"), ("epoch", "@x"), ("死亡神经元", "@y{0.0%}")])
    summary, switch_args, switch_code = switched_text(FIGURE_ID, texts, current)

    select_setting = select_widget("优化器设置", settings, setting, f"{FIGURE_ID}/control/setting")
    select_activation = select_widget(
        "激活函数", activations, activation, f"{FIGURE_ID}/control/activation"
    )
    callback = CustomJS(
        args={
            "sources": sources,
            "table": table,
            **switch_args,
            "setting": select_setting,
            "activation": select_activation,
        },
        code="""
const key = setting.value + "/" + activation.value;
const row = table[key];
if (row === undefined) return;
for (const [slot, source] of Object.entries(sources)) {
  const r = row[slot];
  source.data = {x: r.x.slice(), y: r.y.slice(), layer: r.layer.slice()};
}
"""
        + switch_code,
    )
    select_setting.js_on_change("value", callback)
    select_activation.js_on_change("value", callback)
    alt = (
        "交互图：各层死亡神经元的比例随 epoch 的变化（0 = 训练前），每层一条线。"
        f"用下拉框选择优化器设置（{'、'.join(settings.values())}）和激活函数"
        f"（{'、'.join(activations.values())}）。"
        "在课程网站上可以交互；普通的 Jupyter 中只显示这段文字，静态图见上。"
    )
    data = {
        "experiment": "dead_relu",
        "metric": "dead_fraction",
        "settings": [{"key": k, "label": v} for k, v in settings.items()],
        "activations": [{"key": k, "label": v} for k, v in activations.items()],
        "runs": runs,
    }
    layout = column_layout(select_setting, select_activation, summary, p, name=FIGURE_ID)
    return InteractiveFigure(FIGURE_ID, layout, data, alt, values_html(table, texts, runs))


def values_html(table: dict, texts: dict, runs: dict) -> str:
    """The values as text, for each setting and activation (``table``: what the selects switch
    between): its summary line and each layer's dead fraction per epoch."""
    parts = []
    for key, lines in table.items():
        layers = runs[key]["layers"]
        epochs = runs[key]["epochs"]
        rows = [
            [e, *(f"{lines[str(i)]['y'][j]:.1%}" for i in range(len(layers)))]
            for j, e in enumerate(epochs)
        ]
        parts.append(values_table(texts[key], ["轮次", *layers], rows, setting=key))
    note = "每种设置与激活函数：各层死亡神经元所占比例，每个 epoch 一行（0 = 训练前）。"
    return values_block(FIGURE_ID, parts, note)
