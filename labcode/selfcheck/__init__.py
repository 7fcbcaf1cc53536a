"""学生自检：你自己写的代码对不对，错在哪里，可能的原因是什么。

每个检查函数接收你写的类或函数，通过时返回一段简短的报告（:class:`CheckReport`，
在 Notebook 中显示为文字），不通过时抛出 :class:`SelfCheckError`（``AssertionError`` 的子类），
信息中写明哪里不对、在什么输入下，以及可能的原因。练习还没做完（你的代码抛出
``NotImplementedError``）时，检查原样抛出 ``NotImplementedError``，告诉你是哪个练习。

检查是确定的：需要随机数时，检查在内部固定种子，结束后恢复全局随机数状态，
不会影响你后面的实验；统计检验用很大的样本和 6 个标准差的容差，正确的实现不会偶然失败。
检查从不修改你传入的对象，并会发现你的代码原地修改了它收到的输入。
对你的代码的每一次调用限时 60 秒（``report.TIME_LIMIT``，只在主线程、有 SIGALRM 的系统上生效）；
``sys.exit`` 和输出放错设备（例如掩码总是建在 CPU 上）都会得到说明原因的失败，而不是直接退出或报出原始错误。
需要类的检查（``check_forward``、``check_dropout_model``）请传入类本身；其余检查传入函数本身。

教师评分（``python -m labcode.grade``）用 ``labcode.selfcheck.replay`` 在提交的内核中记录这些检查对学生代码的调用，
再在评分程序自己的进程中回放、判定。

激活函数（``labcode.selfcheck.activations``）

- ``check_activation_function(MyReLU, MySigmoid, MyTanh)``：三个激活函数的函数值与导数；
- ``check_modern_activation(cls)``：LeakyReLU / ELU / GELU / SiLU 中任意一个，自动认出是哪一个。

网络与训练中的统计量（``labcode.selfcheck.network``）

- ``check_forward(network_cls)``：多层感知机 ``Network.forward``，逐层对照每层收到的输入；
- ``check_gradient_stats(fn)``：``fn(model)`` 返回每个线性层权重梯度的平均绝对值；
- ``check_dead_units(fn)``：``fn(model, loader)`` 返回每层死亡神经元的比例。

正则化（``labcode.selfcheck.regularization``）

- ``check_l2_penalty(l2_penalty)``：L2 惩罚项 ‖w‖²/2；
- ``check_l2_step(step)``：从零实现的带 L2 惩罚的小批量 SGD 一步；
- ``check_dropout_layer(dropout_layer)``：手写 dropout；
- ``check_dropout_model(model_cls)``：只在训练模式下使用 dropout 的模型；
- ``check_eval_accuracy(fn)``：``fn(model, loader)`` 在评估模式下计算准确率。
"""

from . import activations as _activations
from .activations import (
    ActivationCheckError,
    check_activation_function,
    check_modern_activation,
)
from .network import check_dead_units, check_forward, check_gradient_stats
from .regularization import (
    check_dropout_layer,
    check_dropout_model,
    check_eval_accuracy,
    check_l2_penalty,
    check_l2_step,
)
from .report import CheckReport, SelfCheckError

__all__ = [
    "ActivationCheckError",
    "CheckReport",
    "SelfCheckError",
    "check_activation_function",
    "check_dead_units",
    "check_dropout_layer",
    "check_dropout_model",
    "check_eval_accuracy",
    "check_forward",
    "check_gradient_stats",
    "check_l2_penalty",
    "check_l2_step",
    "check_modern_activation",
]

# The constants and helpers of the former module labcode/selfcheck.py stay importable from here.
RTOL = _activations.RTOL
ATOL = _activations.ATOL
_MAX_SHOWN = _activations._MAX_SHOWN
_OVERFLOW_HINT = _activations._OVERFLOW_HINT
_SLOTS = _activations._SLOTS
_test_inputs = _activations._test_inputs
_reference = _activations._reference
_instantiate = _activations._instantiate
_evaluate = _activations._evaluate
_dtype_name = _activations._dtype_name
_fmt = _activations._fmt
_compare = _activations._compare
_plot = _activations._plot
_as_numpy = _activations._as_numpy
