"""labcode.plotstyle / labcode.fonts: layer names, the CJK font, the style context, LabFigure."""

import base64
from pathlib import Path

import pytest

from labcode import fonts, plotstyle

NAMES = ["input_layer", "layers.0", "layers.1", "output_layer"]


def test_layer_label_counts_from_the_input_layer():
    assert [plotstyle.layer_label(n, NAMES) for n in NAMES] == [
        "第 1 层",
        "第 2 层",
        "第 3 层",
        "输出层",
    ]
    # the layers followed by an activation (dead units): no output layer
    assert plotstyle.layer_label("layers.1", NAMES[:-1]) == "第 3 层"
    with pytest.raises(ValueError, match="layers.7"):
        plotstyle.layer_label("layers.7", NAMES)


def test_the_cjk_font_is_noto_sans_cjk_from_a_package():
    font = fonts.cjk_font()
    assert font.path.is_file() and font.path.name == "NotoSansCJK-Regular.ttc"
    assert font.family == "Noto Sans CJK SC"  # the Simplified Chinese face of the collection
    assert font.has_minus  # U+2212: axes.unicode_minus can stay on
    try:
        import noto_cjk_sans_otc
    except ImportError:  # pragma: no cover - the dependency is missing: the Debian font then
        assert font.source.startswith("系统字体")
    else:
        assert font.path == Path(str(noto_cjk_sans_otc.FONT_PATH))
        assert font.source == "PyPI 包 noto-cjk-sans-otc"
    assert fonts.cjk_font() is font  # registered once


def test_missing_font_message_names_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(fonts, "candidates", lambda: [(tmp_path / "none.ttc", "nowhere")])
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(RuntimeError) as info:
            plotstyle.rc_params()
        message = str(info.value)
        assert "Noto Sans CJK" in message and "noto-cjk-sans-otc" in message
        assert "fonts-noto-cjk" in message
    finally:
        monkeypatch.undo()
        fonts.cjk_font.cache_clear()


def test_style_is_a_context_and_leaves_matplotlib_as_it_was():
    import matplotlib

    before = dict(matplotlib.rcParams)
    with plotstyle.style():
        assert matplotlib.rcParams["font.family"][0] == fonts.cjk_font().family
        assert matplotlib.rcParams["font.size"] == plotstyle.FONT_PT == 15
        assert matplotlib.rcParams["xtick.labelsize"] == 15
        assert matplotlib.rcParams["axes.titlesize"] == plotstyle.TITLE_PT == 16
        assert matplotlib.rcParams["figure.dpi"] == 150
    assert dict(matplotlib.rcParams) == before


def test_text_sizes_fit_both_columns():
    """15 pt at 7 in wide: >= 12 CSS px in the 688-px desktop column, >= 9.5 in the 358-px phone one."""
    for where, column in plotstyle.COLUMN_CSS_PX.items():
        px = plotstyle.FONT_PT / 72 * column / plotstyle.WIDTH_IN
        assert px >= plotstyle.MIN_TEXT_CSS_PX[where]


def test_line_styles_cycle_without_repeating_and_stagger_markers():
    styles = [plotstyle.line_style(i, 501) for i in range(7)]
    assert len({s["color"] for s in styles}) == 7
    assert len({str(s["linestyle"]) for s in styles}) == 7
    assert len({s["marker"] for s in styles}) == 7
    assert len({s["markevery"] for s in styles}) == 7  # markers of overlapping lines don't coincide
    assert all(501 / s["markevery"][1] <= 13 for s in styles)
    assert "markevery" not in plotstyle.line_style(0, 5)  # few points: a marker on each
    assert plotstyle.line_style(1, color="black")["color"] == "black"


def test_figure_stacks_panels_in_one_column():
    with plotstyle.style():
        fig, axes = plotstyle.figure(3)
    assert isinstance(fig, plotstyle.LabFigure)
    assert len(axes) == 3 and fig.get_size_inches() == pytest.approx((7.0, 3 * 3.9))
    assert fig.dpi == 150
    with pytest.raises(ValueError, match="n_panels"):
        plotstyle.figure(0)


def _twin_figure():
    with plotstyle.style():
        fig, (ax1, ax2) = plotstyle.figure(2)
        ax1.plot([1, 2], [3, 4], label="训练")
        ax1.plot([1, 2], [4, 5], label="测试")
        ax1.legend()
        ax1.set(title="损失\n（两行标题）", xlabel="轮次", ylabel="损失（对数坐标）")
        ax2.plot([1, 2], [1, 2], label="a")
        twin = ax2.twinx()
        twin.plot([1, 2], [2, 1], label="b")
        twin.set_ylabel(r"$\|w\|_2$")
        ax2.set(title="差距", xlabel="p", ylabel="损失差距")
    return plotstyle.finish(fig)


def test_alt_text_from_titles_labels_and_legends():
    fig = _twin_figure()
    assert fig.alt_text == (
        "共 2 幅图，自上而下排列。"
        "图 1：损失（两行标题）。横轴：轮次；纵轴：损失（对数坐标）。图例：训练、测试。"
        "图 2：差距。横轴：p；左纵轴：损失差距；右纵轴：‖w‖₂。"
    )
    fig.alt_text = "自己写的替代文字"
    assert fig.alt_text == "自己写的替代文字"
    with plotstyle.style():
        single, (ax,) = plotstyle.figure()
        ax.set(title="标题", xlabel="x", ylabel="y")
    assert single.alt_text == "图：标题。横轴：x；纵轴：y。"


def test_mimebundle_is_png_plus_alt_text():
    fig = _twin_figure()
    bundle = fig._repr_mimebundle_()
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and bundle["text/plain"] == fig.alt_text
    assert set(fig._repr_mimebundle_(include=["text/plain"])) == {"text/plain"}
    assert set(fig._repr_mimebundle_(exclude=["text/plain"])) == {"image/png"}


def test_jupyter_shows_the_figure_once_with_the_alt_text():
    """IPython's display formatter (what a notebook cell ending in ``fig`` uses)."""
    formatters = pytest.importorskip("IPython.core.formatters")
    fig = _twin_figure()
    data, _ = formatters.DisplayFormatter().format(fig)
    assert data["text/plain"] == fig.alt_text
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
    assert "image/svg+xml" not in data and "text/html" not in data


def test_finish_styles_a_plain_matplotlib_figure():
    from matplotlib.figure import Figure

    with plotstyle.style():
        fig = Figure()
        ax = fig.subplots()
        ax.plot([0, 1], [0, 1])
        ax.set_title("中文标题")
    assert plotstyle.finish(fig) is fig
    assert ax.get_xticklabels()[0].get_fontsize() == plotstyle.FONT_PT
