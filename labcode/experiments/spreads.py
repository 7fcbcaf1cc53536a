"""初始化时的前向信号：梯度消失主实验里的每个网络，在训练之前各层输出随输入变化的幅度。

它读实验结果、按同样的种子重建网络，所以在实验这一层（:mod:`labcode.experiments`）；测量本身
（:func:`labcode.forward_signal.activation_spread`）在下面一层。
"""

from __future__ import annotations

import torch

from ..data import load_mnist
from ..forward_signal import activation_spread
from .gradient_vanishing import seeded_mlp

__all__ = ["forward_spreads"]


def forward_spreads(result, n_images: int = 1000) -> dict[str, list[dict]]:
    """梯度消失主实验里的每个网络，在**初始化时**（同深度、同宽度、同种子）的 :func:`activation_spread`。

    ``result`` 是 :func:`labcode.experiments.run_gradient_vanishing` 的结果；输入取测试集的前
    ``n_images`` 张图（与实验同一份数据、同一设备）。返回 ``{激活函数名: 各层的测量}``。
    """
    if getattr(result, "name", None) != "gradient_vanishing":
        raise ValueError(
            "forward_spreads 需要 run_gradient_vanishing() 的结果，"
            f"收到的是 {getattr(result, 'name', type(result).__name__)!r}。"
        )
    images = load_mnist(device=result.device).test_x[:n_images]
    config = result.config
    return {
        run.params["activation"]: activation_spread(
            seeded_mlp(
                run.params["activation"],
                run.params["num_layers"],
                config.hidden_dim,
                result.seed,
                torch.device(result.device),
            ),
            images,
        )
        for run in result.runs.values()
    }
