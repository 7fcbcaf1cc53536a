"""Accumulator, evaluate_loss, analyze_gradients, GradientTracker, DeadUnitCounter."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from labcode.metrics import (
    Accumulator,
    DeadUnitCounter,
    GradientTracker,
    activation_stats,
    analyze_gradients,
    count_dead_units,
    evaluate_batches,
    evaluate_loss,
)
from labcode.models import Network, RegularizedNetwork


def test_accumulator():
    acc = Accumulator(2)
    acc.add(1, torch.tensor(2.5))
    acc.add(0.5, 1)
    assert (acc[0], acc[1], len(acc)) == (1.5, 3.5, 2)
    acc.reset()
    assert acc.data == [0.0, 0.0]
    with pytest.raises(ValueError, match="2 个变量"):
        acc.add(1.0)
    with pytest.raises(ValueError):
        Accumulator(0)


def test_evaluate_loss_is_per_sample_mean_over_uneven_batches():
    net = nn.Sequential(nn.Linear(1, 1, bias=False))
    with torch.no_grad():
        net[0].weight.fill_(2.0)
    X = torch.arange(10, dtype=torch.float32).reshape(10, 1)
    y = torch.zeros(10)
    batches = [(X[:4], y[:4]), (X[4:8], y[4:8]), (X[8:], y[8:])]  # 4, 4, 2 samples
    expected = float(((2 * X.flatten()) ** 2).mean())  # not the mean of batch means
    assert evaluate_loss(net, batches, nn.MSELoss(reduction="none")) == pytest.approx(expected)


def test_evaluate_loss_uses_eval_mode_and_restores_it():
    net = nn.Sequential(nn.Linear(3, 1), nn.Dropout(0.9))
    data = [(torch.randn(50, 3), torch.randn(50))]
    loss = nn.MSELoss(reduction="none")
    first = evaluate_loss(net, data, loss)
    assert first == evaluate_loss(net, data, loss)  # dropout off: deterministic
    assert net.training
    with torch.no_grad():
        manual = loss(net[0](data[0][0]), data[0][1].reshape(50, 1)).mean().item()
    assert first == pytest.approx(manual)
    with pytest.raises(ValueError, match="为空"):
        evaluate_loss(net, [], loss)


def test_evaluate_batches_loss_and_accuracy_with_one_host_read(monkeypatch):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 3), nn.Dropout(0.5))
    x, y = torch.randn(11, 5), torch.randint(0, 3, (11,))
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]
    reads = []
    original = torch.Tensor.tolist

    def counting_tolist(self):
        reads.append(1)
        return original(self)

    monkeypatch.setattr(torch.Tensor, "tolist", counting_tolist)

    def summed(out, yb):
        return F.cross_entropy(out, yb, reduction="sum"), len(yb)

    loss, acc = evaluate_batches(net, batches, summed, classify=True)
    assert len(reads) == 1  # one host read for loss and accuracy together
    monkeypatch.undo()
    with torch.no_grad():
        logits = net[0](x)  # eval mode: dropout off
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert net.training  # mode restored
    assert evaluate_batches(net, batches, summed)[1] is None
    with pytest.raises(ValueError, match="my_eval 收到的数据为空"):
        evaluate_batches(net, [], summed, what="my_eval")


def test_gradient_tracker_has_one_name_for_its_step():
    assert not hasattr(GradientTracker, "update")  # step() only: no dead alias


def _backward(model, x, y):
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()


def test_analyze_gradients_one_entry_per_layer_in_order():
    torch.manual_seed(0)
    net = Network(12, 3, "sigmoid", num_layers=3, hidden_dim=8)
    _backward(net, torch.randn(16, 12), torch.randint(0, 3, (16,)))
    stats = analyze_gradients(net)
    assert [s["layer"] for s in stats] == [
        "input_layer",
        "layers.0",
        "layers.1",
        "layers.2",
        "output_layer",
    ]
    for entry, (_, layer) in zip(stats, net.linear_layers(), strict=True):
        g = layer.weight.grad.numpy()
        assert isinstance(entry["mean"], float) and isinstance(entry["std"], float)
        assert entry["mean"] == pytest.approx(np.mean(np.abs(g)), rel=1e-5)
        assert entry["std"] == pytest.approx(np.std(g), rel=1e-5)


def test_analyze_gradients_generic_model_weights_only():
    torch.manual_seed(0)
    cnn = RegularizedNetwork(0.0)
    _backward(cnn, torch.randn(2, 1, 28, 28), torch.tensor([1, 7]))
    stats = analyze_gradients(cnn)
    assert [s["layer"] for s in stats] == ["conv1", "conv2", "fc1", "fc2"]
    assert stats[2]["mean"] == pytest.approx(cnn.fc1.weight.grad.abs().mean().item(), rel=1e-5)


def test_analyze_gradients_before_backward_is_an_error():
    with pytest.raises(ValueError, match="backward"):
        analyze_gradients(Network(4, 2, "relu", num_layers=1, hidden_dim=3))


def test_gradient_tracker_averages_over_batches_and_resets():
    torch.manual_seed(0)
    net = Network(12, 3, "tanh", num_layers=2, hidden_dim=8)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    tracker = GradientTracker(net)
    assert tracker.layer_names == ["input_layer", "layers.0", "layers.1", "output_layer"]
    manual_epochs = []
    for n_batches in (3, 2):
        per_batch = []
        for _ in range(n_batches):
            _backward(net, torch.randn(8, 12), torch.randint(0, 3, (8,)))
            tracker.step()
            per_batch.append([s["mean"] for s in analyze_gradients(net)])
            opt.step()
        manual = np.mean(per_batch, axis=0)
        manual_epochs.append(manual)
        np.testing.assert_allclose(tracker.end_epoch(), manual, rtol=1e-5)
    assert len(tracker.epoch_means()) == 2
    np.testing.assert_allclose(tracker.epoch_means()[1], manual_epochs[1], rtol=1e-5)
    with pytest.raises(RuntimeError, match="step"):
        tracker.end_epoch()


def test_gradient_tracker_subset_and_errors():
    net = Network(4, 2, "relu", num_layers=2, hidden_dim=3)
    tracker = GradientTracker(net, layers=["output_layer", "input_layer"])
    assert tracker.layer_names == ["output_layer", "input_layer"]
    with pytest.raises(RuntimeError, match="backward"):
        tracker.step()
    with pytest.raises(ValueError, match="layers.0"):
        GradientTracker(net, layers=["fc9"])


def _preacts(*rows):
    return [torch.tensor(rows, dtype=torch.float32)]


def test_dead_unit_counter_relu_over_whole_epoch():
    counter = DeadUnitCounter("relu", n_layers=1, width=4)
    # unit 0: always negative -> dead; unit 1: positive once (2nd batch) -> alive;
    # unit 2: exactly 0 always -> dead (ReLU'(0) = 0); unit 3: positive -> alive
    counter.update(_preacts([-1.0, -2.0, 0.0, 3.0], [-0.5, -1.0, 0.0, 1.0]))
    counter.update(_preacts([-3.0, 0.1, 0.0, 2.0]))
    assert counter.end_epoch() == [0.5]
    counter.update(_preacts([1.0, 1.0, 1.0, 1.0]))  # new epoch: state was reset
    assert counter.end_epoch() == [0.0]
    assert counter.history == [[0.5], [0.0]]


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "tanh", "sigmoid"])
def test_dead_unit_counter_other_activations_never_dead(name):
    counter = DeadUnitCounter(name)
    counter.update(_preacts([-1.0, -20.0, 0.0, -1e3], [-5.0, -3.0, -0.1, -50.0]))
    assert counter.end_epoch() == [0.0]


def test_dead_unit_counter_several_layers_and_shape_errors():
    counter = DeadUnitCounter("relu", n_layers=2, width=3)
    counter.update([torch.tensor([[1.0, -1.0, -1.0]]), torch.tensor([[-1.0, -1.0, -1.0]])])
    assert counter.end_epoch() == pytest.approx([2 / 3, 1.0])
    with pytest.raises(ValueError, match="2 层"):
        counter.update([torch.zeros(1, 3)])
    with pytest.raises(ValueError, match="3 个神经元"):
        counter.update([torch.zeros(1, 4), torch.zeros(1, 4)])
    with pytest.raises(RuntimeError, match="update"):
        counter.end_epoch()


def test_count_dead_units_over_a_dataset():
    net = Network(4, 2, "relu", num_layers=1, hidden_dim=6)
    with torch.no_grad():
        net.input_layer.weight.zero_()
        net.input_layer.bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0, 1.0, 1.0]))
        net.layers[0].weight.zero_()
        net.layers[0].bias.fill_(-1.0)
    loader = [(torch.randn(5, 4), torch.zeros(5)) for _ in range(3)]
    net.train()
    assert count_dead_units(net, loader) == pytest.approx([2 / 6, 1.0])
    assert net.training


def test_dead_units_and_activation_stats_need_a_labcode_activation():
    model = nn.Sequential(nn.Linear(4, 2), nn.ReLU())  # no .activation with a derivative
    with pytest.raises(TypeError, match="count_dead_units 需要带 activation 属性"):
        count_dead_units(model, [torch.zeros(2, 4)])
    with pytest.raises(TypeError, match="activation_stats 需要带 activation 属性"):
        activation_stats(model, torch.zeros(2, 4))
    assert model.training
