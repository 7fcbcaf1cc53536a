"""L2 正则化实验：高维线性回归（d=200，只有 20 个训练样本），容易过拟合。

数据与原实验相同：x ~ N(0, I)，y = 0.05 + Σᵢ 0.01·xᵢ + ε，ε ~ N(0, 0.01²)；用带种子的生成器生成，可复现。
模型与原实验相同：``nn.Linear(d, 1, bias=False)``，SGD（lr 0.003），批量 10，不打乱（原实验的 DataLoader 不打乱）。

- ``run_l2``：λ = 0 与 λ = 3，两种实现：手写惩罚 ``λ·l2_penalty(w)``（``method="scratch"``）或优化器的
  ``weight_decay=λ``（``method="weight_decay"``）；每个 epoch 都记录训练/测试损失（原实验每 20 个 epoch 才记一次），
  最后给出 ‖w‖₂ 和权重向量（画直方图，代替原实验打印 200 个数）。
- ``run_lambda_sweep``：不同 λ 的最终训练/测试损失。
- ``run_l1_vs_l2``：L1 与 L2 得到的权重，以及接近 0 的权重所占比例。
- ``run_l2_seeds``：在若干个种子（每个种子一份新的合成数据和一个新的初始化）上配对比较：λ 扫描
  （梯度下降，固定的 epoch 数）、从 0 初始化的梯度下降、常数预测、最小范数插值解与岭回归的闭式解，
  以及在训练集内做 k 折交叉验证选出的 λ。

报告的损失都是 **纯数据损失**（均方误差，不含正则项），在整个训练集 / 测试集上评估。
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable

import torch
from torch import nn

from .. import settings
from ..checks import check_seeds
from ..data import TensorLoader
from ..profiles import L2Config
from ..regularization import l1_penalty, l2_penalty
from .results import ExperimentResult, RunResult
from .training import evaluate, progress, resolve_profile_config, train_epoch

__all__ = [
    "L1_METHODS",
    "L2_METHODS",
    "lambda_key",
    "make_synthetic_data",
    "run_l1_vs_l2",
    "run_l1_vs_l2_seeds",
    "run_l2",
    "run_l2_seeds",
    "run_lambda_sweep",
    "ridge_solution",
]

L2_METHODS = ("scratch", "weight_decay")
L1_METHODS = ("proximal", "subgradient")


def lambda_key(lam: float) -> str:
    """一次运行的键，如 ``"lambda=3"``。"""
    return f"lambda={lam:g}"


def _check_lambda(lam, what: str = "λ") -> float:
    if (
        isinstance(lam, bool)
        or not isinstance(lam, int | float)
        or not math.isfinite(lam)
        or lam < 0
    ):
        raise ValueError(f"{what} 应为非负的有限实数（0 表示不加正则），实际得到 {lam!r}。")
    return float(lam)


def make_synthetic_data(config: L2Config, seed: int, device) -> tuple[torch.Tensor, ...]:
    """生成 ``(train_x, train_y, test_x, test_y)``：x 形状 (n, d)，y 形状 (n, 1)，float32，放在 ``device`` 上。

    用独立的、以 ``seed`` 初始化的 CPU 生成器，结果与设备无关、可复现。
    """
    gen = torch.Generator().manual_seed(seed)
    n = config.n_train + config.n_test
    x = torch.randn(n, config.d, generator=gen, dtype=torch.float64)
    noise = torch.randn(n, generator=gen, dtype=torch.float64) * config.noise_std
    y = config.true_b + config.true_w * x.sum(dim=1) + noise
    x, y = x.float().to(device), y.float().reshape(-1, 1).to(device)
    return x[: config.n_train], y[: config.n_train], x[config.n_train :], y[config.n_train :]


def _fit_linear(
    config: L2Config,
    data: tuple[torch.Tensor, ...],
    *,
    seed: int,
    epochs: int,
    experiment: str,
    run: str,
    weight_decay: float = 0.0,
    penalty: Callable[[torch.Tensor], torch.Tensor] | None = None,
    proximal_l1: float = 0.0,
    zero_init: bool = False,
) -> RunResult:
    """训练一个线性回归模型；``penalty(w)`` 加到损失上，``weight_decay`` 交给优化器（只作用于权重），
    ``proximal_l1 > 0`` 时每步之后做 L1 的软阈值（近端）步；``zero_init`` 时权重（和偏置）从 0 开始。"""
    train_x, train_y, test_x, test_y = data
    settings.seed_everything(seed)  # 同一种子：各次运行的初始权重相同
    net = nn.Linear(config.d, 1, bias=config.bias).to(train_x.device)
    if zero_init:
        with torch.no_grad():
            for param in net.parameters():
                param.zero_()
    groups = [{"params": [net.weight], "weight_decay": weight_decay}]
    if net.bias is not None:
        groups.append({"params": [net.bias], "weight_decay": 0.0})  # 偏置不受惩罚
    optimizer = torch.optim.SGD(groups, lr=config.lr)
    loader = TensorLoader(train_x, train_y, config.batch_size, shuffle=False)

    def soft_threshold() -> None:
        with torch.no_grad():
            w = net.weight
            w.copy_(torch.sign(w) * torch.clamp(w.abs() - config.lr * proximal_l1, min=0.0))

    history: dict[str, list] = {"train_loss": [], "test_loss": [], "w_norm": []}
    initial_loss = None
    for epoch in progress(range(1, epochs + 1), total=epochs, desc=f"{experiment} · {run}"):
        stats = train_epoch(
            net,
            loader,
            optimizer,
            experiment=experiment,
            epoch=epoch,
            lr=config.lr,
            run=run,
            initial_loss=initial_loss,
            classify=False,
            penalty=(lambda: penalty(net.weight)) if penalty is not None else None,
            after_step=soft_threshold if proximal_l1 > 0 else None,
        )
        initial_loss = stats.initial_loss
        train_loss, _ = evaluate(net, train_x, train_y, classify=False)
        test_loss, _ = evaluate(net, test_x, test_y, classify=False)
        history["train_loss"].append(train_loss)
        history["test_loss"].append(test_loss)
        history["w_norm"].append(float(net.weight.detach().norm()))
    weights = net.weight.detach().flatten().cpu().tolist()
    summary = {
        "final_train_loss": history["train_loss"][-1],
        "final_test_loss": history["test_loss"][-1],
        "w_norm": history["w_norm"][-1],
        "near_zero_fraction": sum(abs(w) < config.zero_tol for w in weights) / len(weights),
        "exact_zero_fraction": sum(w == 0.0 for w in weights) / len(weights),
    }
    arrays = {"weights": weights}
    if net.bias is not None:
        summary["bias"] = float(net.bias.detach())
    return RunResult(run, history=history, summary=summary, arrays=arrays)


def _prepare(profile, config, seed, device, name):
    config, profile_name = resolve_profile_config("l2", profile, config, L2Config)
    device = settings.get_device(device)
    data = make_synthetic_data(config, seed, device)
    result = ExperimentResult(
        name,
        config,
        None,
        str(device),
        seed,
        profile_name,
        notes=[
            f"合成数据：d={config.d}，训练 {config.n_train} 个、测试 {config.n_test} 个样本，"
            f"y = {config.true_b:g} + Σ {config.true_w:g}·xᵢ + ε，ε ~ N(0, {config.noise_std:g}²)。",
            "模型 nn.Linear(d, 1, bias=False)（与原实验相同）："
            f"标签中 {config.true_b:g} 的常数项模型无法拟合，测试损失因此约有 {config.true_b**2:.4f} 的下限。"
            if not config.bias
            else "模型带偏置，偏置不受惩罚。",
        ],
    )
    return config, data, result


def _l2_run(
    config, data, lam, method, seed, experiment, epochs=None, penalty_fn=l2_penalty
) -> RunResult:
    scratch = method == "scratch"
    run = _fit_linear(
        config,
        data,
        seed=seed,
        epochs=epochs or config.epochs,
        experiment=experiment,
        run=lambda_key(lam),
        weight_decay=0.0 if scratch else lam,
        penalty=(lambda w: lam * penalty_fn(w)) if scratch and lam > 0 else None,
    )
    run.params = {"lambda": lam, "method": method, "penalty": "l2"}
    return run


def run_l2(
    lambdas=None,
    method: str = "scratch",
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: L2Config | None = None,
    penalty=l2_penalty,
) -> ExperimentResult:
    """L2 正则化主实验：每个 λ 训练一个线性回归模型。

    - ``penalty``：``method="scratch"`` 时加到损失上的惩罚函数 ``penalty(w)``，默认
      :func:`labcode.regularization.l2_penalty`；可以换成你在练习 4.1 中写的；

    - ``lambdas``：默认取设置中的 ``(0, 3)``；必须非负；
    - ``method``：``"scratch"``（损失加上 ``λ·l2_penalty(w)``，原实验的从零实现）或
      ``"weight_decay"``（``torch.optim.SGD(weight_decay=λ)``，原实验的简洁实现）。两者梯度相同（λw），
      同一种子下轨迹一致（见 ``labcode.lessons.weight_decay_matches_scratch``）。

    ``runs`` 的键为 ``"lambda=0"``、``"lambda=3"`` ……；``history`` 有每个 epoch 的 ``train_loss``、
    ``test_loss``、``w_norm``；``summary`` 有 ``final_train_loss``、``final_test_loss``、``w_norm``；
    ``arrays["weights"]`` 是最终的权重向量。数据为合成数据，``result.data`` 为 ``None``。
    """
    started = time.perf_counter()
    _check_method(method)
    if not callable(penalty):
        raise TypeError(f"penalty 应是函数 penalty(w)，实际得到 {penalty!r}。")
    config, data, result = _prepare(profile, config, seed, device, "l2")
    result.notes.append(
        "实现方式："
        + (
            "损失加上 λ·l2_penalty(w)（从零实现）。"
            if method == "scratch"
            else "SGD 的 weight_decay=λ（简洁实现）。"
        )
    )
    return _train_each_lambda(
        result, config, data, lambdas, config.lambdas, method, seed, started, penalty_fn=penalty
    )


def run_lambda_sweep(
    lambdas=None,
    method: str = "scratch",
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: L2Config | None = None,
) -> ExperimentResult:
    """λ 扫描：默认取设置中的 ``sweep_lambdas``；每个 λ 的 ``summary`` 有最终训练/测试损失与 ‖w‖₂。"""
    started = time.perf_counter()
    _check_method(method)
    config, data, result = _prepare(profile, config, seed, device, "lambda_sweep")
    return _train_each_lambda(
        result, config, data, lambdas, config.sweep_lambdas, method, seed, started
    )


def _check_method(method: str) -> None:
    if method not in L2_METHODS:
        raise ValueError(
            f"未知的实现方式 method={method!r}。可选：'scratch'（手写惩罚项）或 'weight_decay'（优化器的权重衰减）。"
        )


def _train_each_lambda(
    result, config, data, lambdas, default, method, seed, started, penalty_fn=l2_penalty
):
    """对每个 λ 训练一个模型，记入 ``result.runs``（键 ``"lambda=3"`` 等）。"""
    values = [_check_lambda(lam) for lam in (default if lambdas is None else lambdas)]
    if not values:
        raise ValueError("lambdas 不能为空，例如 lambdas=(0, 3)。")
    for lam in values:
        result.runs[lambda_key(lam)] = _l2_run(
            config, data, lam, method, seed, result.name, penalty_fn=penalty_fn
        )
    result.elapsed_s = time.perf_counter() - started
    return result


def run_l1_vs_l2(
    l1_lambda: float | None = None,
    l2_lambda: float | None = None,
    l1_method: str = "proximal",
    profile: str | None = None,
    seed: int = 0,
    device=None,
    config: L2Config | None = None,
) -> ExperimentResult:
    """L1 与 L2 对比：同样的数据和初始权重，分别加 L1 惩罚 λ₁·Σ|wᵢ| 和 L2 惩罚 λ₂·‖w‖²/2，训练 ``l1_epochs`` 轮。

    L1 的实现（``l1_method``）：

    - ``"proximal"``（默认，近端梯度法 / ISTA）：每步先对数据损失做 SGD，再做软阈值
      wᵢ ← sign(wᵢ)·max(|wᵢ| − lr·λ₁, 0)。它是 L1 惩罚的精确近端算子，会把权重 **正好** 置为 0；
    - ``"subgradient"``：把 λ₁·l1_penalty(w) 直接加到损失上，用次梯度 λ₁·sign(w)。权重会在 0 附近来回跳
      （幅度约 lr·λ₁），几乎不会正好等于 0，稀疏性要用阈值 ``zero_tol`` 才看得出来。

    ``runs``：``"none"``（不加正则）、``"l1"``、``"l2"``；``summary`` 有 ``near_zero_fraction``（|wᵢ| <
    ``zero_tol`` 的比例）、``exact_zero_fraction``、``w_norm`` 和最终损失；``arrays["weights"]`` 为权重向量。
    """
    started = time.perf_counter()
    if l1_method not in L1_METHODS:
        raise ValueError(
            f"未知的 L1 实现方式 l1_method={l1_method!r}。可选：'proximal'（软阈值）或 'subgradient'（次梯度）。"
        )
    config, data, result = _prepare(profile, config, seed, device, "l1_vs_l2")
    lam1 = _check_lambda(config.l1_lambda if l1_lambda is None else l1_lambda, "l1_lambda")
    lam2 = _check_lambda(config.l1_l2_lambda if l2_lambda is None else l2_lambda, "l2_lambda")
    epochs = config.l1_epochs
    fit = functools.partial(
        _fit_linear, config, data, seed=seed, epochs=epochs, experiment="l1_vs_l2"
    )
    none = fit(run="none")
    none.params = {"penalty": "none", "lambda": 0.0}
    if l1_method == "proximal":
        l1 = fit(run="l1", proximal_l1=lam1)
    else:
        l1 = fit(run="l1", penalty=lambda w: lam1 * l1_penalty(w))
    l1.params = {"penalty": "l1", "lambda": lam1, "method": l1_method}
    l2 = fit(run="l2", penalty=lambda w: lam2 * l2_penalty(w))
    l2.params = {"penalty": "l2", "lambda": lam2, "method": "scratch"}
    result.runs.update(none=none, l1=l1, l2=l2)
    result.notes.append(f"训练 {epochs} 个 epoch；|wᵢ| < {config.zero_tol:g} 的权重算作接近 0。")
    result.elapsed_s = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------
# 跨种子的配对比较与闭式解


def ridge_solution(x: torch.Tensor, y: torch.Tensor, lam: float, bias: bool = False):
    """岭回归的闭式解（float64），损失与实验相同：``mean((x·w + b − y)²) + λ/2·‖w‖²``。

    ``w = (XᵀX + nλ/2·I)⁻¹ Xᵀy``；``lam = 0`` 时用伪逆，得到 **最小范数** 的最小二乘解（n < d 时是
    最小范数插值解）。``bias=True`` 时偏置不受惩罚（先把 x、y 中心化）。返回 ``(w, b)``，w 形状 (d,)。
    """
    x, y = x.double(), y.double().reshape(-1)
    x_mean = x.mean(dim=0) if bias else torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    y_mean = y.mean() if bias else torch.zeros((), dtype=x.dtype, device=x.device)
    xc, yc = x - x_mean, y - y_mean
    if lam == 0:
        w = torch.linalg.pinv(xc) @ yc
    else:
        n, d = xc.shape
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        w = torch.linalg.solve(xc.T @ xc + (n * lam / 2) * eye, xc.T @ yc)
    return w, float(y_mean - x_mean @ w)


def _mse64(w, b, x, y) -> float:
    return float(((x.double() @ w + b - y.double().reshape(-1)) ** 2).mean())


def _cv_loss(x, y, lam: float, folds: int, bias: bool) -> float:
    """k 折交叉验证：训练集按顺序分成 ``folds`` 份，每份轮流做验证集，闭式解在其余部分上求出。"""
    n = x.shape[0]
    edges = [round(i * n / folds) for i in range(folds + 1)]
    losses = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        keep = torch.ones(n, dtype=torch.bool, device=x.device)
        keep[lo:hi] = False
        w, b = ridge_solution(x[keep], y[keep], lam, bias)
        losses.append(_mse64(w, b, x[~keep], y[~keep]))
    return sum(losses) / len(losses)


def _closed_forms(config, data, lambdas, folds: int, gd_zero: RunResult, seed: int) -> RunResult:
    train_x, train_y, test_x, test_y = data
    summary: dict = {}
    # 常数预测：不带偏置的模型只能输出 0（w = 0）；带偏置时输出训练集标签的均值
    const = float(train_y.double().mean()) if config.bias else 0.0
    summary["constant_train_loss"] = float(((train_y.double() - const) ** 2).mean())
    summary["constant_test_loss"] = float(((test_y.double() - const) ** 2).mean())
    w_mn, b_mn = ridge_solution(train_x, train_y, 0.0, config.bias)
    summary["min_norm_test_loss"] = _mse64(w_mn, b_mn, test_x, test_y)
    summary["min_norm_train_loss"] = _mse64(w_mn, b_mn, train_x, train_y)
    summary["min_norm_w_norm"] = float(w_mn.norm())
    w_gd = torch.tensor(gd_zero.arrays["weights"], dtype=torch.float64, device=w_mn.device)
    summary["gd_zero_distance_to_min_norm"] = float((w_gd - w_mn).norm() / w_mn.norm())
    ridge_test, ridge_train, cv = {}, {}, {}
    for lam in lambdas:
        w, b = ridge_solution(train_x, train_y, lam, config.bias)
        ridge_test[lambda_key(lam)] = _mse64(w, b, test_x, test_y)
        ridge_train[lambda_key(lam)] = _mse64(w, b, train_x, train_y)
        cv[lambda_key(lam)] = _cv_loss(train_x, train_y, lam, folds, config.bias)
    chosen = min(lambdas, key=lambda lam: cv[lambda_key(lam)])
    summary.update(
        ridge_test_loss=ridge_test,
        ridge_train_loss=ridge_train,
        cv_loss=cv,
        cv_lambda=chosen,
        cv_test_loss=ridge_test[lambda_key(chosen)],
    )
    run = RunResult(seed_run_key("closed_form", seed), summary=summary)
    run.params = {"kind": "closed_form", "seed": seed, "folds": folds}
    return run


def seed_run_key(kind: str, seed: int, lam: float | None = None) -> str:
    """跨种子实验中一次运行的键，如 ``"gd/lambda=3/seed=1"``、``"gd_zero/seed=1"``、``"closed_form/seed=1"``。"""
    middle = f"/{lambda_key(lam)}" if lam is not None else ""
    return f"{kind}{middle}/seed={seed}"


def run_l2_seeds(
    seeds=None,
    lambdas=None,
    profile: str | None = None,
    device=None,
    config: L2Config | None = None,
    folds: int | None = None,
) -> ExperimentResult:
    """在每个种子（一份新的合成数据 + 一个新的随机初始化）上做同一组比较，供配对的结论检查：

    - ``"gd/lambda=…/seed=…"``：默认初始化、梯度下降（``weight_decay=λ``）训练 ``epochs`` 轮，λ 取 ``lambdas``
      （默认设置中的 ``sweep_lambdas``）；``history`` 同 :func:`run_l2`；
    - ``"gd_zero/seed=…"``：λ = 0，但权重从 0 开始；
    - ``"closed_form/seed=…"``：``summary`` 中有常数预测（``constant_*``）、最小范数插值解（``min_norm_*``）、
      每个 λ 的岭回归闭式解（``ridge_test_loss`` / ``ridge_train_loss``，以 ``"lambda=3"`` 为键）、
      k 折交叉验证损失（``cv_loss``，只用训练集）与它选出的 λ（``cv_lambda``、``cv_test_loss``），以及
      从 0 初始化的梯度下降解到最小范数解的相对距离 ``gd_zero_distance_to_min_norm``。

    ``seeds`` 默认取设置中的 ``seeds``；``folds`` 默认取设置中的 ``folds``。
    """
    started = time.perf_counter()
    given = config
    config, _ = resolve_profile_config("l2", profile, config, L2Config)
    seed_list = check_seeds(config.seeds if seeds is None else seeds, minimum=2)
    values = [_check_lambda(lam) for lam in (config.sweep_lambdas if lambdas is None else lambdas)]
    if 0.0 not in values or len(values) < 2:
        raise ValueError(f"lambdas 应包含 0 和至少一个正数，例如 (0, 3, 30)，实际得到 {values!r}。")
    k = config.folds if folds is None else folds
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= config.n_train:
        raise ValueError(f"folds 应为 2 到训练样本数 {config.n_train} 之间的整数，实际得到 {k!r}。")
    config, data, result = _prepare(profile, given, seed_list[0], device, "l2_seeds")
    result.notes.append(
        f"随机种子：{', '.join(map(str, seed_list))}（每个种子一份新数据、一个新初始化）。"
    )
    for seed in seed_list:
        data = make_synthetic_data(config, seed, settings.get_device(device))
        for lam in values:
            key = seed_run_key("gd", seed, lam)
            run = _l2_run(config, data, lam, "weight_decay", seed, "l2_seeds")
            run.name = key
            run.params.update(kind="gd", seed=seed, init="default")
            result.runs[key] = run
        key = seed_run_key("gd_zero", seed)
        zero = _fit_linear(
            config,
            data,
            seed=seed,
            epochs=config.epochs,
            experiment="l2_seeds",
            run=key,
            zero_init=True,
        )
        zero.params = {"kind": "gd_zero", "seed": seed, "lambda": 0.0, "init": "zero"}
        result.runs[key] = zero
        closed = _closed_forms(config, data, values, k, zero, seed)
        result.runs[closed.name] = closed
    result.elapsed_s = time.perf_counter() - started
    return result


def run_l1_vs_l2_seeds(
    seeds=None,
    profile: str | None = None,
    device=None,
    config: L2Config | None = None,
) -> ExperimentResult:
    """:func:`run_l1_vs_l2` 的 L1（近端梯度法）与 L2 两次运行，在每个种子（一份新数据 + 一个新初始化）上各做一次，
    供配对比较。``runs`` 的键为 ``"l1/seed=0"``、``"l2/seed=0"`` 等，``params`` 有 ``penalty`` 与 ``seed``。"""
    started = time.perf_counter()
    given = config
    config, _ = resolve_profile_config("l2", profile, config, L2Config)
    seed_list = check_seeds(config.seeds if seeds is None else seeds, minimum=2)
    config, _, result = _prepare(profile, given, seed_list[0], device, "l1_vs_l2_seeds")
    lam1 = _check_lambda(config.l1_lambda, "l1_lambda")
    lam2 = _check_lambda(config.l1_l2_lambda, "l2_lambda")
    result.notes.append(
        f"随机种子：{', '.join(map(str, seed_list))}；训练 {config.l1_epochs} 个 epoch；"
        f"|wᵢ| < {config.zero_tol:g} 的权重算作接近 0。"
    )
    for seed in seed_list:
        data = make_synthetic_data(config, seed, settings.get_device(device))
        common = {"seed": seed, "epochs": config.l1_epochs, "experiment": "l1_vs_l2_seeds"}
        l1 = _fit_linear(config, data, run=f"l1/seed={seed}", proximal_l1=lam1, **common)
        l1.params = {"penalty": "l1", "lambda": lam1, "method": "proximal", "seed": seed}
        l2 = _fit_linear(
            config, data, run=f"l2/seed={seed}", penalty=lambda w: lam2 * l2_penalty(w), **common
        )
        l2.params = {"penalty": "l2", "lambda": lam2, "method": "scratch", "seed": seed}
        result.runs[l1.name], result.runs[l2.name] = l1, l2
    result.elapsed_s = time.perf_counter() - started
    return result
