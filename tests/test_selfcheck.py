"""check_activation_function: passes for correct classes, explains what is wrong otherwise."""

import matplotlib
import pytest
import torch

from labcode import MyReLU, MySigmoid, MyTanh, check_activation_function
from labcode.selfcheck import ActivationCheckError

matplotlib.use("Agg")


# The seed lab's own student classes (plain classes, not nn.Modules).
class SeedReLU:
    def __call__(self, x):
        return torch.maximum(torch.tensor(0.0), x)

    def derivative(self, x):
        return (x > 0).float()


class SeedSigmoid:
    def __call__(self, x):
        return 1 / (1 + torch.exp(-x))

    def derivative(self, x):
        s = self(x)
        return s * (1 - s)


class SeedTanh:
    def __call__(self, x):
        return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))

    def derivative(self, x):
        t = self(x)
        return 1 - t * t


class WrongTanhDerivative(MyTanh):
    def derivative(self, x):
        return 1 - torch.tanh(x)  # forgot the square


class WrongSigmoidDerivative:
    def __call__(self, x):
        return torch.sigmoid(x)

    def derivative(self, x):
        return torch.sigmoid(x)


def test_passes_for_labcode_classes_and_prints_confirmation(capsys):
    assert check_activation_function(MyReLU, MySigmoid, MyTanh, show_plot=False) is None
    assert "自检通过" in capsys.readouterr().out


def test_returns_two_panel_figure_without_display():
    import matplotlib.pyplot as plt

    fig = check_activation_function(MyReLU, MySigmoid, MyTanh)
    assert fig is not None and len(fig.axes) == 2
    funcs, derivs = fig.axes
    assert [line.get_label() for line in funcs.lines] == ["ReLU", "Sigmoid", "Tanh"]
    assert [line.get_label() for line in derivs.lines] == ["ReLU'", "Sigmoid'", "Tanh'"]
    texts = [ax.get_title() for ax in fig.axes] + [ax.get_xlabel() for ax in fig.axes]
    assert all(t.isascii() for t in texts)  # no CJK glyphs needed
    assert fig.number not in plt.get_fignums()  # released from pyplot, returned to the caller


def test_seed_relu_and_sigmoid_pass(capsys):
    check_activation_function(SeedReLU, SeedSigmoid, MyTanh, show_plot=False)


def test_relu_derivative_at_zero_is_not_judged():
    class ReLUGe(SeedReLU):
        def derivative(self, x):
            return (x >= 0).to(x.dtype)

    check_activation_function(ReLUGe, MySigmoid, MyTanh, show_plot=False)


def test_seed_naive_tanh_fails_with_nan_and_inputs():
    with pytest.raises(ActivationCheckError) as info:
        check_activation_function(SeedReLU, SeedSigmoid, SeedTanh, show_plot=False)
    message = str(info.value)
    assert "Tanh 的函数值" in message
    assert "nan" in message and "NaN/inf" in message
    assert "89.5" in message  # the first overflowing input shown
    assert "e^{-2|x|}" in message  # and how to fix it
    assert isinstance(info.value, AssertionError)


def test_wrong_derivative_names_function_and_inputs():
    with pytest.raises(ActivationCheckError) as info:
        check_activation_function(MyReLU, MySigmoid, WrongTanhDerivative, show_plot=False)
    message = str(info.value)
    assert "Tanh 的导数" in message
    assert "x =" in message and "期望" in message and "实际" in message

    with pytest.raises(ActivationCheckError, match="Sigmoid 的导数"):
        check_activation_function(MyReLU, WrongSigmoidDerivative, MyTanh, show_plot=False)


def test_wrong_value_names_function():
    class ShiftedReLU(SeedReLU):
        def __call__(self, x):
            return torch.relu(x) + 0.01

    with pytest.raises(ActivationCheckError, match="ReLU 的函数值"):
        check_activation_function(ShiftedReLU, MySigmoid, MyTanh, show_plot=False)


def test_float64_only_failure_names_dtype():
    class Float32Sigmoid(SeedSigmoid):
        def __call__(self, x):
            return torch.sigmoid(x.float()).to(x.dtype) + (x.dtype == torch.float64) * 1e-2

    with pytest.raises(ActivationCheckError, match="float64"):
        check_activation_function(MyReLU, Float32Sigmoid, MyTanh, show_plot=False)


def test_missing_derivative_and_not_callable():
    class NoDerivative:
        def __call__(self, x):
            return torch.tanh(x)

    class NotCallable:
        def derivative(self, x):
            return x

    with pytest.raises(ActivationCheckError, match=r"Tanh 缺少导数方法.*derivative"):
        check_activation_function(MyReLU, MySigmoid, NoDerivative, show_plot=False)
    with pytest.raises(ActivationCheckError, match=r"ReLU.*__call__"):
        check_activation_function(NotCallable, MySigmoid, MyTanh, show_plot=False)


def test_forgotten_return_and_exceptions_are_explained():
    class ReturnsNone(SeedReLU):
        def __call__(self, x):
            torch.relu(x)

    class Raises(SeedSigmoid):
        def derivative(self, x):
            raise RuntimeError("boom")

    class NeedsArgs(SeedReLU):
        def __init__(self, slope):
            self.slope = slope

    with pytest.raises(ActivationCheckError, match="return"):
        check_activation_function(ReturnsNone, MySigmoid, MyTanh, show_plot=False)
    with pytest.raises(ActivationCheckError, match=r"Sigmoid 的导数.*boom"):
        check_activation_function(MyReLU, Raises, MyTanh, show_plot=False)
    with pytest.raises(ActivationCheckError, match="构造函数"):
        check_activation_function(NeedsArgs, MySigmoid, MyTanh, show_plot=False)


def test_instances_are_accepted_too():
    check_activation_function(MyReLU(), MySigmoid(), MyTanh(), show_plot=False)
