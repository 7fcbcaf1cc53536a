"""画图：接收实验结果，返回 matplotlib 的 Figure（不调用 ``plt.show()``）。

- 图中文字只用英文（渲染网站的机器上 matplotlib 没有中文字体）；
- 白色背景（网站在深色模式下也把图片放在浅色卡片上）；
- 比例一律画成百分比，坐标轴标签写明单位（"(%)"）；对数坐标在标签中注明 "log scale"。

matplotlib 只在调用这些函数时才导入：``import labcode`` 不会导入 matplotlib。
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
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
]


def _figure(ncols: int = 1, nrows: int = 1, width: float = 6.0, height: float = 4.2):
    """新建一个白色背景的 Figure（不经过 pyplot：不改全局状态，笔记本里也不会重复显示）。"""
    from matplotlib.figure import Figure

    n_panels = ncols * nrows
    if nrows == 1 and ncols > 2:  # the page column is narrow: wrap 3+ panels into rows of two
        ncols, nrows = 2, -(-n_panels // 2)
    fig = Figure(figsize=(width * ncols, height * nrows), facecolor="white", dpi=100)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).flat)
    for ax in axes[n_panels:]:
        ax.remove()
    axes = axes[:n_panels]
    for ax in axes:
        ax.set_facecolor("white")
        ax.grid(True, alpha=0.3)
    return fig, axes


def _finish(fig) -> Figure:
    from matplotlib.ticker import MaxNLocator

    for ax in fig.axes:
        if ax.get_xlabel().startswith("Epoch"):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.tight_layout()
    return fig


def _epochs(values) -> list[int]:
    return list(range(1, len(values) + 1))


def _pct(values) -> list[float]:
    return [100.0 * v for v in values]


def _label(name: str) -> str:
    labels = {
        "relu": "ReLU",
        "sigmoid": "Sigmoid",
        "tanh": "Tanh",
        "leaky_relu": "LeakyReLU",
        "elu": "ELU",
        "gelu": "GELU",
        "silu": "SiLU",
        "none": "No dropout",
        "scratch": "Dropout (scratch)",
        "torch": "Dropout (nn.Dropout)",
    }
    return labels.get(name, name)


def _check(result, names: tuple[str, ...], what: str) -> None:
    if getattr(result, "name", None) not in names:
        raise ValueError(
            f"{what} 需要 {' 或 '.join(names)} 实验的结果，实际得到 {getattr(result, 'name', type(result).__name__)!r}。"
        )


# ---------------------------------------------------------------------------
# 激活函数


def plot_activations(names=None, lo: float = -5.0, hi: float = 5.0) -> Figure:
    """激活函数（左）与它们的手写导数（右）。``names`` 默认为注册表 ``ACTIVATIONS`` 中的全部。"""
    import torch

    from .activations import ACTIVATIONS, get_activation

    names = list(ACTIVATIONS) if names is None else list(names)
    x = torch.linspace(lo, hi, 501)
    fig, (ax1, ax2) = _figure(2)
    for name in names:
        act = get_activation(name)
        ax1.plot(x.numpy(), act.f(x).numpy(), label=_label(name))
        ax2.plot(x.numpy(), act.derivative(x).numpy(), label=_label(name))
    ax1.set_title("Activation functions")
    ax1.set_ylabel("f(x)")
    ax2.set_title("Derivatives (hand-written)")
    ax2.set_ylabel("f'(x)")
    for ax in (ax1, ax2):
        ax.set_xlabel("x")
        ax.legend(fontsize=9)
    return _finish(fig)


# ---------------------------------------------------------------------------
# 梯度消失


def plot_accuracy_curves(result, test: bool = True) -> Figure:
    """每个运行的训练准确率（与测试准确率）随 epoch 的变化（百分比）。适用于梯度消失、ReLU 死亡实验。"""
    _check(result, ("gradient_vanishing", "dead_relu"), "plot_accuracy_curves")
    fig, axes = _figure(2 if test else 1)
    for name, run in result.runs.items():
        axes[0].plot(
            _epochs(run.history["train_acc"]),
            _pct(run.history["train_acc"]),
            marker="o",
            label=_label(name),
        )
        if test:
            axes[1].plot(
                _epochs(run.history["test_acc"]),
                _pct(run.history["test_acc"]),
                marker="o",
                label=_label(name),
            )
    axes[0].set_title("Training accuracy (measured during the epoch)")
    if test:
        axes[1].set_title("Test accuracy (after each epoch)")
    for ax in axes:
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Accuracy (%)")
        ax.legend()
    return _finish(fig)


def plot_gradients(result, epoch: int = -1) -> Figure:
    """每层权重的平均 |grad|（对数坐标），x 轴为层名（输入 → 输出）。默认画最后一个 epoch。"""
    _check(result, ("gradient_vanishing",), "plot_gradients")
    fig, (ax,) = _figure(width=7.0)
    for name, run in result.runs.items():
        grads = run.history["grad_mean"][epoch]
        ax.semilogy(range(len(grads)), grads, marker="o", label=_label(name))
        ax.set_xticks(range(len(grads)), run.layer_names, rotation=20)
    n_epochs = len(next(iter(result.runs.values())).history["grad_mean"])
    shown = epoch % n_epochs + 1
    ax.set_title(f"Mean |gradient| of each layer's weights (epoch {shown}, averaged over batches)")
    ax.set_xlabel("Layer (input -> output)")
    ax.set_ylabel("Mean |grad| (log scale)")
    ax.legend()
    return _finish(fig)


def plot_depth_sweep(result) -> Figure:
    """深度扫描：左图为第一层/最后一层梯度之比（对数坐标），右图为最终测试准确率（百分比）。"""
    _check(result, ("depth_sweep",), "plot_depth_sweep")
    fig, (ax1, ax2) = _figure(2)
    by_act: dict[str, list] = {}
    for run in result.runs.values():
        by_act.setdefault(run.params["activation"], []).append(run)
    for act, runs in by_act.items():
        runs = sorted(runs, key=lambda r: r.params["num_layers"])
        depths = [r.params["num_layers"] for r in runs]
        ax1.semilogy(depths, [r.summary["grad_ratio"] for r in runs], marker="o", label=_label(act))
        ax2.plot(
            depths, _pct([r.summary["final_test_acc"] for r in runs]), marker="o", label=_label(act)
        )
    ax1.set_title("First-layer / last-layer gradient ratio")
    ax1.set_ylabel("Gradient ratio (log scale)")
    ax2.set_title("Final test accuracy")
    ax2.set_ylabel("Accuracy (%)")
    for ax in (ax1, ax2):
        ax.set_xlabel("Number of hidden layers")
        ax.legend()
    return _finish(fig)


# ---------------------------------------------------------------------------
# ReLU 死亡


def plot_dead_units(result, naive: bool = True) -> Figure:
    """每个激活函数一个子图：各层死亡神经元比例随 epoch 的变化（百分比）；``naive=True`` 时再画一张
    原实验的朴素指标（输出为 0 的比例，全部隐藏层平均）。"""
    _check(result, ("dead_relu",), "plot_dead_units")
    runs = list(result.runs.items())
    fig, axes = _figure(len(runs) + (1 if naive else 0), width=4.6, height=4.0)
    for ax, (name, run) in zip(axes, runs, strict=False):
        init = run.summary.get("dead_fraction_init")
        for i, layer in enumerate(run.layer_names):
            values = [epoch[i] for epoch in run.history["dead_fraction"]]
            xs = _epochs(values)
            if init is not None:
                xs, values = [0, *xs], [init[i], *values]
            ax.plot(xs, _pct(values), marker="o", label=layer)
        ax.set_title(f"{_label(name)}: dead units per layer")
        ax.set_xlabel("Epoch (0 = before training)")
        ax.set_ylabel("Dead units (%)")
        ax.set_ylim(-3, 103)
        ax.legend()
    if naive:
        ax = axes[-1]
        for name, run in runs:
            zero = [sum(e) / len(e) for e in run.history["zero_output_fraction"]]
            ax.plot(_epochs(zero), _pct(zero), marker="o", label=_label(name))
        ax.set_title("Seed's metric: outputs equal to 0")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Zero outputs (%)")
        ax.set_ylim(-3, 103)
        ax.legend()
    return _finish(fig)


# ---------------------------------------------------------------------------
# L2 / L1


def plot_l2_losses(result) -> Figure:
    """每个 λ 一个子图：训练损失与测试损失随 epoch 的变化（对数坐标）。"""
    _check(result, ("l2", "lambda_sweep"), "plot_l2_losses")
    runs = list(result.runs.values())
    fig, axes = _figure(len(runs), width=5.0)
    for ax, run in zip(axes, runs, strict=True):
        ax.semilogy(_epochs(run.history["train_loss"]), run.history["train_loss"], label="train")
        ax.semilogy(_epochs(run.history["test_loss"]), run.history["test_loss"], label="test")
        ax.set_title(f"lambda = {run.params['lambda']:g}")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("MSE loss (log scale)")
        ax.legend()
    return _finish(fig)


def plot_weights(result, bins: int = 30) -> Figure:
    """左图：各 λ 下最终权重的直方图；右图：‖w‖₂ 随 epoch 的变化。"""
    _check(result, ("l2", "lambda_sweep", "l1_vs_l2"), "plot_weights")
    fig, (ax1, ax2) = _figure(2)
    for name, run in result.runs.items():
        label = f"lambda = {run.params['lambda']:g}" if result.name != "l1_vs_l2" else name.upper()
        ax1.hist(run.arrays["weights"], bins=bins, alpha=0.55, label=label)
        ax2.plot(_epochs(run.history["w_norm"]), run.history["w_norm"], label=label)
    ax1.set_title("Distribution of the final weights")
    ax1.set_xlabel("Weight value w_i")
    ax1.set_ylabel("Count")
    ax2.set_title("Weight norm during training")
    ax2.set_xlabel("Epoch")
    ax2.set_ylabel("||w||_2")
    for ax in (ax1, ax2):
        ax.legend()
    return _finish(fig)


def plot_lambda_sweep(result) -> Figure:
    """λ 扫描：左图为最终训练/测试损失，右图为 ‖w‖₂；横轴为 λ（λ=0 画在最左端，对称对数坐标）。"""
    _check(result, ("lambda_sweep", "l2"), "plot_lambda_sweep")
    runs = sorted(result.runs.values(), key=lambda r: r.params["lambda"])
    lams = [r.params["lambda"] for r in runs]
    fig, (ax1, ax2) = _figure(2)
    ax1.plot(lams, [r.summary["final_train_loss"] for r in runs], marker="o", label="train")
    ax1.plot(lams, [r.summary["final_test_loss"] for r in runs], marker="o", label="test")
    ax1.set_yscale("log")
    ax1.set_ylabel("Final MSE loss (log scale)")
    ax1.set_title("Loss after training")
    ax1.legend()
    ax2.plot(lams, [r.summary["w_norm"] for r in runs], marker="o")
    ax2.set_ylabel("||w||_2")
    ax2.set_title("Weight norm after training")
    positive = [v for v in lams if v > 0]
    for ax in (ax1, ax2):
        if positive:
            ax.set_xscale("symlog", linthresh=min(positive))
            ax.set_xlim(-0.3 * min(positive), max(lams) * 1.5)
        ax.set_xlabel("lambda (symmetric log scale)")
    return _finish(fig)


def plot_l1_vs_l2(result) -> Figure:
    """L1 与 L2 的最终权重：左图为按大小排序的 |wᵢ|（对数坐标，0 画在下边界），右图为接近 0 的权重比例（百分比）。"""
    _check(result, ("l1_vs_l2",), "plot_l1_vs_l2")
    tol = result.config.zero_tol
    fig, (ax1, ax2) = _figure(2)
    floor = tol / 100
    names = [n for n in ("none", "l2", "l1") if n in result.runs]
    colors = {"none": "#999999", "l2": "#1f77b4", "l1": "#d62728"}
    for name in names:
        mags = sorted((abs(w) for w in result[name].arrays["weights"]), reverse=True)
        ax1.semilogy(
            range(1, len(mags) + 1),
            [max(m, floor) for m in mags],
            color=colors[name],
            label=name.upper(),
        )
    ax1.axhline(tol, color="gray", linestyle="--", label=f"threshold {tol:g}")
    ax1.set_title(f"Sorted |w_i| (values below {floor:g} drawn at {floor:g})")
    ax1.set_xlabel("Rank of weight (largest first)")
    ax1.set_ylabel("|w_i| (log scale)")
    ax1.legend()
    fractions = [100.0 * result[n].summary["near_zero_fraction"] for n in names]
    ax2.bar([n.upper() for n in names], fractions, color=[colors[n] for n in names])
    ax2.set_title(f"Weights with |w_i| < {tol:g}")
    ax2.set_xlabel("Regularization")
    ax2.set_ylabel("Near-zero weights (%)")
    ax2.set_ylim(0, 100)
    return _finish(fig)


# ---------------------------------------------------------------------------
# Dropout


def plot_dropout(result) -> Figure:
    """三个子图：训练准确率（实线：eval 模式；虚线：原实验的边训练边统计）、测试准确率、训练–测试差距（百分点）。"""
    _check(result, ("dropout",), "plot_dropout")
    fig, (ax1, ax2, ax3) = _figure(3, width=5.0)
    for name, run in result.runs.items():
        (line,) = ax1.plot(
            _epochs(run.history["train_acc_eval"]),
            _pct(run.history["train_acc_eval"]),
            label=f"{_label(name)} (eval mode)",
        )
        ax1.plot(
            _epochs(run.history["train_acc"]),
            _pct(run.history["train_acc"]),
            linestyle="--",
            color=line.get_color(),
            label=f"{_label(name)} (during training)",
        )
        ax2.plot(
            _epochs(run.history["test_acc"]),
            _pct(run.history["test_acc"]),
            color=line.get_color(),
            label=_label(name),
        )
        ax3.plot(
            _epochs(run.history["gap"]),
            _pct(run.history["gap"]),
            color=line.get_color(),
            label=_label(name),
        )
    ax1.set_title("Training accuracy")
    ax1.set_ylabel("Accuracy (%)")
    ax2.set_title("Test accuracy")
    ax2.set_ylabel("Accuracy (%)")
    ax3.set_title("Train - test gap (eval mode)")
    ax3.set_ylabel("Gap (percentage points)")
    ax3.axhline(0, color="black", linewidth=0.8)
    for ax in (ax1, ax2, ax3):
        ax.set_xlabel("Epoch")
        ax.legend(fontsize=8)
    return _finish(fig)


def plot_dropout_sweep(result) -> Figure:
    """dropout 比例扫描：左图为最后 1/3 个 epoch 平均的训练（eval 模式）与测试准确率，右图为损失差距与准确率差距。"""
    _check(result, ("dropout_sweep",), "plot_dropout_sweep")
    runs = sorted(result.runs.values(), key=lambda r: r.params["dropout"])
    rates = [r.params["dropout"] for r in runs]

    def tail(run, key):
        values = run.history[key]
        n = max(1, len(values) // 3)
        return sum(values[-n:]) / n

    fig, (ax1, ax2) = _figure(2)
    ax1.plot(
        rates,
        [100 * tail(r, "train_acc_eval") for r in runs],
        marker="o",
        label="train (eval mode)",
    )
    ax1.plot(rates, [100 * tail(r, "test_acc") for r in runs], marker="o", label="test")
    ax1.set_ylabel("Accuracy (%), mean of last third of epochs")
    ax1.set_title("Accuracy vs dropout rate")
    ax1.legend()
    ax2.plot(
        rates,
        [tail(r, "loss_gap") for r in runs],
        marker="o",
        color="#d62728",
        label="loss gap (test - train)",
    )
    ax2.set_ylabel("Loss gap (cross-entropy)")
    twin = ax2.twinx()
    twin.plot(
        rates,
        [100 * tail(r, "gap") for r in runs],
        marker="s",
        linestyle="--",
        color="#1f77b4",
        label="accuracy gap",
    )
    twin.set_ylabel("Accuracy gap (percentage points)")
    twin.set_xlabel("Dropout rate p")  # the twin's x axis is hidden; label kept for completeness
    ax2.set_title("Generalization gap vs dropout rate")
    handles = ax2.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax2.legend(handles, [h.get_label() for h in handles])
    for ax in (ax1, ax2):
        ax.set_xlabel("Dropout rate p")
    return _finish(fig)
