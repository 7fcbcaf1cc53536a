"""L2/L1 penalties, weight decay equivalence, hand-written dropout."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from labcode.regularization import dropout_layer, l1_penalty, l2_penalty


def test_l2_penalty_value_and_gradient_is_w():
    w = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    p = l2_penalty(w)
    torch.testing.assert_close(p, (w.detach() ** 2).sum() / 2)
    p.backward()
    torch.testing.assert_close(w.grad, w.detach())


def test_l1_penalty_value_and_gradient_is_sign():
    w = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    p = l1_penalty(w)
    assert p.item() == pytest.approx(5.5)
    p.backward()
    torch.testing.assert_close(w.grad, torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))


def _linear_regression_trajectory(lam, *, use_weight_decay, steps=8, lr=0.05):
    """The original lab's train_epoch (per-sample loss + λ·l2_penalty(w), then .mean()) vs weight_decay."""
    torch.manual_seed(0)
    X, y = torch.randn(20, 30, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    net = nn.Sequential(nn.Linear(30, 1)).double()
    w, b = net[0].weight, net[0].bias
    loss = nn.MSELoss(reduction="none")
    if use_weight_decay:  # decay the weight only, like the penalty
        trainer = torch.optim.SGD([{"params": w, "weight_decay": lam}, {"params": b}], lr=lr)
    else:
        trainer = torch.optim.SGD(net.parameters(), lr=lr)
    trajectory = []
    for step in range(steps):
        batch = slice(5 * (step % 4), 5 * (step % 4) + 5)
        trainer.zero_grad()
        y_hat = net(X[batch])
        l = loss(y_hat, y[batch].reshape(y_hat.shape))  # noqa: E741
        if not use_weight_decay:
            l = l + lam * l2_penalty(w)  # noqa: E741
        # mean(l_i + λ‖w‖²/2) = mean(l_i) + λ‖w‖²/2, whose gradient is ∇mean + λw
        l.mean().backward()
        trainer.step()
        trajectory.append((w.detach().clone(), b.detach().clone()))
    return trajectory


def test_hand_written_l2_equals_weight_decay_trajectory():
    by_hand = _linear_regression_trajectory(3.0, use_weight_decay=False)
    by_optim = _linear_regression_trajectory(3.0, use_weight_decay=True)
    for (w1, b1), (w2, b2) in zip(by_hand, by_optim, strict=True):
        torch.testing.assert_close(w1, w2, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(b1, b2, rtol=1e-12, atol=1e-14)
    # and the penalty really changes the trajectory (the test is not vacuous)
    plain = _linear_regression_trajectory(0.0, use_weight_decay=False)
    assert plain[-1][0].norm() > 1.05 * by_hand[-1][0].norm()


def test_dropout_zero_is_identity_and_one_is_zeros():
    X = torch.randn(4, 6)
    torch.testing.assert_close(dropout_layer(X, 0.0), X, rtol=0, atol=0)
    out = dropout_layer(X, 1.0)
    assert out.shape == X.shape and out.dtype == X.dtype and not out.any()


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keep_rate_scaling_and_expectation(p):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(1000, 1000, dtype=torch.float64, generator=g) + 0.5  # strictly positive
    out = dropout_layer(X, p, generator=g)
    kept = out != 0
    n = X.numel()
    tol = 5 * (p * (1 - p) / n) ** 0.5  # 5 standard errors
    assert abs(kept.double().mean().item() - (1 - p)) < tol
    torch.testing.assert_close(out[kept], X[kept] / (1 - p))  # survivors scaled by 1/(1-p)
    ones = dropout_layer(torch.ones(n, dtype=torch.float64), p, generator=g)
    assert abs(ones.mean().item() - 1.0) < 5 * (p / ((1 - p) * n)) ** 0.5  # E[out] = X


def test_dropout_generator_reproducible_and_dtype_preserved():
    X = torch.ones(50, 50, dtype=torch.float64)
    a = dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(1))
    b = dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(1))
    c = dropout_layer(X, 0.5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.dtype == torch.float64


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "0.5", None])
def test_dropout_rejects_bad_rate(bad):
    with pytest.raises(ValueError, match=r"dropout"):
        dropout_layer(torch.ones(3), bad)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.bool])
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_rejects_non_float_tensors(dtype, p):
    with pytest.raises(TypeError) as info:
        dropout_layer(torch.ones(3, 4, dtype=dtype), p)
    assert str(dtype) in str(info.value) and "X.float()" in str(info.value)


def test_dropout_rejects_non_tensors():
    with pytest.raises(TypeError, match="torch.Tensor.*list"):
        dropout_layer([1.0, 2.0], 0.5)


def test_dropout_rate_checks_survive_python_O():
    code = (
        "import sys, torch\n"
        "assert False, 'asserts are on'\n"
        "from labcode import dropout_layer, RegularizedNetwork\n"
        "for rate in (-0.1, 1.5):\n"
        "    for make in (lambda r: dropout_layer(torch.ones(2), r), RegularizedNetwork):\n"
        "        try:\n"
        "            make(rate)\n"
        "        except ValueError:\n"
        "            continue\n"
        "        sys.exit(f'no ValueError for {rate}')\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip() == "ok"
