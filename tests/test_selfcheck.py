"""check_activation_function, check_modern_activation; the selfcheck package's shared API."""

import math
import re

import matplotlib
import pytest
import torch
from torch.nn import functional as F

from labcode import MyReLU, MySigmoid, MyTanh, check_activation_function
from labcode.activations import Activation, MyELU, MyGELU, MyLeakyReLU, MySiLU
from labcode.selfcheck import (
    ActivationCheckError,
    CheckReport,
    SelfCheckError,
    check_modern_activation,
)

matplotlib.use("Agg")


# the original lab's own student classes (plain classes, not nn.Modules).
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
    assert [ax.get_title() for ax in fig.axes] == ["你实现的激活函数", "你实现的导数（derivative）"]
    assert "你实现的激活函数" in fig.alt_text  # the site copies it into <img alt>
    assert plt.get_fignums() == []  # never registered with pyplot: shown once, by the caller


def test_seed_relu_and_sigmoid_pass(capsys):
    check_activation_function(SeedReLU, SeedSigmoid, MyTanh, show_plot=False)


def test_relu_derivative_at_zero_must_be_zero_as_in_pytorch():
    class ReLUGe(SeedReLU):
        def derivative(self, x):
            return (x >= 0).to(x.dtype)

    with pytest.raises(
        ActivationCheckError, match=r"x = 0 处的导数取了 1.*与 PyTorch 一致取 0"
    ) as info:
        check_activation_function(ReLUGe, MySigmoid, MyTanh, show_plot=False)
    assert "2 个不对" in str(info.value)  # only ±0 are wrong


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


def test_in_place_activation_is_caught():
    class InPlaceReLU(SeedReLU):
        def __call__(self, x):
            return x.clamp_(min=0)

    with pytest.raises(ActivationCheckError, match=r"ReLU 的函数值原地修改了输入 x"):
        check_activation_function(InPlaceReLU, MySigmoid, MyTanh, show_plot=False)


def test_unfinished_activation_stub_propagates():
    label = "练习 1.3：请实现 MyTanh 的 f 与 derivative（检查：check_activation_function）"

    class StubTanh(Activation):
        def f(self, x):
            raise NotImplementedError(label)

        def derivative(self, x):
            raise NotImplementedError(label)

    with pytest.raises(NotImplementedError, match=f"^{label}$") as info:
        check_activation_function(MyReLU, MySigmoid, StubTanh, show_plot=False)
    assert info.value.__suppress_context__


# --------------------------------------------------------------------------------------------------
# the package: error types, reports, names
# --------------------------------------------------------------------------------------------------

CHECKS = [
    "check_activation_function",
    "check_modern_activation",
    "check_forward",
    "check_gradient_stats",
    "check_dead_units",
    "check_l2_penalty",
    "check_l2_step",
    "check_dropout_layer",
    "check_dropout_model",
    "check_eval_accuracy",
]


def test_error_types_and_report():
    assert issubclass(ActivationCheckError, SelfCheckError)
    assert issubclass(SelfCheckError, AssertionError)
    report = CheckReport("check_x 通过：一切正常。")
    assert report == "check_x 通过：一切正常。" and repr(report) == str(report)

    class Printer:  # IPython's pretty printer protocol
        def __init__(self):
            self.out = []

        def text(self, s):
            self.out.append(s)

    printer = Printer()
    report._repr_pretty_(printer, False)
    assert printer.out == [str(report)]


def test_every_check_is_public_and_documented_in_chinese():
    import labcode.selfcheck as selfcheck

    for name in CHECKS:
        fn = getattr(selfcheck, name)
        assert name in selfcheck.__all__ and name in selfcheck.__doc__
        assert "用法" in fn.__doc__ or name == "check_activation_function", name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in fn.__doc__), name
    for name in ("SelfCheckError", "CheckReport", "ActivationCheckError"):
        assert name in selfcheck.__all__


def test_pre_package_names_stay_importable():
    from labcode.selfcheck import ATOL, RTOL, _compare, _reference, _test_inputs

    assert RTOL == ATOL == 1e-4
    x = _test_inputs(torch.float32)
    y, dy = _reference(torch.tanh, x)
    _compare("Tanh", "函数值", x, y, y.double())


# --------------------------------------------------------------------------------------------------
# check_modern_activation
# --------------------------------------------------------------------------------------------------


class PlainLeakyReLU:
    def __call__(self, x):
        return torch.where(x > 0, x, 0.01 * x)

    def derivative(self, x):
        return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.01))


class PlainGELU:  # torch.erf, the textbook form
    def __call__(self, x):
        return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))

    def derivative(self, x):
        return 0.5 * (1 + torch.erf(x / math.sqrt(2))) + x * torch.exp(-x * x / 2) / math.sqrt(
            2 * math.pi
        )


def modern(f, derivative=None, base=MyGELU):
    attrs = {"f": lambda self, x: f(x)}
    if derivative is not None:
        attrs["derivative"] = lambda self, x: derivative(x)
    return type("StudentActivation", (base,), attrs)


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (MyLeakyReLU, "LeakyReLU"),
        (MyELU, "ELU"),
        (MyGELU, "GELU"),
        (MySiLU, "SiLU"),
        (PlainLeakyReLU, "LeakyReLU"),
        (PlainGELU, "GELU"),
        (MySiLU(), "SiLU"),
    ],
)
def test_check_modern_activation_identifies_and_passes(cls, name):
    state = torch.get_rng_state()
    report = check_modern_activation(cls)
    assert isinstance(report, CheckReport)
    assert report.startswith(f"check_modern_activation 通过：你实现的是 {name}")
    assert torch.equal(torch.get_rng_state(), state)


def _naive_silu(x):
    return x * torch.exp(x) / (1 + torch.exp(x))


@pytest.mark.parametrize(
    ("cls", "phrase"),
    [
        (
            modern(lambda x: torch.where(x > 0, x, 0.1 * x), base=MyLeakyReLU),
            r"最接近的是 LeakyReLU.*负半轴斜率约为 0\.1，本练习要求 negative_slope = 0\.01",
        ),
        (modern(lambda x: x.clamp(min=0), base=MyLeakyReLU), r"斜率为 0 就是 ReLU"),
        (
            modern(lambda x: torch.where(x > 0, x, 0.5 * torch.expm1(x.clamp(max=0))), base=MyELU),
            r"最接近的是 ELU.*α 约为 0\.5，本练习要求 α = 1",
        ),
        (
            modern(lambda x: F.gelu(x, approximate="tanh")),
            r"最接近的是 GELU.*tanh 近似.*精确形式 x·Φ\(x\)",
        ),
        (
            modern(MyGELU().f, lambda x: 0.5 * torch.special.erfc(-x / math.sqrt(2))),
            r"GELU 的导数有误.*GELU 的导数应为 f'\(x\) = Φ\(x\) \+ x·φ\(x\)",
        ),
        (
            modern(_naive_silu, base=MySiLU),
            r"SiLU 的函数值有误.*NaN/inf.*不要写成 e\^x/\(1\+e\^x\)",
        ),
        (
            modern(F.silu, torch.sigmoid, base=MySiLU),
            r"SiLU 的导数有误.*σ\(x\)·\(1 \+ x·\(1 - σ\(x\)\)\)",
        ),
        (modern(torch.sigmoid), r"都对不上。最接近的是 \w+（与 F\.\w+\(x\) 比较"),
        (modern(lambda x: x * torch.sigmoid(1.702 * x), base=MySiLU), r"都对不上。最接近的是 GELU"),
    ],
)
def test_check_modern_activation_names_the_mistake(cls, phrase):
    with pytest.raises(ActivationCheckError, match=re.compile(phrase, re.DOTALL)):
        check_modern_activation(cls)


def test_check_modern_activation_catches_in_place_and_stubs():
    class InPlaceLeaky(PlainLeakyReLU):
        def __call__(self, x):
            x[x < 0] *= 0.01
            return x

    with pytest.raises(ActivationCheckError, match=r"原地修改了输入 x"):
        check_modern_activation(InPlaceLeaky)

    label = "练习 1.4：任选 LeakyReLU、ELU、GELU、SiLU 之一，实现 f 与 derivative（检查：check_modern_activation）"

    class Stub(Activation):
        def f(self, x):
            raise NotImplementedError(label)

    with pytest.raises(NotImplementedError, match=re.escape(label)):
        check_modern_activation(Stub)
    with pytest.raises(ActivationCheckError, match="缺少导数方法"):
        check_modern_activation(PlainLeakyReLU.__call__)


# --------------------------------------------------------------------------------------------------
# derivatives: worst points first and the usual mistakes named; dtype, device, exit, time limit
# --------------------------------------------------------------------------------------------------


def _with_derivative(base, derivative):
    return type(f"Wrong{base.__name__}", (base,), {"derivative": lambda self, x: derivative(x)})


def _sig(x):
    return torch.sigmoid(x)


@pytest.mark.parametrize(
    ("slot", "derivative", "phrase"),
    [
        (0, lambda x: x.clone(), r"ReLU 的导数返回了 x 本身"),
        (0, lambda x: x.clamp(min=0), r"返回的是函数值 f\(x\) 本身"),
        (1, lambda x: _sig(x) * (1 + _sig(x)), r"σ\(x\)\(1 \+ σ\(x\)\)：应为 σ\(x\)\(1 - σ\(x\)\)"),
        (1, lambda x: -_sig(x) * (1 - _sig(x)), r"符号反了"),
        (1, lambda x: 1 - _sig(x), r"写成了 1 - σ\(x\)"),
        (2, lambda x: 1 + torch.tanh(x) ** 2, r"写成了 1 \+ tanh²\(x\)"),
        (2, lambda x: 1 - torch.tanh(x), r"写成了 1 - tanh\(x\)：应为 1 - tanh²\(x\)，tanh 要平方"),
    ],
)
def test_wrong_derivative_names_the_likely_cause(slot, derivative, phrase):
    classes = [MyReLU, MySigmoid, MyTanh]
    classes[slot] = _with_derivative(classes[slot], derivative)
    with pytest.raises(ActivationCheckError, match=re.compile(phrase, re.DOTALL)) as info:
        check_activation_function(*classes, show_plot=False)
    assert "可能的原因" in str(info.value)


def test_wrong_derivative_lists_the_worst_points_first():
    wrong = _with_derivative(MySigmoid, lambda x: -_sig(x) * (1 - _sig(x)))
    with pytest.raises(ActivationCheckError) as info:
        check_activation_function(MyReLU, wrong, MyTanh, show_plot=False)
    shown = re.findall(r"x = +(\S+) +期望 +(\S+) +实际 (\S+)", str(info.value))
    errors = [abs(float(want) - float(got)) for _, want, got in shown]
    assert errors == sorted(errors, reverse=True) and errors[0] == pytest.approx(0.5)
    assert float(shown[0][0]) == pytest.approx(0.0, abs=1e-6)  # x = 0 is the worst point


def test_float64_output_for_float32_input_is_rejected():
    class Float64Sigmoid(SeedSigmoid):
        def __call__(self, x):
            return torch.sigmoid(x.double())

    with pytest.raises(ActivationCheckError, match=r"类型应与输入相同（float32），实际为 float64"):
        check_activation_function(MyReLU, Float64Sigmoid, MyTanh, show_plot=False)


def test_output_on_another_device_is_a_clear_failure():
    class MetaDerivative(MyTanh):
        def derivative(self, x):
            return torch.zeros(x.shape, device="meta")

    with pytest.raises(ActivationCheckError, match=r"Tanh 的导数 的输出在设备 meta 上.*device"):
        check_activation_function(MyReLU, MySigmoid, MetaDerivative, show_plot=False)


def test_sys_exit_in_student_code_is_a_clear_failure():
    class Exits(SeedReLU):
        def derivative(self, x):
            raise SystemExit(0)

    with pytest.raises(ActivationCheckError, match=r"调用了 sys\.exit\(0\).*请删掉它"):
        check_activation_function(Exits, MySigmoid, MyTanh, show_plot=False)


def test_student_code_that_never_returns_hits_the_time_limit(monkeypatch):
    from labcode.selfcheck import report

    monkeypatch.setattr(report, "TIME_LIMIT", 0.2)

    class Hangs(SeedReLU):
        def __call__(self, x):
            while True:
                pass

    with pytest.raises(ActivationCheckError, match=r"运行超过了 0\.2 秒.*死循环"):
        check_activation_function(Hangs, MySigmoid, MyTanh, show_plot=False)


def test_leaky_relu_with_the_slope_on_the_wrong_side_is_named():
    swapped = modern(lambda x: torch.where(x > 0, 0.01 * x, x), base=MyLeakyReLU)
    phrase = re.compile(r"最接近的是 LeakyReLU.*把两侧弄反了", re.DOTALL)
    with pytest.raises(ActivationCheckError, match=phrase) as info:
        check_modern_activation(swapped)
    assert "ELU" not in str(info.value).split("最接近的是")[1].split("（")[0]


def test_check_messages_are_plain_text():
    """No Markdown emphasis in any string of the checks except docstrings (messages are plain text)."""
    import ast

    emphasis = re.compile(r"\*\*[^\s*][^*]*[^\s*]\*\*|\*\*[^\s*]\*\*")
    import inspect

    from labcode import selfcheck
    from labcode.selfcheck import activations, network, regularization, report

    for module in (selfcheck, activations, network, regularization, report):
        tree = ast.parse(inspect.getsource(module))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                assert not emphasis.search(node.value), (module.__name__, node.value)


def test_a_torch_meta_error_is_not_taken_for_an_unfinished_exercise():
    class MetaInside(MyTanh):
        def derivative(self, x):
            return torch.equal(x.to("meta"), x.to("meta"))

    with pytest.raises(ActivationCheckError, match=r"meta 设备"):
        check_activation_function(MyReLU, MySigmoid, MetaInside, show_plot=False)


def test_a_function_where_a_class_is_expected():
    def relu(x):
        return torch.relu(x)

    with pytest.raises(ActivationCheckError, match=r"请传入你写的类本身.*不是函数 relu"):
        check_activation_function(relu, MySigmoid, MyTanh, show_plot=False)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_output_for_a_cpu_input_is_rejected():
    class CudaSigmoid(MySigmoid):
        def derivative(self, x):
            return super().derivative(x).cuda()

    with pytest.raises(ActivationCheckError, match=r"输出在设备 cuda:0 上，而输入在 cpu 上"):
        check_activation_function(MyReLU, CudaSigmoid, MyTanh, show_plot=False)


def test_the_time_limit_gives_an_outer_timer_back(monkeypatch):
    import signal

    from labcode.selfcheck import report

    if not hasattr(signal, "setitimer"):
        pytest.skip("no SIGALRM on this system")
    rang = []
    previous = signal.signal(signal.SIGALRM, lambda *args: rang.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        with report.student_code("f(x)"):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 25.0 < left <= 30.0 and not rang
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
