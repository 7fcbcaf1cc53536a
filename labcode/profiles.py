"""每个实验的设置：每种规模（profile）一处，全部写在这个文件里。

- ``full``：原实验的设置（完整 MNIST、原来的 epoch 数、批量大小、学习率），外加我们增加的对照实验
  （深度扫描、让 ReLU 死亡的设置、λ 扫描、L1 与 L2 对比、dropout 比例扫描）。
- ``quick``：缩小规模，使四个实验（各章节实际运行的主实验 + 扫描）在 2 核 CPU、离线的 4000/1000 张
  MNIST 子集上合计不超过约 4 分钟，而每个结论仍然成立（见 :mod:`labcode.lessons` 和测试）。

设置都是不可变的 dataclass；要改某一项，用 ``dataclasses.replace``::

    from dataclasses import replace
    cfg = replace(get_config("dropout", "quick"), epochs=5)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from . import settings
from .checks import check_int
from .models import check_num_layers

__all__ = [
    "EXPERIMENTS",
    "PROFILES",
    "QUICK_MNIST_SLICE",
    "DeadReluConfig",
    "DropoutConfig",
    "DropoutMLPConfig",
    "GradientConfig",
    "L2Config",
    "OptimizerSetting",
    "config_rows",
    "get_config",
]

PROFILES = ("quick", "full")
OPTIMIZERS = ("sgd", "adam")


def _check_positive_int(owner: str, name: str, value: Any, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    check_int(
        value,
        f"{owner}.{name}",
        minimum=1,
        hint="（也可以是 None，表示全部。）" if allow_none else "",
    )


def _check_depths(owner: str, depths: Any) -> None:
    try:
        items = tuple(depths)
    except TypeError:
        items = ()
    if not items:
        raise ValueError(
            f"{owner}.sweep_depths 应为非空的整数元组（各个隐藏层个数），实际得到 {depths!r}。"
            "例如 sweep_depths=(1, 2, 4)。"
        )
    for depth in items:
        check_num_layers(depth, f"{owner}.sweep_depths 中的每一项")


def _check_positive_float(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{owner}.{name} 应为正数，实际得到 {value!r}。")


def _check_seeds(owner: str, seeds: Any) -> None:
    items = tuple(seeds) if isinstance(seeds, tuple | list) else ()
    if (
        len(items) < 5
        or len(set(items)) != len(items)
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in items)
    ):
        raise ValueError(
            f"{owner}.seeds 应为至少 5 个不同的非负整数（结论要在至少 5 个种子上配对比较），"
            f"实际得到 {seeds!r}。例如 seeds=(0, 1, 2, 3, 4)。"
        )


def _check_optimizer(owner: str, value: Any) -> None:
    if value not in OPTIMIZERS:
        raise ValueError(f"{owner}.optimizer 应为 {' 或 '.join(OPTIMIZERS)}，实际得到 {value!r}。")


@dataclass(frozen=True)
class OptimizerSetting:
    """一种优化器设置（ReLU 死亡实验用它区分“原实验设置”和“让 ReLU 死亡的设置”）。

    - ``optimizer``：``"sgd"``（不带动量的 SGD，与原实验相同）或 ``"adam"``；
    - ``lr``：学习率；
    - ``description``：一句中文说明，页面可直接引用。
    """

    optimizer: str
    lr: float
    description: str = ""

    def __post_init__(self) -> None:
        _check_optimizer("OptimizerSetting", self.optimizer)
        _check_positive_float("OptimizerSetting", "lr", self.lr)


@dataclass(frozen=True)
class GradientConfig:
    """梯度消失实验（多层感知机 + MNIST）的设置。

    主实验：

    - ``activations``：要比较的激活函数名（见 ``labcode.ACTIVATIONS``）；
    - ``num_layers``：隐藏层 ``Linear(hidden_dim, hidden_dim)`` 的个数，不含输入层和输出层
      （原实验为 2，所以网络共有 4 个线性层）；
    - ``hidden_dim``：每个隐藏层的神经元数（原实验为 100）；
    - ``optimizer`` / ``lr``：优化器与学习率（原实验：不带动量的 SGD，lr = 0.001）；
    - ``batch_size``：批量大小（原实验 64）；
    - ``epochs``：训练轮数（原实验 5）；
    - ``n_train`` / ``n_test``：只用训练集的前 ``n_train`` 张、测试集的前 ``n_test`` 张图；``None`` 表示用全部。
      quick 规模固定为 4000 / 1000：无论找到的是离线子集还是完整 MNIST，做的都是同一个实验。

    深度扫描（原实验没有；``num_layers=2`` 时梯度消失还不够明显）：

    - ``sweep_depths``：要比较的隐藏层个数；
    - ``sweep_activations``：扫描中比较的激活函数；
    - ``sweep_epochs``：扫描中每个网络训练的轮数（优化器、学习率、批量大小同主实验）；
    - ``sweep_inits``：在每个深度额外训练的 (激活函数, 初始化方案) 对照，默认 He 初始化的 ReLU 与
      Xavier 初始化的 Tanh（见 :func:`labcode.forward_signal.init_weights`）。

    跨种子（结论的依据，:func:`~labcode.experiments.run_gradient_seeds`）：

    - ``seeds``：配对比较所用的随机种子（至少 5 个）；
    - ``seed_runs``：每个种子上训练的 (激活函数, 隐藏层个数, 初始化方案)，训练 ``sweep_epochs`` 轮。
    """

    activations: tuple[str, ...] = ("relu", "sigmoid", "tanh")
    num_layers: int = 2
    hidden_dim: int = 100
    optimizer: str = "sgd"
    lr: float = 0.001
    batch_size: int = 64
    epochs: int = 5
    n_train: int | None = None
    n_test: int | None = None
    sweep_depths: tuple[int, ...] = (1, 2, 4, 6, 8)
    sweep_activations: tuple[str, ...] = ("relu", "sigmoid", "tanh")
    sweep_epochs: int = 5
    sweep_inits: tuple[tuple[str, str], ...] = (("relu", "he"), ("tanh", "xavier"))
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    seed_runs: tuple[tuple[str, int, str], ...] = (
        ("relu", 2, "default"),
        ("sigmoid", 2, "default"),
        ("tanh", 2, "default"),
        ("relu", 8, "default"),
        ("sigmoid", 8, "default"),
        ("relu", 8, "he"),
    )

    def __post_init__(self) -> None:
        owner = "GradientConfig"
        _check_optimizer(owner, self.optimizer)
        _check_positive_float(owner, "lr", self.lr)
        for name in ("hidden_dim", "batch_size", "epochs", "sweep_epochs"):
            _check_positive_int(owner, name, getattr(self, name))
        _check_positive_int(owner, "n_train", self.n_train, allow_none=True)
        _check_positive_int(owner, "n_test", self.n_test, allow_none=True)
        check_num_layers(self.num_layers, f"{owner}.num_layers")
        _check_depths(owner, self.sweep_depths)
        _check_seeds(owner, self.seeds)


@dataclass(frozen=True)
class DeadReluConfig:
    """ReLU 死亡实验（多层感知机 + MNIST）的设置。

    - ``activations``：要比较的激活函数名；
    - ``num_layers`` / ``hidden_dim``：网络结构，含义同 :class:`GradientConfig`；
    - ``batch_size`` / ``epochs`` / ``n_train`` / ``n_test``：同 :class:`GradientConfig`；
    - ``original_setting``：原实验的优化器设置（SGD，lr = 0.001）：几乎没有神经元死亡，
      但输出为 0 的比例约为 50%——这正是原实验把“输出为 0”误当作“死亡”的地方；
    - ``dying_setting``：让 ReLU 真正死亡的设置：对 Adam 而言过大的学习率（默认值 0.001 的 10 倍）。
      若干次过大的更新把一些神经元的预激活值推到对所有训练样本都 ≤ 0，它们的梯度从此恒为 0，
      再也恢复不了；LeakyReLU 在负半轴仍有斜率，不会死亡。
    - ``eval_batch_size``：每个 epoch 结束后统计死亡神经元时，遍历整个训练集所用的批量大小
      （只影响速度和内存，不影响结果）；
    - ``seeds``：跨种子检查结论所用的随机种子（至少 5 个，:func:`~labcode.experiments.run_dead_relu_seeds`）；
    - ``saturation_tol``：激活函数的导数对每个训练样本都小于它的神经元算作“饱和”（Tanh、Sigmoid）。
    """

    activations: tuple[str, ...] = ("relu", "leaky_relu", "tanh")
    num_layers: int = 2
    hidden_dim: int = 100
    batch_size: int = 64
    epochs: int = 5
    n_train: int | None = None
    n_test: int | None = None
    original_setting: OptimizerSetting = OptimizerSetting(
        "sgd", 0.001, "原实验的设置：SGD，学习率 0.001"
    )
    dying_setting: OptimizerSetting = OptimizerSetting(
        "adam", 0.01, "让 ReLU 死亡的设置：Adam，学习率 0.01（Adam 默认值的 10 倍）"
    )
    eval_batch_size: int = 2000
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    saturation_tol: float = 1e-3

    def __post_init__(self) -> None:
        owner = "DeadReluConfig"
        for name in ("hidden_dim", "batch_size", "epochs", "eval_batch_size"):
            _check_positive_int(owner, name, getattr(self, name))
        _check_positive_int(owner, "n_train", self.n_train, allow_none=True)
        _check_positive_int(owner, "n_test", self.n_test, allow_none=True)
        _check_positive_float(owner, "saturation_tol", self.saturation_tol)
        _check_seeds(owner, self.seeds)
        check_num_layers(self.num_layers, f"{owner}.num_layers")

    def setting(self, name: str) -> OptimizerSetting:
        """按名字取优化器设置：``"original"``（原实验）或 ``"dying"``（让 ReLU 死亡）。"""
        if name == "original":
            return self.original_setting
        if name == "dying":
            return self.dying_setting
        raise ValueError(
            f"未知的设置 {name!r}。可选：'original'（原实验的设置）或 'dying'（让 ReLU 死亡的设置）。"
        )


@dataclass(frozen=True)
class L2Config:
    """L2 正则化实验（高维线性回归，合成数据）的设置。

    数据（与原实验相同）：y = ``true_b`` + Σᵢ ``true_w``·xᵢ + ε，ε ~ N(0, ``noise_std``²)，x ~ N(0, I)。

    - ``d``：特征维数（200）；``n_train`` / ``n_test``：训练、测试样本数（20 / 100）；
    - ``true_w`` / ``true_b`` / ``noise_std``：生成标签的参数（0.01 / 0.05 / 0.01）；
    - ``bias``：模型是否带偏置。原实验用 ``nn.Linear(d, 1, bias=False)``（注释说“已在多项式中实现”，
      其实标签里有 0.05 的常数项，模型却没有偏置）。我们默认保持原样（``False``），使结果可与原实验对照；
      0.05 的偏移只给测试损失加上约 0.05² = 0.0025 的下限，不影响结论。设为 ``True`` 时偏置不受惩罚。
    - ``lr`` / ``batch_size`` / ``epochs``：SGD 学习率 0.003、批量 10、训练 100 轮（原实验设置）；
    - ``lambdas``：主实验比较的 λ（0 和 3）；
    - ``sweep_lambdas``：λ 扫描；
    - ``l1_lambda`` / ``l1_l2_lambda``：L1 与 L2 对比时，L1 惩罚 λ₁·Σ|wᵢ| 与 L2 惩罚 λ₂·‖w‖²/2 的系数；
    - ``l1_epochs``：L1 与 L2 对比时的训练轮数（L1 的近端梯度法需要足够多的步数把权重收缩到 0）；
    - ``zero_tol``：|wᵢ| 小于它的权重算作“接近 0”；
    - ``seeds``：跨种子的配对比较（:func:`~labcode.experiments.run_l2_seeds`）用的种子，每个种子一份新数据；
    - ``folds``：在训练集内选 λ 的交叉验证折数（20 个样本分成 4 份，每份 5 个轮流做验证集）。
    """

    d: int = 200
    n_train: int = 20
    n_test: int = 100
    true_w: float = 0.01
    true_b: float = 0.05
    noise_std: float = 0.01
    bias: bool = False
    lr: float = 0.003
    batch_size: int = 10
    epochs: int = 100
    lambdas: tuple[float, ...] = (0.0, 3.0)
    sweep_lambdas: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
    l1_lambda: float = 0.1
    l1_l2_lambda: float = 3.0
    l1_epochs: int = 300
    zero_tol: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    folds: int = 4

    def __post_init__(self) -> None:
        owner = "L2Config"
        for name in ("d", "n_train", "n_test", "batch_size", "epochs", "l1_epochs"):
            _check_positive_int(owner, name, getattr(self, name))
        for name in ("lr", "zero_tol"):
            _check_positive_float(owner, name, getattr(self, name))
        if not self.noise_std >= 0:
            raise ValueError(f"{owner}.noise_std 应为非负数，实际得到 {self.noise_std!r}。")
        for name in ("lambdas", "sweep_lambdas"):
            values = getattr(self, name)
            if not values or any(not lam >= 0 for lam in values):
                raise ValueError(f"{owner}.{name} 应为非空的非负数元组，实际得到 {values!r}。")
        for name in ("l1_lambda", "l1_l2_lambda"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{owner}.{name} 应为非负数，实际得到 {getattr(self, name)!r}。")


@dataclass(frozen=True)
class DropoutConfig:
    """Dropout 实验（原实验的卷积网络 + MNIST）的设置。

    - ``dropout``：主实验中 dropout 的比例（原实验 0.3），“无 dropout”对照组为 0；
    - ``optimizer`` / ``lr``：不带动量的 SGD，学习率（原实验 0.5）；
    - ``batch_size`` / ``epochs``：批量大小与训练轮数（原实验 256 / 15）；
    - ``n_train``：只用训练集的前 ``n_train`` 张图；``None`` 表示用全部。训练集越小越容易过拟合，
      dropout 的作用越明显；
    - ``sweep_rates``：dropout 比例扫描；``sweep_epochs``：扫描中每个网络训练的轮数；
    - ``seeds``：跨随机种子比较有 / 无 dropout 时用的种子（:func:`~labcode.experiments.run_dropout_seeds`）；
    - ``eval_batch_size``：在训练集、测试集上评估时的批量大小（只影响速度和内存）；
    - ``train_eval_size``：每个 epoch 后用 eval 模式评估训练集时，取训练集中固定的多少张
      （``None`` 表示整个训练集）。完整 MNIST 上取 10000 张（与测试集一样多），评估的计算量是整个
      训练集的 1/6，训练准确率的标准误不到 0.2 个百分点。
    """

    dropout: float = 0.3
    optimizer: str = "sgd"
    lr: float = 0.5
    batch_size: int = 256
    epochs: int = 15
    n_train: int | None = None
    sweep_rates: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
    sweep_epochs: int = 15
    seeds: tuple[int, ...] = (0, 1, 2)
    eval_batch_size: int = 256
    train_eval_size: int | None = 10000

    def __post_init__(self) -> None:
        owner = "DropoutConfig"
        _check_positive_int(owner, "train_eval_size", self.train_eval_size, allow_none=True)
        _check_optimizer(owner, self.optimizer)
        _check_positive_float(owner, "lr", self.lr)
        for name in ("batch_size", "epochs", "sweep_epochs", "eval_batch_size"):
            _check_positive_int(owner, name, getattr(self, name))
        _check_positive_int(owner, "n_train", self.n_train, allow_none=True)
        for rate in (self.dropout, *self.sweep_rates):
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError(
                    f"{owner} 中的 dropout 比例应在 [0, 1] 内（例如 0.3 表示丢弃 30% 的元素），"
                    f"实际得到 {rate!r}。"
                )


@dataclass(frozen=True)
class DropoutMLPConfig:
    """Dropout 效果明显的设置：训练图很少、网络很宽、训练很久的多层感知机（Srivastava 等，2014 的做法）。

    - ``n_train``：训练图的张数（很少：容易过拟合）；``hidden_dim``：两个隐藏层的宽度；
    - ``input_dropout`` / ``hidden_dropout``：输入层与两个隐藏层之后的 dropout 比例（每层可以不同；
      默认输入 0.2、隐藏层 0.5 是 Srivastava 等，2014 的做法）；
    - ``optimizer`` / ``lr`` / ``batch_size`` / ``epochs``：训练设置；
    - ``seeds``：配对比较用的随机种子（至少 5 个）；
    - ``sweep_rates``：比例扫描（两个隐藏层之后都用 p，输入不丢弃）；
    - ``weight_decay``：变体 ``"weight_decay"`` / ``"dropout_wd"`` 的权重衰减 λ（事先固定，只衰减权重）；
    - ``n_val``：变体 ``"early_stop"`` 从训练图中留作验证集的张数（按验证损失选 epoch）。
    """

    n_train: int = 512
    hidden_dim: int = 512
    input_dropout: float = 0.2
    hidden_dropout: tuple[float, float] = (0.5, 0.5)
    optimizer: str = "sgd"
    lr: float = 0.1
    batch_size: int = 64
    epochs: int = 80
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    eval_batch_size: int = 1000
    sweep_rates: tuple[float, ...] = (0.0, 0.5, 0.75, 0.9)
    weight_decay: float = 0.01
    n_val: int = 100

    def __post_init__(self) -> None:
        owner = "DropoutMLPConfig"
        _check_optimizer(owner, self.optimizer)
        _check_positive_float(owner, "lr", self.lr)
        for name in ("n_train", "hidden_dim", "batch_size", "epochs", "eval_batch_size"):
            _check_positive_int(owner, name, getattr(self, name))
        rates = (self.input_dropout, *self.hidden_dropout)
        if len(self.hidden_dropout) != 2 or not all(
            isinstance(r, int | float) and not isinstance(r, bool) and 0 <= r < 1 for r in rates
        ):
            raise ValueError(
                f"{owner} 的 dropout 比例应在 [0, 1) 内，hidden_dropout 为两个隐藏层各一个，"
                f"实际得到 input_dropout={self.input_dropout!r}, hidden_dropout={self.hidden_dropout!r}。"
            )
        if not self.seeds:
            raise ValueError(f"{owner}.seeds 不能为空，例如 seeds=(0, 1, 2, 3, 4)。")
        if not 0 <= self.weight_decay < 1:
            raise ValueError(
                f"{owner}.weight_decay 应在 [0, 1) 内，实际得到 {self.weight_decay!r}。"
            )
        _check_positive_int(owner, "n_val", self.n_val)
        if not self.sweep_rates or not all(
            isinstance(r, int | float) and not isinstance(r, bool) and 0 <= r < 1
            for r in self.sweep_rates
        ):
            raise ValueError(
                f"{owner}.sweep_rates 应为 [0, 1) 内的比例组成的非空元组，实际得到 {self.sweep_rates!r}。"
            )


# ---------------------------------------------------------------------------
# 两种规模的设置。full 的默认值就是原实验的设置（见各 dataclass 的默认值）。

_FULL: dict[str, Any] = {
    "gradient_vanishing": GradientConfig(),
    "dead_relu": DeadReluConfig(),
    "l2": L2Config(),
    "dropout": DropoutConfig(),
    "dropout_mlp": DropoutMLPConfig(),
}

# quick：MLP 实验固定用训练集的前 4000 张、测试集的前 1000 张（离线子集正好这么大；找到完整 MNIST 时
# 也只取这么多），所以无论在哪里运行，quick 都是同一个实验。训练图约为完整 MNIST 的 1/15；为了在相同的
# epoch 数内走过相当的“学习率 × 步数”，SGD 学习率放大约 15 倍（0.001 → 0.015）。
QUICK_MNIST_SLICE = (4000, 1000)

_QUICK: dict[str, Any] = {
    "gradient_vanishing": GradientConfig(
        lr=0.015,
        epochs=2,  # = sweep_epochs: the seeds and the sweep reuse the main runs
        n_train=QUICK_MNIST_SLICE[0],
        n_test=QUICK_MNIST_SLICE[1],
        sweep_depths=(1, 2, 4, 8),
        sweep_epochs=2,
    ),
    "dead_relu": DeadReluConfig(
        epochs=3,
        n_train=QUICK_MNIST_SLICE[0],
        n_test=QUICK_MNIST_SLICE[1],
        original_setting=OptimizerSetting(
            "sgd", 0.015, "原实验的设置：SGD（quick 中训练集小，学习率从 0.001 放大到 0.015）"
        ),
    ),
    "l2": L2Config(),
    # dropout：只用 2048 张训练图（训练集越小越容易过拟合，也更快），批量 64 正好分成 32 批
    # （避免每个 epoch 末尾一个很小的批次带来的大噪声步）；批量变小，学习率相应从 0.5 降到 0.05。
    "dropout": DropoutConfig(
        lr=0.05,
        batch_size=64,
        epochs=12,
        n_train=2048,
        sweep_epochs=12,
        train_eval_size=None,  # 2048 张训练图：整个训练集都评估
    ),
    # 这个实验本来就只用 512 张训练图；quick 训练 40 个 epoch（full 80 个）：40 个 epoch 时无 dropout 的网络
    # 已把训练图全部记住，配对比较的结论在 3 组种子上都成立（见 tests/test_lessons_dropout.py）
    "dropout_mlp": DropoutMLPConfig(epochs=40),
}

_PROFILE_CONFIGS = {"quick": _QUICK, "full": _FULL}
EXPERIMENTS = tuple(_FULL)


def get_config(experiment: str, profile: str | None = None):
    """返回实验 ``experiment`` 在规模 ``profile`` 下的设置（不可变 dataclass）。

    ``experiment``：``"gradient_vanishing"``、``"dead_relu"``、``"l2"``、``"dropout"`` 或 ``"dropout_mlp"``。
    ``profile``：``"quick"`` 或 ``"full"``；``None`` 时由 :func:`labcode.settings.get_profile`
    决定（环境变量 ``LABCODE_PROFILE``，未设置时 CUDA 上 full、CPU 上 quick）。
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"未知的实验名称 {experiment!r}。可选：{', '.join(EXPERIMENTS)}。")
    resolved = settings.get_profile(profile)
    return _PROFILE_CONFIGS[resolved][experiment]


def config_rows(config) -> list[tuple[str, str]]:
    """把设置变成 ``[(字段名, 取值), ...]``，方便在页面上列成表格。"""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(
            f"config_rows 需要一个设置 dataclass 的实例，实际得到 {type(config).__name__}。"
        )
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, OptimizerSetting):
            value = f"{value.optimizer}, lr={value.lr:g}"
        rows.append((field.name, str(value)))
    return rows
