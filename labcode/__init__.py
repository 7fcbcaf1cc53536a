"""正则化和激活函数探索：实验代码。

导入本包不会导入 matplotlib，也不会读取数据或访问网络；``get_data`` 在第一次使用时才加载。
"""

from .activations import (
    ACTIVATIONS,
    Activation,
    MyELU,
    MyGELU,
    MyLeakyReLU,
    MyReLU,
    MySigmoid,
    MySiLU,
    MyTanh,
    get_activation,
)
from .metrics import (
    Accumulator,
    DeadUnitCounter,
    GradientTracker,
    analyze_gradients,
    count_dead_units,
    evaluate_loss,
)
from .models import Network, RegularizedNetwork, TorchDropoutNetwork
from .regularization import dropout_layer, l1_penalty, l2_penalty
from .selfcheck import ActivationCheckError, check_activation_function

_LAZY = {"get_data": "data"}  # imported on first use: nothing of the data is touched before

__all__ = [
    "ACTIVATIONS",
    "Accumulator",
    "Activation",
    "ActivationCheckError",
    "DeadUnitCounter",
    "GradientTracker",
    "MyELU",
    "MyGELU",
    "MyLeakyReLU",
    "MyReLU",
    "MySiLU",
    "MySigmoid",
    "MyTanh",
    "Network",
    "RegularizedNetwork",
    "TorchDropoutNetwork",
    "analyze_gradients",
    "check_activation_function",
    "count_dead_units",
    "dropout_layer",
    "evaluate_loss",
    "get_activation",
    "get_data",
    "l1_penalty",
    "l2_penalty",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
