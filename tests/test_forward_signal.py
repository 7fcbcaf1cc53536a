"""labcode.forward_signal: initialisation schemes and the per-layer spread of the forward signal."""

import pytest
import torch

from labcode.forward_signal import activation_spread, init_weights, spread_table
from labcode.models import Network


def _net(activation, layers=4, seed=0):
    torch.manual_seed(seed)
    return Network(50, 10, activation, num_layers=layers, hidden_dim=200)


@pytest.mark.parametrize(
    ("scheme", "activation", "var"), [("he", "relu", 2.0), ("xavier", "tanh", 1.0)]
)
def test_init_weights_variance(scheme, activation, var):
    net = init_weights(_net(activation), scheme, generator=torch.Generator().manual_seed(1))
    w = net.layers[0].weight  # 200 x 200: He 2/n_in, Xavier 2/(n_in + n_out) = 1/n
    assert w.var().item() * 200 == pytest.approx(var, rel=0.05)
    assert torch.count_nonzero(net.layers[0].bias) == 0
    again = init_weights(_net(activation), scheme, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.layers[0].weight, w)


def test_default_init_is_untouched_and_bad_scheme_is_an_error():
    net = _net("relu")
    before = net.layers[0].weight.clone()
    assert torch.equal(init_weights(net, "default").layers[0].weight, before)
    with pytest.raises(ValueError, match="初始化方案"):
        init_weights(net, "lecun")


def test_sigmoid_spread_collapses_per_layer_and_he_keeps_relu_alive():
    x = torch.randn(500, 50)
    sig = activation_spread(_net("sigmoid"), x)
    assert [r["layer"] for r in sig] == [
        "第 1 层",
        "第 2 层",
        "第 3 层",
        "第 4 层",
        "第 5 层",
        "输出层",
    ]
    spreads = [r["spread"] for r in sig[:-1]]
    ratios = [b / a for a, b in zip(spreads, spreads[1:], strict=False)]
    assert all(0.05 < q < 0.3 for q in ratios), ratios  # ≈ 0.58 × 1/4 per layer
    assert all(abs(r["mean"] - 0.5) < 0.05 for r in sig[1:-1])  # the mean does not shrink
    relu_default = activation_spread(_net("relu", layers=6), x)
    relu_he = activation_spread(init_weights(_net("relu", layers=6), "he"), x)
    assert relu_he[-2]["spread"] > 20 * relu_default[-2]["spread"]


def test_activation_spread_needs_a_network_and_two_inputs():
    with pytest.raises(TypeError, match="Network"):
        activation_spread(torch.nn.Linear(3, 3), torch.randn(4, 3))
    with pytest.raises(ValueError, match="2 个"):
        activation_spread(_net("relu"), torch.randn(1, 50))


def test_spread_table():
    x = torch.randn(100, 50)
    table = spread_table(
        {"relu": activation_spread(_net("relu"), x), "tanh": activation_spread(_net("tanh"), x)}
    )
    lines = table.split("\n")
    assert "relu" in lines[0] and "tanh" in lines[0] and lines[-1].startswith("输出层")
    with pytest.raises(ValueError, match="层数"):
        spread_table(
            {"a": activation_spread(_net("relu", 1), x), "b": activation_spread(_net("relu", 2), x)}
        )
