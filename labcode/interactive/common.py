"""交互图的共同部分：:class:`InteractiveFigure`、Bokeh 的导入、课程样式（字体、字号、配色、线型）。

一张交互图是一个 Bokeh 文档（``bokeh.embed.json_item``）加上它所画的数据。控件（滑块、下拉框、
复选框）的 ``CustomJS`` 回调只在 Python 预先算好的数据之间切换；唯一的例外是激活函数图，浏览器按
闭式公式计算函数值。Bokeh 只在调用这些函数时才导入：``import labcode`` 不会导入它。
"""

from __future__ import annotations

import html
import json
from collections.abc import Container, Sequence
from types import ModuleType
from typing import Any, Literal

from ..experiments.results import require_experiment, to_jsonable
from ..plotstyle import COLORS

__all__ = [
    "MIME_TYPE",
    "fallback_html",
    "figure_url",
    "InteractiveFigure",
    "index_slider",
    "line_glyphs",
    "new_plot",
    "require_bokeh",
    "values_block",
    "values_table",
]

#: The value is the Bokeh ``json_item`` as a JSON **string**: nbformat writes JSON-typed outputs with
#: sorted keys, and BokehJS needs the item's original order (a model must be defined before a later
#: reference is resolved), so the item must survive the notebook cache byte for byte.
MIME_TYPE = "application/vnd.labcode.bokeh.v1"
"""交互图输出的 MIME 类型：值为 ``json_item`` 字典；输出的 metadata 中有图的编号和数据。"""

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
TITLE_PX = "15px"
LABEL_PX = "14px"
TICK_PX = "13px"
LEGEND_PX = "13px"
PLOT_HEIGHT = 330
"""每幅图的高度（CSS 像素）；宽度随正文栏伸缩（手机上约 358 像素）。"""

DASHES: tuple[Any, ...] = ("solid", "dashed", "dotdash", "dotted", [10, 3], "dashdot", [3, 2])
MARKERS = ("circle", "square", "triangle", "diamond", "inverted_triangle", "plus", "x")

# the widgets live in Bokeh's shadow roots: larger text, and a focus ring that shows on a white card
WIDGET_CSS = """
:host { --font-size: 14px; font-size: 14px; }
.bk-input, select, .bk-btn, label { font-size: 14px; }
.bk-input-group.bk-inline { flex-wrap: wrap; row-gap: 4px; }
.noUi-handle:focus-visible, select:focus-visible, input:focus-visible, .bk-btn:focus-visible {
  outline: 3px solid #0072B2; outline-offset: 2px;
}
"""

# touch targets of at least 24 px (WCAG 2.2, 2.5.8), and nothing wider than the card on a phone: the
# select's padding was added to its 100% width (content-box), the slider's handle hung over the edge
TOUCH_CSS = """
select.bk-input { box-sizing: border-box; max-width: 100%; min-height: 44px; }
.noUi-target.noUi-horizontal { margin: 12px 14px; width: calc(100% - 28px); box-sizing: border-box; }
.noUi-horizontal .noUi-handle { width: 28px; height: 28px; right: -14px; top: -10px; border-radius: 50%; }
.noUi-handle::before, .noUi-handle::after { display: none; }
input[type="checkbox"] { width: 24px; height: 24px; margin: 0 4px 0 0; }
"""

# the keyboard focus ring (Bokeh's own focus style on <select> is a faint glow that overrides a plain
# ``select:focus-visible``), and no sliding handle for readers who ask for less motion
FOCUS_CSS = """
.bk-input:focus-visible, .bk-input:focus, .noUi-handle:focus-visible,
input[type="checkbox"]:focus-visible {
  outline: 3px solid #0072B2; outline-offset: 2px; box-shadow: 0 0 0 5px #FFFFFF;
}
@media (prefers-reduced-motion: reduce) {
  *, .noUi-state-tap .noUi-connect, .noUi-state-tap .noUi-origin { transition: none !important; }
}
"""


def require_bokeh() -> ModuleType:
    """导入 Bokeh；没有安装时给出中文说明。"""
    try:
        import bokeh
    except ImportError as exc:
        raise ImportError(
            "交互图需要 Bokeh：请执行 python3 -m pip install 'bokeh>=3.4'（网站构建用的版本见 "
            "requirements/constraints.txt）。静态图（labcode.plots）不需要 Bokeh。"
        ) from exc
    return bokeh


#: 课程网站（与 mkdocs.yml 的 ``site_url`` 相同）：Jupyter 中交互图的替代内容链接到这里。
SITE_URL = "https://labcode-course.github.io/regularization-activation-lab/"
#: 每张交互图所在的章节：网站上的 ``<SITE_URL><章节>/#lab-<figure_id>``。
FIGURE_CHAPTERS = {
    "activation-explorer": "activations",
    "gradient-explorer": "gradient_vanishing",
    "dead-units-explorer": "dead_relu",
    "lambda-explorer": "l2",
    "dropout-explorer": "dropout",
}


def figure_url(figure_id: str) -> str:
    """交互图在课程网站上的地址（网站构建把图放在 ``id="lab-<figure_id>"`` 的元素里）。"""
    chapter = FIGURE_CHAPTERS.get(figure_id)
    return f"{SITE_URL}{chapter}/#lab-{figure_id}" if chapter else SITE_URL


def fallback_html(figure_id: str, alt_text: str) -> str:
    """Jupyter（JupyterLab、Notebook、VS Code、Colab）能显示的替代内容：说明这是什么图，指向上方的
    静态图和网站上可交互的版本。它们不认识 :data:`MIME_TYPE`，会选这个 ``text/html``。"""
    url = html.escape(figure_url(figure_id), quote=True)
    # the description without its plain-text-only parts ("交互图：" and the sentence about Jupyter)
    sentences = [part for part in alt_text.removeprefix("交互图：").split("。") if part.strip()]
    what = "。".join(part for part in sentences if "Jupyter" not in part) + "。"
    return (
        f'<div class="labcode-interactive-fallback" data-figure="{html.escape(figure_id)}">'
        f"<p><strong>交互图</strong>：{html.escape(what)}</p>"
        "<p>Jupyter 里不能拖动这张图的滑块；同一数据的静态图就在上方。"
        f'可交互的版本在课程网站本章的页面上：<a href="{url}" target="_blank" rel="noopener">'
        "在课程网站上打开这张交互图</a>。</p></div>"
    )


# Bokeh gives each plot's event layer tabindex="0" for key-driven tools; these figures have none, so
# it would only be an empty Tab stop per plot between the controls and the rest of the page
UNTAB_CANVAS_JS = """
(function walk(root) {
  root.querySelectorAll("*").forEach((el) => {
    if (el.classList.contains("bk-events") && el.tabIndex >= 0) el.tabIndex = -1;
    if (el.shadowRoot) walk(el.shadowRoot);
  });
})(document);
"""


class InteractiveFigure:
    """一张交互图：``figure_id``（稳定的编号，如 ``"gradient-explorer"``）、``item``（Bokeh 的
    ``json_item`` 字典）、``data``（图中所画的数据，JSON 友好）与中文替代文字 ``alt_text``。

    在 Jupyter 中作为单元格的值显示：输出的 MIME 类型 :data:`MIME_TYPE` 的值是 ``item``，
    metadata 中记录 ``figure_id`` 与 ``data``；普通的 Jupyter 不认识这个类型，显示同一输出中的
    ``text/html``（:func:`fallback_html`：指向上方的静态图和网站上的交互版），纯文本环境显示
    ``text/plain`` 中的说明文字。课程网站的构建把它换成可交互的图，并把 ``data`` 写成
    本页旁边的 ``results/<figure_id>.json``。
    """

    def __init__(
        self, figure_id: str, layout, data: dict[str, Any], alt_text: str, values_html: str = ""
    ):
        from bokeh.document import Document
        from bokeh.embed import json_item
        from bokeh.models import CustomJS

        self.figure_id = figure_id
        self.data = to_jsonable(data)
        self.alt_text = alt_text
        self.values_html = values_html
        doc = Document()
        doc.add_root(layout)
        doc.js_on_event("document_ready", CustomJS(code=UNTAB_CANVAS_JS))
        self.item = json.loads(json.dumps(json_item(layout)))  # plain JSON types only
        self.layout = layout

    def _repr_mimebundle_(
        self, include: Container[str] | None = None, exclude: Container[str] | None = None
    ) -> tuple[dict[str, str], dict[str, Any]]:
        bundle = {
            MIME_TYPE: json.dumps(self.item, ensure_ascii=False),
            "text/html": fallback_html(self.figure_id, self.alt_text) + self.values_html,
            "text/plain": self.alt_text,
        }
        if include:
            bundle = {k: v for k, v in bundle.items() if k in include}
        if exclude:
            bundle = {k: v for k, v in bundle.items() if k not in exclude}
        # values_html lives in text/html only (plain Jupyter shows it there); the site's build
        # takes it from there
        return bundle, {MIME_TYPE: {"figure_id": self.figure_id, "data": self.data}}

    def __repr__(self) -> str:
        return f"<InteractiveFigure {self.figure_id}: {self.alt_text}>"


def check_result(result, names: Sequence[str], what: str) -> None:
    require_experiment(result, names, what)
    if not getattr(result, "runs", None):
        raise ValueError(f"{what}：实验结果 {result.name!r} 中没有任何运行。")


def style_widget(widget, name: str):
    """课程样式的控件：伸满宽度、较大的字、看得见的键盘焦点；``name`` 供测试和脚本查找。"""
    from bokeh.models import InlineStyleSheet

    widget.name = name
    widget.sizing_mode = "stretch_width"
    widget.stylesheets = [InlineStyleSheet(css=css) for css in (WIDGET_CSS, TOUCH_CSS, FOCUS_CSS)]
    return widget


def select_widget(title: str, options: dict[str, str], value: str, name: str) -> Any:
    """课程样式的下拉框：``options`` 是 值 → 显示的名称。"""
    from bokeh.models.widgets import Select

    choices: list[str | tuple[Any, str]] = list(options.items())
    return style_widget(Select(title=title, value=value, options=choices), name)


def index_slider(title: str, labels: Sequence[str], value: int, name: str):
    """在一组扫描点之间移动的滑块：值是扫描点的序号，显示的是 ``labels[序号]``。

    少于两个扫描点时返回 ``None``（没有可切换的）。
    """
    from bokeh.models import CustomJSTickFormatter
    from bokeh.models.widgets import Slider

    if len(labels) < 2:
        return None
    formatter = CustomJSTickFormatter(
        args={"labels": list(labels)},
        code="const i = Math.round(tick); return i in labels ? labels[i] : String(tick);",
    )
    slider = Slider(
        title=title,
        start=0,
        end=len(labels) - 1,
        step=1,
        value=value,
        format=formatter,
        show_value=True,
        bar_color=COLORS[0],
    )
    return style_widget(slider, name)


def new_plot(
    title: str,
    x_label: str,
    y_label: str,
    *,
    name: str,
    y_log: bool = False,
    height: int = PLOT_HEIGHT,
    **kwargs,
):
    """一幅课程样式的图：白色背景、中文标题与坐标轴、字号 ≥ 13 像素、宽度随栏伸缩，没有工具栏
    （手机上拖动页面不会被图截获）；悬停或轻触数据点显示数值（见 :func:`add_hover`）。"""
    from bokeh.models.annotations import Title
    from bokeh.plotting import figure

    p = figure(
        title=Title(text=title, text_font=FONT, text_font_size=TITLE_PX, text_font_style="bold"),
        height=height,
        sizing_mode="stretch_width",
        y_axis_type="log" if y_log else "linear",
        tools="",
        toolbar_location=None,
        background_fill_color="white",
        border_fill_color="white",
        min_border_left=8,
        min_border_right=16,
        name=name,
        **kwargs,
    )
    p.toolbar.logo = None
    p.xaxis.axis_label = x_label
    p.yaxis.axis_label = y_label
    for axis in (*p.xaxis, *p.yaxis):
        style_axis(axis)
    p.grid.grid_line_color = "#D9D9D9"
    return p


def style_axis(axis) -> None:
    axis.axis_label_text_font = FONT
    axis.axis_label_text_font_size = LABEL_PX
    axis.axis_label_text_font_style = "normal"
    axis.major_label_text_font = FONT
    axis.major_label_text_font_size = TICK_PX
    axis.axis_label_text_color = "#222222"
    axis.major_label_text_color = "#222222"


def line_glyphs(p, source, x: str, y: str, i: int, *, markers: bool = True, y_range_name=None):
    """第 ``i`` 条线：Okabe–Ito 颜色、不同的虚线样式和标记（与静态图的线型对应）。"""
    extra = {} if y_range_name is None else {"y_range_name": y_range_name}
    color = COLORS[i % len(COLORS)]
    renderers = [
        p.line(
            x,
            y,
            source=source,
            line_color=color,
            line_width=2.5,
            line_dash=DASHES[i % len(DASHES)],
            **extra,
        )
    ]
    if markers:
        renderers.append(
            p.scatter(
                x,
                y,
                source=source,
                marker=MARKERS[i % len(MARKERS)],
                size=8,
                line_color=color,
                fill_color=color if MARKERS[i % len(MARKERS)] not in ("plus", "x") else None,
                line_width=1.5,
                **extra,
            )
        )
    return renderers


def add_legend(p, items: Sequence[tuple[str, list]], *, ncols: int = 2) -> None:
    """图例放在图的下方（不遮挡曲线），每行 ``ncols`` 项，手机上也放得下。"""
    from bokeh.models.annotations import Legend, LegendItem

    legend = Legend(
        items=[LegendItem(label=label, renderers=renderers) for label, renderers in items],
        orientation="horizontal",
        ncols=ncols,
        label_text_font=FONT,
        label_text_font_size=LEGEND_PX,
        label_text_color="#222222",
        spacing=12,
        padding=4,  # type: ignore[arg-type]  # bokeh 3.9's stub types it as a Property, not int
        margin=4,
        border_line_color=None,
        background_fill_alpha=0.0,
        click_policy="none",
    )
    p.add_layout(legend, "below")


def add_hover(
    p,
    renderers: list,
    tooltips: list[tuple[str, str]],
    formatters=None,
    mode: Literal["mouse", "hline", "vline"] = "mouse",
) -> None:
    """悬停（触屏上轻触）数据点时显示数值。"""
    from bokeh.models import HoverTool

    p.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=tooltips,
            formatters=formatters or {},
            mode=mode,
        )
    )


def column_layout(*children, name: str):
    """上下排列控件与图，宽度随正文栏伸缩。"""
    from bokeh.layouts import column

    return column(
        *[c for c in children if c is not None],
        sizing_mode="stretch_width",
        name=name,
    )


def switched_text(
    figure_id: str, texts: dict[str, str], current: str | None = None
) -> tuple[Any, dict[str, Any], str]:
    """随控件切换的说明：``texts`` 是每个控件设置（键）的一句话，返回 ``(summary, args, code)``。

    ``summary`` 是图上方的一行说明，显示 ``texts[current]``（``current`` 为 ``None`` 时没有这一行，
    返回 ``None``）；``args`` 并入 ``CustomJS`` 回调的参数，``code`` 接在回调代码的末尾（回调先设好
    ``key``）：把 ``texts[key]`` 写进说明，并在页面的朗读行中读出（:func:`announce_js`）。
    """
    from bokeh.models.widgets import Div

    code = announce_js(figure_id, "lines[key]")
    if current is None:
        return None, {"lines": texts}, code
    summary = Div(
        text=html.escape(texts[current]), sizing_mode="stretch_width", name=f"{figure_id}/summary"
    )
    summary.styles = {"font-size": "14px", "line-height": "1.5", "color": "#222222"}
    escaped = {k: html.escape(v) for k, v in texts.items()}
    args = {"texts": escaped, "lines": texts, "summary": summary}
    return summary, args, "summary.text = texts[key];\n" + code


# --------------------------------------------------------------------------------------------------
# the figure without sight: its values as text (a folded table) and a live line for control changes
# --------------------------------------------------------------------------------------------------


def live_id(figure_id: str) -> str:
    """The page element (``aria-live="polite"``) that announces a control change; the site's build
    (docs/_build/interactive.py) writes it next to the figure."""
    return f"lab-{figure_id}-live"


def announce_js(figure_id: str, text: str) -> str:
    """JavaScript for a ``CustomJS`` callback: write ``text`` (a JavaScript expression giving the
    sentence) into the page's live line. Outside the course site (no such element) it does nothing."""
    return (
        f'{{ const live = document.getElementById("{live_id(figure_id)}");\n'
        f"  if (live) live.textContent = {text}; }}\n"
    )


def sci(value: float) -> str:
    """Two significant digits in scientific notation, short exponent: ``3.1e-5``."""
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def shown_epochs(n: int, at_most: int = 11) -> list[int]:
    """Which of the epochs 1..n a values table lists: all when few, else the first, the last and
    every 2nd, 5th, 10th, 20th, ... epoch, at most ``at_most`` of them."""
    step = 1
    while True:
        epochs = sorted({1, *range(step, n + 1, step), n}) if n >= 1 else []
        if len(epochs) <= at_most:
            return epochs
        step = step * 5 // 2 if str(step).startswith("2") else step * 2  # 1, 2, 5, 10, 20, 50


def values_table(
    caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]], setting: str = ""
) -> str:
    """A small table of values: a caption, column headers, each row's first cell as its header.
    ``setting`` (the control setting the table is for) becomes ``data-setting``."""
    attr = f' data-setting="{html.escape(setting, quote=True)}"' if setting else ""
    head = "".join(f'<th scope="col">{html.escape(str(h))}</th>' for h in header)
    body = "".join(
        f'<tr><th scope="row">{html.escape(str(row[0]))}</th>'
        + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f"<table{attr}><caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def values_block(figure_id: str, parts: Sequence[str], note: str) -> str:
    """The folded block (``<details>``) under the figure with its values as text: ``note`` (one
    Chinese sentence on what the tables hold) and the tables of :func:`values_table`."""
    if not parts:
        raise ValueError(f"{figure_id}：没有可写成文字的数值。")
    return (
        f'<details class="lab-interactive__values" data-figure="{html.escape(figure_id)}">'
        "<summary>图中的数值（文字版）</summary>"
        f"<p>{html.escape(note)}</p>{''.join(parts)}</details>"
    )
