"""labcode.experiments: result objects, the shared training loop, each experiment's measurements."""

import io
import json
import math
import sys
import types
import warnings
from dataclasses import replace

import pytest
import torch
from torch import nn

from labcode.data import MnistData
from labcode.experiments import training
from labcode.experiments.dead_relu import (
    SEED_RUNS,
    dead_unit_stats,
    run_dead_at_init,
    run_dead_relu,
    run_dead_relu_seeds,
)
from labcode.experiments.dropout import run_dropout, run_dropout_sweep
from labcode.experiments.gradient_vanishing import (
    run_depth_sweep,
    run_gradient_seeds,
    run_gradient_vanishing,
    run_init_gradients,
)
from labcode.experiments.l2 import (
    make_synthetic_data,
    run_l1_vs_l2,
    run_l2,
    run_lambda_sweep,
)
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.experiments.training import TrainingDivergedError, evaluate, train_epoch
from labcode.models import Network
from labcode.profiles import QUICK_MNIST_SLICE, OptimizerSetting, get_config

pytestmark = pytest.mark.usefixtures("offline")


def tiny_gradient_config(**changes):
    cfg = replace(
        get_config("gradient_vanishing", "quick"),
        epochs=2,
        n_train=512,
        sweep_depths=(1, 3),
        sweep_epochs=1,
    )
    return replace(cfg, **changes)


def _assert_json(result: ExperimentResult) -> dict:
    d = result.to_dict()
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN/inf, only plain types
    assert json.loads(text) == d
    return d


# ---------------------------------------------------------------------------
# gradient vanishing


def test_gradient_vanishing_result_structure():
    cfg = tiny_gradient_config()
    res = run_gradient_vanishing(activations=("relu", "sigmoid"), seed=3, device="cpu", config=cfg)
    assert res.name == "gradient_vanishing" and res.profile == "custom"
    assert res.device == "cpu" and res.seed == 3 and res.config is cfg
    assert res.run_names == ["relu", "sigmoid"]
    # the data actually used is recorded: which MNIST and how many training images
    assert res.data.n_train == 512 and res.data.source in ("full", "subset")
    assert "512" in res.data.description
    run = res["sigmoid"]
    assert run.layer_names == ["input_layer", "layers.0", "layers.1", "output_layer"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc", "grad_mean"):
        assert len(run.history[key]) == cfg.epochs
    assert all(len(epoch) == 4 for epoch in run.history["grad_mean"])
    assert all(0.0 <= a <= 1.0 for a in run.history["train_acc"] + run.history["test_acc"])
    assert run.summary["first_layer_grad"] == run.history["grad_mean"][-1][0]
    assert run.summary["grad_ratio"] == pytest.approx(
        run.history["grad_mean"][-1][0] / run.history["grad_mean"][-1][-1]
    )
    d = _assert_json(res)
    assert d["config"]["lr"] == cfg.lr and d["data"]["n_train"] == 512 and d["device"] == "cpu"
    assert d["runs"]["relu"]["layer_names"][0] == "input_layer"


def test_experiments_record_the_dataset(tmp_path, monkeypatch):
    from labcode import data

    rng = torch.Generator().manual_seed(0)
    raw = tmp_path / "FashionMNIST" / "raw"
    for split, n in (("train", 96), ("t10k", 32)):
        images = torch.randint(0, 256, (n, 28, 28), generator=rng, dtype=torch.uint8).numpy()
        data.write_idx(raw / f"{split}-images-idx3-ubyte", images)
        data.write_idx(raw / f"{split}-labels-idx1-ubyte", (torch.arange(n) % 10).byte().numpy())
    monkeypatch.setenv("LABCODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABCODE_DATASET", "fashion-mnist")
    cfg = tiny_gradient_config(epochs=1, n_train=64, batch_size=32)
    res = run_gradient_vanishing(activations=("relu",), device="cpu", config=cfg)
    assert res.dataset == res.data.dataset == "fashion-mnist"
    assert res.data_description.startswith("Fashion-MNIST（完整）：训练 96 张")
    assert res.data.n_train == 64
    d = _assert_json(res)
    assert d["dataset"] == d["data"]["dataset"] == "fashion-mnist"
    assert run_l2(device="cpu", config=replace(get_config("l2", "quick"), epochs=1)).dataset is None


def test_gradient_vanishing_is_reproducible_and_seed_dependent():
    cfg = tiny_gradient_config(epochs=1)
    a = run_gradient_vanishing(activations=("tanh",), seed=1, device="cpu", config=cfg)
    b = run_gradient_vanishing(activations=("tanh",), seed=1, device="cpu", config=cfg)
    c = run_gradient_vanishing(activations=("tanh",), seed=2, device="cpu", config=cfg)
    assert a["tanh"].history == b["tanh"].history
    assert a["tanh"].history != c["tanh"].history


def test_gradients_are_averaged_over_the_epochs_batches():
    """The recorded per-layer value is the mean over all batches, not the last batch's value."""
    from labcode.data import TensorLoader

    torch.manual_seed(0)
    x, y = torch.randn(96, 784), torch.randint(0, 10, (96,))
    cfg = tiny_gradient_config(epochs=1, batch_size=32)
    data = MnistData(x, y, x[:10], y[:10], info=None)
    torch.manual_seed(5)
    model = Network(784, 10, "sigmoid", num_layers=1)
    reference = Network(784, 10, "sigmoid", num_layers=1)
    reference.load_state_dict(model.state_dict())
    spec = training.RunSpec(
        experiment="t", run="r", optimizer="sgd", lr=cfg.lr, batch_size=32, epochs=1, seed=0,
        track_gradients=True,
    )  # fmt: skip
    history, names = training.fit_classifier(model, data, spec)
    opt = torch.optim.SGD(reference.parameters(), lr=cfg.lr)
    per_batch = []
    for xb, yb in TensorLoader(x, y, 32, shuffle=True, seed=0):
        opt.zero_grad()
        nn.functional.cross_entropy(reference(xb), yb).backward()
        per_batch.append(
            [layer.weight.grad.abs().mean().item() for _, layer in reference.linear_layers()]
        )
        opt.step()
    expected = [sum(col) / len(col) for col in zip(*per_batch, strict=True)]
    assert names == ["input_layer", "layers.0", "output_layer"]
    assert history["grad_mean"][0] == pytest.approx(expected, rel=1e-4)
    assert history["grad_mean"][0] != pytest.approx(per_batch[-1], rel=1e-3)


def test_depth_sweep_structure():
    cfg = tiny_gradient_config()
    res = run_depth_sweep(
        depths=(0, 2), activations=("sigmoid",), device="cpu", config=cfg, inits=()
    )
    assert res.name == "depth_sweep"
    assert res.run_names == ["sigmoid/depth=0", "sigmoid/depth=2"]
    deep = res["sigmoid/depth=2"]
    assert deep.params["num_layers"] == 2 and len(deep.layer_names) == 4
    assert len(deep.history["test_acc"]) == cfg.sweep_epochs
    assert {"grad_ratio", "first_layer_grad", "last_layer_grad", "final_test_acc"} <= set(
        deep.summary
    )
    _assert_json(res)


def test_depth_sweep_reuses_identical_runs_and_only_those():
    cfg = tiny_gradient_config(epochs=1, sweep_epochs=1, num_layers=1)  # identical training
    main = run_gradient_vanishing(activations=("relu", "sigmoid"), device="cpu", config=cfg)
    sweep = run_depth_sweep(
        depths=(1, 2), activations=("sigmoid",), device="cpu", config=cfg, reuse=main
    )
    reused = sweep["sigmoid/depth=1"]
    assert reused.name == "sigmoid/depth=1" and reused.history is main["sigmoid"].history
    fresh = run_depth_sweep(depths=(1,), activations=("sigmoid",), device="cpu", config=cfg)
    assert fresh["sigmoid/depth=1"].history == reused.history  # reuse is what training gives
    assert sweep["sigmoid/depth=2"].params["num_layers"] == 2  # other depths are trained
    longer = replace(cfg, sweep_epochs=2)  # different training: nothing reused
    other = run_depth_sweep(
        depths=(1,), activations=("sigmoid",), device="cpu", config=longer, reuse=main
    )
    assert len(other["sigmoid/depth=1"].history["test_acc"]) == 2
    with pytest.raises(ValueError, match="run_gradient_vanishing"):
        run_depth_sweep(depths=(1,), device="cpu", config=cfg, reuse=sweep)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"activations": ("relu", "swish")}, "未知的激活函数名.*relu, sigmoid"),
        ({"activations": ()}, "不能为空"),
        ({"num_layers": -1}, "num_layers"),
        ({"num_layers": 10**9}, "num_layers 应为 0 到 100"),
        ({"profile": "huge"}, "quick"),
    ],
)
def test_gradient_vanishing_bad_input(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        run_gradient_vanishing(device="cpu", **kwargs)


def test_wrong_config_type_is_a_clear_error():
    with pytest.raises(TypeError, match="GradientConfig"):
        run_gradient_vanishing(config=get_config("dropout", "quick"))


# ---------------------------------------------------------------------------
# divergence


def test_absurd_learning_rate_raises_training_diverged_error():
    cfg = tiny_gradient_config(lr=1e6, epochs=3)
    with pytest.raises(TrainingDivergedError) as info:
        run_gradient_vanishing(activations=("relu",), device="cpu", config=cfg)
    err = info.value
    message = str(err)
    assert err.experiment == "gradient_vanishing" and err.run == "relu" and err.lr == 1e6
    assert "gradient_vanishing" in message and f"第 {err.epoch} 个 epoch" in message
    assert "lr=1e+06" in message and "学习率调小" in message
    assert 1 <= err.epoch <= 3


def _assert_explosion(err, experiment, run, lr):
    message = str(err)
    assert (err.experiment, err.run, err.epoch, err.lr) == (experiment, run, 1, lr)
    assert math.isfinite(err.loss) and err.loss > err.threshold  # not NaN/inf: it exploded
    assert err.initial_loss == pytest.approx(math.log(10), rel=0.25)  # 10-class CE at the start
    assert err.threshold == training.divergence_threshold(err.initial_loss) == 1e4
    for part in (repr(experiment), repr(run), "第 1 个 epoch", "lr=1e+06", f"{err.loss:.4g}"):
        assert part in message, part
    assert "学习率调小" in message and "NaN" not in message


def test_exploding_but_finite_loss_is_divergence_sigmoid():
    """sigmoid at lr=1e6 used to 'finish' with a train loss of ~1e7 and 10% accuracy."""
    cfg = tiny_gradient_config(lr=1e6, epochs=2, n_train=256)
    with pytest.raises(TrainingDivergedError) as info:
        run_gradient_vanishing(activations=("sigmoid",), device="cpu", config=cfg)
    _assert_explosion(info.value, "gradient_vanishing", "sigmoid", 1e6)


def test_exploding_but_finite_loss_is_divergence_dying_relu_adam():
    """The dying-ReLU experiment with Adam at lr=1e6 used to report a loss of ~1e28."""
    cfg = replace(
        get_config("dead_relu", "quick"),
        epochs=2,
        n_train=256,
        dying_setting=OptimizerSetting("adam", 1e6, "absurd"),
    )
    with pytest.raises(TrainingDivergedError) as info:
        run_dead_relu(activations=("relu",), setting="dying", device="cpu", config=cfg)
    _assert_explosion(info.value, "dead_relu", "relu", 1e6)


def test_divergence_threshold_rule():
    assert training.divergence_threshold(math.log(10)) == 1e4  # absolute floor for small losses
    assert training.divergence_threshold(5e3) == 5e4  # 10x the start for large ones
    assert training.divergence_threshold(float("nan")) == 1e4


def _fixed_regression(target: float):
    """A zero linear model (lr 0: it never changes) whose MSE is exactly target**2."""
    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)
    x, y = torch.ones(8, 1), torch.full((8,), target)
    return net, [(x[:4], y[:4]), (x[4:], y[4:])], torch.optim.SGD(net.parameters(), lr=0.0)


def test_train_epoch_compares_with_the_initial_loss_it_is_given():
    net, batches, opt = _fixed_regression(200.0)  # loss 4e4 every batch
    common = {"experiment": "t", "epoch": 2, "classify": False, "run": "r", "lr": 0.0}
    stats = train_epoch(net, batches, opt, initial_loss=4e4, **common)  # no growth: fine
    assert stats.loss == pytest.approx(4e4) and stats.initial_loss == 4e4
    with pytest.raises(TrainingDivergedError) as info:  # same loss, but the run started at 1
        train_epoch(net, batches, opt, initial_loss=1.0, **common)
    assert info.value.epoch == 2 and info.value.threshold == 1e4
    first = train_epoch(net, batches, opt, **{**common, "epoch": 1})  # epoch 1: its first batch
    assert first.initial_loss == pytest.approx(4e4)
    net, batches, opt = _fixed_regression(1.0)
    assert train_epoch(net, batches, opt, initial_loss=1e-6, **common).loss == pytest.approx(1.0)


def test_l2_divergence_names_the_epoch():
    cfg = replace(get_config("l2", "quick"), lr=0.5, epochs=50)  # lr·λ_max(H) ≫ 2
    with pytest.raises(TrainingDivergedError, match=r"'l2'.*lr=0\.5") as info:
        run_l2(lambdas=(0,), device="cpu", config=cfg)
    assert info.value.epoch >= 1 and info.value.run == "lambda=0"


def test_train_epoch_reports_data_loss_and_accuracy():
    torch.manual_seed(0)
    net = nn.Linear(4, 3)
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: parameters fixed, stats checkable
    batches = [(x[:4], y[:4]), (x[4:], y[4:])]  # uneven: per-sample weighting matters
    stats = train_epoch(
        net, batches, opt, experiment="t", epoch=1, penalty=lambda: torch.tensor(100.0)
    )
    expected_loss = nn.functional.cross_entropy(net(x), y).item()
    assert stats.loss == pytest.approx(expected_loss, rel=1e-5)  # penalty not reported
    assert stats.accuracy == pytest.approx((net(x).argmax(1) == y).float().mean().item())
    assert stats.n_samples == 10
    loss, acc = evaluate(net, x, y, batch_size=3)
    assert loss == pytest.approx(expected_loss, rel=1e-5) and acc == stats.accuracy


# ---------------------------------------------------------------------------
# host synchronisation: statistics are read once per epoch, never per batch

_HOST_READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__")


@pytest.fixture
def host_reads(monkeypatch):
    """Count every call that copies a tensor's value to the host (a device sync on a GPU)."""
    calls: list[str] = []
    for name in _HOST_READS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    return calls


def _reads_for(host_reads, run, n_train):
    run(n_train)  # warm-up: MNIST is read from disk once per process
    host_reads.clear()
    run(n_train)
    return len(host_reads)


@pytest.mark.parametrize(
    "experiment",
    ["gradient_vanishing", "dead_relu", "dropout"],
)
def test_host_reads_do_not_grow_with_the_number_of_batches(host_reads, experiment):
    def run(n_train):
        if experiment == "gradient_vanishing":
            cfg = tiny_gradient_config(epochs=2, n_train=n_train, batch_size=32)
            run_gradient_vanishing(activations=("sigmoid",), device="cpu", config=cfg)
        elif experiment == "dead_relu":
            cfg = replace(
                get_config("dead_relu", "quick"), epochs=2, n_train=n_train, batch_size=32
            )
            run_dead_relu(activations=("relu",), device="cpu", config=cfg)
        else:
            cfg = tiny_dropout_config(epochs=2, n_train=n_train, batch_size=32)
            run_dropout(variants=("scratch",), device="cpu", config=cfg)

    few = _reads_for(host_reads, run, 64)  # 2 batches per epoch
    many = _reads_for(host_reads, run, 320)  # 10 batches per epoch
    assert few > 0, "the counter saw no host reads at all: the patch is not effective"
    assert many == few, (
        f"{experiment}: {few} host reads with 2 batches/epoch but {many} with 10: "
        "something reads a statistic per batch"
    )


# ---------------------------------------------------------------------------
# progress bar


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def _fake_kernel(monkeypatch, *, kernel: bool):
    shell = types.SimpleNamespace(kernel=object() if kernel else None)
    fake_ipython = types.ModuleType("IPython")
    fake_ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))


@pytest.mark.parametrize(
    ("labcode", "tqdm_disable", "tty", "kernel", "expected"),
    [
        ("", "", False, False, False),  # rendered page, pytest, redirected output
        ("", "", True, False, True),  # terminal
        ("", "", False, True, True),  # Jupyter: stderr is no TTY, but a kernel is running
        ("", "1", True, True, False),  # TQDM_DISABLE wins over TTY / kernel
        ("", "0", False, True, True),  # ... only when truthy
        ("", "false", True, False, True),
        ("1", "1", False, False, True),  # LABCODE_PROGRESS forces either way
        ("0", "", True, True, False),
        ("off", "", True, False, False),
        ("yes", "", False, False, True),
    ],
)
def test_progress_rule(monkeypatch, labcode, tqdm_disable, tty, kernel, expected):
    monkeypatch.setenv("LABCODE_PROGRESS", labcode)
    monkeypatch.setenv("TQDM_DISABLE", tqdm_disable)
    monkeypatch.setattr("sys.stderr", _Stream(tty))
    if kernel:
        _fake_kernel(monkeypatch, kernel=True)
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert training.progress_enabled() is expected


def test_ipython_without_a_kernel_is_not_a_kernel(monkeypatch):
    _fake_kernel(monkeypatch, kernel=False)  # e.g. the ipython terminal shell
    assert training.in_ipython_kernel() is False
    monkeypatch.delitem(sys.modules, "ipykernel")
    assert training.in_ipython_kernel() is False
    _fake_kernel(monkeypatch, kernel=True)
    assert training.in_ipython_kernel() is True


def test_progress_bar_without_ipywidgets_is_text_on_stderr(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real_find_spec(name, *a),
    )
    _fake_kernel(monkeypatch, kernel=True)
    monkeypatch.delenv("LABCODE_PROGRESS", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    buffer = _Stream(False)
    monkeypatch.setattr("sys.stderr", buffer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no TqdmWarning ("IProgress not found")
        assert list(training.progress(range(4), total=4, desc="kernel-bar")) == [0, 1, 2, 3]
    assert "kernel-bar" in buffer.getvalue()


def test_progress_bar_with_ipywidgets_uses_tqdm_auto(monkeypatch):
    import importlib.util

    import tqdm.auto

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "ipywidgets" else real_find_spec(name, *a),
    )
    used = []

    def fake_tqdm(iterable, **kwargs):
        used.append(kwargs)
        return iterable

    monkeypatch.setattr(tqdm.auto, "tqdm", fake_tqdm)
    monkeypatch.setenv("LABCODE_PROGRESS", "1")
    assert list(training.progress(range(2), total=2, desc="w")) == [0, 1]
    assert used and used[0]["desc"] == "w" and "file" not in used[0]


def test_progress_bar_only_when_asked(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stderr", buffer)
    monkeypatch.setenv("LABCODE_PROGRESS", "0")
    assert list(training.progress(range(3), total=3, desc="x")) == [0, 1, 2]
    assert buffer.getvalue() == ""
    monkeypatch.delenv("LABCODE_PROGRESS")
    assert training.progress_enabled() is False  # StringIO is not a TTY: nothing in a rendered page
    monkeypatch.setenv("LABCODE_PROGRESS", "1")
    assert list(training.progress(range(3), total=3, desc="demo")) == [0, 1, 2]
    assert "demo" in buffer.getvalue()
    monkeypatch.setenv("LABCODE_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="LABCODE_PROGRESS"):
        training.progress_enabled()


# ---------------------------------------------------------------------------
# dead ReLU


def test_dead_unit_stats_counts_units_dead_for_every_sample():
    torch.manual_seed(0)
    net = Network(784, 10, "relu", num_layers=1, hidden_dim=20)
    with torch.no_grad():
        net.input_layer.weight[3].zero_()
        net.input_layer.bias[
            3
        ] = -1.0  # unit 3 of the first layer: pre-activation -1 for every sample
        net.layers[0].weight[:5].zero_()
        net.layers[0].bias[:5] = 0.0  # pre-activation exactly 0: ReLU'(0) = 0, also dead
    x = torch.randn(300, 784)
    stats = dead_unit_stats(net, x, batch_size=64)
    assert stats["dead_fraction"] == [pytest.approx(1 / 20), pytest.approx(5 / 20)]
    with torch.no_grad():
        _, pre = net(x, return_preactivations=True)
    expected_zero = [(p.clamp(min=0) == 0).float().mean().item() for p in pre]
    assert stats["zero_output_fraction"] == pytest.approx(expected_zero)
    assert 0.3 < expected_zero[0] < 0.7  # about half the outputs are 0: that is not death
    assert net.training  # mode restored
    masks = dead_unit_stats(net, x, batch_size=64, masks=True)["dead_masks"]
    assert [m.nonzero().flatten().tolist() for m in masks] == [[3], [0, 1, 2, 3, 4]]
    with pytest.raises(ValueError, match="至少一个样本"):
        dead_unit_stats(net, x[:0])


def test_dead_relu_result_structure():
    cfg = replace(get_config("dead_relu", "quick"), epochs=2, n_train=512)
    res = run_dead_relu(setting="dying", seed=1, device="cpu", config=cfg)
    assert res.run_names == ["relu", "leaky_relu", "tanh"]
    for run in res.runs.values():
        assert run.layer_names == ["input_layer", "layers.0", "layers.1"]
        assert len(run.history["dead_fraction"]) == cfg.epochs
        for key in ("dead_fraction", "zero_output_fraction"):
            for epoch in run.history[key]:
                assert len(epoch) == 3 and all(0.0 <= v <= 1.0 for v in epoch)
        assert len(run.summary["dead_fraction_init"]) == 3
        assert run.params["setting"] == "dying" and run.params["optimizer"] == "adam"
    assert res["leaky_relu"].summary["final_zero_output_fraction"] == 0.0
    d = _assert_json(res)
    assert "%" not in json.dumps(d["runs"]["relu"]["history"])


def test_dead_relu_bad_setting():
    with pytest.raises(ValueError, match="'original'.*'dying'"):
        run_dead_relu(setting="broken", device="cpu")


def test_dead_unit_stats_measures_units_negative_or_saturated_on_every_sample():
    """LeakyReLU never dies by definition; what can go wrong is measured instead: units negative on
    every sample (gradient scaled by negative_slope) and tanh units saturated on every sample."""
    torch.manual_seed(0)
    x = torch.randn(300, 784)
    leaky = Network(784, 10, "leaky_relu", num_layers=1, hidden_dim=20)
    tanh = Network(784, 10, "tanh", num_layers=1, hidden_dim=20)
    with torch.no_grad():
        for net, bias in ((leaky, -1.0), (tanh, 10.0)):
            net.input_layer.weight[3].zero_()
            net.input_layer.bias[3] = bias  # the same pre-activation for every sample
    stats = dead_unit_stats(leaky, x, batch_size=64)
    assert stats["dead_fraction"] == [0.0, 0.0]  # LeakyReLU' >= 0.01: never "dead"
    assert stats["negative_fraction"][0] == pytest.approx(1 / 20)
    assert stats["saturated_fraction"] == [0.0, 0.0]  # 0.01 is not below the 1e-3 threshold
    stats = dead_unit_stats(tanh, x, batch_size=64)
    assert stats["dead_fraction"] == [0.0, 0.0]
    assert stats["saturated_fraction"][0] == pytest.approx(1 / 20)  # tanh'(10) ~ 8e-9
    assert dead_unit_stats(tanh, x, saturation_tol=1e-12)["saturated_fraction"][0] == 0.0


def _tiny_dead_config(**changes):
    return replace(get_config("dead_relu", "quick"), epochs=1, n_train=256, **changes)


def test_dead_relu_seeds_pairs_settings_and_reuses_identical_runs():
    cfg = _tiny_dead_config()
    mild = run_dead_relu(setting="original", config=cfg, device="cpu")
    res = run_dead_relu_seeds(config=cfg, device="cpu", reuse=mild)
    assert res.name == "dead_relu_seeds" and len(res.runs) == len(SEED_RUNS) * len(cfg.seeds)
    assert res["relu/original/seed=0"].history is mild["relu"].history  # reused, not retrained
    assert res["relu/dying/seed=3"].params == {
        "activation": "relu",
        "setting": "dying",
        "optimizer": "adam",
        "lr": cfg.dying_setting.lr,
        "seed": 3,
    }
    fresh = run_dead_relu_seeds(seeds=(0,), config=cfg, device="cpu")
    assert (
        fresh["relu/original/seed=0"].history == mild["relu"].history
    )  # reuse is what training gives
    dying = run_dead_relu(setting="dying", config=cfg, device="cpu", reuse=res)
    assert dying["tanh"].history is res["tanh/dying/seed=0"].history
    other = replace(cfg, epochs=2)  # different training: nothing reused
    assert (
        run_dead_relu(setting="dying", activations=("relu",), config=other, reuse=res)[
            "relu"
        ].history
        is not res["relu/dying/seed=0"].history
    )
    with pytest.raises(ValueError, match="run_dead_relu"):
        run_dead_relu_seeds(seeds=(0,), config=cfg, reuse=res)


def test_dead_at_init_runs_every_seed():
    res = run_dead_at_init(depth=4, seeds=(0, 1), config=_tiny_dead_config())
    assert res.run_names == ["default/seed=0", "he/seed=0", "default/seed=1", "he/seed=1"]
    assert res["he/seed=1"].params == {"init": "he", "num_layers": 4, "seed": 1}
    assert res["default/seed=0"].summary != res["default/seed=1"].summary


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: run_dead_at_init(seeds=()), r"seeds 应为不重复的随机种子.*\(\)"),
        (lambda: run_init_gradients(seeds=(1, 1)), r"seeds 应为不重复的随机种子.*\(1, 1\)"),
        (lambda: run_dead_relu_seeds(seeds=(0, 0)), "不重复"),
        (lambda: run_gradient_seeds(seeds=()), "不重复"),
        (lambda: run_dead_at_init(inits=()), "未知的初始化方案 \\[\\]。可选：default, xavier, he"),
        (
            lambda: run_init_gradients(inits="huge"),
            r"未知的初始化方案 \['huge'\]。可选：default, he, large",
        ),
    ],
)
def test_seed_and_init_lists_are_checked_before_the_data_loads(call, pattern, monkeypatch):
    monkeypatch.setattr(training, "load_mnist_tensors", lambda *a: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=pattern):
        call()


def test_gradient_seeds_reuse_the_main_runs_and_feed_the_sweep():
    cfg = tiny_gradient_config(
        epochs=1,
        sweep_epochs=1,
        num_layers=1,
        n_train=256,
        seed_runs=(("relu", 1, "default"), ("sigmoid", 1, "default"), ("relu", 2, "he")),
    )
    main = run_gradient_vanishing(activations=("relu", "sigmoid"), device="cpu", config=cfg)
    res = run_gradient_seeds(config=cfg, device="cpu", reuse=main)
    assert res.name == "gradient_seeds" and len(res.runs) == 3 * len(cfg.seeds)
    assert res["sigmoid/depth=1/seed=0"].history is main["sigmoid"].history
    assert len(main["sigmoid"].summary["mean_derivative"]) == 2  # measured after training
    assert "mean_derivative" in res["relu/depth=1/seed=3"].summary  # the main depth, on every seed
    assert "mean_derivative" not in res["relu+he/depth=2/seed=3"].summary
    assert res["relu+he/depth=2/seed=4"].params["init"] == "he"
    spread = res["sigmoid/depth=1/seed=2"].summary["init_spread"]
    assert len(spread) == 3 and spread[0] > spread[1] > spread[2] > 0  # 2 activated layers, logits
    assert "init_spread" not in res["relu+he/depth=2/seed=2"].summary  # only the main depth
    sweep = run_depth_sweep(depths=(1,), activations=("sigmoid",), config=cfg, reuse=res)
    assert sweep["sigmoid/depth=1"].history is main["sigmoid"].history
    assert "seed" not in sweep["sigmoid/depth=1"].params
    with pytest.raises(ValueError, match="run_gradient_vanishing"):
        run_gradient_seeds(seeds=(0,), config=cfg, reuse=sweep.runs)


def test_activation_stats_measures_saturation_and_the_mean_derivative():
    from labcode.metrics import activation_stats

    torch.manual_seed(0)
    net = Network(784, 10, "sigmoid", num_layers=1, hidden_dim=20)
    with torch.no_grad():
        net.input_layer.weight[3].zero_()
        net.input_layer.bias[3] = 20.0  # sigma'(20) ~ 2e-9 for every sample
    x = torch.randn(300, 784)
    stats = activation_stats(net, x, batch_size=64)
    assert stats["saturated_fraction"] == [pytest.approx(1 / 20), 0.0]
    with torch.no_grad():
        _, pre = net(x, return_preactivations=True)
    expected = [net.activation.derivative(z).mean().item() for z in pre]
    assert stats["mean_derivative"] == pytest.approx(expected, rel=1e-5)
    assert all(v <= 0.25 for v in stats["mean_derivative"]) and net.training


def test_saturation_is_measured_with_a_students_logits_only_forward():
    """The chapter trains the student's Network (练习 2.1), whose forward returns only logits."""

    class StudentNetwork(Network):
        def forward(self, x):
            x = self.activation(self.input_layer(x.flatten(1)))
            for layer in self.layers:
                x = self.activation(layer(x))
            return self.output_layer(x)

    cfg = tiny_gradient_config(epochs=1, n_train=128)
    res = run_gradient_vanishing(
        activations=("sigmoid",), device="cpu", config=cfg, network_cls=StudentNetwork
    )
    assert len(res["sigmoid"].summary["saturated_fraction"]) == cfg.num_layers + 1


def test_init_gradients_measures_every_layer_without_training():
    cfg = tiny_gradient_config(n_train=256)
    res = run_init_gradients(depth=3, seeds=(0, 1), n_images=64, config=cfg, device="cpu")
    assert res.run_names == [f"{i}/seed={s}" for s in (0, 1) for i in ("default", "he", "large")]
    for run in res.runs.values():
        assert len(run.summary["grad_norm"]) == 5 == len(run.layer_names)  # 3 hidden + in + out
        assert run.summary["loss"] > 0 and all(v > 0 for v in run.summary["grad_norm"])
    large, he = res["large/seed=1"].summary, res["he/seed=1"].summary
    assert all(a > b for a, b in zip(large["grad_norm"], he["grad_norm"], strict=True))
    with pytest.raises(ValueError, match="huge"):
        run_init_gradients(inits=("huge",), config=cfg)


def test_quick_profile_pins_the_mnist_slice():
    for experiment in ("gradient_vanishing", "dead_relu"):
        cfg = get_config(experiment, "quick")
        assert (cfg.n_train, cfg.n_test) == QUICK_MNIST_SLICE == (4000, 1000)
        assert len(cfg.seeds) >= 5
    with pytest.raises(ValueError, match="至少 5 个"):
        replace(get_config("dead_relu", "quick"), seeds=(0, 1, 2))


def test_quick_profile_is_the_same_experiment_on_full_size_files(tmp_path, monkeypatch):
    """Full-size files (the subset tiled to 60000 / 10000 and presented as full MNIST): quick takes
    the same 4000 / 1000 images, so the same runs give the same numbers as on the offline subset."""
    from benchmarks.standin import write_standin
    from labcode.data import STANDIN_MARKER, clear_cache

    subset = run_dead_at_init(profile="quick", seeds=(0,), device="cpu")
    root = write_standin(tmp_path / "data")
    (root / "MNIST" / "raw" / STANDIN_MARKER).unlink()  # presented as full MNIST
    monkeypatch.setenv("LABCODE_DATA_DIR", str(root))
    clear_cache()
    try:
        full = run_dead_at_init(profile="quick", seeds=(0,), device="cpu")
    finally:
        clear_cache()
    assert full.data.source == "full" and "60000" in full.data.description
    assert (full.data.n_train, full.data.n_test) == (4000, 1000)
    assert full["default/seed=0"].summary == subset["default/seed=0"].summary


# ---------------------------------------------------------------------------
# L2 / L1


def test_synthetic_data_follows_the_seed_formula():
    cfg = get_config("l2", "quick")
    a = make_synthetic_data(cfg, 0, "cpu")
    b = make_synthetic_data(cfg, 0, "cpu")
    c = make_synthetic_data(cfg, 1, "cpu")
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    train_x, train_y, test_x, test_y = a
    assert train_x.shape == (20, 200) and test_x.shape == (100, 200)
    assert train_y.shape == (20, 1) and test_y.shape == (100, 1)
    x = torch.cat([train_x, test_x]).double()
    y = torch.cat([train_y, test_y]).double().flatten()
    noise = y - (0.05 + 0.01 * x.sum(dim=1))
    assert 0.006 < noise.std().item() < 0.014 and abs(noise.mean().item()) < 0.005


def test_l2_result_structure_and_every_epoch_recorded():
    res = run_l2(device="cpu", profile="quick", seed=0)
    cfg = res.config
    assert res.data is None and "合成数据" in res.data_description
    assert res.run_names == ["lambda=0", "lambda=3"]
    for run in res.runs.values():
        assert len(run.history["train_loss"]) == cfg.epochs == len(run.history["test_loss"])
        assert len(run.arrays["weights"]) == cfg.d
        assert run.summary["w_norm"] == pytest.approx(
            sum(w * w for w in run.arrays["weights"]) ** 0.5, rel=1e-5
        )
    _assert_json(res)


def test_l2_bias_option_leaves_bias_unpenalized():
    cfg = replace(get_config("l2", "quick"), bias=True, epochs=30)
    res = run_l2(lambdas=(0, 3), method="weight_decay", device="cpu", config=cfg)
    assert "bias" in res["lambda=3"].summary


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: run_l2(lambdas=(0, -3), device="cpu"), "非负"),
        (lambda: run_l2(lambdas=(float("nan"),), device="cpu"), "非负"),
        (lambda: run_l2(method="adamw", device="cpu"), "scratch.*weight_decay"),
        (lambda: run_lambda_sweep(lambdas=(), device="cpu"), "不能为空"),
        (lambda: run_l1_vs_l2(l1_lambda=-1, device="cpu"), "l1_lambda"),
        (lambda: run_l1_vs_l2(l1_method="lasso", device="cpu"), "proximal"),
    ],
)
def test_l2_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_proximal_l1_gives_exact_zeros_subgradient_does_not():
    prox = run_l1_vs_l2(device="cpu", profile="quick")
    sub = run_l1_vs_l2(l1_method="subgradient", device="cpu", profile="quick")
    assert prox["l1"].summary["exact_zero_fraction"] > 0.5
    assert sub["l1"].summary["exact_zero_fraction"] < 0.05
    assert prox["l2"].summary["exact_zero_fraction"] == 0.0
    assert prox.run_names == ["none", "l1", "l2"]


# ---------------------------------------------------------------------------
# dropout


def tiny_dropout_config(**changes):
    cfg = replace(
        get_config("dropout", "quick"), n_train=256, epochs=2, sweep_epochs=1, batch_size=64
    )
    return replace(cfg, **changes)


def test_dropout_result_structure_and_honest_gap():
    cfg = tiny_dropout_config()
    res = run_dropout(seed=0, device="cpu", config=cfg)
    assert res.run_names == ["none", "scratch", "torch"]
    assert res.data.n_train == 256
    assert res["none"].params["dropout"] == 0.0 and res["scratch"].params["dropout"] == 0.3
    assert res["torch"].params["model"] == "TorchDropoutNetwork"
    for run in res.runs.values():
        h = run.history
        for key in (
            "train_acc",
            "train_acc_eval",
            "test_acc",
            "gap",
            "gap_original_style",
            "loss_gap",
        ):
            assert len(h[key]) == cfg.epochs
        assert h["gap"] == pytest.approx(
            [a - b for a, b in zip(h["train_acc_eval"], h["test_acc"], strict=True)]
        )
        assert h["gap_original_style"] == pytest.approx(
            [a - b for a, b in zip(h["train_acc"], h["test_acc"], strict=True)]
        )
    _assert_json(res)


def test_dropout_train_eval_on_a_fixed_sample():
    data = training.load_mnist_tensors(256, torch.device("cpu"))
    x, y = training._train_eval_sample(data, 100, seed=3)
    again, _ = training._train_eval_sample(data, 100, seed=3)
    other, _ = training._train_eval_sample(data, 100, seed=4)
    assert x.shape == (100, 1, 28, 28) and torch.equal(x, again) and not torch.equal(x, other)
    rows = {tuple(r.flatten().tolist()) for r in data.train_x}
    assert all(tuple(r.flatten().tolist()) in rows for r in x)  # drawn from the training set
    whole_x, _ = training._train_eval_sample(data, None, seed=3)
    assert whole_x is data.train_x and training._train_eval_sample(data, 999, 3)[0] is data.train_x
    with pytest.raises(ValueError, match="train_eval_size"):
        training._train_eval_sample(data, 0, seed=3)
    res = run_dropout(
        variants=("none",), device="cpu", config=tiny_dropout_config(train_eval_size=100)
    )
    acc = res["none"].history["train_acc_eval"]  # measured on exactly 100 images
    assert all(abs(a * 100 - round(a * 100)) < 1e-6 for a in acc)


def test_dropout_sweep_reuses_identical_runs_and_only_those():
    cfg = tiny_dropout_config(sweep_epochs=2)  # epochs == sweep_epochs: the runs are identical
    main = run_dropout(variants=("none", "scratch"), seed=0, device="cpu", config=cfg)
    sweep = run_dropout_sweep(rates=(0, 0.3, 0.5), seed=0, device="cpu", config=cfg, reuse=main)
    assert sweep["p=0"] is main["none"] and sweep["p=0.3"] is main["scratch"]
    fresh = run_dropout_sweep(rates=(0,), seed=0, device="cpu", config=cfg)
    assert fresh["p=0"].history == main["none"].history  # reuse is exactly what training gives
    other_seed = run_dropout_sweep(rates=(0,), seed=1, device="cpu", config=cfg, reuse=main)
    assert other_seed["p=0"] is not main["none"]
    with pytest.raises(ValueError, match="run_dropout"):
        run_dropout_sweep(rates=(0,), device="cpu", config=cfg, reuse=sweep)
    # run_dropout(dropout=0.5) trained p=0.5, whatever the config says: reused for p=0.5 only
    other_rate = run_dropout(variants=("scratch",), dropout=0.5, device="cpu", config=cfg)
    mixed = run_dropout_sweep(rates=(0.3, 0.5), device="cpu", config=cfg, reuse=other_rate)
    assert mixed["p=0.5"] is other_rate["scratch"]
    assert mixed["p=0.3"] is not other_rate["scratch"]
    assert mixed["p=0.3"].params["dropout"] == 0.3


def test_dropout_sweep_structure():
    res = run_dropout_sweep(rates=(0, 0.5), device="cpu", config=tiny_dropout_config())
    assert res.run_names == ["p=0", "p=0.5"]
    assert res["p=0.5"].params["dropout"] == 0.5


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: run_dropout(dropout=1.5, device="cpu"), r"\[0, 1\]"),
        (lambda: run_dropout(dropout=-0.1, device="cpu"), r"\[0, 1\]"),
        (lambda: run_dropout(variants=("none", "keras"), device="cpu"), "none, scratch, torch"),
        (lambda: run_dropout_sweep(rates=(0.2, 2.0), device="cpu"), r"\[0, 1\]"),
    ],
)
def test_dropout_bad_input(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---------------------------------------------------------------------------
# result objects


def test_result_accessors_give_clear_errors():
    run = RunResult("relu", history={"test_acc": [0.5, 0.6]}, summary={"w_norm": 1.0})
    res = ExperimentResult(
        "x", config={"a": (1, 2)}, data=None, device="cpu", seed=0, profile="quick"
    )
    res.runs["relu"] = run
    assert res["relu"] is run and "relu" in res and run.final("test_acc") == 0.6
    assert run.final("w_norm") == 1.0
    with pytest.raises(KeyError, match="已有的运行"):
        res["sigmoid"]
    with pytest.raises(KeyError, match="可用的指标"):
        run.metric("train_acc")
    d = res.to_dict()
    assert d["config"] == {"a": [1, 2]}
    run.summary["bad"] = float("nan")
    assert (
        json.loads(json.dumps(res.to_dict(), allow_nan=False))["runs"]["relu"]["summary"]["bad"]
        is None
    )


# ---------------------------------------------------------------------------
# students' code in the experiments, initialisation, revival, seeds, small-data MLP


def test_depth_sweep_with_initialisations():
    cfg = tiny_gradient_config()
    res = run_depth_sweep(
        depths=(2,), activations=("relu",), device="cpu", config=cfg, inits=(("relu", "he"),)
    )
    assert res.run_names == ["relu/depth=2", "relu+he/depth=2"]
    he, default = res["relu+he/depth=2"], res["relu/depth=2"]
    assert he.params["init"] == "he" and default.params["init"] == "default"
    assert he.history["grad_mean"] != default.history["grad_mean"]  # different initial weights
    with pytest.raises(ValueError, match="初始化方案"):
        run_depth_sweep(depths=(1,), device="cpu", config=cfg, inits=(("relu", "lecun"),))
    with pytest.raises(ValueError, match="激活函数"):
        run_depth_sweep(depths=(1,), device="cpu", config=cfg, inits=(("swish", "he"),))


def test_gradient_experiment_runs_the_students_network():
    calls = []

    class StudentNetwork(Network):
        def forward(self, x):
            calls.append(x.shape)
            x = x.flatten(1)
            x = self.activation(self.input_layer(x))
            for layer in self.layers:
                x = self.activation(layer(x))
            return self.output_layer(x)

    cfg = tiny_gradient_config(epochs=1)
    mine = run_gradient_vanishing(("relu",), device="cpu", config=cfg, network_cls=StudentNetwork)
    ref = run_gradient_vanishing(("relu",), device="cpu", config=cfg)
    assert calls, "the student's forward was not used"
    assert mine["relu"].params["network"].endswith("StudentNetwork")
    assert mine["relu"].history["test_acc"] == pytest.approx(ref["relu"].history["test_acc"])
    with pytest.raises(TypeError, match="network_cls"):
        run_gradient_vanishing(("relu",), device="cpu", config=cfg, network_cls=nn.Linear)


def test_dead_relu_tracks_revived_units():
    cfg = replace(get_config("dead_relu", "quick"), n_train=512, epochs=2)
    res = run_dead_relu(("relu",), setting="dying", device="cpu", config=cfg)
    revived = res["relu"].history["revived_fraction"]
    assert len(revived) == 2 and all(len(epoch) == cfg.num_layers + 1 for epoch in revived)
    assert all(0.0 <= v <= 1.0 for epoch in revived for v in epoch)


def test_l2_scratch_uses_the_given_penalty():
    cfg = replace(get_config("l2", "quick"), epochs=3)
    seen = []

    def penalty(w):
        seen.append(w.shape)
        return (w**2).sum() / 2

    mine = run_l2(lambdas=(3.0,), device="cpu", config=cfg, penalty=penalty)
    ref = run_l2(lambdas=(3.0,), device="cpu", config=cfg)
    assert seen and mine["lambda=3"].arrays["weights"] == pytest.approx(
        ref["lambda=3"].arrays["weights"]
    )
    doubled = run_l2(lambdas=(3.0,), device="cpu", config=cfg, penalty=lambda w: (w**2).sum())
    assert doubled["lambda=3"].summary["w_norm"] < ref["lambda=3"].summary["w_norm"]
    with pytest.raises(TypeError, match="penalty"):
        run_l2(lambdas=(3.0,), device="cpu", config=cfg, penalty=3)


def test_dropout_seeds_reuses_only_the_same_network_class():
    from labcode.experiments.dropout import run_dropout_seeds
    from labcode.models import RegularizedNetwork

    class Mine(RegularizedNetwork):
        pass

    cfg = tiny_dropout_config(seeds=(0, 1))
    main = run_dropout(variants=("none", "scratch"), device="cpu", config=cfg, model_cls=Mine)
    assert main["scratch"].params["model"] == "Mine"
    seeds = run_dropout_seeds(device="cpu", config=cfg, reuse=main)  # RegularizedNetwork: no reuse
    assert seeds.run_names == ["none/seed=0", "scratch/seed=0", "none/seed=1", "scratch/seed=1"]
    assert seeds["scratch/seed=0"].params["model"] == "RegularizedNetwork"
    reused = run_dropout_seeds(device="cpu", config=cfg, reuse=main, model_cls=Mine)
    assert reused["scratch/seed=0"].history == main["scratch"].history
    assert reused["scratch/seed=0"].params["seed"] == 0
    with pytest.raises(ValueError, match="至少两个"):
        run_dropout_seeds(seeds=(0,), device="cpu", config=cfg)


def test_dropout_mlp_uses_the_given_dropout_function():
    from labcode.experiments.dropout import run_dropout_mlp
    from labcode.profiles import DropoutMLPConfig

    used = []

    def my_dropout(x, p):
        used.append(p)
        return x * (torch.rand_like(x) > p) / (1 - p)

    cfg = DropoutMLPConfig(n_train=128, hidden_dim=32, epochs=2, seeds=(0,))
    res = run_dropout_mlp(
        device="cpu", config=cfg, dropout_fn=my_dropout, variants=("none", "dropout")
    )
    assert res.run_names == ["none/seed=0", "dropout/seed=0"]
    assert set(used) == {0.2, 0.5}  # input 0.2, hidden 0.5; never called for the p=0 network
    assert res["dropout/seed=0"].params["hidden_dropout"] == (0.5, 0.5)
    with pytest.raises(ValueError, match="dropout"):
        DropoutMLPConfig(input_dropout=1.0)
