"""labcode.plots: figures from results — labels, log scales, white background, no CJK text."""

import subprocess
import sys
from dataclasses import replace

import pytest

from labcode import plots
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


def _texts(fig):
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]


def _check_figure(fig):
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    texts = _texts(fig)
    cjk = [
        t
        for t in texts
        if any("\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" for ch in t)
    ]
    assert not cjk, f"CJK text in a figure (no CJK font on the site builder): {cjk}"
    assert to_rgba(fig.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axes: {ax.get_title()!r}"
        assert to_rgba(ax.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)
        if ax.get_yscale() == "log":
            assert "log" in ax.get_ylabel()
    fig.canvas.draw()  # renders without error (Agg)
    return texts


def test_accuracy_curves(results):
    fig = plots.plot_accuracy_curves(results["gradient"])
    _check_figure(fig)
    assert [ax.get_ylabel() for ax in fig.axes] == ["Accuracy (%)", "Accuracy (%)"]
    line = fig.axes[1].get_lines()[0]
    assert max(line.get_ydata()) > 1.0  # drawn as percent, not fraction
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} == {
        "ReLU",
        "Sigmoid",
        "Tanh",
    }


def test_gradients_plot_is_log_scale_with_layer_names(results):
    fig = plots.plot_gradients(results["gradient"])
    _check_figure(fig)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "input_layer",
        "layers.0",
        "layers.1",
        "output_layer",
    ]
    assert "epoch 2" in ax.get_title()


def test_depth_sweep_plot(results):
    fig = plots.plot_depth_sweep(results["depth"])
    _check_figure(fig)
    assert fig.axes[0].get_yscale() == "log"
    assert fig.axes[0].get_xlabel() == "Number of hidden layers"


def test_dead_units_plot_in_percent(results):
    fig = plots.plot_dead_units(results["dead"])
    _check_figure(fig)
    assert len(fig.axes) == 4  # three activations + the seed's naive metric
    assert all(ax.get_ylabel() in ("Dead units (%)", "Zero outputs (%)") for ax in fig.axes)
    first = fig.axes[0]
    assert [t.get_text() for t in first.get_legend().get_texts()] == [
        "input_layer",
        "layers.0",
        "layers.1",
    ]
    assert len(first.get_lines()[0].get_xdata()) == 3  # before training + 2 epochs


def test_l2_plots(results):
    fig = plots.plot_l2_losses(results["l2"])
    _check_figure(fig)
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes] == ["lambda = 0", "lambda = 3"]
    fig = plots.plot_weights(results["l2"])
    _check_figure(fig)
    assert fig.axes[1].get_ylabel() == "||w||_2"
    fig = plots.plot_lambda_sweep(results["sweep"])
    _check_figure(fig)
    assert fig.axes[0].get_xscale() == "symlog" and fig.axes[0].get_yscale() == "log"
    fig = plots.plot_l1_vs_l2(results["l1"])
    _check_figure(fig)
    assert fig.axes[1].get_ylabel() == "Near-zero weights (%)"


def test_dropout_plots(results):
    fig = plots.plot_dropout(results["dropout"])
    texts = _check_figure(fig)
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "Gap (percentage points)"
    assert any("eval mode" in t for t in texts) and any("during training" in t for t in texts)
    fig = plots.plot_dropout_sweep(results["dropout_sweep"])
    _check_figure(fig)
    assert fig.axes[0].get_xlabel() == "Dropout rate p"


def test_activation_plot():
    fig = plots.plot_activations()
    _check_figure(fig)
    assert len(fig.axes[0].get_lines()) == 7 and fig.axes[1].get_ylabel() == "f'(x)"
    relu = fig.axes[1].get_lines()[0].get_ydata()
    assert set(relu.tolist()) == {0.0, 1.0}  # ReLU's derivative is a step


def test_plots_reject_the_wrong_result(results):
    with pytest.raises(ValueError, match="gradient_vanishing"):
        plots.plot_gradients(results["dead"])
    with pytest.raises(ValueError, match="l1_vs_l2"):
        plots.plot_l1_vs_l2(results["l2"])


def test_importing_labcode_does_not_import_matplotlib():
    code = (
        "import sys, labcode, labcode.plots, labcode.lessons, labcode.profiles\n"
        "import labcode.experiments.gradient_vanishing, labcode.experiments.dropout\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plots_never_use_pyplot_state(results):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.plot_accuracy_curves(results["gradient"])
    assert plt.get_fignums() == before  # nothing left open, nothing shown twice in a notebook
