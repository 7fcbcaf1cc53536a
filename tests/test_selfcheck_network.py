"""check_forward, check_gradient_stats, check_dead_units: references pass, typical mistakes are named."""

import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labcode.metrics import analyze_gradients, count_dead_units
from labcode.models import Network
from labcode.selfcheck import (
    CheckReport,
    SelfCheckError,
    check_dead_units,
    check_forward,
    check_gradient_stats,
)

STUB = "练习 2.1：请实现 Network.forward（检查：check_forward）"


# one torch thread for every test here; ``rng_untouched`` too comes from conftest.py
pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------------
# check_forward
# --------------------------------------------------------------------------------------------------


class SeedNetwork(nn.Module):
    """The original lab's network, written by a student: constructor as in the original lab, hidden width 100."""

    def __init__(self, input_dim, output_dim, activation_name, num_layers=5):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(100, 100) for _ in range(num_layers)])
        self.activation = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[
            activation_name
        ]
        self.input_layer = nn.Linear(input_dim, 100)
        self.output_layer = nn.Linear(100, output_dim)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = self.activation(self.input_layer(x))
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.output_layer(x)


class StudentNetwork(Network):
    """As in the chapter: the constructor is labcode's, the student writes forward."""


def forward_variant(body):
    return type(body.__name__, (StudentNetwork,), {"forward": body})


@forward_variant
def NoActivationAfterHidden(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = layer(h)
    return self.output_layer(h)


@forward_variant
def NoActivationAfterInput(self, x):
    h = self.input_layer(x)
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def ActivationAfterOutput(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.activation(self.output_layer(h))


@forward_variant
def SoftmaxOutput(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    return F.softmax(self.output_layer(h), dim=1)


@forward_variant
def SkipsLastHidden(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers[:-1]:
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def ReversedHidden(self, x):
    h = self.activation(self.input_layer(x))
    for layer in reversed(self.layers):
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def LastHiddenTwice(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    if len(self.layers):
        h = self.activation(self.layers[-1](h))
    return self.output_layer(h)


@forward_variant
def HardcodedReLU(self, x):
    h = torch.relu(self.input_layer(x))
    for layer in self.layers:
        h = torch.relu(layer(h))
    return self.output_layer(h)


@forward_variant
def ActivationTwice(self, x):
    h = self.activation(self.activation(self.input_layer(x)))
    for layer in self.layers:
        h = self.activation(self.activation(layer(h)))
    return self.output_layer(h)


@forward_variant
def ScalesInputInPlace(self, x):
    x /= 255.0
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def Squeezes(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.output_layer(h).squeeze()


@forward_variant
def Detaches(self, x):
    h = self.activation(self.input_layer(x)).detach()
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def NoGrad(self, x):
    with torch.no_grad():
        h = self.activation(self.input_layer(x))
        for layer in self.layers:
            h = self.activation(layer(h))
        return self.output_layer(h)


@forward_variant
def SkipsInputLayer(self, x):
    h = x
    for layer in self.layers:
        h = self.activation(layer(h))
    return self.output_layer(h)


@forward_variant
def ForgetsReturn(self, x):
    h = self.activation(self.input_layer(x))
    for layer in self.layers:
        h = self.activation(layer(h))
    self.output_layer(h)


@forward_variant
def Unfinished(self, x):
    raise NotImplementedError(STUB)


class HiddenLayersName(SeedNetwork):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_layers = self.layers
        del self.layers


class PlainList(SeedNetwork):
    def __init__(self, input_dim, output_dim, activation_name, num_layers=5):
        super().__init__(input_dim, output_dim, activation_name, 0)
        del self.layers
        self.layers = [nn.Linear(100, 100) for _ in range(num_layers)]


class SharedLayer(SeedNetwork):
    def __init__(self, input_dim, output_dim, activation_name, num_layers=5):
        super().__init__(input_dim, output_dim, activation_name, 0)
        self.layers = nn.ModuleList([nn.Linear(100, 100)] * num_layers)


class UnfinishedInit(nn.Module):
    def __init__(self, *args):
        raise NotImplementedError("练习 2.0：请实现 Network.__init__（检查：check_forward）")


@pytest.mark.parametrize("network_cls", [Network, StudentNetwork, SeedNetwork])
def test_check_forward_passes_reference_implementations(network_cls, rng_untouched):
    report = check_forward(network_cls)
    assert isinstance(report, CheckReport) and report.startswith("check_forward 通过：")
    assert repr(report) == str(report)  # a notebook shows it without quotes


@pytest.mark.parametrize(
    ("network_cls", "phrase"),
    [
        (
            NoActivationAfterHidden,
            r"第 1 个隐藏层之后没有经过激活函数：第 2 个隐藏层（layers\[1\]）的输入与参考实现不同"
            r".*上一层 layers\[0\] 未经激活的输出",
        ),
        (NoActivationAfterInput, r"输入层之后没有经过激活函数：第 1 个隐藏层（layers\[0\]）的输入"),
        (ActivationAfterOutput, r"输出层之后不应再接激活函数.*交叉熵.*softmax"),
        (SoftmaxOutput, r"不要做 softmax"),
        (SkipsLastHidden, r"第 3 个隐藏层（layers\[2\]）没有被调用.*self\.layers\[:-1\]"),
        (ReversedHidden, r"调用顺序不对.*input_layer → layers\[2\] → layers\[1\] → layers\[0\]"),
        (LastHiddenTwice, r"第 3 个隐藏层（layers\[2\]）被调用了 2 次"),
        (HardcodedReLU, r"用错了激活函数.*ReLU.*activation_name='tanh'.*self\.activation"),
        (ActivationTwice, r"激活函数用了两次"),
        (ScalesInputInPlace, r"原地修改了输入 x"),
        (Squeezes, r"输出形状应为 \(1, 10\).*实际为 \(10,\).*squeeze"),
        (Detaches, r"输入层（input_layer）收不到梯度"),
        (NoGrad, r"不能求梯度.*torch\.no_grad"),
        (
            SkipsInputLayer,
            r"第 1 个隐藏层（layers\[0\]）：它收到的输入形状为 \(7, 784\).*跳过了输入层",
        ),
        (ForgetsReturn, r"忘了 return"),
        (HiddenLayersName, r"没有属性 layers.*input_layer.*output_layer"),
        (PlainList, r"不是 nn\.ModuleList"),
        (SharedLayer, r"同一个 nn\.Linear.*\* num_layers"),
    ],
)
def test_check_forward_names_the_mistake(network_cls, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_forward(network_cls)


def test_check_forward_reports_the_configuration_and_the_original_exception():
    with pytest.raises(SelfCheckError, match=r"activation_name='tanh'，num_layers=3") as info:
        check_forward(SkipsInputLayer)
    assert isinstance(info.value.__cause__, RuntimeError)  # the shape error, chained


def test_check_forward_unfinished_stub_propagates():
    with pytest.raises(NotImplementedError, match=f"^{STUB}$") as info:
        check_forward(Unfinished)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    with pytest.raises(NotImplementedError, match="练习 2.0"):
        check_forward(UnfinishedInit)


def test_check_forward_wants_the_class():
    with pytest.raises(SelfCheckError, match="类本身"):
        check_forward(Network(784, 10, "tanh", 1))


def test_check_forward_does_not_touch_the_students_class_state():
    check_forward(StudentNetwork)
    net = StudentNetwork(784, 10, "relu", 2)
    assert not net._forward_hooks and not net.input_layer._forward_hooks  # hooks removed
    assert not net.input_layer._forward_pre_hooks


# --------------------------------------------------------------------------------------------------
# check_gradient_stats
# --------------------------------------------------------------------------------------------------


def original_style(model):
    """The original lab: every weight from named_parameters() (hidden layers come first)."""
    return [
        {"layer": n, "mean": p.grad.abs().mean().item()}
        for n, p in model.named_parameters()
        if "weight" in n
    ]


def per_layer(stat):
    def fn(model):
        return [{"layer": n, "mean": stat(layer.weight.grad)} for n, layer in model.linear_layers()]

    return fn


def with_biases(model):
    return [
        {"layer": f"{n}.{kind}", "mean": getattr(layer, kind).grad.abs().mean().item()}
        for n, layer in model.linear_layers()
        for kind in ("weight", "bias")
    ]


def reversed_order(model):
    return per_layer(lambda g: g.abs().mean().item())(model)[::-1]


def plain_floats(model):
    return [layer.weight.grad.abs().mean().item() for _, layer in model.linear_layers()]


def zeroes_grads(model):
    result = per_layer(lambda g: g.abs().mean().item())(model)
    model.zero_grad()
    return result


def abs_in_place(model):
    return [
        {"layer": n, "mean": layer.weight.grad.abs_().mean().item()}
        for n, layer in model.linear_layers()
    ]


def raises_key_error(model):
    return [{"layer": n, "mean": {}["grad"]} for n, _ in model.linear_layers()]


def unfinished_stats(model):
    raise NotImplementedError("练习 2.2：请实现 layer_gradient_means（检查：check_gradient_stats）")


@pytest.mark.parametrize(
    "fn",
    [
        analyze_gradients,
        per_layer(lambda g: g.abs().mean().item()),
        per_layer(lambda g: g.abs().mean()),  # a 0-dim tensor is fine
    ],
)
def test_check_gradient_stats_passes(fn, rng_untouched):
    assert check_gradient_stats(fn).startswith("check_gradient_stats 通过：")


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (original_style, r"顺序不对.*named_parameters\(\).*linear_layers"),
        (with_biases, r"返回了 10 项.*偏置"),
        (per_layer(lambda g: g.mean().item()), r"没有取绝对值"),
        (per_layer(lambda g: g.std().item()), r"标准差"),
        (per_layer(lambda g: g.norm().item()), r"范数"),
        (per_layer(lambda g: g.abs().sum().item()), r"绝对值之和"),
        (reversed_order, r"顺序颠倒了"),
        (plain_floats, r"每一项应为字典"),
        (per_layer(lambda g: g.abs().mean(dim=0)), r"应为一个数.*形状为 \(\d+,\) 的张量"),
        (zeroes_grads, r"修改了模型.*zero_grad"),
        (abs_in_place, r"修改了模型.*abs_\(\)"),
    ],
)
def test_check_gradient_stats_names_the_mistake(fn, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_gradient_stats(fn)


def test_check_gradient_stats_wraps_other_exceptions_and_passes_stubs_through():
    with pytest.raises(
        SelfCheckError, match=r"调用 raises_key_error\(model\) 时出错：KeyError"
    ) as info:
        check_gradient_stats(raises_key_error)
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(NotImplementedError, match="^练习 2.2：请实现 layer_gradient_means"):
        check_gradient_stats(unfinished_stats)


# --------------------------------------------------------------------------------------------------
# check_dead_units
# --------------------------------------------------------------------------------------------------


def _preacts(model, loader):
    with torch.no_grad():
        return [model(x, return_preactivations=True)[1] for x, _ in loader]


def by_definition(model, loader):
    alive = None
    for zs in _preacts(model, loader):
        active = [(z > 0).any(dim=0) for z in zs]
        alive = active if alive is None else [a | b for a, b in zip(alive, active, strict=True)]
    return [1 - a.float().mean() for a in alive]  # 0-dim tensors are fine


def zero_output_fraction(model, loader):
    """The original lab's metric: the share of zero activations over all samples."""
    batches = _preacts(model, loader)
    return [
        (torch.cat([b[k] for b in batches]) <= 0).float().mean().item()
        for k in range(len(batches[0]))
    ]


def last_batch_only(model, loader):
    *_, last = _preacts(model, loader)
    return [(z <= 0).all(dim=0).float().mean().item() for z in last]


def dead_in_any_batch(model, loader):
    dead = None
    for zs in _preacts(model, loader):
        now = [(z <= 0).all(dim=0) for z in zs]
        dead = now if dead is None else [a | b for a, b in zip(dead, now, strict=True)]
    return [d.float().mean().item() for d in dead]


def mean_over_batches(model, loader):
    batches = _preacts(model, loader)
    return [
        sum((b[k] <= 0).all(dim=0).float().mean().item() for b in batches) / len(batches)
        for k in range(len(batches[0]))
    ]


def strictly_negative(model, loader):
    batches = _preacts(model, loader)
    return [
        (torch.cat([b[k] for b in batches]) < 0).all(dim=0).float().mean().item()
        for k in range(len(batches[0]))
    ]


def percentages(model, loader):
    return [100 * float(v) for v in by_definition(model, loader)]


def counts(model, loader):
    return [round(float(v) * model.hidden_dim) for v in by_definition(model, loader)]


def hidden_layers_only(model, loader):
    return by_definition(model, loader)[1:]


def trains_the_model(model, loader):
    result = by_definition(model, loader)
    with torch.no_grad():
        model.input_layer.bias.add_(1.0)
    return result


def unfinished_dead(model, loader):
    raise NotImplementedError("练习 3.1：请实现 dead_fraction（检查：check_dead_units）")


@pytest.mark.parametrize("fn", [count_dead_units, by_definition])
def test_check_dead_units_passes(fn, rng_untouched):
    assert check_dead_units(fn).startswith("check_dead_units 通过：")


def test_check_dead_units_knows_the_answer():
    from labcode.selfcheck.network import _dead_unit_setup

    model, loader = _dead_unit_setup()
    assert count_dead_units(model, loader) == pytest.approx([0.4, 0.3, 0.2])
    assert [len(y) for _, y in loader] == [16, 16, 16, 2]


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (zero_output_fraction, r"输出为 0 的比例（原实验的指标"),
        (last_batch_only, r"按批次判断.*只看最后一个批次"),
        (dead_in_any_batch, r"按批次判断.*某一个批次中不活跃"),
        (mean_over_batches, r"按批次判断.*各批次死亡比例的平均"),
        (strictly_negative, r"z <= 0.*而不是 z < 0"),
        (percentages, r"百分数"),
        (counts, r"死亡神经元的个数.*除以该层的神经元个数（这里是 10）"),
        (hidden_layers_only, r"少了一层：输入层"),
        (trains_the_model, r"修改了模型的参数 input_layer\.bias"),
    ],
)
def test_check_dead_units_names_the_mistake(fn, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_dead_units(fn)


def test_check_dead_units_stub_propagates():
    with pytest.raises(NotImplementedError, match="^练习 3.1：请实现 dead_fraction"):
        check_dead_units(unfinished_dead)


# --------------------------------------------------------------------------------------------------
# false passes and wrong arguments
# --------------------------------------------------------------------------------------------------


@forward_variant
def Float64Logits(self, x):
    return Network.forward(self, x).double()


@forward_variant
def MetaLogits(self, x):
    return torch.zeros(x.shape[0], 10, device="meta")


@forward_variant
def ExitsInForward(self, x):
    raise SystemExit(0)


@pytest.mark.parametrize(
    ("network_cls", "phrase"),
    [
        (Float64Logits, r"输出类型应与输入相同（float32），实际为 float64"),
        (MetaLogits, r"输出在设备 meta 上，而输入在 cpu 上"),
        (ExitsInForward, r"调用了 sys\.exit\(0\)"),
    ],
)
def test_check_forward_rejects_false_passes(network_cls, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_forward(network_cls)


def test_checks_explain_class_instance_and_function_confusion():
    def a_function(*args):
        return None

    with pytest.raises(SelfCheckError, match=r"请传入类本身.*而不是一个函数"):
        check_forward(a_function)
    with pytest.raises(SelfCheckError, match=r"请传入类本身.*而不是创建好的实例"):
        check_forward(StudentNetwork(784, 10, "relu", 1))
    with pytest.raises(SelfCheckError, match=r"要检查的是函数，你传入的是类 StudentNetwork"):
        check_gradient_stats(StudentNetwork)
    with pytest.raises(SelfCheckError, match=r"要检查的是函数，你传入的是类"):
        check_dead_units(StudentNetwork)
