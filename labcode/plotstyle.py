"""课程图表的统一样式：中文字体、按网页正文栏排版的尺寸与字号、易区分的线型、替代文字。

- **尺寸**：每张图都是单栏（多幅子图上下排列，不并排），宽 :data:`WIDTH_IN` = 7 英寸，
  每幅子图高约 :data:`PANEL_HEIGHT_IN` 英寸，分辨率 :data:`DPI` = 150（原始宽度 1050 像素）。
- **字号**：正文与刻度 15 pt，标题 16 pt。网页正文栏在桌面上宽 688 CSS 像素、在手机上宽 358，
  图片缩放到栏宽后，最小的字约 20.5 与 10.7 CSS 像素（``15 / 72 * 栏宽 / 7``）。
- **字体**：Noto Sans CJK（见 :mod:`labcode.fonts`），找不到就报错，不会画出方框。
- **线型**：色盲友好的 Okabe–Ito 配色，同时配合不同的虚线样式和标记，重叠的线也分得清。
- **背景**：白色（网站在深色模式下把图片放在浅色卡片上）。

样式只在 :func:`style` 的 ``matplotlib.rc_context`` 内生效：导入 labcode 不改 matplotlib 的全局设置，
导入本模块也不会导入 matplotlib。画图函数返回 :class:`LabFigure`：它在绘制时自动套用样式，
带有中文替代文字 ``fig.alt_text``，在 Jupyter 中作为单元格的值显示一次（PNG + 替代文字）。

自己画图时::

    from labcode import plotstyle

    with plotstyle.style():
        fig, (ax1, ax2) = plotstyle.figure(2)
        ax1.plot(x, y, label="ReLU", **plotstyle.line_style(0, len(x)))
        ...
    fig = plotstyle.finish(fig)
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

__all__ = [
    "COLORS",
    "COLUMN_CSS_PX",
    "DPI",
    "FONT_PT",
    "LINESTYLES",
    "MARKERS",
    "MIN_TEXT_CSS_PX",
    "PANEL_HEIGHT_IN",
    "TITLE_PT",
    "WIDTH_IN",
    "LabFigure",
    "alt_text",
    "epoch_axis",
    "figure",
    "finish",
    "layer_label",
    "line_style",
    "rc_params",
    "style",
]

WIDTH_IN = 7.0
"""每张图的宽度（英寸）：一栏。"""
PANEL_HEIGHT_IN = 3.9
"""每幅子图的高度（英寸）。"""
DPI = 150
"""Figure 的 dpi（Jupyter inline 后端按它出图）：原始宽度 7 × 150 = 1050 像素。"""
FONT_PT = 15
"""正文、坐标轴标签、刻度、图例的字号（pt）。"""
TITLE_PT = 16
"""子图标题的字号（pt）。"""

COLUMN_CSS_PX = {"desktop": 688, "phone": 358}
"""网页正文栏的宽度（CSS 像素）：1280 像素宽的桌面浏览器与 390 像素宽的手机。"""
MIN_TEXT_CSS_PX = {"desktop": 12, "phone": 9.5}
"""图片缩放到正文栏宽度后，图中文字至少要有的高度（CSS 像素）。"""

# Okabe & Ito (2008), colour-blind safe; yellow left out (too light on white)
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES: tuple[Any, ...] = (
    "-",
    (0, (6, 2.5)),  # dashed
    (0, (7, 2, 1.5, 2)),  # dash-dot
    (0, (1.5, 1.8)),  # dotted
    (0, (10, 3)),  # long dash
    (0, (5, 1.5, 1.5, 1.5, 1.5, 1.5)),  # dash-dot-dot
    (0, (3, 1.5)),  # short dash
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_MAX_MARKERS = 12  # at most about this many markers per line


def line_style(i: int, n_points: int | None = None, **overrides: Any) -> dict[str, Any]:
    """第 ``i`` 条线的样式（颜色、线型、标记），可直接作为 ``ax.plot(..., **line_style(i))`` 的参数。

    ``n_points`` 为这条线的点数：点多时只每隔若干点画一个标记，各条线的标记互相错开。
    """
    style: dict[str, Any] = {
        "color": COLORS[i % len(COLORS)],
        "linestyle": LINESTYLES[i % len(LINESTYLES)],
        "marker": MARKERS[i % len(MARKERS)],
        "markersize": 6.5,
        "linewidth": 2.0,
    }
    if n_points is not None and n_points > _MAX_MARKERS:
        step = math.ceil(n_points / _MAX_MARKERS)
        style["markevery"] = ((i * step) // len(MARKERS) % step, step)
    style.update(overrides)
    return style


def rc_params() -> dict[RcKeyType, Any]:
    """课程图表的 matplotlib 设置（第一次调用时注册中文字体；找不到字体时抛出 RuntimeError）。"""
    from cycler import cycler

    from .fonts import cjk_font

    font = cjk_font()
    return {
        # the CJK font first; DejaVu Sans (matplotlib's own) for the few glyphs it lacks (₂ ...)
        "font.family": [font.family, "DejaVu Sans"],
        "font.size": FONT_PT,
        "axes.titlesize": TITLE_PT,
        "axes.titleweight": "normal",
        "axes.titlepad": 8.0,
        "axes.labelsize": FONT_PT,
        "xtick.labelsize": FONT_PT,
        "ytick.labelsize": FONT_PT,
        "legend.fontsize": FONT_PT,
        "legend.title_fontsize": FONT_PT,
        "legend.framealpha": 0.92,
        "legend.borderaxespad": 0.4,
        "legend.handlelength": 2.8,
        "figure.titlesize": TITLE_PT,
        "axes.unicode_minus": font.has_minus,
        "axes.prop_cycle": cycler(color=list(COLORS)) + cycler(linestyle=list(LINESTYLES)),
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.facecolor": "white",
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "lines.linewidth": 2.0,
        "lines.markersize": 6.5,
        "pdf.fonttype": 42,
        "svg.fonttype": "path",
    }


@contextlib.contextmanager
def style() -> Iterator[None]:
    """在 ``with plotstyle.style():`` 内新建的图使用课程样式；离开后 matplotlib 的设置恢复原样。"""
    import matplotlib

    with matplotlib.rc_context(rc_params()):
        yield


def figure(n_panels: int = 1, *, height: float = PANEL_HEIGHT_IN) -> tuple[LabFigure, list[Axes]]:
    """新建一张单栏的 :class:`LabFigure`，``n_panels`` 幅子图上下排列，返回 ``(fig, axes)``。

    不经过 pyplot：不改全局状态，Jupyter 里只在作为单元格的值时显示一次。请在 :func:`style` 内调用
    （字体、字号在创建文字时确定）。
    """
    from .checks import check_int

    check_int(n_panels, "n_panels", minimum=1)
    fig = _lab_figure_class()(
        figsize=(WIDTH_IN, height * n_panels), dpi=DPI, facecolor="white", layout="constrained"
    )
    fig.get_layout_engine().set(h_pad=0.06, w_pad=0.06, hspace=0.06)
    axes = list(fig.subplots(n_panels, 1, squeeze=False).flat)
    for ax in axes:
        ax.set_facecolor("white")
        ax.grid(True, alpha=0.3)
    return fig, axes


def epoch_axis(ax: Axes, label: str = "轮次（epoch）") -> None:
    """横轴为 epoch：写上标签，刻度只取整数。"""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def finish(fig: Figure) -> Figure:
    """画完之后调用，返回 ``fig``。

    :class:`LabFigure` 每次绘制都套用样式，不必再做什么；其他 Figure（如 ``plt.subplots`` 建的）
    在样式内先走一遍绘制，把刻度和布局算好。
    """
    if not isinstance(fig, _lab_figure_class()):
        with style():
            fig.draw_without_rendering()
    return fig


# ---------------------------------------------------------------------------
# 层名


_HIDDEN = re.compile(r"^layers\.(\d+)$")


def layer_label(name: str, names: Sequence[str]) -> str:
    """图中显示的层名：输入层为"第 1 层"，之后依次为"第 2 层""第 3 层"……，输出层为"输出层"。

    ``names`` 为同一网络的层名，按输入 → 输出的顺序（如 ``run.layer_names``：
    ``["input_layer", "layers.0", ..., "output_layer"]``）；``name`` 必须是其中之一。
    """
    names = list(names)
    if name not in names:
        raise ValueError(f"层名 {name!r} 不在层名列表 {names!r} 中：请传入同一网络的 layer_names。")
    if name == "output_layer" or (name.startswith("output") and name == names[-1]):
        return "输出层"
    return f"第 {names.index(name) + 1} 层"


# ---------------------------------------------------------------------------
# 替代文字


_MATHTEXT = {r"\|": "‖", r"\Vert": "‖", r"\lambda": "λ", r"\cdot": "·", "_2": "₂", "_1": "₁"}


def _plain(math: str) -> str:
    """mathtext (``$\\|w\\|_2$``) as plain Unicode (``‖w‖₂``) for the alt text."""
    for tex, char in _MATHTEXT.items():
        math = math.replace(tex, char)
    return re.sub(r"\\[a-zA-Z]+|[{}]", "", math)


def _clean(text: str) -> str:
    text = re.sub(r"\$([^$]*)\$", lambda m: _plain(m.group(1)), text)
    text = re.sub(r"\s*\n\s*", "", text).strip()
    return text.rstrip("。.；;：:")


def _twins(fig: Figure) -> dict[Any, list[Any]]:
    """host axes -> its twin axes (same position, shared x axis)."""
    hosts: dict[Any, list[Any]] = {}
    seen: set[int] = set()
    for ax in fig.axes:
        if id(ax) in seen:
            continue
        hosts[ax] = []
        for other in fig.axes:
            if (
                other is not ax
                and id(other) not in seen
                and ax.get_shared_x_axes().joined(ax, other)
                and tuple(other.get_position().bounds) == tuple(ax.get_position().bounds)
            ):
                hosts[ax].append(other)
                seen.add(id(other))
        seen.add(id(ax))
    return hosts


def _legend_entries(*axes: Any) -> list[str]:
    out: list[str] = []
    for ax in axes:
        legend = ax.get_legend()
        if legend is not None:
            out += [_clean(t.get_text()) for t in legend.get_texts() if t.get_text().strip()]
    return out


def alt_text(fig: Figure) -> str:
    """由各子图的标题、坐标轴标签和图例拼成的中文替代文字（网页 ``<img alt>`` 用）。

    每幅子图：``图：<标题>。横轴：<横轴标签>；纵轴：<纵轴标签>。图例：<条目>、<条目>。``
    多幅子图时依次编号（图 1、图 2……，自上而下）。
    """
    panels = _twins(fig)
    parts = []
    numbered = len(panels) > 1
    if numbered:
        parts.append(f"共 {len(panels)} 幅图，自上而下排列。")
    for k, (ax, twins) in enumerate(panels.items(), start=1):
        head = f"图 {k}" if numbered else "图"
        title = _clean(ax.get_title()) or "（无标题）"
        text = f"{head}：{title}。"
        axes_text = []
        if ax.get_xlabel().strip():
            axes_text.append(f"横轴：{_clean(ax.get_xlabel())}")
        ylabels = [_clean(a.get_ylabel()) for a in (ax, *twins) if a.get_ylabel().strip()]
        if len(ylabels) == 1:
            axes_text.append(f"纵轴：{ylabels[0]}")
        elif ylabels:
            axes_text.append(f"左纵轴：{ylabels[0]}；右纵轴：{'，'.join(ylabels[1:])}")
        if axes_text:
            text += "；".join(axes_text) + "。"
        entries = _legend_entries(ax, *twins)
        if entries:
            text += "图例：" + "、".join(entries) + "。"
        parts.append(text)
    figure_entries = [_clean(t.get_text()) for legend in fig.legends for t in legend.get_texts()]
    if figure_entries:
        parts.append("图例：" + "、".join(figure_entries) + "。")
    return "".join(parts)


# ---------------------------------------------------------------------------
# LabFigure (a matplotlib Figure subclass, made on first use: importing this module must not
# import matplotlib)

_LAB_FIGURE: type | None = None


def _lab_figure_class() -> type:
    global _LAB_FIGURE
    if _LAB_FIGURE is None:
        _LAB_FIGURE = _make_lab_figure_class()
    return _LAB_FIGURE


def _make_lab_figure_class() -> type:
    import base64
    import io

    from matplotlib.figure import Figure

    class LabFigure(Figure):
        """课程的 matplotlib Figure：绘制时套用课程样式，带中文替代文字。

        - ``fig.alt_text``：替代文字（由标题、坐标轴标签、图例生成；可以赋值覆盖）；
        - ``fig.to_png()``：按 Figure 的 dpi、紧凑边界导出的 PNG 字节；
        - ``_repr_mimebundle_``：Jupyter 显示为 ``{"image/png": ..., "text/plain": 替代文字}``。
        """

        _alt_text_override: str | None = None

        @property
        def alt_text(self) -> str:
            if self._alt_text_override is not None:
                return self._alt_text_override
            return alt_text(self)

        @alt_text.setter
        def alt_text(self, value: str | None) -> None:
            self._alt_text_override = value

        def draw(self, renderer):
            with style():
                return super().draw(renderer)

        def to_png(self, dpi: float | None = None) -> bytes:
            buf = io.BytesIO()
            with style():
                self.savefig(
                    buf,
                    format="png",
                    dpi=self.dpi if dpi is None else dpi,
                    bbox_inches="tight",
                    pad_inches=0.05,
                    facecolor="white",
                )
            return buf.getvalue()

        def _repr_mimebundle_(self, include=None, exclude=None):
            bundle = {
                "image/png": base64.b64encode(self.to_png()).decode("ascii"),
                "text/plain": self.alt_text,
            }
            if include:
                bundle = {k: v for k, v in bundle.items() if k in include}
            if exclude:
                bundle = {k: v for k, v in bundle.items() if k not in exclude}
            return bundle

        def __repr__(self) -> str:
            return f"<LabFigure: {self.alt_text}>"

    LabFigure.__module__ = __name__
    LabFigure.__qualname__ = "LabFigure"
    return LabFigure


def __getattr__(name: str) -> Any:
    if name == "LabFigure":
        return _lab_figure_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure as LabFigure
