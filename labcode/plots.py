"""画图：接收实验结果，返回 :class:`~labcode.plotstyle.LabFigure`（matplotlib Figure 的子类，不调用 ``plt.show()``）。

- 图中文字一律用简体中文（字体 Noto Sans CJK，见 :mod:`labcode.fonts`；找不到字体时报错说明安装什么）；
  层名写成"第 1 层""第 2 层"……"输出层"（:func:`layer_label`，输入层是第 1 层）；
- 单栏排版：多幅子图上下排列，宽 7 英寸、dpi 150，字号不小于 13 pt，网页上在桌面与手机上都看得清
  （尺寸和字号见 :mod:`labcode.plotstyle`）；
- 多条线画在同一坐标轴上时，颜色（色盲友好）、线型和标记都不同，重叠的线也分得清；
- 白色背景（网站在深色模式下也把图片放在浅色卡片上）；
- 比例一律画成百分比，坐标轴标签写明单位（"（%）"）；对数坐标在标签中注明"（对数坐标）"；
- 返回的图带有中文替代文字 ``fig.alt_text``（由标题、坐标轴标签和图例生成），笔记本单元格以 ``fig``
  结尾时显示一次图片，替代文字放在输出的 text/plain 中。

matplotlib 只在调用这些函数时才导入：``import labcode`` 不会导入 matplotlib，也不改它的全局设置。
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from .experiments.results import require_experiment
from .plotstyle import epoch_axis, figure, finish, layer_label, line_style, style

if TYPE_CHECKING:  # pragma: no cover
    from .plotstyle import LabFigure

__all__ = [
    "LabFigure",
    "figure",
    "layer_label",
    "line_style",
    "plot_accuracy_curves",
    "plot_activations",
    "plot_dead_units",
    "plot_depth_sweep",
    "plot_dropout",
    "plot_dropout_sweep",
    "plot_gradients",
    "plot_l1_vs_l2",
    "plot_l2_losses",
    "plot_lambda_sweep",
    "plot_weights",
    "style",
]


def __getattr__(name: str) -> Any:
    if name == "LabFigure":  # made on first use: importing labcode.plots must not import matplotlib
        from . import plotstyle

        return plotstyle.LabFigure
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _styled(func):
    """整个画图函数在课程样式内执行：文字创建时就用中文字体和课程字号。"""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with style():
            return finish(func(*args, **kwargs))

    return wrapper


def _epochs(values) -> list[int]:
    return list(range(1, len(values) + 1))


def _pct(values) -> list[float]:
    return [100.0 * v for v in values]


def _label(name: str) -> str:
    """图例中的名字：激活函数用它的 ``label``（如 ``"LeakyReLU"``），Dropout 的变体用中文。"""
    from .activations import ACTIVATIONS

    if name in ACTIVATIONS:
        return ACTIVATIONS[name].label
    return {"none": "无 Dropout", "scratch": "手写 Dropout", "torch": "nn.Dropout"}.get(name, name)


# ---------------------------------------------------------------------------
# 激活函数


@_styled
def plot_activations(names=None, lo: float = -5.0, hi: float = 5.0) -> LabFigure:
    """激活函数（上）与它们的手写导数（下）。``names`` 默认为注册表 ``ACTIVATIONS`` 中的全部。"""
    import torch

    from .activations import ACTIVATIONS, get_activation

    names = list(ACTIVATIONS) if names is None else list(names)
    x = torch.linspace(lo, hi, 501)
    fig, (ax1, ax2) = figure(2, height=4.2)
    for i, name in enumerate(names):
        act = get_activation(name)
        style_i = line_style(i, len(x))
        ax1.plot(x.numpy(), act.f(x).numpy(), label=_label(name), **style_i)
        ax2.plot(x.numpy(), act.derivative(x).numpy(), label=_label(name), **style_i)
    ax1.set_title("激活函数")
    ax1.set_ylabel("f(x)")
    ax2.set_title("导数（手写的 derivative）")
    ax2.set_ylabel("f'(x)")
    for ax in (ax1, ax2):
        ax.set_xlabel("x")
    # one legend for both panels (same lines), above them: inside, it would cover the curves
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside upper center", ncols=3)
    return fig


# ---------------------------------------------------------------------------
# 梯度消失


@_styled
def plot_accuracy_curves(result, test: bool = True) -> LabFigure:
    """每个运行的训练准确率（与测试准确率）随 epoch 的变化（百分比）。适用于梯度消失、ReLU 死亡实验。"""
    require_experiment(result, ("gradient_vanishing", "dead_relu"), "plot_accuracy_curves")
    fig, axes = figure(2 if test else 1)
    for i, (name, run) in enumerate(result.runs.items()):
        train = run.history["train_acc"]
        axes[0].plot(_epochs(train), _pct(train), label=_label(name), **line_style(i, len(train)))
        if test:
            acc = run.history["test_acc"]
            axes[1].plot(_epochs(acc), _pct(acc), label=_label(name), **line_style(i, len(acc)))
    axes[0].set_title("训练准确率（在 epoch 进行中统计）")
    if test:
        axes[1].set_title("测试准确率（每个 epoch 结束后）")
    for ax in axes:
        epoch_axis(ax)
        ax.set_ylabel("准确率（%）")
        ax.legend()
    return fig


@_styled
def plot_gradients(result, epoch: int = -1) -> LabFigure:
    """每层权重的平均 |grad|（对数坐标），横轴为层（第 1 层 → 输出层）。默认画最后一个 epoch。"""
    require_experiment(result, ("gradient_vanishing",), "plot_gradients")
    fig, (ax,) = figure(height=4.2)
    for i, (name, run) in enumerate(result.runs.items()):
        grads = run.history["grad_mean"][epoch]
        ax.semilogy(range(len(grads)), grads, label=_label(name), **line_style(i))
        labels = [layer_label(n, run.layer_names) for n in run.layer_names]
        ax.set_xticks(range(len(grads)), labels, rotation=0 if len(labels) <= 7 else 35)
    n_epochs = len(next(iter(result.runs.values())).history["grad_mean"])
    shown = epoch % n_epochs + 1
    ax.set_title(f"各层权重的平均 |grad|（第 {shown} 个 epoch，按批次平均）")
    ax.set_xlabel("层（输入 → 输出）")
    ax.set_ylabel("平均 |grad|（对数坐标）")
    ax.legend()
    return fig


def _init_label(init: str) -> str:
    return {"he": "He 初始化", "xavier": "Xavier 初始化"}.get(init, f"{init} 初始化")


@_styled
def plot_depth_sweep(result) -> LabFigure:
    """深度扫描：上图为第一层/最后一层梯度之比（对数坐标），下图为最终测试准确率（百分比）。"""
    require_experiment(result, ("depth_sweep",), "plot_depth_sweep")
    fig, (ax1, ax2) = figure(2)
    by_line: dict[tuple[str, str], list] = {}  # one line per (activation, initialization)
    for run in result.runs.values():
        key = (run.params["activation"], run.params.get("init", "default"))
        by_line.setdefault(key, []).append(run)
    for i, ((act, init), runs) in enumerate(by_line.items()):
        runs = sorted(runs, key=lambda r: r.params["num_layers"])
        depths = [r.params["num_layers"] for r in runs]
        label = _label(act) if init == "default" else f"{_label(act)} + {_init_label(init)}"
        ax1.semilogy(depths, [r.summary["grad_ratio"] for r in runs], label=label, **line_style(i))
        ax2.plot(
            depths,
            _pct([r.summary["final_test_acc"] for r in runs]),
            label=label,
            **line_style(i),
        )
    ax1.set_title("第一层与最后一层的梯度之比")
    ax1.set_ylabel("梯度之比（对数坐标）")
    ax2.set_title("最终测试准确率")
    ax2.set_ylabel("准确率（%）")
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.set_xlabel("隐藏层个数")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    # one legend for both panels (same lines), above them: inside, it would cover the curves
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside upper center", ncols=2)
    return fig


# ---------------------------------------------------------------------------
# ReLU 死亡


@_styled
def plot_dead_units(result, naive: bool = True) -> LabFigure:
    """每个激活函数一幅子图：各层死亡神经元比例随 epoch 的变化（百分比）；``naive=True`` 时再画一幅
    原实验的朴素指标（输出为 0 的比例，全部隐藏层平均）。"""
    require_experiment(result, ("dead_relu",), "plot_dead_units")
    runs = list(result.runs.items())
    fig, axes = figure(len(runs) + (1 if naive else 0), height=3.7)
    for ax, (name, run) in zip(axes, runs, strict=False):
        init = run.summary.get("dead_fraction_init")
        for i, layer in enumerate(run.layer_names):
            values = [epoch[i] for epoch in run.history["dead_fraction"]]
            xs = _epochs(values)
            if init is not None:
                xs, values = [0, *xs], [init[i], *values]
            ax.plot(
                xs,
                _pct(values),
                label=layer_label(layer, run.layer_names),
                **line_style(i, len(values)),
            )
        ax.set_title(f"{_label(name)}：各层死亡神经元的比例")
        epoch_axis(ax, "轮次（epoch；0 = 训练前）")
        ax.set_ylabel("死亡神经元（%）")
        ax.set_ylim(-3, 103)
        ax.legend()
    if naive:
        ax = axes[-1]
        for i, (name, run) in enumerate(runs):
            zero = [sum(e) / len(e) for e in run.history["zero_output_fraction"]]
            ax.plot(_epochs(zero), _pct(zero), label=_label(name), **line_style(i, len(zero)))
        ax.set_title("原实验的指标：输出为 0 的比例")
        epoch_axis(ax)
        ax.set_ylabel("输出为 0（%）")
        ax.set_ylim(-3, 103)
        ax.legend()
    return fig


# ---------------------------------------------------------------------------
# L2 / L1


GREY = "#7F7F7F"  # "no regularization": the baseline, drawn in grey
NORM = r"$\|w\|_2$"  # mathtext: the CJK font's "‖" is full-width


def _lam(run) -> str:
    return f"λ = {run.params['lambda']:g}"


@_styled
def plot_l2_losses(result) -> LabFigure:
    """每个 λ 一幅子图：训练损失与测试损失随 epoch 的变化（对数坐标）。"""
    require_experiment(result, ("l2", "lambda_sweep"), "plot_l2_losses")
    runs = list(result.runs.values())
    fig, axes = figure(len(runs), height=3.6)
    for ax, run in zip(axes, runs, strict=True):
        train, test = run.history["train_loss"], run.history["test_loss"]
        ax.semilogy(_epochs(train), train, label="训练损失", **line_style(0, len(train)))
        ax.semilogy(_epochs(test), test, label="测试损失", **line_style(1, len(test)))
        ax.set_title(f"正则化强度 {_lam(run)}")
        epoch_axis(ax)
        ax.set_ylabel("MSE 损失（对数坐标）")
        ax.legend()
    return fig


@_styled
def plot_weights(result, bins: int = 30) -> LabFigure:
    """上图：各 λ 下最终权重的直方图；下图：‖w‖₂ 随 epoch 的变化。"""
    require_experiment(result, ("l2", "lambda_sweep", "l1_vs_l2"), "plot_weights")
    fig, (ax1, ax2) = figure(2)
    l1_vs_l2 = result.name == "l1_vs_l2"
    for i, (name, run) in enumerate(result.runs.items()):
        label = _regularizer(name) if l1_vs_l2 else _lam(run)
        style_i = _regularizer_style(name) if l1_vs_l2 else line_style(i)
        weights = run.arrays["weights"]
        ax1.hist(weights, bins=bins, histtype="stepfilled", alpha=0.25, color=style_i["color"])
        ax1.hist(
            weights,
            bins=bins,
            histtype="step",
            color=style_i["color"],
            linestyle=style_i["linestyle"],
            linewidth=2.0,
            label=label,
        )
        norms = run.history["w_norm"]
        n = len(norms)
        ax2.plot(
            _epochs(norms),
            norms,
            label=label,
            **(_regularizer_style(name, n) if l1_vs_l2 else line_style(i, n)),
        )
    ax1.set_title("最终权重的分布")
    ax1.set_xlabel("权重值 w")
    ax1.set_ylabel("个数")
    ax2.set_title("训练中权重的范数")
    epoch_axis(ax2)
    ax2.set_ylabel(NORM)
    for ax in (ax1, ax2):
        ax.legend()
    return fig


@_styled
def plot_lambda_sweep(result) -> LabFigure:
    """λ 扫描：上图为最终训练/测试损失，下图为 ‖w‖₂；横轴为 λ（λ=0 画在最左端，对称对数坐标）。"""
    require_experiment(result, ("lambda_sweep", "l2"), "plot_lambda_sweep")
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    lams = [r.params["lambda"] for r in runs]
    fig, (ax1, ax2) = figure(2)
    ax1.plot(lams, [r.summary["final_train_loss"] for r in runs], label="训练损失", **line_style(0))
    ax1.plot(lams, [r.summary["final_test_loss"] for r in runs], label="测试损失", **line_style(1))
    ax1.set_yscale("log")
    ax1.set_ylabel("最终 MSE 损失（对数坐标）")
    ax1.set_title("训练结束时的损失")
    ax1.legend()
    ax2.plot(lams, [r.summary["w_norm"] for r in runs], **line_style(2))
    ax2.set_ylabel(NORM)
    ax2.set_title("训练结束时权重的范数")
    positive = [v for v in lams if v > 0]
    for ax in (ax1, ax2):
        if positive:
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(-0.3 * min(positive), max(lams) * 1.5)
        ax.set_xlabel("λ（对称对数坐标）")
    return fig


def _regularizer(name: str) -> str:
    return {"none": "无正则化"}.get(name, name.upper())


def _regularizer_style(name: str, n_points: int | None = None) -> dict[str, Any]:
    """L1/L2 对比中每种正则化的样式（各图一致）：L2 蓝色实线，L1 红色虚线，无正则化灰色点划线。"""
    order = {"l2": 0, "l1": 1}
    if name in order:
        return line_style(order[name], n_points)
    return line_style(2, n_points, color=GREY)


@_styled
def plot_l1_vs_l2(result) -> LabFigure:
    """L1 与 L2 的最终权重：上图为按大小排序的 |w|（对数坐标，0 画在下边界），下图为接近 0 的权重比例（百分比）。"""
    require_experiment(result, ("l1_vs_l2",), "plot_l1_vs_l2")
    tol = result.config.zero_tol
    fig, (ax1, ax2) = figure(2)
    floor = tol / 100
    names = [n for n in ("none", "l2", "l1") if n in result.runs]
    for name in names:
        mags = sorted((abs(w) for w in result[name].arrays["weights"]), reverse=True)
        ax1.semilogy(
            range(1, len(mags) + 1),
            [max(m, floor) for m in mags],
            label=_regularizer(name),
            **_regularizer_style(name, len(mags)),
        )
    ax1.axhline(tol, color="black", linestyle="--", linewidth=1.5, label=f"阈值 {tol:g}")  # "虚线"
    ax1.set_title(f"按大小排序的 |w|（小于 {floor:g} 的画在 {floor:g}）")
    ax1.set_xlabel("权重的名次（从大到小）")
    ax1.set_ylabel("|w|（对数坐标）")
    bottom, top = ax1.get_ylim()
    ax1.set_ylim(bottom, top * (top / bottom) ** 0.35)  # headroom: the legend sits above the lines
    ax1.legend(loc="upper right", ncols=2)
    fractions = [100.0 * result[n].summary["near_zero_fraction"] for n in names]
    ax2.bar(
        [_regularizer(n) for n in names],
        fractions,
        color=[_regularizer_style(n)["color"] for n in names],
    )
    ax2.set_title(f"|w| < {tol:g} 的权重所占比例")
    ax2.set_xlabel("正则化方式")
    ax2.set_ylabel("接近 0 的权重（%）")
    ax2.set_ylim(0, 100)
    return fig


# ---------------------------------------------------------------------------
# Dropout


DURING = (0, (4, 2))  # dashed: accuracy measured during training (the original lab's way)


@_styled
def plot_dropout(result) -> LabFigure:
    """四幅子图（上下排列）：训练准确率（实线：评估模式；虚线：原实验的边训练边统计）、二者之差（百分点，
    单独一幅，差别小也看得见）、测试准确率、训练–测试差距（百分点）。"""
    require_experiment(result, ("dropout",), "plot_dropout")
    fig, (ax1, ax2, ax3, ax4) = figure(4, height=3.6)
    for i, (name, run) in enumerate(result.runs.items()):
        label = _label(name)
        evaluated = run.history["train_acc_eval"]
        during = run.history["train_acc"]
        base = line_style(i, len(evaluated))
        ax1.plot(
            _epochs(evaluated),
            _pct(evaluated),
            label=f"{label}（实线：评估模式）",
            **{**base, "linestyle": "-"},
        )
        ax1.plot(
            _epochs(during),
            _pct(during),
            label=f"{label}（虚线：边训练边统计）",
            **{**base, "linestyle": DURING, "markerfacecolor": "white"},
        )
        diff = [a - b for a, b in zip(evaluated, during, strict=True)]
        ax2.plot(_epochs(diff), _pct(diff), label=label, **base)
        test = run.history["test_acc"]
        ax3.plot(_epochs(test), _pct(test), label=label, **line_style(i, len(test)))
        gap = run.history["gap"]
        ax4.plot(_epochs(gap), _pct(gap), label=label, **line_style(i, len(gap)))
    ax1.set_title("训练准确率（实线：评估模式；虚线：边训练边统计）")
    ax1.set_ylabel("准确率（%）")
    ax2.set_title("训练准确率之差：评估模式 − 边训练边统计")
    ax2.set_ylabel("差（百分点）")
    ax3.set_title("测试准确率")
    ax3.set_ylabel("准确率（%）")
    ax4.set_title("训练 − 测试差距（评估模式）")
    ax4.set_ylabel("差距（百分点）")
    for ax in (ax2, ax4):
        ax.axhline(0, color="black", linewidth=0.8)
    # panel 1: colours name the models, line styles the two ways of measuring (5 entries, not 6)
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], label=_label(name), **line_style(i, linestyle="-"))
        for i, name in enumerate(result.runs)
    ]
    handles += [
        Line2D([], [], color="black", linestyle="-", linewidth=2.0, label="实线：评估模式"),
        Line2D([], [], color="black", linestyle=DURING, linewidth=2.0, label="虚线：边训练边统计"),
    ]
    ax1.legend(handles=handles, loc="lower right", ncols=2)
    for ax in (ax1, ax2, ax3, ax4):
        epoch_axis(ax)
        if ax is not ax1:
            ax.legend()
    return fig


@_styled
def plot_dropout_sweep(result) -> LabFigure:
    """dropout 比例扫描：上图为最后 1/3 个 epoch 平均的训练（评估模式）与测试准确率，下图为损失差距
    （左纵轴）与准确率差距（右纵轴）。"""
    require_experiment(result, ("dropout_sweep",), "plot_dropout_sweep")
    runs = sorted(result.runs.values(), key=lambda r: r.params["dropout"])
    rates = [r.params["dropout"] for r in runs]

    def tail(run, key):
        values = run.history[key]
        n = max(1, len(values) // 3)
        return sum(values[-n:]) / n

    fig, (ax1, ax2) = figure(2)
    ax1.plot(
        rates,
        [100 * tail(r, "train_acc_eval") for r in runs],
        label="训练（评估模式）",
        **line_style(0),
    )
    ax1.plot(rates, [100 * tail(r, "test_acc") for r in runs], label="测试", **line_style(1))
    ax1.set_ylabel("准确率（%）")
    ax1.set_title("准确率（最后 1/3 个 epoch 的平均）")
    ax1.legend()
    ax2.plot(
        rates,
        [tail(r, "loss_gap") for r in runs],
        label="损失差距（测试 − 训练）",
        **line_style(1, linestyle="-", marker="o"),
    )
    ax2.set_ylabel("损失差距（交叉熵）")
    twin = ax2.twinx()
    twin.plot(
        rates,
        [100 * tail(r, "gap") for r in runs],
        label="准确率差距",
        **line_style(0, linestyle=(0, (6, 2.5)), marker="s"),
    )
    twin.set_ylabel("准确率差距（百分点）")
    twin.set_xlabel("dropout 比例 p")  # the twin's x axis is hidden; label kept for completeness
    twin.grid(False)
    ax2.set_title("泛化差距（最后 1/3 个 epoch 的平均）")
    for ax in (ax2, twin):  # headroom: the legend sits above the lines of both y axes
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, top + 0.3 * (top - bottom))
    handles = ax2.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax2.legend(handles=handles, loc="upper center", ncols=2)  # labels: each handle's own
    for ax in (ax1, ax2):
        ax.set_xlabel("dropout 比例 p")
    return fig
