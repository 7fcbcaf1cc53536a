"""梯度消失一章的交互图：深度扫描中各层权重的平均 |grad|，按深度（滑块）与激活函数（复选框）选择。"""

from __future__ import annotations

from ..plots import _init_label, _label
from ..plotstyle import layer_label
from .common import (
    InteractiveFigure,
    add_hover,
    add_legend,
    announce_js,
    check_result,
    column_layout,
    index_slider,
    line_glyphs,
    new_plot,
    require_bokeh,
    sci,
    style_widget,
    switched_text,
    values_block,
    values_table,
)

__all__ = ["FIGURE_ID", "gradient_explorer"]

FIGURE_ID = "gradient-explorer"


def _variant(run) -> tuple[str, str, str]:
    """(键, 图中名称, 初始化)：键与 ``sweep_key`` 的前缀相同，如 ``"relu"``、``"relu+he"``。"""
    activation = run.params["activation"]
    init = run.params.get("init", "default")
    if init == "default":
        return activation, _label(activation), init
    return f"{activation}+{init}", f"{_label(activation)} + {_init_label(init)}", init


def gradient_explorer(sweep, depth: int | None = None) -> InteractiveFigure:
    """深度扫描（:func:`~labcode.experiments.run_depth_sweep` 的结果）的交互图：最后一个 epoch
    各层权重的平均 |grad|（对数坐标）。滑块选择隐藏层个数，复选框选择显示哪些激活函数
    （包括 He / Xavier 初始化的对照）。``depth`` 为最初显示的隐藏层个数（默认最浅的）。

    数据全部来自 ``sweep``：``run.history["grad_mean"][-1]`` 与 ``run.layer_names``。
    """
    require_bokeh()
    from bokeh.models import ColumnDataSource, CustomJS, NumeralTickFormatter
    from bokeh.models.widgets import CheckboxGroup

    check_result(sweep, ("depth_sweep",), "gradient_explorer")
    variants: dict[str, dict] = {}
    depths: set[int] = set()
    runs: dict[str, dict] = {}
    for name, run in sweep.runs.items():
        key, label, init = _variant(run)
        variants.setdefault(
            key,
            {"key": key, "label": label, "activation": run.params["activation"], "init": init},
        )
        num_layers = run.params["num_layers"]
        depths.add(num_layers)
        grads = run.history["grad_mean"][-1]
        if len(grads) != len(run.layer_names):
            raise ValueError(
                f"运行 {name!r}：grad_mean 有 {len(grads)} 层，layer_names 有 {len(run.layer_names)} 个。"
            )
        runs[name] = {
            "variant": key,
            "depth": num_layers,
            "epoch": len(run.history["grad_mean"]),
            "layer_names": list(run.layer_names),
            "layers": [layer_label(n, run.layer_names) for n in run.layer_names],
            "grad_mean": list(grads),
        }
    depth_list = sorted(depths)
    if depth is None:
        depth = depth_list[0]
    if depth not in depth_list:
        raise ValueError(f"depth={depth!r} 不在扫描的隐藏层个数 {depth_list} 中。")

    # what the plot shows for each depth and variant: x = layer number (1 = input layer)
    empty: dict[str, list] = {"x": [], "y": [], "layer": []}
    table = {
        str(d): {
            v: next(
                (
                    {
                        "x": list(range(1, len(r["grad_mean"]) + 1)),
                        "y": r["grad_mean"],
                        "layer": r["layers"],
                    }
                    for r in runs.values()
                    if r["variant"] == v and r["depth"] == d
                ),
                empty,
            )
            for v in variants
        }
        for d in depth_list
    }
    labels = {key: info["label"] for key, info in variants.items()}
    texts = {depth: _line(depth, row, labels) for depth, row in table.items()}
    p = new_plot(
        "各层的平均 |grad|（最后一个 epoch）",
        "层（1 = 第 1 层，最右 = 输出层）",
        "平均 |grad|（对数坐标）",
        name=f"{FIGURE_ID}/plot",
        y_log=True,
    )
    p.xaxis[0].ticker.min_interval = 1
    p.xaxis[0].formatter = NumeralTickFormatter(format="0")
    sources, items, renderers = {}, [], []
    for i, (key, info) in enumerate(variants.items()):
        source = ColumnDataSource(
            data=dict(table[str(depth)][key]), name=f"{FIGURE_ID}/source/{key}"
        )
        glyphs = line_glyphs(p, source, "x", "y", i)
        sources[key] = source
        renderers.append(glyphs)
        items.append((info["label"], glyphs))
    add_legend(p, items, ncols=2)
    add_hover(
        p,
        [g[-1] for g in renderers],
        [("", "$name"), ("层", "@layer"), ("平均 |grad|", "@y{%.3e}")],
        formatters={"@y": "printf"},
    )
    for info, glyphs in zip(variants.values(), renderers, strict=True):
        for g in glyphs:
            g.name = info["label"]
    slider = index_slider(
        "隐藏层个数",
        [str(d) for d in depth_list],
        depth_list.index(depth),
        f"{FIGURE_ID}/control/depth",
    )
    if slider is not None:
        _, switch_args, switch_code = switched_text(FIGURE_ID, texts)
        slider.js_on_change(
            "value",
            CustomJS(
                args={
                    "sources": sources,
                    "table": table,
                    "depths": [str(d) for d in depth_list],
                    **switch_args,
                },
                code="""
const key = depths[Math.round(cb_obj.value)];
const row = table[key];
for (const [key, source] of Object.entries(sources)) {
  const r = row[key];
  source.data = {x: r.x.slice(), y: r.y.slice(), layer: r.layer.slice()};
}
"""
                + switch_code,
            ),
        )
    checkboxes = style_widget(
        CheckboxGroup(
            labels=[v["label"] for v in variants.values()],
            active=list(range(len(variants))),
            inline=True,
        ),
        f"{FIGURE_ID}/control/variants",
    )
    checkboxes.js_on_change(
        "active",
        CustomJS(
            args={"groups": renderers},
            code="""
groups.forEach((glyphs, i) => {
  const on = cb_obj.active.includes(i);
  for (const g of glyphs) g.visible = on;
});
const shown = cb_obj.labels.filter((label, i) => cb_obj.active.includes(i));
"""
            + announce_js(
                FIGURE_ID,
                '(shown.length ? "显示的曲线：" + shown.join("、") : "没有显示任何曲线") + "。"',
            ),
        ),
    )
    alt = (
        "交互图：深度扫描中各层权重的平均 |grad|（最后一个 epoch，对数坐标）。"
        f"用滑块选择隐藏层个数（{'、'.join(map(str, depth_list))}），"
        f"用复选框选择曲线（{'、'.join(labels.values())}）。"
        "在课程网站上可以交互；普通的 Jupyter 中只显示这段文字，静态图见上。"
    )
    data = {
        "experiment": sweep.name,
        "metric": "grad_mean",
        "epoch": "last",
        "depths": depth_list,
        "variants": list(variants.values()),
        "runs": runs,
    }
    layout = column_layout(slider, checkboxes, p, name=FIGURE_ID)
    return InteractiveFigure(FIGURE_ID, layout, data, alt, values_html(table, labels))


def _line(depth: str, row: dict, labels: dict) -> str:
    """The live line for one depth: each curve's mean |grad| in the first layer (where it vanishes)."""
    firsts = [f"{labels[key]} {sci(r['y'][0])}" for key, r in row.items() if r["y"]]
    return f"隐藏层 {depth} 层：第 1 层的平均 |grad|：{'，'.join(firsts)}。"


def values_html(table: dict, labels: dict) -> str:
    """The values as text, for each depth (``table``: what the slider switches between): every
    layer's mean |grad| for each curve."""
    parts = []
    for depth, row in table.items():
        keys = [key for key, r in row.items() if r["y"]]
        layers: list[str] = max((row[key]["layer"] for key in keys), key=len, default=[])
        rows = [
            [layer, *(sci(row[k]["y"][i]) if i < len(row[k]["y"]) else "—" for k in keys)]
            for i, layer in enumerate(layers)
        ]
        caption = f"隐藏层 {depth} 层：各层的平均 |grad|"
        parts.append(values_table(caption, ["层", *(labels[k] for k in keys)], rows, setting=depth))
    note = "每个隐藏层个数：最后一个 epoch 各层权重的平均 |grad|（两位有效数字），每层一行、每条曲线一列。"
    return values_block(FIGURE_ID, parts, note)
