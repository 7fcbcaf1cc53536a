"""check_l2_penalty, check_l2_step, check_dropout_layer, check_dropout_model, check_eval_accuracy."""

import re

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labcode.metrics import Accumulator
from labcode.models import RegularizedNetwork, TorchDropoutNetwork
from labcode.regularization import dropout_layer, l2_penalty
from labcode.selfcheck import (
    SelfCheckError,
    check_dropout_layer,
    check_dropout_model,
    check_eval_accuracy,
    check_l2_penalty,
    check_l2_step,
)

# one torch thread for every test here; ``rng_untouched`` too comes from conftest.py
pytestmark = pytest.mark.usefixtures("one_thread")


def stub(label):
    def unfinished(*args, **kwargs):
        raise NotImplementedError(label)

    return unfinished


# --------------------------------------------------------------------------------------------------
# check_l2_penalty
# --------------------------------------------------------------------------------------------------


def l2_in_place(w):
    return w.pow_(2).sum() / 2


def l2_in_place_mul(w):
    w.mul_(w)
    return w.sum() / 2


@pytest.mark.parametrize(
    "fn", [l2_penalty, lambda w: (w**2).sum() / 2, lambda w: 0.5 * w.norm() ** 2]
)
def test_check_l2_penalty_passes(fn, rng_untouched):
    assert check_l2_penalty(fn).startswith("check_l2_penalty 通过：")


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (lambda w: torch.sum(w**2), r"少了 1/2：惩罚项应为 ‖w‖²/2，这样它的梯度正好是 w"),
        (lambda w: torch.norm(w), r"范数 ‖w‖.*开了平方根"),
        (lambda w: torch.mean(w**2) / 2, r"用了平均（mean）而不是求和（sum）"),
        (lambda w: torch.sum(torch.abs(w)), r"L1 惩罚"),
        (lambda w: torch.sum(w) ** 2 / 2, r"先求和再平方"),
        (lambda w: torch.sum(w * 2) / 2, r"忘了平方"),
        (lambda w: w**2 / 2, r"应返回一个数（标量张量）.*忘了对所有元素求和"),
        (lambda w: (w**2).sum().item() / 2, r"应返回 torch\.Tensor.*\.item\(\)"),
        (lambda w: np.sum(w.detach().numpy() ** 2) / 2, r"应返回 torch\.Tensor.*NumPy"),
        (lambda w: (w**2).sum().detach() / 2, r"不能对 w 求导"),
        (l2_in_place_mul, r"原地修改了 w"),
        (l2_in_place, r"原地修改了 w"),
    ],
)
def test_check_l2_penalty_names_the_mistake(fn, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_l2_penalty(fn)


def test_check_l2_penalty_stub_and_other_exceptions():
    label = "练习 4.1：请实现 l2_penalty（检查：check_l2_penalty）"
    with pytest.raises(NotImplementedError, match=f"^{label}$"):
        check_l2_penalty(stub(label))
    with pytest.raises(SelfCheckError, match=r"调用 .*\(w\).*时出错：ZeroDivisionError") as info:
        check_l2_penalty(lambda w: 1 / 0)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


# --------------------------------------------------------------------------------------------------
# check_l2_step
# --------------------------------------------------------------------------------------------------


def make_step(
    *, halve=True, decay_bias=False, zero=True, penalty_per_sample=True, lambd_used=True, mean=True
):
    """d2l's train-step written out, with switches for the typical mistakes."""

    def step(w, b, X, y, lr, lambd):
        lam = lambd if lambd_used else 0.0
        penalty = (w**2).sum() / (2 if halve else 1)
        if decay_bias:
            penalty = penalty + (b**2).sum() / 2
        per_sample = (X @ w + b - y) ** 2 / 2
        if penalty_per_sample:
            loss = (per_sample + lam * penalty).sum()
        else:
            loss = per_sample.sum() + lam * penalty
        loss.backward()
        with torch.no_grad():
            for p in (w, b):
                p -= lr * p.grad / (len(X) if mean else 1)
                if zero:
                    p.grad.zero_()

    return step


def step_with_optimizer(w, b, X, y, lr, lambd):
    opt = torch.optim.SGD([w, b], lr=lr)
    opt.zero_grad()
    loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * l2_penalty(w)
    loss.backward()
    opt.step()


def rebinds(w, b, X, y, lr, lambd):
    loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * l2_penalty(w)
    loss.backward()
    w = w - lr * w.grad
    b = b - lr * b.grad


def ascends(w, b, X, y, lr, lambd):
    make_step()(w, b, X, y, -lr, lambd)


def zeroes_before_first_backward(w, b, X, y, lr, lambd):
    w.grad.zero_()
    make_step()(w, b, X, y, lr, lambd)


@pytest.mark.parametrize("step", [make_step(), step_with_optimizer])
def test_check_l2_step_passes(step, rng_untouched):
    assert check_l2_step(step).startswith("check_l2_step 通过：")


def test_l2_step_variants_match_torch_sgd():
    from labcode.selfcheck import regularization as r

    X, y, w0, b0 = r._l2_problem()
    reference = r._sgd_reference(X, y, w0, b0, r._LR, r._LAMBD)
    assert r._same_trajectory(r._sgd_variant(X, y, w0, b0, r._LR, r._LAMBD), reference, 3)


@pytest.mark.parametrize(
    ("step", "phrase"),
    [
        (make_step(halve=False), r"权重衰减是应有的 2 倍"),
        (make_step(decay_bias=True), r"偏置 b 也被衰减了"),
        (make_step(zero=False), r"梯度在各步之间累加了.*第 2 步之后"),
        (make_step(penalty_per_sample=False), r"惩罚项被除以了批量大小"),
        (make_step(lambd_used=False), r"lambd 没有起作用"),
        (make_step(mean=False), r"梯度是应有的 B 倍"),
        (rebinds, r"w 和 b 都没有变.*原地"),
        (ascends, r"沿梯度方向增加"),
        (
            zeroes_before_first_backward,
            r"（第 1 步） 时出错：AttributeError.*w\.grad 和 b\.grad 都是 None",
        ),
    ],
)
def test_check_l2_step_names_the_mistake(step, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_l2_step(step)


def test_check_l2_step_stub():
    label = "练习 4.2：请实现 train_step（检查：check_l2_step）"
    with pytest.raises(NotImplementedError, match=f"^{label}$"):
        check_l2_step(stub(label))


# --------------------------------------------------------------------------------------------------
# check_dropout_layer
# --------------------------------------------------------------------------------------------------


def d2l_dropout(X, dropout):
    """d2l's version (the original lab's, with assert)."""
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    if dropout == 0:
        return X
    mask = (torch.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


def bernoulli_dropout(X, dropout):
    if dropout == 1:
        return torch.zeros_like(X)
    keep = torch.bernoulli(torch.full_like(X, 1 - dropout))
    return keep * X / (1 - dropout)


def divides_by_p(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    return (torch.rand(X.shape) > dropout).to(X.dtype) * X / dropout


def not_scaled(X, dropout):
    return (torch.rand(X.shape) > dropout).to(X.dtype) * X


def keeps_with_p(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    return (torch.rand(X.shape) < dropout).to(X.dtype) * X / (1 - dropout)


def nan_at_one(X, dropout):
    return (torch.rand(X.shape) > dropout).to(X.dtype) * X / (1.0 - dropout)


def row_mask(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    mask = (torch.rand(1, X.shape[-1]) > dropout).to(X.dtype)
    return mask * X / (1 - dropout)


def same_mask_each_call(X, dropout):
    torch.manual_seed(0)
    return d2l_dropout(X, dropout)


def zeroes_in_place(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    X[torch.rand(X.shape) <= dropout] = 0
    return X / (1 - dropout)


def float64_mask(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    return (torch.rand(X.shape, dtype=torch.float64) > dropout).double() * X / (1 - dropout)


def two_dim_only(X, dropout):
    if dropout in (0, 1):
        return d2l_dropout(X, dropout)
    rows, cols = X.shape[0], X.shape[-1]
    return (torch.rand(rows, cols) > dropout).to(X.dtype) * X / (1 - dropout)


def identity_unless_one(X, dropout):
    return torch.zeros_like(X) if dropout == 1 else X


def d2l_on_any_device(X, dropout):
    """d2l's version with the mask made on X's device."""
    assert 0 <= dropout <= 1
    if dropout == 1:
        return torch.zeros_like(X)
    if dropout == 0:
        return X
    mask = (torch.rand(X.shape, device=X.device) > dropout).float()
    return mask * X / (1.0 - dropout)


def divides_by_p_only(X, dropout):
    """The student run's version: no special cases, so p = 0 gives inf."""
    return (torch.rand(X.shape, device=X.device) > dropout).to(X.dtype) * X / dropout


def keeps_with_p_only(X, dropout):
    return (torch.rand(X.shape, device=X.device) < dropout).to(X.dtype) * X / (1 - dropout)


def gaussian_noise(X, dropout):
    return X + 0.01 * torch.randn_like(X)


def exits(X, dropout):
    raise SystemExit(0)


@pytest.mark.parametrize("fn", [dropout_layer, d2l_on_any_device, bernoulli_dropout])
def test_check_dropout_layer_passes(fn, rng_untouched):
    assert check_dropout_layer(fn).startswith("check_dropout_layer 通过：")


def test_check_dropout_layer_does_not_flake():
    for seed in range(30):
        check_dropout_layer(dropout_layer, seed=seed)
        check_dropout_layer(d2l_on_any_device, seed=seed)


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (divides_by_p, r"保留的元素应除以 1-p=0\.7，你的实现除以了 0\.3"),
        (not_scaled, r"保留的元素没有放大：应除以 1-p=0\.7"),
        (keeps_with_p, r"比例约为 0\.\d+，应为 1-p=0\.7：你把 p 当成了保留概率"),
        (nan_at_one, r"\(X, 1\) 的输出中出现了 NaN.*0/0.*单独处理"),
        (row_mask, r"对每一行用了同一个掩码"),
        (same_mask_each_call, r"两次调用得到了完全相同的掩码"),
        (zeroes_in_place, r"原地修改了输入 X"),
        (float64_mask, r"输出类型应与 X 相同（torch\.float32），实际为 torch\.float64"),
        (two_dim_only, r"X 形状 \(8, 3, 5, 5\).*时出错.*掩码的形状应与 X 相同"),
        (identity_unless_one, r"保留下来的元素比例为 1\.0000"),
        (divides_by_p_only, r"^divides_by_p_only\(X, 0\.3\) 不对.*你的实现除以了 0\.3"),
        (keeps_with_p_only, r"^keeps_with_p_only\(X, 0\.3\) 不对.*你把 p 当成了保留概率"),
        (gaussian_noise, r"保留下来的元素比例为 1\.0000.*每个输出元素应为 0 或 X/\(1-p\)"),
        (d2l_dropout, r"X 在 (meta|cuda) 设备上.*不在 X 所在的设备上.*device=X\.device"),
        (exits, r"调用了 sys\.exit\(0\)"),
    ],
)
def test_check_dropout_layer_names_the_mistake(fn, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_dropout_layer(fn)


def test_check_dropout_layer_stub():
    label = "练习 5.1：请实现 dropout_layer（检查：check_dropout_layer）"
    with pytest.raises(NotImplementedError, match=f"^{label}$"):
        check_dropout_layer(stub(label))


# --------------------------------------------------------------------------------------------------
# check_dropout_model
# --------------------------------------------------------------------------------------------------


class FunctionalDropoutAlways(RegularizedNetwork):
    """F.dropout without training=self.training: still active in eval mode."""

    def forward(self, x):
        x = F.dropout(self.features(x), self.dropout_rate)
        return self.fc2(torch.relu(self.fc1(x)))


class NeverDrops(RegularizedNetwork):
    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(self.features(x))))


class HardcodedRate(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = dropout_layer(x, 0.5)
        return self.fc2(torch.relu(self.fc1(x)))


class ScalesAtEval(RegularizedNetwork):
    """Old-style dropout: no scaling in training, multiply by 1-p at test time."""

    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = (torch.rand(x.shape) > self.dropout_rate).float() * x
        else:
            x = x * (1 - self.dropout_rate)
        return self.fc2(torch.relu(self.fc1(x)))


class NoRateArgument(nn.Module):
    def __init__(self):
        super().__init__()


class UnfinishedModel(RegularizedNetwork):
    def forward(self, x):
        raise NotImplementedError(
            "练习 5.2：请在 forward 中使用 dropout（检查：check_dropout_model）"
        )


@pytest.mark.parametrize("model_cls", [RegularizedNetwork, TorchDropoutNetwork])
def test_check_dropout_model_passes(model_cls, rng_untouched):
    assert check_dropout_model(model_cls).startswith("check_dropout_model 通过：")


def test_check_dropout_model_does_not_flake():
    for seed in range(10):
        check_dropout_model(RegularizedNetwork, seed=seed)


@pytest.mark.parametrize(
    ("model_cls", "phrase"),
    [
        (FunctionalDropoutAlways, r"评估模式下 dropout 仍然生效.*training=self\.training"),
        (NeverDrops, r"训练模式下 dropout 没有生效"),
        (HardcodedRate, r"没有使用 dropout_rate 参数.*写死"),
        (ScalesAtEval, r"评估模式下.*dropout_rate=0\) 不同.*不乘以或除以 1-p"),
        (NoRateArgument, r"dropout_rate=0\.5\).*TypeError.*构造函数应接受参数 dropout_rate"),
    ],
)
def test_check_dropout_model_names_the_mistake(model_cls, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_dropout_model(model_cls)


class GaussianNoise(RegularizedNetwork):
    """A "dropout" that adds small noise in training and never drops anything."""

    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = x + self.dropout_rate * 0.01 * torch.randn_like(x)
        return self.fc2(torch.relu(self.fc1(x)))


class ForgetsReLU(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = dropout_layer(x, self.dropout_rate)
        return self.fc2(self.fc1(x))


class NotScaledInTraining(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = (torch.rand_like(x) > self.dropout_rate).float() * x
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.mark.parametrize(
    ("model_cls", "phrase"),
    [
        (GaussianNoise, r"fc1 收到的不是 dropout 的结果.*0 或 h/\(1-p\)"),
        (ForgetsReLU, r"fc1 之后忘了 ReLU"),
        (NotScaledInTraining, r"fc1 收到的不是 dropout 的结果"),
    ],
)
def test_check_dropout_model_compares_the_architecture(model_cls, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_dropout_model(model_cls)


def test_checks_explain_class_instance_and_function_confusion():
    with pytest.raises(SelfCheckError, match=r"请传入类本身.*而不是创建好的实例"):
        check_dropout_model(RegularizedNetwork(0.5))
    with pytest.raises(SelfCheckError, match=r"请传入类本身.*而不是一个函数"):
        check_dropout_model(dropout_layer)
    with pytest.raises(SelfCheckError, match=r"要检查的是函数，你传入的是类 RegularizedNetwork"):
        check_dropout_layer(RegularizedNetwork)
    for check in (check_l2_penalty, check_l2_step, check_eval_accuracy):
        with pytest.raises(SelfCheckError, match=r"要检查的是函数，你传入的是类"):
            check(RegularizedNetwork)


def test_check_dropout_model_stub():
    with pytest.raises(NotImplementedError, match="^练习 5.2：请在 forward 中使用 dropout"):
        check_dropout_model(UnfinishedModel)


# --------------------------------------------------------------------------------------------------
# check_eval_accuracy
# --------------------------------------------------------------------------------------------------


def make_accuracy(*, eval_mode=True, per_batch=False, scale=1.0, divide=True, batches=None):
    def evaluate_accuracy(model, loader):
        if eval_mode:
            model.eval()
        metric = Accumulator(2)
        accs = []
        with torch.no_grad():
            for i, (X, y) in enumerate(loader):
                if batches is not None and i >= batches:
                    break
                hits = (model(X).argmax(dim=1) == y).sum().item()
                metric.add(hits, len(y))
                accs.append(hits / len(y))
        if per_batch:
            return scale * sum(accs) / len(accs)
        return scale * (metric[0] / metric[1] if divide else metric[0])

    return evaluate_accuracy


def tensor_accuracy(model, loader):
    model.eval()
    with torch.no_grad():
        hits = sum((model(X).argmax(1) == y).sum() for X, y in loader)
    return hits / sum(len(y) for _, y in loader)  # a 0-dim tensor


def full_batches_denominator(model, loader):
    model.eval()
    with torch.no_grad():
        hits = sum((model(X).argmax(1) == y).sum().item() for X, y in loader)
    return hits / (len(loader) * loader.batch_size)


@pytest.mark.parametrize("fn", [make_accuracy(), tensor_accuracy])
def test_check_eval_accuracy_passes(fn, rng_untouched):
    assert check_eval_accuracy(fn).startswith("check_eval_accuracy 通过：")


def test_check_eval_accuracy_does_not_flake():
    for seed in range(10):
        check_eval_accuracy(make_accuracy(), seed=seed)


@pytest.mark.parametrize(
    ("fn", "phrase"),
    [
        (make_accuracy(eval_mode=False), r"训练模式下运行了模型：评估前要调用 model\.eval\(\)"),
        (make_accuracy(per_batch=True), r"对各批次的准确率取了平均"),
        (make_accuracy(scale=100.0), r"百分数"),
        (make_accuracy(divide=False), r"预测正确的样本数，应再除以样本总数 103"),
        (full_batches_denominator, r"除以了 批次数 × 批大小 = 120"),
        (make_accuracy(batches=1), r"只处理了 20 个样本"),
        (lambda model, loader: None, r"应为一个数（float），你返回的是 NoneType"),
    ],
)
def test_check_eval_accuracy_names_the_mistake(fn, phrase, rng_untouched):
    with pytest.raises(SelfCheckError, match=re.compile(phrase, re.DOTALL)):
        check_eval_accuracy(fn)


def test_check_eval_accuracy_stub():
    label = "练习 5.3：请实现 evaluate_accuracy（检查：check_eval_accuracy）"
    with pytest.raises(NotImplementedError, match=f"^{label}$"):
        check_eval_accuracy(stub(label))


def meta_output(X, dropout):
    return torch.zeros(X.shape, device="meta")


def meta_penalty(w):
    return torch.zeros((), device="meta")


def test_outputs_on_another_device_fail_clearly_not_as_unfinished(rng_untouched):
    with pytest.raises(SelfCheckError, match=r"输出在设备 meta 上，而输入在 cpu 上"):
        check_dropout_layer(meta_output)
    with pytest.raises(SelfCheckError, match=r"输出在设备 meta 上"):
        check_l2_penalty(meta_penalty)


def test_accuracy_on_the_meta_device_fails_clearly(rng_untouched):
    with pytest.raises(SelfCheckError, match=r"meta 设备上的张量"):
        check_eval_accuracy(lambda model, loader: torch.zeros((), device="meta"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_gpu_the_mask_must_follow_x(rng_untouched):
    assert check_dropout_layer(dropout_layer).startswith("check_dropout_layer 通过：")
    with pytest.raises(SelfCheckError, match=r"X 在 cuda 设备上.*device=X\.device"):
        check_dropout_layer(d2l_dropout)
