"""激活函数一章的交互图：LeakyReLU 或 ELU 及其导数，滑块调节参数 α。

这是唯一一张由浏览器计算数值的图：函数值按闭式公式算出（与 :mod:`labcode.activations` 的
``f`` / ``derivative`` 相同）。初始曲线和几个参考 α 下的取值由 labcode 在 Python 中算出，
写进图的数据，网站的测试拿它核对浏览器的公式。
"""

from __future__ import annotations

import inspect
from typing import Any

from .common import (
    InteractiveFigure,
    add_hover,
    add_legend,
    announce_js,
    column_layout,
    new_plot,
    require_bokeh,
    select_widget,
    style_widget,
    values_block,
    values_table,
)

__all__ = ["FIGURE_ID", "PARAMETERS", "activation_explorer"]

FIGURE_ID = "activation-explorer"


#: activations whose closed form the browser evaluates: constructor argument, slider range and step,
#: and extra values of α at which labcode's own values are recorded for checking
PARAMETERS: dict[str, dict[str, Any]] = {
    "leaky_relu": {
        "parameter": "negative_slope",
        "range": (0.0, 1.0),
        "step": 0.01,
        "extra": (0.2,),
    },
    "elu": {"parameter": "alpha", "range": (0.0, 2.0), "step": 0.05, "extra": (0.5,)},
}

FORMULAS = {
    "leaky_relu": ("f(x) = x（x > 0），αx（x ≤ 0）", "f'(x) = 1（x > 0），α（x ≤ 0）"),
    "elu": ("f(x) = x（x > 0），α(eˣ − 1)（x ≤ 0）", "f'(x) = 1（x > 0），αeˣ（x ≤ 0）"),
}

# the closed forms of labcode.activations.MyLeakyReLU / MyELU (f and derivative), in the browser
_COMPUTE = """
const spec = specs[select.value];
const a = slider.value;
const x = source.data.x;
const f = new Array(x.length), d = new Array(x.length);
for (let i = 0; i < x.length; i++) {
  const v = x[i];
  if (v > 0) { f[i] = v; d[i] = 1; }
  else if (spec.kind === "leaky_relu") { f[i] = a * v; d[i] = a; }
  else { f[i] = a * Math.expm1(v); d[i] = a * Math.exp(v); }
}
source.data = {x: x, f: f, d: d, relu_f: source.data.relu_f, relu_d: source.data.relu_d};
const title = spec.label + "（α = " + Number(a.toFixed(3)) + "）";
top.title.text = "函数 " + title;
bottom.title.text = "导数 " + title;
const fmt = (v) => String(Number(v.toFixed(4))).replace("-", "−");
let at = 0;  // the grid point nearest to x = -1
for (let i = 1; i < x.length; i++) if (Math.abs(x[i] + 1) < Math.abs(x[at] + 1)) at = i;
"""

# the live line: the new curve's value and slope near x = -1 (where the activations differ from ReLU)
_ANNOUNCE = (
    '"函数 " + title + "：x = " + fmt(x[at]) + " 时 f(x) = " + fmt(f[at]) + "，f′(x) = " + fmt(d[at]) '
    '+ "；x > 0 时 f(x) = x，f′(x) = 1。"'
)

#: x at which the values table lists each function (all on the figure's grid)
TABLE_X = (-4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0)


def _number(value: float) -> str:
    return f"{value:.4g}".replace("-", "−")


def values_html(functions: dict, xs: list[float]) -> str:
    """The values as text: for each function, f and f′ at :data:`TABLE_X` for each α whose values
    labcode computed (the figure's first curve and the recorded checks)."""
    rows_at = [xs.index(x) for x in TABLE_X if x in xs]
    tables = []
    for name, info in functions.items():
        alphas = [s["alpha"] for s in info["samples"]]
        header = ["x"] + [f"{what}（α = {a:g}）" for a in alphas for what in ("f(x)", "f′(x)")]
        rows = [
            [_number(xs[i])]
            + [_number(s[key][i]) for s in info["samples"] for key in ("f", "derivative")]
            for i in rows_at
        ]
        caption = f"{info['label']}：{info['formula']}；{info['derivative_formula']}"
        tables.append(values_table(caption, header, rows, setting=name))
    note = (
        "各函数在几个 x 处的函数值 f(x) 与导数 f′(x)，由 labcode 的实现算出，"
        "与图中初始曲线的数据相同；滑块换成其他 α 时，图按同样的公式重算。"
    )
    return values_block(FIGURE_ID, tables, note)


def _values(act, xs: list[float]) -> tuple[list[float], list[float]]:
    import torch

    x = torch.tensor(xs, dtype=torch.float64)
    return act.f(x).tolist(), act.derivative(x).tolist()


def activation_explorer(
    names=("leaky_relu", "elu"), lo: float = -4.0, hi: float = 4.0, points: int = 161
) -> InteractiveFigure:
    """激活函数（上）与导数（下）的交互图：下拉框选择 ``names`` 中的激活函数（LeakyReLU、ELU），
    滑块调节参数 α（LeakyReLU 的 ``negative_slope``、ELU 的 ``alpha``），灰色虚线是 ReLU。

    初始曲线由 :mod:`labcode.activations` 的 ``f`` 与 ``derivative`` 算出（float64），滑块移动后
    由浏览器按同样的闭式公式重算。
    """
    require_bokeh()
    from bokeh.models import ColumnDataSource, CustomJS
    from bokeh.models.widgets import Slider

    from ..activations import ACTIVATIONS, MyReLU
    from ..plots import _label
    from ..plotstyle import COLORS

    names = list(names)
    unknown = [n for n in names if n not in PARAMETERS]
    if not names or unknown:
        raise ValueError(
            f"activation_explorer 只支持带参数 α 的 {', '.join(PARAMETERS)}，实际得到 {names!r}。"
        )
    if not (lo < 0 < hi) or points < 3:
        raise ValueError(
            f"需要 lo < 0 < hi 且 points ≥ 3，实际得到 lo={lo}, hi={hi}, points={points}。"
        )
    step = (hi - lo) / (points - 1)
    xs = [round(lo + i * step, 10) + 0.0 for i in range(points)]
    relu_f, relu_d = _values(MyReLU(), xs)

    labels = {name: _label(name) for name in names}  # the select's options
    functions: dict[str, dict[str, Any]] = {}
    specs: dict[str, dict[str, Any]] = {}
    for name in names:
        cls = ACTIVATIONS[name]
        info = PARAMETERS[name]
        default = inspect.signature(cls).parameters[info["parameter"]].default
        samples = []
        for alpha in (default, *info["extra"]):
            f, d = _values(cls(**{info["parameter"]: alpha}), xs)
            samples.append({"alpha": alpha, "f": f, "derivative": d})
        functions[name] = {
            "label": labels[name],
            "class": cls.__name__,
            "parameter": info["parameter"],
            "default": default,
            "range": list(info["range"]),
            "step": info["step"],
            "formula": FORMULAS[name][0],
            "derivative_formula": FORMULAS[name][1],
            "samples": samples,
        }
        specs[name] = {
            "kind": name,
            "label": labels[name],
            "default": default,
            "start": info["range"][0],
            "end": info["range"][1],
            "step": info["step"],
        }
    first = functions[names[0]]
    source = ColumnDataSource(
        data={
            "x": xs,
            "f": first["samples"][0]["f"],
            "d": first["samples"][0]["derivative"],
            "relu_f": relu_f,
            "relu_d": relu_d,
        },
        name=f"{FIGURE_ID}/source/curve",
    )
    title = f"{first['label']}（α = {first['default']:g}）"
    top = new_plot("函数 " + title, "x", "f(x)", name=f"{FIGURE_ID}/plot/f")
    bottom = new_plot("导数 " + title, "x", "f'(x)", name=f"{FIGURE_ID}/plot/derivative")
    for p, y, ref in ((top, "f", "relu_f"), (bottom, "d", "relu_d")):
        reference = p.line(
            "x", ref, source=source, line_color="#7F7F7F", line_width=2, line_dash="dashed"
        )
        curve = p.line("x", y, source=source, line_color=COLORS[0], line_width=3)
        curve.name = "所选函数"
        reference.name = "ReLU"
        add_legend(p, [("所选函数", [curve]), ("ReLU（参照）", [reference])], ncols=2)
        add_hover(p, [curve], [("x", "@x{0.00}"), (p.yaxis[0].axis_label, f"@{y}{{0.0000}}")])
    bottom.x_range = top.x_range

    select = select_widget("激活函数", labels, names[0], f"{FIGURE_ID}/control/activation")
    spec = specs[names[0]]
    slider = style_widget(
        Slider(
            title="参数 α",
            start=spec["start"],
            end=spec["end"],
            step=spec["step"],
            value=spec["default"],
            format="0[.]00",
            bar_color=COLORS[0],
        ),
        f"{FIGURE_ID}/control/alpha",
    )
    args = {
        "specs": specs,
        "select": select,
        "slider": slider,
        "source": source,
        "top": top,
        "bottom": bottom,
    }
    announce = announce_js(FIGURE_ID, _ANNOUNCE)
    slider.js_on_change("value", CustomJS(args=args, code=_COMPUTE + announce))
    select.js_on_change(
        "value",
        CustomJS(
            args=args,
            code="""
const s = specs[select.value];
slider.start = s.start; slider.end = s.end; slider.step = s.step;
slider.value = s.default;
"""
            + _COMPUTE
            + announce,
        ),
    )
    alt = (
        f"交互图：激活函数（{'、'.join(labels.values())}）与它的导数，x 从 {lo:g} 到 {hi:g}，"
        "灰色虚线是 ReLU。用下拉框选择函数，用滑块调节参数 α，曲线按闭式公式即时重画。"
        "在课程网站上可以交互；普通的 Jupyter 中只显示这段文字，静态图见上。"
    )
    data = {
        "x": xs,
        "functions": functions,
        "reference": {"name": "relu", "label": "ReLU", "f": relu_f, "derivative": relu_d},
    }
    layout = column_layout(select, slider, top, bottom, name=FIGURE_ID)
    return InteractiveFigure(FIGURE_ID, layout, data, alt, values_html(functions, xs))
