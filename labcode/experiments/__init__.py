"""实验：每个实验一个模块，都返回 :class:`ExperimentResult`（数据，不是打印）。

- :func:`run_gradient_vanishing` / :func:`run_depth_sweep` / :func:`run_gradient_seeds` / :func:`run_init_gradients`：梯度消失与爆炸；
- :func:`run_dead_relu` / :func:`run_dead_at_init` / :func:`run_dead_relu_seeds`：ReLU 死亡；
- :func:`run_l2` / :func:`run_lambda_sweep` / :func:`run_l1_vs_l2` / :func:`run_l1_vs_l2_seeds` / :func:`run_l2_seeds`：L2 正则化；
- :func:`run_dropout` / :func:`run_dropout_sweep` / :func:`run_dropout_seeds` / :func:`run_dropout_mlp` / :func:`run_dropout_mlp_sweep`：Dropout。

各实验的设置见 :mod:`labcode.profiles`；结论检查见 :mod:`labcode.lessons`；画图见 :mod:`labcode.plots`。
"""

from .dead_relu import run_dead_at_init, run_dead_relu, run_dead_relu_seeds
from .dropout import (
    run_dropout,
    run_dropout_mlp,
    run_dropout_mlp_sweep,
    run_dropout_seeds,
    run_dropout_sweep,
)
from .gradient_vanishing import (
    run_depth_sweep,
    run_gradient_seeds,
    run_gradient_vanishing,
    run_init_gradients,
)
from .l2 import run_l1_vs_l2, run_l1_vs_l2_seeds, run_l2, run_l2_seeds, run_lambda_sweep
from .results import ExperimentResult, RunResult
from .training import TrainingDivergedError

__all__ = [
    "ExperimentResult",
    "RunResult",
    "TrainingDivergedError",
    "run_dead_at_init",
    "run_dead_relu",
    "run_dead_relu_seeds",
    "run_depth_sweep",
    "run_dropout",
    "run_dropout_mlp",
    "run_dropout_mlp_sweep",
    "run_dropout_seeds",
    "run_dropout_sweep",
    "run_gradient_seeds",
    "run_gradient_vanishing",
    "run_init_gradients",
    "run_l1_vs_l2",
    "run_l1_vs_l2_seeds",
    "run_l2",
    "run_l2_seeds",
    "run_lambda_sweep",
]
