"""Activations: values and hand-written derivatives against PyTorch, stability, autograd wiring."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labcode.activations import (
    ACTIVATIONS,
    Activation,
    MyELU,
    MyLeakyReLU,
    MyReLU,
    MySigmoid,
    MyTanh,
    get_activation,
)

NAMES = list(ACTIVATIONS)
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-14)}

TORCH_MODULES = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "elu": lambda: nn.ELU(1.0),
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def wide_inputs(dtype):
    """-10..10 plus extreme magnitudes up to the dtype's largest finite value."""
    finfo = torch.finfo(dtype)
    mags = [
        0.0,
        finfo.tiny,
        1e-30,
        1e-10,
        1e-7,
        0.5,
        20.0,
        50.0,
        88.7,
        89.5,
        100.0,
        710.0,
        1e4,
        1e30,
        3e38,
        finfo.max,
    ]
    if dtype == torch.float64:
        mags += [1e300]
    pos = torch.tensor(mags, dtype=dtype)
    return torch.cat([torch.linspace(-10, 10, 2001, dtype=dtype), pos, -pos])


def autograd_derivative(fn, x):
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(xr).sum(), xr)
    return g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_values_and_derivatives_match_torch_over_wide_range(name, dtype):
    act = get_activation(name)
    x = wide_inputs(dtype)
    y, dy = act(x), act.derivative(x)
    assert y.dtype == dtype and dy.dtype == dtype
    assert torch.isfinite(y).all(), f"{name}: non-finite value"
    assert torch.isfinite(dy).all(), f"{name}: non-finite derivative"

    ref = act.torch_reference(x)
    ref_d = autograd_derivative(act.torch_reference, x)
    # torch itself overflows in a few places (e.g. F.gelu(3e38) = inf in float32): compare elsewhere
    ok = torch.isfinite(ref)
    assert ok.float().mean() > 0.99
    torch.testing.assert_close(y[ok], ref[ok], **TOL[dtype])
    ok_d = torch.isfinite(ref_d)
    torch.testing.assert_close(dy[ok_d], ref_d[ok_d], **TOL[dtype])


@pytest.mark.parametrize("name", NAMES)
def test_backward_runs_through_hand_written_derivative(name):
    act = get_activation(name)
    x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    y = act(x)
    assert y.shape == x.shape
    assert y.grad_fn is not None and "HandWritten" in type(y.grad_fn).__name__
    upstream = torch.randn_like(y)
    y.backward(upstream)
    torch.testing.assert_close(x.grad, upstream * act.derivative(x.detach()))
    # no-grad path computes the same values
    with torch.no_grad():
        torch.testing.assert_close(act(x), y.detach())


def test_backward_uses_the_subclass_derivative_not_autograd():
    class Doubled(MyTanh):
        def derivative(self, x):
            return 2 * super().derivative(x)

    x = torch.linspace(-2, 2, 9, dtype=torch.float64, requires_grad=True)
    Doubled()(x).sum().backward()
    torch.testing.assert_close(x.grad, 2 * MyTanh().derivative(x.detach()))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_custom_function(name):
    act = get_activation(name)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, dtype=torch.float64, generator=g) * 3
    x = torch.where(x.abs() < 1e-2, x + 0.1, x)  # stay away from the kink at 0
    assert torch.autograd.gradcheck(act, (x.requires_grad_(True),), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_network_gradients_equal_torch_modules(name):
    torch.manual_seed(0)
    mine = nn.Sequential(
        nn.Linear(6, 8),
        get_activation(name),
        nn.Linear(8, 8),
        get_activation(name),
        nn.Linear(8, 3),
    ).double()
    ref = nn.Sequential(
        nn.Linear(6, 8),
        TORCH_MODULES[name](),
        nn.Linear(8, 8),
        TORCH_MODULES[name](),
        nn.Linear(8, 3),
    ).double()
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(16, 6, dtype=torch.float64) * 2
    target = torch.randint(0, 3, (16,))
    for net in (mine, ref):
        F.cross_entropy(net(x), target).backward()
    for (pname, p), (_, q) in zip(mine.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=f"{name}: gradient of {pname}")


def test_relu_family_derivative_at_zero_matches_torch():
    zero = torch.zeros(1, dtype=torch.float64)
    assert MyReLU().derivative(zero).item() == 0.0
    assert MyLeakyReLU(0.2).derivative(zero).item() == pytest.approx(0.2)
    assert MyELU(2.0).derivative(zero).item() == pytest.approx(2.0)
    for act in (MyReLU(), MyLeakyReLU(0.2), MyELU(2.0)):
        assert act.derivative(zero).item() == autograd_derivative(act.torch_reference, zero).item()


def test_tanh_and_sigmoid_precise_near_zero_and_in_tails():
    tiny = torch.tensor([1e-10, -3e-8], dtype=torch.float32)
    torch.testing.assert_close(MyTanh()(tiny), tiny, rtol=1e-6, atol=0)
    # sigmoid'(30) = e^-30 / (1+e^-30)^2: a naive s*(1-s) gives 0 after rounding
    x = torch.tensor([30.0, -30.0], dtype=torch.float64)
    exact = torch.exp(torch.tensor(-30.0, dtype=torch.float64))
    torch.testing.assert_close(MySigmoid().derivative(x), exact.expand(2), rtol=1e-12, atol=0)


def test_seed_naive_tanh_would_fail_but_ours_is_finite():
    x = torch.tensor([89.5, -89.5, 1000.0])
    naive = (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
    assert torch.isnan(naive).all()
    torch.testing.assert_close(MyTanh()(x), torch.tensor([1.0, -1.0, 1.0]))


def test_parameters_of_leaky_relu_and_elu():
    x = torch.linspace(-5, 5, 101, dtype=torch.float64)
    torch.testing.assert_close(MyLeakyReLU(0.2)(x), F.leaky_relu(x, 0.2))
    torch.testing.assert_close(MyELU(alpha=2.0)(x), F.elu(x, 2.0))
    torch.testing.assert_close(
        MyELU(alpha=2.0).derivative(x), autograd_derivative(lambda t: F.elu(t, 2.0), x)
    )
    assert get_activation("leaky_relu", negative_slope=0.3).negative_slope == 0.3
    with pytest.raises(ValueError, match="negative_slope"):
        MyLeakyReLU(float("nan"))
    with pytest.raises(ValueError, match="alpha"):
        MyELU("big")


def test_registry_names_labels_and_classes():
    assert set(ACTIVATIONS) == {"relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu"}
    for key, cls in ACTIVATIONS.items():
        assert issubclass(cls, Activation) and cls.name == key and cls.label
        assert isinstance(get_activation(key), cls)
    assert isinstance(get_activation("ReLU"), MyReLU)
    assert [ACTIVATIONS[k].label for k in ("relu", "sigmoid", "tanh")] == [
        "ReLU",
        "Sigmoid",
        "Tanh",
    ]


@pytest.mark.parametrize("bad", ["swish", "", None, 3])
def test_unknown_activation_lists_valid_names(bad):
    with pytest.raises(ValueError) as info:
        get_activation(bad)
    message = str(info.value)
    assert "未知的激活函数" in message
    for key in ACTIVATIONS:
        assert key in message


def test_non_float_input_is_a_clear_error():
    with pytest.raises(TypeError, match="浮点"):
        MyReLU()(torch.arange(3))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        MySigmoid()([1.0, 2.0])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu(name):
    act = get_activation(name)
    for dtype in DTYPES:
        x = wide_inputs(dtype)
        xc = x.cuda().requires_grad_(True)
        y = act(xc)
        y.sum().backward()
        assert y.device.type == "cuda" and y.dtype == dtype
        assert torch.isfinite(y).all() and torch.isfinite(xc.grad).all()
        torch.testing.assert_close(y.cpu(), act(x), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(xc.grad.cpu(), act.derivative(x), rtol=1e-5, atol=1e-6)
