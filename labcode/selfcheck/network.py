"""网络相关的自检：多层感知机的 forward、逐层的梯度统计、死亡神经元的比例。

- :func:`check_forward`：用钩子记录每个线性层被调用的次数、顺序和实际收到的输入，与参考实现逐层对照；
- :func:`check_gradient_stats`：每个线性层权重梯度的平均绝对值（参考 ``labcode.metrics.analyze_gradients``）；
- :func:`check_dead_units`：每层死亡神经元的比例（参考 ``labcode.metrics.count_dead_units``）。
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..activations import get_activation
from ..loader import TensorLoader
from ..metrics import analyze_gradients, count_dead_units
from ..models import Network
from .report import (
    CheckReport,
    SelfCheckError,
    Unchanged,
    as_number,
    call_student,
    describe,
    diagnose,
    fmt,
    isolated_rng,
    need_class,
    need_function,
    passed,
    student_code,
    unfinished,
    wrong_device,
)

__all__ = ["check_dead_units", "check_forward", "check_gradient_stats"]

# --------------------------------------------------------------------------------------------------
# check_forward
# --------------------------------------------------------------------------------------------------

INPUT_DIM = 784  # MNIST, as in the original lab (a forward that flattens to 784 still works)
OUTPUT_DIM = 10
# (activation_name, num_layers, batch size). The first one shows most mistakes.
_FORWARD_CONFIGS = (
    ("tanh", 3, 7),
    ("tanh", 0, 7),
    ("tanh", 1, 1),
    ("sigmoid", 2, 7),
    ("relu", 2, 7),
)
_ACTIVATION_NAMES = ("relu", "sigmoid", "tanh")
_LABELS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
_ATTRIBUTES = ("input_layer", "layers", "output_layer", "activation")
_ATTRIBUTE_HELP = (
    "检查按原实验 Network 的属性名找到各层：input_layer（输入层，nn.Linear）、"
    "layers（隐藏层组成的 nn.ModuleList）、output_layer（输出层，nn.Linear）、activation（激活函数）。"
)
_FORWARD_HINT = (
    "参考实现：h = self.activation(self.input_layer(x))；对 self.layers 中的每一层 "
    "h = self.activation(layer(h))；最后 return self.output_layer(h)。"
)


def _close(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and isinstance(b, torch.Tensor)
        and a.shape == b.shape
        and bool(torch.allclose(a.to(torch.float64), b.to(torch.float64), rtol=rtol, atol=atol))
    )


class _Chain:
    """学生网络中按顺序排列的线性层：输入层、各隐藏层、输出层。"""

    def __init__(self, layers: list[Any]):  # nn.Linear, verified right after
        self.layers = layers

    def __len__(self) -> int:
        return len(self.layers)

    def kind(self, i: int) -> str:
        if i == 0:
            return "输入层"
        if i == len(self.layers) - 1:
            return "输出层"
        return f"第 {i} 个隐藏层"

    def code(self, i: int) -> str:
        if i == 0:
            return "input_layer"
        if i == len(self.layers) - 1:
            return "output_layer"
        return f"layers[{i - 1}]"

    def label(self, i: int) -> str:
        return f"{self.kind(i)}（{self.code(i)}）"


def _build_network(network_cls, activation_name: str, num_layers: int, seed: int):
    name = describe(network_cls)
    call = f"{name}({INPUT_DIM}, {OUTPUT_DIM}, {activation_name!r}, {num_layers})"
    with isolated_rng(seed):
        net = call_student(
            network_cls,
            INPUT_DIM,
            OUTPUT_DIM,
            activation_name,
            num_layers,
            call=call,
            hint="构造函数的参数应与原实验的 Network 相同：(input_dim, output_dim, activation_name, num_layers)。",
        )
    if not isinstance(net, nn.Module):
        raise SelfCheckError(
            f"{call} 返回的是 {type(net).__name__}，不是 torch.nn.Module：请让 {name} 继承 nn.Module。"
        )
    missing = [a for a in _ATTRIBUTES if not hasattr(net, a)]
    if missing:
        raise SelfCheckError(
            f"{call} 创建的网络没有属性 {'、'.join(missing)}。{_ATTRIBUTE_HELP}请在 __init__ 中使用这些名字。"
        )
    hidden: Any = net.layers
    if isinstance(hidden, (list, tuple)):
        raise SelfCheckError(
            f"{name} 的 layers 是普通的 {type(hidden).__name__}，不是 nn.ModuleList：普通列表中的层不会注册为"
            "网络的子模块，model.parameters() 里没有它们，优化器也不会更新它们。"
            "请写 self.layers = nn.ModuleList(...)。"
        )
    try:
        hidden = list(hidden)
    except TypeError:
        raise SelfCheckError(
            f"{name} 的 layers 应为由隐藏层组成的 nn.ModuleList，实际是 {type(net.layers).__name__}。"
        ) from None
    if len(hidden) != num_layers:
        raise SelfCheckError(
            f"{call} 的 layers 中应有 num_layers = {num_layers} 个隐藏层，实际有 {len(hidden)} 个。"
        )
    chain = _Chain([net.input_layer, *hidden, net.output_layer])
    for i, layer in enumerate(chain.layers):
        if not isinstance(layer, nn.Linear):
            raise SelfCheckError(
                f"{name} 的{chain.label(i)}应为 nn.Linear，实际是 {type(layer).__name__}。{_ATTRIBUTE_HELP}"
            )
    if len({id(layer) for layer in chain.layers}) != len(chain):
        raise SelfCheckError(
            f"{name} 中同一个 nn.Linear 对象出现了多次：各隐藏层共用一组参数。"
            "是不是写成了 [nn.Linear(…)] * num_layers？列表乘法复制的是同一个对象的引用；"
            "请写 nn.ModuleList(nn.Linear(…) for _ in range(num_layers))。"
        )
    first, last = chain.layers[0], chain.layers[-1]
    if first.in_features != INPUT_DIM or last.out_features != OUTPUT_DIM:
        raise SelfCheckError(
            f"{call}：输入层应为 Linear({INPUT_DIM}, …)、输出层应为 Linear(…, {OUTPUT_DIM})，"
            f"实际为 Linear({first.in_features}, {first.out_features}) 和 "
            f"Linear({last.in_features}, {last.out_features})。"
        )
    for i in range(len(chain) - 1):
        if chain.layers[i].out_features != chain.layers[i + 1].in_features:
            raise SelfCheckError(
                f"{call}：{chain.label(i)}输出 {chain.layers[i].out_features} 维，"
                f"而{chain.label(i + 1)}的输入是 {chain.layers[i + 1].in_features} 维，接不上。"
            )
    return net, chain, call


def _record_forward(net: nn.Module, chain: _Chain, x: torch.Tensor, call: str):
    """运行学生的 forward，记录每个线性层的调用顺序、收到的输入和输出。"""
    order: list[int] = []
    inputs: dict[int, list] = {}
    outputs: dict[int, list] = {}

    def pre_hook(i):
        def hook(module, args):
            order.append(i)
            value = args[0] if args else None
            inputs.setdefault(i, []).append(
                value.detach().clone() if isinstance(value, torch.Tensor) else None
            )

        return hook

    def post_hook(i):
        def hook(module, args, out):
            outputs.setdefault(i, []).append(
                out.detach().clone() if isinstance(out, torch.Tensor) else None
            )

        return hook

    handles = []
    given = x.clone()
    try:
        for i, layer in enumerate(chain.layers):
            handles.append(layer.register_forward_pre_hook(pre_hook(i)))
            handles.append(layer.register_forward_hook(post_hook(i)))
        try:
            with torch.enable_grad(), student_code(f"{type(net).__name__}.forward"):
                out = net(given)
        except NotImplementedError as exc:
            raise unfinished(exc, f"{call}.forward") from None
        except SelfCheckError:
            raise
        except Exception as exc:
            message = f"调用 {type(net).__name__}.forward 时出错：{type(exc).__name__}: {exc}"
            message += _shape_hint(chain, order, inputs, outputs)
            raise SelfCheckError(message + "\n" + _FORWARD_HINT) from exc
    finally:
        for handle in handles:
            handle.remove()
    return given, out, order, inputs, outputs


def _shape_hint(chain: _Chain, order: list[int], inputs: dict, outputs: dict) -> str:
    """forward 出错时：若出错的是某个线性层且输入维数不对，说明是哪一层、收到了什么。"""
    if not order:
        return ""
    i = order[-1]
    value = inputs[i][-1]
    failed_here = len(outputs.get(i, ())) < len(inputs[i])
    if not (failed_here and isinstance(value, torch.Tensor) and value.dim() >= 1):
        return ""
    if value.shape[-1] == chain.layers[i].in_features:
        return ""
    hint = (
        f"\n出错时正在计算{chain.label(i)}：它收到的输入形状为 {tuple(value.shape)}，"
        f"而这一层要求最后一维是 {chain.layers[i].in_features}。"
    )
    if i > 0 and 0 not in order:
        hint += "输入层 input_layer 没有被调用：是不是跳过了输入层？"
    return hint


def _check_calls(chain: _Chain, order: list[int]) -> None:
    expected = list(range(len(chain)))
    if order == expected:
        return
    counts = Counter(order)
    never = [i for i in expected if counts[i] == 0]
    if never:
        names = "、".join(chain.label(i) for i in never)
        hint = ""
        if never == [len(chain) - 2] and len(chain) > 2:
            hint = "最后一个隐藏层没有算：循环是不是少了一次（例如 self.layers[:-1] 或 range(len(self.layers) - 1)）？"
        elif 0 in never:
            hint = "forward 应先计算 self.input_layer(x)。"
        elif len(chain) - 1 in never:
            hint = "forward 最后应返回 self.output_layer(h)。"
        elif len(never) > 1:
            hint = "forward 应依次经过 self.layers 中的每一层。"
        raise SelfCheckError(f"{names}没有被调用。{hint}\n{_FORWARD_HINT}")
    twice = [i for i in expected if counts[i] > 1]
    if twice:
        names = "、".join(f"{chain.label(i)}被调用了 {counts[i]} 次" for i in twice)
        raise SelfCheckError(f"{names}：每一层在一次 forward 中只应计算一次。\n{_FORWARD_HINT}")
    got = " → ".join(chain.code(i) for i in order)
    want = " → ".join(chain.code(i) for i in expected)
    raise SelfCheckError(f"各层的调用顺序不对：应为 {want}，你的顺序是 {got}。\n{_FORWARD_HINT}")


def _check_layer_input(chain, i, got, x, prev_out, activation_name) -> None:
    """第 i 个线性层收到的输入：参考是 activation(上一层的输出)（输入层：x 本身），否则对照常见错误。"""
    act = get_activation(activation_name)
    if i == 0:
        if isinstance(got, torch.Tensor) and got.numel() == x.numel():
            got = got.reshape(x.shape)
            if _close(got, x):
                return
            before = "输入层之前不应使用激活函数：input_layer 收到的是 activation(x)，而不是输入 x 本身。"
            if _close(got, act(x)):
                raise SelfCheckError(f"{before}\n{_FORWARD_HINT}")
        raise SelfCheckError(
            f"输入层 input_layer 收到的不是输入 x：forward 应直接计算 self.input_layer(x)。\n"
            f"{_FORWARD_HINT}"
        )
    if not isinstance(got, torch.Tensor) or not isinstance(prev_out, torch.Tensor):
        raise SelfCheckError(f"{chain.label(i)}收到的输入不是张量。\n{_FORWARD_HINT}")
    with torch.no_grad():
        if _close(got, act(prev_out)):
            return
        mistakes = _layer_input_mistakes(chain, i, prev_out, activation_name)
        message = diagnose(mistakes, lambda value: _close(got, value))
    raise SelfCheckError(
        message
        or f"{chain.label(i)}的输入与参考实现不同：它既不是 activation({chain.code(i - 1)} 的输出)，"
        f"也不是常见错误的结果。\n{_FORWARD_HINT}"
    )


def _layer_input_mistakes(chain, i, prev_out, activation_name) -> list[tuple[Any, str]]:
    """常见错误下第 i 层会收到的输入（上一层的输出为 prev_out）与说明。"""
    act = get_activation(activation_name)
    prev, code = chain.kind(i - 1), chain.code(i - 1)
    head = f"{chain.label(i)}的输入与参考实现不同"
    mistakes: list[tuple[Any, str]] = [
        (
            prev_out,
            f"{prev}之后没有经过激活函数：{head}（它收到的是上一层 {code} 未经激活的输出）。"
            "每个隐藏层（以及输入层）之后都要接激活函数：h = self.activation(layer(h))。",
        ),
        (
            lambda: act(act(prev_out)),
            f"激活函数用了两次：{head}（它收到的是 activation(activation(z))，z 为 {code} 的输出）。"
            "每一层之后只接一次激活函数。",
        ),
    ]
    for other in _ACTIVATION_NAMES:
        if other != activation_name:
            mistakes.append(
                (
                    partial(get_activation(other), prev_out),
                    f"用错了激活函数：{head}，它经过的是 {_LABELS[other]}，而这个网络的 "
                    f"activation_name={activation_name!r}。请使用 self.activation，不要写死 "
                    f"torch.{other} 之类的函数。",
                )
            )
    return mistakes


def _check_output(chain, out, z_out, activation_name) -> None:
    """forward 的返回值：参考是输出层的输出 z_out（logits），否则对照常见错误。"""
    if _close(out, z_out):
        return
    with torch.no_grad():
        message = diagnose(_output_mistakes(z_out, activation_name), lambda v: _close(out, v))
    raise SelfCheckError(
        message
        or "forward 的返回值不是输出层 output_layer 的输出：应 return self.output_layer(h)。"
    )


def _output_mistakes(z_out, activation_name) -> list[tuple[Any, str]]:
    """常见错误下 forward 会返回的值（输出层的输出为 z_out）与说明。"""
    after = (
        "输出层之后不应再接激活函数：forward 应直接返回输出层的结果 "
        "self.output_layer(h)（logits）。训练用的交叉熵损失 nn.CrossEntropyLoss 自己会做 softmax，"
        "输出层后再接激活函数会把 logits 压扁，梯度变小。"
    )
    softmax = (
        "forward 中不要做 softmax / log_softmax：应直接返回 logits "
        "self.output_layer(h)。交叉熵损失 nn.CrossEntropyLoss 自己会做 softmax，再做一次就错了。"
    )
    acts = [activation_name, *(a for a in _ACTIVATION_NAMES if a != activation_name)]
    return [
        *((partial(get_activation(a), z_out), after) for a in acts),
        (partial(F.softmax, z_out, dim=-1), softmax),
        (partial(F.log_softmax, z_out, dim=-1), softmax),
    ]


def _reference_forward(chain: _Chain, x: torch.Tensor, activation_name: str) -> torch.Tensor:
    act = get_activation(activation_name)
    with torch.no_grad():
        h = x
        for i, layer in enumerate(chain.layers):
            h = F.linear(h, layer.weight, layer.bias)
            if i < len(chain) - 1:
                h = act(h)
    return h


def _check_one_config(network_cls, activation_name: str, num_layers: int, batch: int, seed: int):
    try:
        with isolated_rng(seed):  # a forward that draws random numbers leaves no trace either
            _check_config(network_cls, activation_name, num_layers, batch, seed)
    except SelfCheckError as exc:
        where = (
            f"activation_name={activation_name!r}，num_layers={num_layers}，"
            f"输入形状 ({batch}, {INPUT_DIM})"
        )
        raise SelfCheckError(f"{exc}\n（出错的配置：{where}）") from exc.__cause__


def _check_config(network_cls, activation_name: str, num_layers: int, batch: int, seed: int):
    net, chain, call = _build_network(network_cls, activation_name, num_layers, seed)
    x = torch.randn(batch, INPUT_DIM, generator=torch.Generator().manual_seed(seed))
    given, out, order, inputs, outputs = _record_forward(net, chain, x, call)
    if not torch.equal(given, x):
        raise SelfCheckError(
            "你的 forward 原地修改了输入 x，例如 x /= 255、x[...] = … 或 x.clamp_(…)。"
            "调用者的数据不应被改动：请用返回新张量的写法（x = x / 255）。"
        )
    if not isinstance(out, torch.Tensor):
        raise SelfCheckError(
            f"forward 应返回 torch.Tensor（logits），实际返回 {type(out).__name__}"
            "（是不是忘了 return？）。"
        )
    if tuple(out.shape) != (batch, OUTPUT_DIM):
        raise SelfCheckError(
            f"forward 的输出形状应为 ({batch}, {OUTPUT_DIM})（每个样本 {OUTPUT_DIM} 个 logits），"
            f"实际为 {tuple(out.shape)}。"
            + ("不要对输出 squeeze()：批量为 1 时它会去掉批量维。" if batch == 1 else "")
        )
    if (moved := wrong_device(out, x, "forward")) is not None:
        raise SelfCheckError(moved)
    if out.dtype != x.dtype:
        raise SelfCheckError(
            f"forward 的输出类型应与输入相同（{str(x.dtype).removeprefix('torch.')}），"
            f"实际为 {str(out.dtype).removeprefix('torch.')}：logits 应直接是 self.output_layer(h) 的结果，"
            "不要用 .double()、.to(torch.float64) 或 torch.tensor(...) 转换类型。"
        )
    reference = _reference_forward(chain, x, activation_name)
    if order:
        _check_calls(chain, order)
        for i in range(len(chain)):
            prev_out = outputs[i - 1][0] if i > 0 else None
            _check_layer_input(chain, i, inputs[i][0], x, prev_out, activation_name)
        _check_output(chain, out.detach(), outputs[len(chain) - 1][0], activation_name)
    if not _close(out.detach(), reference):
        raise SelfCheckError(
            f"forward 的输出与参考实现不同。\n{_FORWARD_HINT}"
            + (
                ""
                if order
                else "\n（没有检测到对各层 nn.Linear 的调用，无法逐层对照：请通过 self.input_layer(x) 这样的方式调用各层。）"
            )
        )
    if not out.requires_grad:
        raise SelfCheckError(
            "forward 的输出不能求梯度（requires_grad=False）：计算图断开了。"
            "forward 中不要使用 torch.no_grad()、.detach()、.data、.item() 或 .numpy()。"
        )
    weights = [layer.weight for layer in chain.layers]
    try:
        grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    except NotImplementedError as exc:
        raise unfinished(exc, "激活函数的 derivative") from None
    except Exception as exc:
        raise SelfCheckError(
            f"对 forward 的输出反向传播时出错：{type(exc).__name__}: {exc}"
        ) from exc
    cut = [i for i, g in enumerate(grads) if g is None]
    if cut:
        raise SelfCheckError(
            f"{'、'.join(chain.label(i) for i in cut)}收不到梯度：forward 中的计算图在这里断开了。"
            "不要使用 .detach()、.data、.item()、.numpy() 或 torch.no_grad()。"
        )


def check_forward(network_cls) -> CheckReport:
    """检查你写的多层感知机 ``Network.forward``。

    ``network_cls`` 是你的网络**类**，构造函数与原实验相同：
    ``network_cls(input_dim, output_dim, activation_name, num_layers)``，
    属性 ``input_layer``（输入层）、``layers``（隐藏层的 ``nn.ModuleList``）、``output_layer``（输出层）、
    ``activation``（激活函数）。正确的 forward 是::

        h = self.activation(self.input_layer(x))
        for layer in self.layers:
            h = self.activation(layer(h))
        return self.output_layer(h)          # 输出层之后不接激活函数

    检查用几种配置（tanh / sigmoid / relu，0 到 3 个隐藏层，输入形状 (1, 784) 与 (7, 784)）创建网络，
    在每个 ``nn.Linear`` 上注册钩子，记录它被调用了几次、按什么顺序、收到的输入是什么，与参考实现逐层对照。
    能指出：哪一层之后漏了激活函数、输出层之后多接了激活函数或 softmax、某一层没有被调用或被调用了两次、
    各层顺序不对、用错了激活函数、输出形状不对、原地修改了输入 x、计算图被切断等。

    通过时返回报告，不通过时抛出 ``SelfCheckError``。

    用法::

        check_forward(Network)
    """
    need_class(
        network_cls, "check_forward", "Network", "检查要用不同的层数和激活函数创建多个网络。"
    )
    for seed, (activation_name, num_layers, batch) in enumerate(_FORWARD_CONFIGS):
        _check_one_config(network_cls, activation_name, num_layers, batch, seed)
    return passed(
        "check_forward",
        f"在 {len(_FORWARD_CONFIGS)} 种配置下（tanh、sigmoid、relu，0 到 3 个隐藏层，批量 1 和 7）逐层对照："
        "每个线性层恰好调用一次、顺序正确，每层收到的输入、最终输出都与参考实现一致，梯度能传到每一层。",
    )


# --------------------------------------------------------------------------------------------------
# check_gradient_stats
# --------------------------------------------------------------------------------------------------


def _gradient_model() -> Network:
    """3 个隐藏层的 Sigmoid 网络，做过一次反向传播（各层梯度大小明显不同）。"""
    with isolated_rng(0):
        model = Network(20, 5, "sigmoid", num_layers=3, hidden_dim=16)
        x = torch.randn(32, 20)
        y = torch.randint(0, 5, (32,))
        F.cross_entropy(model(x), y).backward()
    return model


def _entries(result, who: str, what: str) -> list:
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Sequence):
        raise SelfCheckError(
            f"{who} 应返回一个列表（{what}），实际返回 {type(result).__name__}"
            + ("（是不是忘了 return？）" if result is None else "")
            + "。"
        )
    return list(result)


def _same_numbers(got: Sequence[float], want: Sequence[float], rel: float = 1e-4) -> bool:
    return len(got) == len(want) and all(
        math.isclose(g, w, rel_tol=rel, abs_tol=1e-12) for g, w in zip(got, want, strict=True)
    )


def _table(names, want, got) -> str:
    # a CJK character takes two columns in a monospaced font: pad by display width
    rows = [f"  {'层':<13}{'期望':>12}{'你的结果':>10}"]
    rows += [
        f"  {name:<14}{fmt(w):>14}{fmt(g):>14}" for name, w, g in zip(names, want, got, strict=True)
    ]
    return "\n".join(rows)


def check_gradient_stats(fn: Callable) -> CheckReport:
    """检查逐层梯度统计：``fn(model)`` 返回每个线性层权重梯度的平均绝对值。

    ``fn(model)`` 在 ``loss.backward()`` 之后被调用，应返回一个列表，**每个线性层一项**
    （只看权重 ``weight``，不看偏置），按从输入层到输出层的顺序；每项是一个字典，
    键 ``"mean"`` 为该层权重梯度绝对值的平均 mean|∂ℓ/∂W|（Python 数或只有一个元素的张量），
    例如 ``{"layer": "input_layer", "mean": 0.0012}``。``model`` 是 ``labcode.models.Network``，
    ``model.linear_layers()`` 按顺序给出 ``(层名, nn.Linear)``。参考实现是
    ``labcode.metrics.analyze_gradients``。

    检查在一个 3 个隐藏层的 Sigmoid 网络上做一次反向传播，再调用 ``fn(model)`` 与参考结果比较，
    能认出：包含了偏置、没有取绝对值、用了标准差或范数、顺序颠倒或用了 ``named_parameters()`` 的顺序，
    以及修改了模型的梯度。

    用法::

        def layer_gradient_means(model):
            ...

        check_gradient_stats(layer_gradient_means)
    """
    need_function(fn, "check_gradient_stats", "layer_gradient_means")
    who = f"{describe(fn)}(model)"
    model = _gradient_model()
    layers = model.linear_layers()
    names = [name for name, _ in layers]
    reference = [entry["mean"] for entry in analyze_gradients(model)]
    saved = {n: p.detach().clone() for n, p in model.named_parameters()}
    saved_grads = {n: _grad(p).clone() for n, p in model.named_parameters()}

    with isolated_rng(0):
        result = call_student(fn, model, call=who)

    for n, p in model.named_parameters():
        if (
            p.grad is None
            or not torch.equal(p.grad, saved_grads[n])
            or not torch.equal(p, saved[n])
        ):
            raise SelfCheckError(
                f"{who} 修改了模型（参数 {n} 的{'梯度' if torch.equal(p, saved[n]) else '数值'}变了）："
                "统计梯度时只读取 p.grad，不要调用 zero_grad()、backward() 或 optimizer.step()，"
                "也不要对梯度做原地运算（如 p.grad.abs_()；请用 p.grad.abs()）。"
            )

    entries = _entries(result, who, "每个线性层一个字典")
    n_layers = len(layers)
    if len(entries) != n_layers:
        if len(entries) == 2 * n_layers:
            raise SelfCheckError(
                f"{who} 返回了 {len(entries)} 项，是线性层个数 {n_layers} 的两倍：你把偏置（bias）也算成了一层。"
                "只统计每个线性层的权重 weight，例如用 model.linear_layers() 取各层的 layer.weight.grad。"
            )
        raise SelfCheckError(
            f"{who} 应返回 {n_layers} 项（每个线性层一项：{', '.join(names)}），实际返回 {len(entries)} 项。"
        )
    got = []
    for k, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise SelfCheckError(
                f"{who} 返回的每一项应为字典，如 {{'layer': 'input_layer', 'mean': 0.0012}}；"
                f"你的第 {k} 项是 {type(entry).__name__}。"
            )
        if "mean" not in entry:
            raise SelfCheckError(
                f"{who} 返回的第 {k} 项没有键 'mean'（它的键：{', '.join(map(repr, entry))}）。"
            )
        got.append(as_number(entry["mean"], f"第 {k} 项的 mean"))
    return _judge_numbers(
        "check_gradient_stats",
        who,
        got,
        reference,
        names,
        mistakes=lambda: _gradient_mistakes(model, reference),
        success=f"在一个 3 个隐藏层的 Sigmoid 网络上，你返回的 {n_layers} 项（每个线性层的权重一项，从输入层到输出层）"
        "都等于该层权重梯度绝对值的平均 mean|∂ℓ/∂W|。",
        generic=f"{who} 的结果与参考实现不同（每层应为 layer.weight.grad.abs().mean()，从输入层到输出层）：",
    )


def _gradient_mistakes(model: Network, reference: list[float]) -> list[tuple[list[float], str]]:
    """常见错误的统计方法在这个模型上的结果，以及对应的说明。"""
    layers = model.linear_layers()

    def stat(f):
        return [float(f(_grad(layer.weight))) for _, layer in layers]

    named = [
        float(_grad(p).abs().mean())
        for name, p in model.named_parameters()
        if name.endswith("weight")
    ]
    std = "你算的是梯度的标准差 std，'mean' 应为梯度绝对值的平均 grad.abs().mean()。"
    return [
        (
            named,
            "顺序不对：你的结果是 model.named_parameters() 的顺序。Network 先创建了 layers，所以"
            " named_parameters() 中隐藏层排在 input_layer 之前。请按输入层 → 隐藏层 → 输出层排列，"
            "例如用 model.linear_layers()。",
        ),
        (reference[::-1], "顺序颠倒了：应从输入层排到输出层（第一项是 input_layer）。"),
        (
            stat(lambda g: g.mean()),
            "没有取绝对值：你算的是梯度的平均 mean(∂ℓ/∂W)，正负相互抵消；应为 mean(|∂ℓ/∂W|)，即 grad.abs().mean()。",
        ),
        (stat(lambda g: g.std()), std),
        (stat(lambda g: g.std(correction=0)), std),
        (
            stat(lambda g: g.abs().sum()),
            "你算的是梯度绝对值之和，应取平均 grad.abs().mean()（各层参数个数不同，和不能比较）。",
        ),
        (
            stat(lambda g: g.norm()),
            "你算的是梯度的范数 ‖∂ℓ/∂W‖，应为梯度绝对值的平均 grad.abs().mean()。",
        ),
        (
            [float(_grad(layer.bias).abs().mean()) for _, layer in layers],
            "你统计的是偏置 bias 的梯度，应统计权重 weight 的梯度。",
        ),
    ]


def _grad(p: torch.Tensor) -> torch.Tensor:
    """参数的梯度（检查的模型做过一次反向传播，每个参数都有梯度）。"""
    if p.grad is None:  # pragma: no cover - the check's own model
        raise RuntimeError("check_gradient_stats 的测试模型缺少梯度")
    return p.grad


def _judge_numbers(
    check: str,
    who: str,
    got: list[float],
    reference: list[float],
    names: list[str],
    *,
    mistakes: Callable[[], list[tuple[list[float], str]]],
    success: str,
    generic: str,
    rel: float = 1e-4,
) -> CheckReport:
    """逐层的一列数：与参考一致则通过；否则对照常见错误的列表说明原因，并列出逐层的期望与实际。"""
    if _same_numbers(got, reference, rel=rel):
        return passed(check, success)
    table = _table(names, reference, got)
    message = diagnose(mistakes(), lambda candidate: _same_numbers(got, candidate, rel=rel))
    if message is not None:
        raise SelfCheckError(f"{who} 的结果不对。{message}\n{table}")
    raise SelfCheckError(f"{generic}\n{table}")


# --------------------------------------------------------------------------------------------------
# check_dead_units
# --------------------------------------------------------------------------------------------------

_DEAD_N, _DEAD_BATCH, _DEAD_WIDTH = 50, 16, 10
# Per activated layer: units with bias -100 (dead), the unit active only for sample 0 (first batch),
# the unit active only for the last sample (last batch), the unit whose pre-activation is exactly 0
# (dead for ReLU), the always-active units; and which units of the previous layer feed them.
_DEAD_RECIPES = (
    # dead, first, last, zero, alive, (src first, src last, src alive), threshold
    ((0, 1, 2), 3, 4, 5, range(6, 10), (0, 1, range(2, 6)), 0.5),
    ((0, 1), 2, 3, 4, range(5, 10), (3, 4, range(6, 10)), 0.25),
    ((0,), 1, 2, 3, range(4, 10), (2, 3, range(5, 10)), 0.1),
)
_DEAD_EXPECTED = (0.4, 0.3, 0.2)


def _dead_unit_setup() -> tuple[Network, TensorLoader]:
    """手工设置了死亡神经元的 ReLU 网络（每层的正确答案已知）和一个最后一批不满的 loader。"""
    g = torch.Generator().manual_seed(0)
    d = 784  # MNIST-shaped batches (B, 1, 28, 28); only the first 6 pixels are used
    x = torch.zeros(_DEAD_N, d)
    x[:, 2:6] = torch.rand(_DEAD_N, 4, generator=g) * 2 - 1
    x[0, 0] = 1.0  # the first sample switches on one unit per layer
    x[-1, 1] = 1.0  # and the last sample another one
    x = x.reshape(_DEAD_N, 1, 28, 28)
    y = torch.zeros(_DEAD_N, dtype=torch.long)
    with isolated_rng(0):
        model = Network(d, 3, "relu", num_layers=len(_DEAD_RECIPES) - 1, hidden_dim=_DEAD_WIDTH)
    layers = [layer for _, layer in model.linear_layers()[:-1]]
    with torch.no_grad():
        for layer, recipe in zip(layers, _DEAD_RECIPES, strict=True):
            dead, first, last, _zero, alive, (src_first, src_last, src_alive), threshold = recipe
            weight = torch.zeros_like(layer.weight)
            bias = torch.zeros_like(layer.bias)
            bias[list(dead)] = -100.0
            weight[first, src_first] = weight[last, src_last] = 1.0
            bias[first] = bias[last] = -threshold
            for j in alive:
                weight[j, list(src_alive)] = torch.rand(len(src_alive), generator=g) * 0.2 - 0.1
                bias[j] = 2.0
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    return model, TensorLoader(x, y, batch_size=_DEAD_BATCH)


def _dead_mistakes(model: Network, loader) -> list[tuple[list[float], str]]:
    """常见错误算法在这组数据上的结果，以及对应的说明。"""
    with torch.no_grad():
        batches = [model(x, return_preactivations=True)[1] for x, _ in loader]
    n_layers = len(batches[0])
    per_layer = [[b[k] for b in batches] for k in range(n_layers)]
    width = per_layer[0][0].shape[1]

    def dead_in(z):  # (B, width) -> fraction of units with z <= 0 for every sample
        return (z <= 0).all(dim=0)

    def each(f):
        return [float(f(zs)) for zs in per_layer]

    reference = each(lambda zs: dead_in(torch.cat(zs)).double().mean())
    per_batch = (
        "你是按批次判断的：一个神经元只要对数据集中任何一个样本活跃（预激活值 > 0）就没有死。"
        "应对每个批次求“本批次中是否活跃”（(z > 0).any(dim=0)），再跨所有批次取“或”，最后统计从未活跃过的比例。"
    )
    zero_output = (
        "你统计的是输出为 0 的比例（原实验的指标：所有样本、所有神经元中激活值为 0 的比例），"
        "不是死亡神经元的比例。死亡神经元是对所有样本导数都为 0（ReLU：预激活值都 ≤ 0）的神经元，"
        "按神经元计数。"
    )
    return [
        (
            each(lambda zs: dead_in(zs[-1]).double().mean()),
            per_batch + "（你的结果等于只看最后一个批次。）",
        ),
        (
            each(lambda zs: dead_in(zs[0]).double().mean()),
            per_batch + "（你的结果等于只看第一个批次。）",
        ),
        (
            each(lambda zs: torch.stack([dead_in(z) for z in zs]).any(dim=0).double().mean()),
            per_batch + "（你把在某一个批次中不活跃的神经元都算成了死亡。）",
        ),
        (
            each(lambda zs: torch.stack([dead_in(z).double().mean() for z in zs]).mean()),
            per_batch + "（你的结果等于各批次死亡比例的平均。）",
        ),
        (each(lambda zs: (torch.cat(zs) <= 0).double().mean()), zero_output),
        (each(lambda zs: torch.stack([(z <= 0).double().mean() for z in zs]).mean()), zero_output),
        (
            each(lambda zs: (zs[-1] <= 0).double().mean()),
            zero_output + "（而且只看了最后一个批次。）",
        ),
        (
            each(lambda zs: (torch.cat(zs) < 0).all(dim=0).double().mean()),
            "预激活值恰好为 0 的神经元也是死的：ReLU 在 0 处导数取 0（输出也是 0）。"
            "判断条件应为 z <= 0（或 relu(z) == 0），而不是 z < 0。",
        ),
        (
            [100 * r for r in reference],
            "你返回的是百分数，应返回 0 到 1 之间的比例（不要乘以 100）。",
        ),
        (
            [width * r for r in reference],
            f"你返回的是死亡神经元的个数，应返回比例：除以该层的神经元个数（这里是 {width}）。",
        ),
        (reference[::-1], "顺序颠倒了：应按输入层、第 1 个隐藏层、…… 的顺序排列。"),
    ]


def check_dead_units(fn: Callable) -> CheckReport:
    """检查死亡神经元的统计：``fn(model, loader)`` 返回每层死亡神经元的比例。

    ``model`` 是 ReLU 激活的 ``labcode.models.Network``，``loader`` 每次给出一个批次 ``(x, y)``。
    一个神经元在这个数据集上“死亡”，是指对 loader 中的**所有**样本，激活函数的导数都为 0
    （ReLU：预激活值都 ≤ 0）。``fn`` 应返回一个列表，每个带激活函数的层（输入层和每个隐藏层）一项，
    按从输入到输出的顺序，值为该层死亡神经元占该层神经元总数的比例（0 到 1 之间的数）。
    提示：``model(x, return_preactivations=True)`` 返回 ``(logits, 各层预激活值的列表)``。
    参考实现是 ``labcode.metrics.count_dead_units``。

    检查用一个手工设置了权重的网络（死亡比例已知：0.4、0.3、0.2；另有只对第一个批次或最后一个批次中
    某个样本活跃的神经元，以及预激活值恰好为 0 的神经元），数据是 50 张 MNIST 形状 (1, 28, 28) 的
    “图片”，批大小 16（最后一批只有 2 个）。
    能认出：统计的是输出为 0 的比例（原实验的指标）、按批次判断（只看最后一个批次、在某个批次中不活跃就算死亡、
    对各批次取平均）、用了 z < 0 而不是 z <= 0、返回百分数或个数、顺序颠倒、少了或多了一层。

    用法::

        def dead_fraction(model, loader):
            ...

        check_dead_units(dead_fraction)
    """
    need_function(fn, "check_dead_units", "dead_fraction")
    who = f"{describe(fn)}(model, loader)"
    model, loader = _dead_unit_setup()
    reference = count_dead_units(model, loader)
    if not _same_numbers(reference, _DEAD_EXPECTED, rel=1e-9):  # the hand-made network itself
        raise RuntimeError(f"check_dead_units 的测试网络不符合设计：{reference}")
    saved = {name: p.detach().clone() for name, p in model.named_parameters()}
    data = Unchanged(x=loader.x, y=loader.y)

    with isolated_rng(0):
        result = call_student(fn, model, loader, call=who)

    data.verify(who)
    for name, p in model.named_parameters():
        if not torch.equal(p.detach(), saved[name]):
            raise SelfCheckError(
                f"{who} 修改了模型的参数 {name}：统计时只应读取，不应训练或改动模型。"
            )
    entries = _entries(result, who, "每个带激活函数的层一个比例")
    n = len(reference)
    if len(entries) != n:
        if len(entries) == n - 1:
            hint = (
                "少了一层：输入层 input_layer 之后也有激活函数，也要统计（共 num_layers + 1 层）。"
            )
        elif len(entries) == n + 1:
            hint = "多了一层：输出层之后没有激活函数，不统计。"
        else:
            hint = ""
        raise SelfCheckError(
            f"{who} 应返回 {n} 个比例（输入层和 {n - 1} 个隐藏层，每层一个），实际返回 {len(entries)} 个。{hint}"
        )
    got = [as_number(v, f"第 {k} 层的死亡比例") for k, v in enumerate(entries, start=1)]
    return _judge_numbers(
        "check_dead_units",
        who,
        got,
        reference,
        [name for name, _ in model.linear_layers()[:-1]],
        mistakes=lambda: _dead_mistakes(model, loader),
        success="在一个手工设置了死亡神经元的 ReLU 网络上（3 个带激活函数的层，死亡比例分别为 0.4、0.3、0.2；"
        "另有只对第一个或最后一个批次中某个样本活跃的神经元、预激活值恰好为 0 的神经元；"
        "最后一个批次不满），你的结果与按定义统计的比例一致。",
        generic=f"{who} 的结果与按定义统计的死亡比例不同（死亡：对 loader 中所有样本预激活值都 ≤ 0）：",
        rel=1e-6,
    )
