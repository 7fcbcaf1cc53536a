"""Models: Network (MLP), the two dropout CNNs, shape checks and construction checks."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labcode.activations import ACTIVATIONS, MyTanh
from labcode.models import MAX_LAYERS, Network, RegularizedNetwork, TorchDropoutNetwork
from labcode.profiles import DeadReluConfig, GradientConfig

TORCH_ACTS = {
    "relu": nn.ReLU(),
    "sigmoid": nn.Sigmoid(),
    "tanh": nn.Tanh(),
    "leaky_relu": nn.LeakyReLU(0.01),
    "elu": nn.ELU(),
    "gelu": nn.GELU(),
    "silu": nn.SiLU(),
}


def test_network_structure_and_layer_order():
    net = Network(784, 10, "relu", num_layers=3, hidden_dim=16)
    names = [name for name, _ in net.linear_layers()]
    assert names == ["input_layer", "layers.0", "layers.1", "layers.2", "output_layer"]
    layers = [layer for _, layer in net.linear_layers()]
    assert layers[0] is net.input_layer and layers[-1] is net.output_layer
    assert [(lay.in_features, lay.out_features) for lay in layers] == [
        (784, 16),
        (16, 16),
        (16, 16),
        (16, 16),
        (16, 10),
    ]
    assert isinstance(net.layers, nn.ModuleList) and len(net.layers) == 3
    assert net.activated_layer_names() == names[:-1]


def test_network_init_matches_seed_creation_order():
    """Same torch seed -> same weights as the original lab's Network (hidden layers created first)."""
    torch.manual_seed(7)
    hidden = [nn.Linear(100, 100) for _ in range(2)]
    first, last = nn.Linear(784, 100), nn.Linear(100, 10)
    torch.manual_seed(7)
    net = Network(784, 10, "sigmoid", num_layers=2)
    for mine, seed in zip(
        [net.input_layer, *net.layers, net.output_layer], [first, *hidden, last], strict=True
    ):
        assert torch.equal(mine.weight, seed.weight) and torch.equal(mine.bias, seed.bias)


def test_network_accepts_flat_and_image_batches():
    torch.manual_seed(0)
    net = Network(784, 10, "tanh", num_layers=2, hidden_dim=8)
    images = torch.randn(5, 1, 28, 28)
    out = net(images)
    assert out.shape == (5, 10)
    torch.testing.assert_close(out, net(images.view(5, -1)))


def test_preactivations_are_the_inputs_of_each_activation():
    torch.manual_seed(0)
    net = Network(12, 3, "relu", num_layers=2, hidden_dim=6)
    x = torch.randn(4, 12)
    logits, preacts = net(x, return_preactivations=True)
    assert len(preacts) == 3 and all(z.shape == (4, 6) for z in preacts)
    z0 = net.input_layer(x)
    z1 = net.layers[0](torch.relu(z0))
    z2 = net.layers[1](torch.relu(z1))
    for got, want in zip(preacts, [z0, z1, z2], strict=True):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(logits, net.output_layer(torch.relu(z2)))
    torch.testing.assert_close(logits, net(x))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_network_gradients_equal_those_with_torch_activation(name):
    torch.manual_seed(1)
    mine = Network(10, 4, name, num_layers=2, hidden_dim=7).double()
    ref = Network(10, 4, name, num_layers=2, hidden_dim=7).double()
    ref.load_state_dict(mine.state_dict())
    ref.activation = TORCH_ACTS[name]
    x, y = torch.randn(9, 10, dtype=torch.float64) * 2, torch.randint(0, 4, (9,))
    for net in (mine, ref):
        F.cross_entropy(net(x), y).backward()
    for (pname, p), (_, q) in zip(mine.named_parameters(), ref.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=f"{name}: {pname}")


def test_network_accepts_an_activation_instance():
    act = MyTanh()
    assert Network(4, 2, act, num_layers=1, hidden_dim=3).activation is act


@pytest.mark.parametrize("shape", [(5, 783), (5, 1, 27, 28), (784,), (5, 3, 28, 28)])
def test_network_wrong_shape_names_expected_shape(shape):
    net = Network(784, 10, "relu", num_layers=1, hidden_dim=4)
    with pytest.raises(ValueError) as info:
        net(torch.randn(shape))
    assert "(B, 784)" in str(info.value) and str(tuple(shape)) in str(info.value)


def test_network_unknown_activation_lists_names():
    with pytest.raises(ValueError) as info:
        Network(784, 10, "softplus")
    assert all(key in str(info.value) for key in ACTIVATIONS)


@pytest.mark.parametrize("kwargs", [dict(num_layers=-1), dict(hidden_dim=0), dict(input_dim=2.5)])
def test_network_bad_sizes(kwargs):
    args = dict(input_dim=4, output_dim=2, activation_name="relu") | kwargs
    with pytest.raises(ValueError, match="整数"):
        Network(**args)


@pytest.mark.parametrize("num_layers", [MAX_LAYERS + 1, 10**9])
def test_network_depth_has_an_upper_bound(num_layers):
    with pytest.raises(ValueError, match=rf"num_layers 应为 0 到 {MAX_LAYERS} 之间的整数") as info:
        Network(784, 10, "relu", num_layers=num_layers)  # 10**9 used to allocate until OOM
    assert str(num_layers) in str(info.value)
    for cls in (GradientConfig, DeadReluConfig):
        with pytest.raises(ValueError, match="num_layers"):
            cls(num_layers=num_layers)
    with pytest.raises(ValueError, match="sweep_depths"):
        GradientConfig(sweep_depths=(1, num_layers))


def test_network_depth_bound_is_inclusive():
    assert len(Network(4, 2, "relu", num_layers=MAX_LAYERS, hidden_dim=2).layers) == MAX_LAYERS


def _model_and_input(cls, dtype):
    if cls is Network:
        net, shape = Network(784, 10, "relu", num_layers=1, hidden_dim=4), (2, 784)
    else:
        net, shape = cls(0.3), (2, 1, 28, 28)
    return net, torch.zeros(shape, dtype=dtype)


@pytest.mark.parametrize("cls", [Network, RegularizedNetwork, TorchDropoutNetwork])
@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.uint8])
def test_models_reject_other_input_dtypes_with_the_fix(cls, dtype):
    net, x = _model_and_input(cls, dtype)
    with pytest.raises(TypeError) as info:
        net(x)
    message = str(info.value)
    assert cls.__name__ in message and str(dtype) in message and "torch.float32" in message
    assert "x.float()" in message
    assert net(x.float()).shape == (2, 10)  # the fix in the message works


def test_float64_network_takes_float64_input_and_names_x_double():
    net = Network(6, 2, "tanh", num_layers=1, hidden_dim=3).double()
    assert net(torch.zeros(2, 6, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(TypeError, match=r"x\.double\(\)"):
        net(torch.zeros(2, 6))


def test_network_zero_hidden_layers():
    net = Network(4, 2, "relu", num_layers=0, hidden_dim=3)
    _, preacts = net(torch.randn(2, 4), return_preactivations=True)
    assert len(preacts) == 1


@pytest.mark.parametrize("cls", [RegularizedNetwork, TorchDropoutNetwork])
def test_cnn_shapes_and_shape_error(cls):
    net = cls(0.3)
    assert net(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        net(torch.randn(3, 784))


@pytest.mark.parametrize("cls", [RegularizedNetwork, TorchDropoutNetwork])
@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "0.3"])
def test_cnn_rejects_bad_dropout_rate(cls, rate):
    with pytest.raises(ValueError, match="dropout"):
        cls(rate)


def _same_weights(cls, rate, seed=3):
    torch.manual_seed(seed)
    return cls(rate)


@pytest.mark.parametrize("cls", [RegularizedNetwork, TorchDropoutNetwork])
def test_eval_mode_is_deterministic_and_equals_no_dropout(cls):
    x = torch.randn(6, 1, 28, 28)
    net, plain = _same_weights(cls, 0.5), _same_weights(cls, 0.0)
    net.eval()
    plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)
        torch.testing.assert_close(net(x), plain(x))
        plain.train()
        torch.testing.assert_close(plain(x), net(x))  # rate 0: identity in training, too
        net.train()
        a, b = net(x), net(x)
    assert not torch.allclose(a, b)  # training mode: random masks
    assert not torch.allclose(a, plain(x).detach())


def test_both_cnns_share_init_and_eval_outputs():
    x = torch.randn(2, 1, 28, 28)
    hand, lib = _same_weights(RegularizedNetwork, 0.4), _same_weights(TorchDropoutNetwork, 0.4)
    hand.eval()
    lib.eval()
    with torch.no_grad():
        torch.testing.assert_close(hand(x), lib(x))


def test_handwritten_dropout_one_drops_all_features_in_training():
    net = RegularizedNetwork(1.0)
    with torch.no_grad():
        out = net(torch.randn(4, 1, 28, 28))
        expected = net.fc2(torch.relu(net.fc1.bias))
    torch.testing.assert_close(out, expected.expand(4, 10))
