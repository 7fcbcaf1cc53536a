"""labcode.plots: figures from results — Chinese text in a real CJK font, one column sized for the
page, distinct lines, white background, alt text, no pyplot state."""

import base64
import io
import subprocess
import sys
import warnings
from dataclasses import replace

import pytest

from labcode import fonts, plots, plotstyle
from labcode.experiments.dead_relu import run_dead_relu
from labcode.experiments.dropout import run_dropout, run_dropout_sweep
from labcode.experiments.gradient_vanishing import run_depth_sweep, run_gradient_vanishing
from labcode.experiments.l2 import run_l1_vs_l2, run_l2, run_lambda_sweep
from labcode.profiles import get_config

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture(scope="module")
def results():
    mp = pytest.MonkeyPatch()
    mp.setenv("LABCODE_OFFLINE", "1")
    mp.setenv("LABCODE_PROGRESS", "0")
    g = replace(
        get_config("gradient_vanishing", "quick"),
        epochs=2,
        n_train=256,
        sweep_depths=(1, 3),
        sweep_epochs=1,
    )
    d = replace(get_config("dead_relu", "quick"), epochs=2, n_train=256)
    l2 = replace(get_config("l2", "quick"), epochs=10, l1_epochs=20, sweep_lambdas=(0.0, 1.0, 3.0))
    dr = replace(get_config("dropout", "quick"), n_train=128, epochs=2, sweep_epochs=1)
    out = {
        "gradient": run_gradient_vanishing(config=g, device="cpu"),
        "depth": run_depth_sweep(config=g, device="cpu"),
        "dead": run_dead_relu(setting="dying", config=d, device="cpu"),
        "l2": run_l2(config=l2, device="cpu"),
        "sweep": run_lambda_sweep(config=l2, device="cpu"),
        "l1": run_l1_vs_l2(config=l2, device="cpu"),
        "dropout": run_dropout(config=dr, device="cpu"),
        "dropout_sweep": run_dropout_sweep(rates=(0, 0.5), config=dr, device="cpu"),
    }
    mp.undo()
    return out


# every plot function, with the result it draws
ALL_PLOTS = {
    "activations": lambda r: plots.plot_activations(),
    "accuracy_curves": lambda r: plots.plot_accuracy_curves(r["gradient"]),
    "accuracy_curves_dead": lambda r: plots.plot_accuracy_curves(r["dead"], test=False),
    "gradients": lambda r: plots.plot_gradients(r["gradient"]),
    "depth_sweep": lambda r: plots.plot_depth_sweep(r["depth"]),
    "dead_units": lambda r: plots.plot_dead_units(r["dead"]),
    "l2_losses": lambda r: plots.plot_l2_losses(r["l2"]),
    "weights": lambda r: plots.plot_weights(r["l2"]),
    "weights_l1": lambda r: plots.plot_weights(r["l1"]),
    "lambda_sweep": lambda r: plots.plot_lambda_sweep(r["sweep"]),
    "l1_vs_l2": lambda r: plots.plot_l1_vs_l2(r["l1"]),
    "dropout": lambda r: plots.plot_dropout(r["dropout"]),
    "dropout_sweep": lambda r: plots.plot_dropout_sweep(r["dropout_sweep"]),
}


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _png_size(png: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def _panels(fig):
    """Axes that are panels of their own (twin axes share their host's place)."""
    out = []
    for ax in fig.axes:
        if not any(tuple(ax.get_position().bounds) == tuple(o.get_position().bounds) for o in out):
            out.append(ax)
    return out


def _check_figure(fig):
    from matplotlib.colors import to_rgba

    assert isinstance(fig, plots.LabFigure)
    assert fig.dpi == plotstyle.DPI == 150
    assert fig.get_figwidth() == pytest.approx(plotstyle.WIDTH_IN)
    assert to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    panels = _panels(fig)
    # one column: panels stacked, never side by side; about 3.6-4.2 inches per panel
    boxes = sorted((ax.get_position() for ax in panels), key=lambda b: -b.y0)
    for upper, lower in zip(boxes, boxes[1:], strict=False):
        assert lower.y1 <= upper.y0 + 1e-9, "panels side by side"
    height_per_panel = fig.get_figheight() / len(panels)
    assert 3.5 <= height_per_panel <= 4.3, height_per_panel
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axes: {ax.get_title()!r}"
        assert to_rgba(ax.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
        if ax.get_yscale() == "log":
            assert "对数坐标" in ax.get_ylabel()
    for ax in panels:
        assert _has_cjk(ax.get_title()), f"title not in Chinese: {ax.get_title()!r}"
        assert _has_cjk(ax.get_xlabel()) or ax.get_xlabel() in ("x",), ax.get_xlabel()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" is tofu: fail
        png = fig.to_png()
    assert _png_size(png)[0] > 900
    return [t.get_text() for t in _texts(fig)]


def _min_css_px(fig) -> dict[str, float]:
    """Smallest text on the page, in CSS px, once the PNG is scaled into the article column."""
    width_px = _png_size(fig.to_png())[0]
    smallest_pt = min(t.get_fontsize() for t in _texts(fig))
    return {
        where: smallest_pt * fig.dpi / 72 * min(1.0, column / width_px)
        for where, column in plotstyle.COLUMN_CSS_PX.items()
    }


# ---------------------------------------------------------------------------
# every plot: Chinese in the CJK font, no tofu, sized for the column, alt text, distinct lines


@pytest.mark.parametrize("name", list(ALL_PLOTS))
def test_every_plot_is_chinese_in_the_cjk_font_without_missing_glyphs(results, name):
    from matplotlib import font_manager

    fig = ALL_PLOTS[name](results)
    _check_figure(fig)  # renders with warnings as errors: a missing glyph fails here
    cjk = fonts.cjk_font()
    title = _panels(fig)[0].title
    prop = title.get_fontproperties()
    assert prop.get_family()[0] == cjk.family
    face = font_manager.get_font(font_manager.findfont(prop, fallback_to_default=False))
    assert face.family_name == cjk.family
    assert all(face.get_char_index(ord(ch)) for ch in title.get_text() if _has_cjk(ch))
    # every text in the figure uses the same font list (tick labels made at draw time too)
    assert {t.get_fontproperties().get_family()[0] for t in _texts(fig)} == {cjk.family}


@pytest.mark.parametrize("name", list(ALL_PLOTS))
def test_every_plot_is_readable_on_desktop_and_phone(results, name):
    fig = ALL_PLOTS[name](results)
    px = _min_css_px(fig)
    for where, minimum in plotstyle.MIN_TEXT_CSS_PX.items():
        assert px[where] >= minimum, f"{name}: smallest text {px[where]:.1f} CSS px on {where}"
    sizes = {t.get_fontsize() for t in _texts(fig)}
    assert min(sizes) >= plotstyle.FONT_PT and max(sizes) <= plotstyle.TITLE_PT


@pytest.mark.parametrize("name", list(ALL_PLOTS))
def test_every_plot_carries_alt_text_and_displays_as_png_plus_alt(results, name):
    fig = ALL_PLOTS[name](results)
    alt = fig.alt_text
    assert alt.startswith(("图：", "共 "))
    for ax in fig.axes:
        for text in (ax.get_title(), ax.get_ylabel()):
            if text and "$" not in text:
                assert text in alt
    for ax in _panels(fig):
        assert ax.get_xlabel() in alt
        legend = ax.get_legend()
        if legend is not None:
            assert all(t.get_text() in alt for t in legend.get_texts())
    bundle = fig._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/plain"}
    assert bundle["text/plain"] == alt
    width, height = _png_size(base64.b64decode(bundle["image/png"]))
    assert abs(width - plotstyle.WIDTH_IN * plotstyle.DPI) < 60  # ~1050 px: drawn at the fig's dpi
    assert abs(height - fig.get_figheight() * plotstyle.DPI) < 60


@pytest.mark.parametrize("name", list(ALL_PLOTS))
def test_lines_on_one_axis_differ_in_more_than_colour(results, name):
    from matplotlib.colors import to_hex

    fig = ALL_PLOTS[name](results)
    allowed = {c.lower() for c in plotstyle.COLORS} | {"#7f7f7f", "#000000"}
    for ax in fig.axes:
        lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
        looks = [(str(line.get_linestyle()), line.get_marker()) for line in lines]
        if ax.get_legend() is None or len(lines) < 2:
            continue
        dashes = [(line._unscaled_dash_pattern, line.get_marker()) for line in lines]
        assert len(set(map(str, dashes))) == len(lines), f"{name}: {looks}"
        assert {to_hex(line.get_color()) for line in lines} <= allowed


# ---------------------------------------------------------------------------
# what each plot draws


def test_accuracy_curves(results):
    fig = plots.plot_accuracy_curves(results["gradient"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["准确率（%）", "准确率（%）"]
    assert [ax.get_xlabel() for ax in fig.axes] == ["轮次（epoch）"] * 2
    line = fig.axes[1].get_lines()[0]
    assert max(line.get_ydata()) > 1.0  # drawn as percent, not fraction
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {
        "ReLU",
        "Sigmoid",
        "Tanh",
    }
    assert len(plots.plot_accuracy_curves(results["gradient"], test=False).axes) == 1


def test_gradients_plot_is_log_scale_with_readable_layer_names(results):
    fig = plots.plot_gradients(results["gradient"])
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and "对数坐标" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "第 1 层",
        "第 2 层",
        "第 3 层",
        "输出层",
    ]
    assert "第 2 个 epoch" in ax.get_title()
    assert "第 1 个 epoch" in plots.plot_gradients(results["gradient"], epoch=0).axes[0].get_title()


def test_depth_sweep_plot(results):
    fig = plots.plot_depth_sweep(results["depth"])
    ax1, ax2 = fig.axes
    assert ax1.get_yscale() == "log"
    assert ax1.get_xlabel() == "隐藏层个数"
    (legend,) = fig.legends  # one legend above both panels
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[:3] == ["ReLU", "Sigmoid", "Tanh"]
    for line in ax1.get_lines():  # one line per (activation, initialization): depths increase
        depths = list(line.get_xdata())
        assert depths == sorted(set(depths)) == [1, 3]


def test_dead_units_plot_in_percent_with_layer_labels(results):
    fig = plots.plot_dead_units(results["dead"])
    assert len(fig.axes) == 4  # three activations + the original lab's naive metric
    assert all(ax.get_ylabel() in ("死亡神经元（%）", "输出为 0（%）") for ax in fig.axes)
    first = fig.axes[0]
    assert [t.get_text() for t in first.get_legend().get_texts()] == [
        "第 1 层",
        "第 2 层",
        "第 3 层",
    ]
    assert len(first.get_lines()[0].get_xdata()) == 3  # before training + 2 epochs
    assert len(plots.plot_dead_units(results["dead"], naive=False).axes) == 3


def test_l2_plots(results):
    fig = plots.plot_l2_losses(results["l2"])
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes] == ["正则化强度 λ = 0", "正则化强度 λ = 3"]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["训练损失", "测试损失"]
    fig = plots.plot_weights(results["l2"])
    assert fig.axes[1].get_ylabel() == r"$\|w\|_2$"
    assert "纵轴：‖w‖₂" in fig.alt_text
    fig = plots.plot_weights(results["l1"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(legend) == sorted(["无正则化", "L2", "L1"])
    fig = plots.plot_lambda_sweep(results["sweep"])
    assert fig.axes[0].get_xscale() == "symlog" and fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_xlabel() == "λ（对称对数坐标）"
    fig = plots.plot_l1_vs_l2(results["l1"])
    assert fig.axes[1].get_ylabel() == "接近 0 的权重（%）"
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["无正则化", "L2", "L1"]


def test_dropout_plot_gives_the_small_difference_its_own_panel(results):
    result = results["dropout"]
    fig = plots.plot_dropout(result)
    texts = _check_figure(fig)
    assert len(fig.axes) == 4 and fig.axes[3].get_ylabel() == "差距（百分点）"
    assert any("评估模式" in t for t in texts) and any("边训练边统计" in t for t in texts)
    ax1, ax2 = fig.axes[:2]
    # panel 1: per model a solid (evaluation mode) and a dashed (during training) line
    assert len(ax1.get_lines()) == 2 * len(result.runs)
    styles = [line.get_linestyle() for line in ax1.get_lines()]
    assert styles[0::2] == ["-"] * len(result.runs) and "-" not in styles[1::2]
    # panel 2: their difference, on its own axis range
    for line, run in zip(ax2.get_lines(), result.runs.values(), strict=False):
        expected = [
            100 * (a - b)
            for a, b in zip(run.history["train_acc_eval"], run.history["train_acc"], strict=True)
        ]
        assert list(line.get_ydata()) == pytest.approx(expected)
    assert "评估模式 − 边训练边统计" in ax2.get_title()


def test_dropout_sweep_plot(results):
    fig = plots.plot_dropout_sweep(results["dropout_sweep"])
    assert fig.axes[0].get_xlabel() == "dropout 比例 p"
    assert len(_panels(fig)) == 2 and len(fig.axes) == 3  # the twin y axis shares panel 2
    assert "左纵轴：损失差距（交叉熵）；右纵轴：准确率差距（百分点）" in fig.alt_text
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == ["损失差距（测试 − 训练）", "准确率差距"]


def test_activation_plot():
    fig = plots.plot_activations()
    _check_figure(fig)
    assert len(fig.axes[0].get_lines()) == 7 and fig.axes[1].get_ylabel() == "f'(x)"
    relu = fig.axes[1].get_lines()[0].get_ydata()
    assert set(relu.tolist()) == {0.0, 1.0}  # ReLU's derivative is a step
    (legend,) = fig.legends  # one legend above both panels
    assert [t.get_text() for t in legend.get_texts()][:4] == [
        "ReLU",
        "Sigmoid",
        "Tanh",
        "LeakyReLU",
    ]
    assert "图例：ReLU、Sigmoid、Tanh、LeakyReLU、ELU、GELU、SiLU。" in fig.alt_text
    # ReLU and LeakyReLU coincide for x > 0: told apart by line style and marker, not colour only
    relu_line, leaky = fig.axes[0].get_lines()[0], fig.axes[0].get_lines()[3]
    assert relu_line.get_linestyle() != leaky.get_linestyle()
    assert relu_line.get_marker() != leaky.get_marker()
    assert relu_line.get_markevery() != leaky.get_markevery()  # markers staggered
    assert len(plots.plot_activations(["relu", "elu"], lo=-1, hi=1).axes[0].get_lines()) == 2


def test_plots_reject_the_wrong_result(results):
    with pytest.raises(ValueError, match="gradient_vanishing"):
        plots.plot_gradients(results["dead"])
    with pytest.raises(ValueError, match="l1_vs_l2"):
        plots.plot_l1_vs_l2(results["l2"])


# ---------------------------------------------------------------------------
# no global state


def test_importing_labcode_does_not_import_matplotlib():
    code = (
        "import sys, labcode, labcode.plots, labcode.plotstyle, labcode.fonts, labcode.lessons\n"
        "import labcode.profiles, labcode.experiments.gradient_vanishing\n"
        "import labcode.experiments.dropout\n"
        "assert labcode.plotstyle.layer_label('layers.0', ['input_layer', 'layers.0']) == '第 2 层'\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plots_never_use_pyplot_state(results):
    import matplotlib
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    rc_before = {k: matplotlib.rcParams[k] for k in ("font.family", "font.size", "figure.dpi")}
    fig = plots.plot_accuracy_curves(results["gradient"])
    fig.to_png()
    assert plt.get_fignums() == before  # nothing left open, nothing shown twice in a notebook
    assert {k: matplotlib.rcParams[k] for k in rc_before} == rc_before  # rc_context only


def test_a_figure_drawn_outside_the_style_still_uses_it(results):
    """The inline backend draws the figure after the plot function returned: same fonts and sizes."""
    import matplotlib

    fig = plots.plot_gradients(results["gradient"])
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"], "font.size": 6, "figure.dpi": 72}):
        fig.draw_without_rendering()
        png = fig.to_png()
    assert abs(_png_size(png)[0] - 1050) < 60
    ticks = fig.axes[0].get_yticklabels()
    assert ticks and all(t.get_fontsize() == plotstyle.FONT_PT for t in ticks)
    assert {t.get_fontproperties().get_family()[0] for t in ticks} == {fonts.cjk_font().family}


def test_without_a_cjk_font_plots_fail_loudly(monkeypatch):
    monkeypatch.setattr(fonts, "candidates", lambda: [])
    fonts.cjk_font.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="找不到中文字体") as info:
            plots.plot_activations()
        assert "pip install noto-cjk-sans-otc" in str(info.value)
        assert "apt-get install fonts-noto-cjk" in str(info.value)
        assert isinstance(info.value, fonts.MissingCJKFontError)
    finally:
        monkeypatch.undo()
        fonts.cjk_font.cache_clear()
    assert fonts.cjk_font().family  # found again
