"""所有实验共用的训练循环（快速路径）。

- 数据是设备上的张量，按索引分批（:class:`labcode.data.TensorLoader`），每个实验只加载一次；
- 每个批次的损失、预测正确数都在设备上累加，每个 epoch 结束时才读出一次（不逐批 ``.item()``）；
- 训练发散（损失变成 NaN/inf，或远大于训练开始时的损失，规则见 :func:`train_epoch`）时抛出
  :class:`TrainingDivergedError`，说明是哪个实验、哪次运行、第几个 epoch、学习率多少；
- 交互运行时（stderr 是终端，或在 Jupyter 内核中）显示 tqdm 进度条，规则见 :func:`progress_enabled`；
  ``LABCODE_PROGRESS=0`` 强制关闭（渲染网页、跑测试时），``=1`` 强制显示。
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .. import settings
from ..checks import check_int
from ..metrics import evaluate_batches

if TYPE_CHECKING:
    from ..data import MnistData

__all__ = [
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_FLOOR",
    "PROGRESS_ENV",
    "EpochStats",
    "RunSpec",
    "TrainingDivergedError",
    "divergence_threshold",
    "evaluate",
    "fit_classifier",
    "load_mnist_tensors",
    "make_optimizer",
    "progress",
    "progress_enabled",
    "resolve_profile_config",
    "sweep_can_reuse",
    "train_epoch",
]

PROGRESS_ENV = settings.PROGRESS_ENV
TQDM_DISABLE_ENV = "TQDM_DISABLE"

#: 发散判据（见 :func:`divergence_threshold`）：一个 epoch 的平均训练损失超过
#: max(DIVERGENCE_FACTOR × 初始损失, DIVERGENCE_FLOOR) 即判定为发散。
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_FLOOR = 1e4

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def divergence_threshold(initial_loss: float) -> float:
    """发散阈值：``max(DIVERGENCE_FACTOR × initial_loss, DIVERGENCE_FLOOR)``，即 max(10 × 初始损失, 1e4)。

    ``initial_loss`` 是训练开始时（第 1 个 epoch 的第一个批次、参数更新之前）的损失：10 类交叉熵约为
    ln 10 ≈ 2.3。正常训练的平均损失不会比开始时大上 10 倍，更不会超过 1e4（交叉熵为 1e4 意味着正确类别的
    logit 比别的类别低上万）；学习率大得离谱时，损失在第一个 epoch 就到了 1e7 以上。绝对下限 1e4 让初始损失
    很小的任务（如回归）不会因为正常的波动被误判。初始损失不是有限数时只用绝对下限。
    """
    if not math.isfinite(initial_loss):
        return DIVERGENCE_FLOOR
    return max(DIVERGENCE_FACTOR * initial_loss, DIVERGENCE_FLOOR)


class TrainingDivergedError(RuntimeError):
    """训练发散：损失变成了 NaN 或无穷大，或远大于训练开始时的损失（见 :func:`divergence_threshold`）。

    属性 ``experiment``、``run``、``epoch``（从 1 开始）、``lr``、``loss`` 记录出事的位置；
    ``initial_loss`` 与 ``threshold`` 为训练开始时的损失和发散阈值（只因 NaN/inf 判定时可能为 None）。
    """

    def __init__(
        self,
        experiment: str,
        epoch: int,
        lr: float | None,
        loss: float,
        run: str | None = None,
        initial_loss: float | None = None,
        threshold: float | None = None,
    ):
        self.experiment = experiment
        self.run = run
        self.epoch = epoch
        self.lr = lr
        self.loss = loss
        self.initial_loss = initial_loss
        self.threshold = threshold
        where = f"实验 {experiment!r}" + (f"（运行 {run!r}）" if run else "")
        lr_text = f"学习率 lr={lr:g}" if lr is not None else "当前学习率"
        if math.isfinite(loss) and threshold is not None:
            start = f"训练开始时为 {initial_loss:.4g}，" if initial_loss is not None else ""
            what = (
                f"的平均训练损失为 {loss:.4g}，{start}超过了发散阈值 {threshold:g}"
                f"（max({DIVERGENCE_FACTOR:g} × 开始时的损失, {DIVERGENCE_FLOOR:g})）"
            )
        else:
            what = f"的训练损失变成了 {loss}（NaN 或无穷大）"
        super().__init__(
            f"训练发散：{where}在第 {epoch} 个 epoch {what}，{lr_text}。"
            "请把学习率调小（例如减小到原来的 1/10）后重新运行。"
        )


# ---------------------------------------------------------------------------
# 进度条


def in_ipython_kernel() -> bool:
    """是否在 IPython 内核（Jupyter、VS Code 的笔记本等）中运行：已导入 ipykernel，且
    ``get_ipython()`` 是连着内核的 shell。普通的 ``ipython`` 终端不算（它的 stderr 是终端）。"""
    if "ipykernel" not in sys.modules:
        return False
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    if not callable(get_ipython):
        return False
    try:
        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def progress_enabled() -> bool:
    """是否显示进度条，按顺序：

    1. 环境变量 ``LABCODE_PROGRESS=1``（或 true/yes/on）强制显示，``=0``（或 false/no/off）强制关闭；
       其他取值抛出 ``ValueError``；
    2. 环境变量 ``TQDM_DISABLE`` 为真（非空且不是 0/false/no/off）时不显示；
    3. 否则在 stderr 是终端、或在 IPython 内核（Jupyter）中运行时显示，其他情况（渲染网页、跑测试、
       输出被重定向）不显示。
    """
    forced = settings.env_flag(PROGRESS_ENV, "显示进度条")
    if forced is not None:
        return forced
    disable = os.environ.get(TQDM_DISABLE_ENV, "").strip().lower()  # tqdm's own: any non-false
    if disable and disable not in settings.FALSE_WORDS:
        return False
    return _stderr_is_terminal() or in_ipython_kernel()


def _progress_bar_class():
    """``tqdm.auto``（Jupyter 中是控件）只在装了 ipywidgets 时使用；没有 ipywidgets 时 tqdm 的控件会发出
    警告、显示不出来，所以改用文本进度条（``tqdm.std``），写到 stderr（Jupyter 也会显示）。"""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm

        return tqdm, {}
    from tqdm.std import tqdm

    return tqdm, {"file": sys.stderr}


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Iterator:
    """需要时（见 :func:`progress_enabled`）包一层 tqdm 进度条，否则原样返回。"""
    if not progress_enabled():
        yield from iterable
        return
    bar, kwargs = _progress_bar_class()
    yield from bar(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True, **kwargs)


# ---------------------------------------------------------------------------
# 设置与数据


def resolve_profile_config(experiment: str, profile: str | None, config: Any, expected: type):
    """返回 ``(config, profile 名)``：给了 ``config`` 就用它（profile 记为 "custom"），否则按规模取设置。"""
    from ..profiles import get_config

    if config is None:
        resolved = settings.get_profile(profile)
        return get_config(experiment, resolved), resolved
    if not isinstance(config, expected):
        raise TypeError(
            f"实验 {experiment!r} 的 config 应为 {expected.__name__}，实际得到 {type(config).__name__}。"
            f"请用 labcode.profiles.get_config({experiment!r}) 取得设置，再用 dataclasses.replace 修改。"
        )
    return config, "custom"


def load_mnist_tensors(
    n_train: int | None, device: torch.device, n_test: int | None = None
) -> MnistData:
    """加载 MNIST（每个进程只从磁盘读一次），需要时只取训练集的前 ``n_train`` 张、测试集的前 ``n_test`` 张。

    返回 :class:`~labcode.data.MnistData`；取了一部分时，它的 ``info`` 记录实际的图片数。
    """
    from ..data import load_mnist

    data = load_mnist(device=device)
    cut_train = n_train is not None and n_train < len(data.train_y)
    cut_test = n_test is not None and n_test < len(data.test_y)
    if not (cut_train or cut_test):
        return data
    n_tr = int(n_train) if n_train is not None and cut_train else len(data.train_y)
    n_te = int(n_test) if n_test is not None and cut_test else len(data.test_y)
    parts = [f"训练集的前 {n_tr} 张"] if cut_train else []
    parts += [f"测试集的前 {n_te} 张"] if cut_test else []
    info = dataclasses.replace(
        data.info,
        n_train=n_tr,
        n_test=n_te,
        description=f"{data.info.description}；本实验只用其中{'、'.join(parts)}",
    )
    return dataclasses.replace(
        data,
        train_x=data.train_x[:n_tr],
        train_y=data.train_y[:n_tr],
        test_x=data.test_x[:n_te],
        test_y=data.test_y[:n_te],
        info=info,
    )


def start_mnist_experiment(
    name: str, config, device, seed: int, profile_name: str, notes: list[str]
):
    """一个 MNIST 实验的开头：解析设备、加载数据（训练集前 ``config.n_train`` 张，测试集前 ``config.n_test`` 张，
    如果设置里有这一项），建好记录设置、所用数据、设备与种子的空结果对象。

    返回 ``(device, data, result)``。
    """
    from .results import ExperimentResult

    device = settings.get_device(device)
    data = load_mnist_tensors(config.n_train, device, getattr(config, "n_test", None))
    result = ExperimentResult(
        name, config, data.info, str(device), seed, profile_name, notes=list(notes)
    )
    return device, data, result


def make_optimizer(
    name: str, params, lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """``"sgd"``（不带动量，与原实验相同）或 ``"adam"``。"""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"未知的优化器 {name!r}。可选：'sgd' 或 'adam'。")


# ---------------------------------------------------------------------------
# 训练一个 epoch / 评估


@dataclass(frozen=True)
class EpochStats:
    """一个 epoch 的训练统计（已读到主机上）。

    - ``loss``：各批次数据损失（不含正则项）按样本数加权的平均；
    - ``accuracy``：训练时（训练模式，dropout 生效，参数边训练边变化）预测正确的比例，
      即原实验“边训练边统计”的训练准确率；回归任务为 ``None``；
    - ``n_samples``：本 epoch 训练的样本数；
    - ``initial_loss``：判断发散所用的初始损失（第 1 个 epoch 第一个批次、参数更新前的损失），
      下一个 epoch 把它传给 :func:`train_epoch` 的 ``initial_loss``。
    """

    loss: float
    accuracy: float | None
    n_samples: int
    initial_loss: float = math.nan


def train_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    experiment: str,
    epoch: int,
    lr: float | None = None,
    run: str | None = None,
    initial_loss: float | None = None,
    loss_fn: LossFn | None = None,
    classify: bool = True,
    penalty: Callable[[], torch.Tensor] | None = None,
    after_backward: Callable[[], None] | None = None,
    after_step: Callable[[], None] | None = None,
) -> EpochStats:
    """在 ``loader`` 上训练一个 epoch，统计量在设备上累加，结束时读出一次。

    - ``loss_fn(output, y)`` 返回批次平均损失；默认分类用交叉熵，``classify=False`` 时用均方误差；
    - ``penalty()``：加到损失上的正则项（如 ``λ·l2_penalty(w)``），只参与反向传播，不计入报告的损失；
    - ``after_backward()``：``loss.backward()`` 之后、``optimizer.step()`` 之前调用（如记录梯度）；
    - ``after_step()``：``optimizer.step()`` 之后调用（如 L1 的软阈值步）。

    发散检测：本 epoch 的平均训练损失不是有限数（NaN/inf），或大于
    阈值 max(10 × 初始损失, 1e4)（:func:`divergence_threshold`）时，抛出 :class:`TrainingDivergedError`
    （``epoch`` 从 1 开始计数）。初始损失是训练开始时第一个批次（参数更新之前）的损失：第 1 个 epoch
    不传 ``initial_loss``，由本 epoch 的第一个批次得到；之后的 epoch 传入上一个 epoch 返回的
    ``EpochStats.initial_loss``。它与其他统计量一起读出，不增加主机同步。
    """
    if loss_fn is None:
        loss_fn = F.cross_entropy if classify else _mse
    model.train()
    loss_sum: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    first_loss: torch.Tensor | None = None
    n_samples = 0
    for x, y in loader:
        optimizer.zero_grad(set_to_none=True)
        output = model(x)
        loss = loss_fn(output, y)
        total = loss + penalty() if penalty is not None else loss
        total.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        batch = y.shape[0]
        n_samples += batch
        if first_loss is None:
            first_loss = loss.detach()
        batch_loss = loss.detach() * batch
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        if classify:
            hits = (output.detach().argmax(dim=1) == y).sum()
            correct = hits if correct is None else correct + hits
    if n_samples == 0 or loss_sum is None or first_loss is None:
        raise ValueError(f"实验 {experiment!r} 的训练数据为空：请检查训练集大小和 batch_size。")
    totals = [loss_sum.float(), first_loss.float()]
    totals += [correct.float()] if classify and correct is not None else []
    values = torch.stack(totals).tolist()  # 本 epoch 唯一一次同步
    mean_loss = values[0] / n_samples
    accuracy = values[2] / n_samples if classify else None
    start = values[1] if initial_loss is None else float(initial_loss)
    if not math.isfinite(mean_loss):
        raise TrainingDivergedError(experiment, epoch, lr, mean_loss, run=run, initial_loss=start)
    threshold = divergence_threshold(start)
    if mean_loss > threshold:
        raise TrainingDivergedError(
            experiment, epoch, lr, mean_loss, run=run, initial_loss=start, threshold=threshold
        )
    return EpochStats(mean_loss, accuracy, n_samples, initial_loss=start)


def _mse(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output.reshape(y.shape), y)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int = 1000,
    classify: bool = True,
    loss_fn: LossFn | None = None,
) -> tuple[float, float | None]:
    """在整个 ``(x, y)`` 上评估（eval 模式：dropout 关闭；结束后恢复原模式），返回 ``(平均损失, 准确率)``。

    ``loss_fn(output, y)`` 返回批次平均损失（默认分类用交叉熵、回归用均方误差），按样本数加权平均。
    回归任务（``classify=False``）的准确率为 ``None``。只在最后同步一次（:func:`labcode.metrics.evaluate_batches`）。
    """
    if loss_fn is None:
        loss_fn = F.cross_entropy if classify else _mse
    batches = ((x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(y), batch_size))

    def weighted(output: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, int]:
        return loss_fn(output, yb).float() * len(yb), len(yb)

    return evaluate_batches(model, batches, weighted, classify=classify, what="evaluate")


# ---------------------------------------------------------------------------
# 分类实验（梯度消失、ReLU 死亡、dropout）共用的多 epoch 训练


@dataclass(frozen=True)
class RunSpec:
    """一次训练运行的设置，交给 :func:`fit_classifier`。

    ``experiment`` / ``run``：实验与运行的名字（进度条、出错信息里用）；``optimizer``（``"sgd"`` /
    ``"adam"``）、``lr``、``batch_size``、``epochs``、``seed``（打乱顺序与 ``train_eval_size`` 选样）；
    ``eval_batch_size``：评估时的批量；``track_gradients``、``eval_train``、``train_eval_size`` 见
    :func:`fit_classifier`。
    """

    experiment: str
    run: str
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    seed: int
    eval_batch_size: int = 256
    track_gradients: bool = False
    eval_train: bool = False
    train_eval_size: int | None = None


_Model = TypeVar("_Model", bound=nn.Module)


def fit_classifier(
    model: _Model,
    data: MnistData,
    spec: RunSpec,
    *,
    epoch_end: Callable[[_Model], dict[str, Any]] | None = None,
) -> tuple[dict[str, list], list[str]]:
    """按 ``spec``（:class:`RunSpec`）在 MNIST 上训练分类模型 ``spec.epochs`` 轮，返回 ``(history, 梯度的层名)``。

    ``history`` 的键（每个 epoch 一个值）：

    - ``train_loss`` / ``train_acc``：训练时边训练边统计（训练模式，原实验的统计方式）；
    - ``test_loss`` / ``test_acc``：每个 epoch 结束后在测试集上评估（eval 模式）；
    - ``train_loss_eval`` / ``train_acc_eval``（``spec.eval_train`` 为真时）：每个 epoch 结束后用 eval 模式
      在训练集上重新评估——与测试集的统计方式相同，训练–测试差距才可比。``train_eval_size`` 为 ``None``
      或不小于训练集时用整个训练集；否则用训练集中固定的 ``train_eval_size`` 张（训练前按 ``seed``
      随机选定，每个 epoch 都是同一批）：估计值的标准误约为 √(p(1−p)/n)，n = 10000 时不到 0.2 个百分点，
      而评估的计算量只是整个训练集的 n/N；
    - ``grad_mean``（``spec.track_gradients`` 为真时）：每层权重的 mean|grad|，对本 epoch 所有批次取平均；
    - ``epoch_end(model)`` 返回的其他指标（如死亡神经元比例）。
    """
    from ..data import TensorLoader
    from ..metrics import GradientTracker

    experiment, run, lr, epochs, seed = spec.experiment, spec.run, spec.lr, spec.epochs, spec.seed
    eval_batch_size = spec.eval_batch_size
    loader = TensorLoader(data.train_x, data.train_y, spec.batch_size, shuffle=True, seed=seed)
    opt = make_optimizer(spec.optimizer, model.parameters(), lr)
    tracker = GradientTracker(model) if spec.track_gradients else None
    history: dict[str, list] = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    if spec.eval_train:
        history.update(train_loss_eval=[], train_acc_eval=[])
        train_eval_x, train_eval_y = _train_eval_sample(data, spec.train_eval_size, seed)
    if tracker is not None:
        history["grad_mean"] = []
    initial_loss = None
    for epoch in progress(range(1, epochs + 1), total=epochs, desc=f"{experiment} · {run}"):
        stats = train_epoch(
            model,
            loader,
            opt,
            experiment=experiment,
            epoch=epoch,
            lr=lr,
            run=run,
            initial_loss=initial_loss,
            after_backward=tracker.step if tracker is not None else None,
        )
        initial_loss = stats.initial_loss
        history["train_loss"].append(stats.loss)
        history["train_acc"].append(stats.accuracy)
        if tracker is not None:
            history["grad_mean"].append(tracker.end_epoch())
        test_loss, test_acc = evaluate(model, data.test_x, data.test_y, batch_size=eval_batch_size)
        history["test_loss"].append(test_loss)
        history["test_acc"].append(test_acc)
        if spec.eval_train:
            loss, acc = evaluate(model, train_eval_x, train_eval_y, batch_size=eval_batch_size)
            history["train_loss_eval"].append(loss)
            history["train_acc_eval"].append(acc)
        if epoch_end is not None:
            for key, value in epoch_end(model).items():
                history.setdefault(key, []).append(value)
    return history, (tracker.layer_names if tracker is not None else [])


def _train_eval_sample(
    data: MnistData, size: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """eval 模式下评估训练集所用的样本：整个训练集，或按 ``seed`` 固定选出的 ``size`` 张。"""
    if size is not None:
        size = check_int(
            size, "train_eval_size", minimum=1, hint="（也可以是 None，表示整个训练集。）"
        )
    n = len(data.train_y)
    if size is None or size >= n:
        return data.train_x, data.train_y
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(n, generator=generator)[:size].sort().values.to(data.train_x.device)
    return data.train_x[index], data.train_y[index]


def sweep_can_reuse(reuse, main_experiment: str, config, seed: int, device, data_info) -> bool:
    """扫描能否直接复用主实验结果 ``reuse`` 中的运行：``reuse`` 须是 ``main_experiment`` 的结果
    （否则抛出 ValueError），且与扫描的设置、随机种子、设备、所用数据（``data_info``）相同，并且
    ``epochs == sweep_epochs``——这时同一个网络的训练完全相同，不必再训练一遍。``reuse`` 为 ``None``
    时返回 False。"""
    if reuse is None:
        return False
    name = getattr(reuse, "name", None)
    if name != main_experiment:
        raise ValueError(
            f"reuse 应为 run_{main_experiment} 的结果，实际得到 {name or type(reuse).__name__!r}。"
        )
    return (
        reuse.config == config
        and reuse.seed == seed
        and str(reuse.device) == str(device)
        and reuse.data == data_info
        and config.epochs == config.sweep_epochs
    )
