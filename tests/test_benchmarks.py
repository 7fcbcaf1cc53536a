"""benchmarks/: the original lab's baseline and the harness that compares it with labcode's path.

Fast tests run on a tiny MNIST-shaped data set written as idx files (a few hundred images), so both
paths train in well under a second. The "same values as ToTensor + Normalize" test of labcode's
loader itself lives in tests/test_data.py; here we check that the *benchmark* feeds both paths the
same data, that the baseline keeps the original lab's costs, and that the report has its fields.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch

from benchmarks import original_baseline
from benchmarks import run as bench
from labcode.data import clear_cache, load_mnist, write_idx

N_TRAIN, N_TEST = 192, 64


def write_tiny_mnist(root, n_train=N_TRAIN, n_test=N_TEST, seed=0, gz=False):
    """Random 28x28 uint8 images with labels 0-9, in torchvision's layout root/MNIST/raw."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    suffix = ".gz" if gz else ""
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0] = 0
        images[1] = 255  # the extremes of ToTensor's range
        labels = np.arange(n, dtype=np.uint8) % 10
        write_idx(raw / f"{split}-images-idx3-ubyte{suffix}", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte{suffix}", labels)
    return raw


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    write_tiny_mnist(tmp_path)
    monkeypatch.setenv("LABCODE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LABCODE_PROGRESS", "0")
    monkeypatch.setenv("LABCODE_OFFLINE", "1")
    clear_cache()
    yield tmp_path
    clear_cache()


def original_data_for(tmp_path, n_train=None):
    root = original_baseline.prepare_mnist_root(
        tmp_path / "MNIST" / "raw", tmp_path / "original-root"
    )
    return original_baseline.OriginalData(root, n_train=n_train)


# --- same data on both paths ---------------------------------------------------


def test_both_paths_see_the_same_values(tiny_data):
    """The original path (torchvision MNIST + per-image ToTensor/Normalize) and labcode's tensors agree."""
    data = load_mnist(device="cpu")
    assert bench.raw_dir_of(data) == tiny_data / "MNIST" / "raw"
    train_loader, test_loader = original_data_for(tiny_data).get_data(batch_size=N_TRAIN)
    loader = torch.utils.data.DataLoader(train_loader.dataset, batch_size=N_TRAIN, shuffle=False)
    (x_orig, y_orig), (xt_orig, yt_orig) = next(iter(loader)), next(iter(test_loader))
    torch.testing.assert_close(x_orig, data.train_x, rtol=0, atol=1e-6)
    torch.testing.assert_close(xt_orig, data.test_x, rtol=0, atol=1e-6)
    assert torch.equal(y_orig, data.train_y) and torch.equal(yt_orig, data.test_y)
    assert float(x_orig[0].min()) == pytest.approx(-0.1307 / 0.3081, abs=1e-6)


def test_original_data_n_train_takes_the_same_first_images(tiny_data):
    data = load_mnist(device="cpu")
    train, _ = original_data_for(tiny_data, n_train=50).datasets()
    assert len(train) == 50
    x49, y49 = train[49]
    torch.testing.assert_close(x49, data.train_x[49], rtol=0, atol=1e-6)
    assert y49 == int(data.train_y[49])


def test_prepare_root_decompresses_gz_and_reports_missing_files(tmp_path):
    raw = write_tiny_mnist(tmp_path / "full", gz=True)
    root = original_baseline.prepare_mnist_root(raw, tmp_path / "root")
    name = "train-images-idx3-ubyte"
    assert (root / "MNIST" / "raw" / name).read_bytes() == gzip.decompress(
        (raw / f"{name}.gz").read_bytes()
    )
    train, test = original_baseline.OriginalData(root).datasets()
    assert (len(train), len(test)) == (N_TRAIN, N_TEST)
    (raw / f"{name}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=name):
        original_baseline.prepare_mnist_root(raw, tmp_path / "root2")


# --- the baseline keeps the original lab's costs ------------------------------------------


def test_original_loops_keep_the_per_batch_and_per_epoch_costs(tiny_data, monkeypatch):
    """Gradient loop: numpy copy of every parameter's grad each batch; dead-ReLU loop: reload per epoch."""
    original_data = original_data_for(tiny_data)
    calls = {"get_data": 0, "analyze": 0}
    real_get_data, real_analyze = (
        original_baseline.OriginalData.get_data,
        original_baseline.analyze_gradients,
    )

    def counting_get_data(self, batch_size=64):
        calls["get_data"] += 1
        return real_get_data(self, batch_size)

    def counting_analyze(model):
        calls["analyze"] += 1
        stats = real_analyze(model)
        assert len(stats) == len(
            list(model.parameters())
        )  # weights and biases, as the original lab
        assert all(isinstance(s["mean"], np.floating) for s in stats)  # went through numpy
        return stats

    monkeypatch.setattr(original_baseline.OriginalData, "get_data", counting_get_data)
    monkeypatch.setattr(original_baseline, "analyze_gradients", counting_analyze)
    config = bench.experiment_config("grad", "quick", epochs=2, variants=("relu",))
    batches = -(-N_TRAIN // config.batch_size)

    run = original_baseline.train_gradient_vanishing(
        bench.make_model(config, "relu", 0),
        original_data,
        epochs=2,
        lr=0.01,
        batch_size=config.batch_size,
    )
    assert calls == {"get_data": 1, "analyze": 2 * batches}
    assert len(run.epoch_s) == 2 and run.total_s > 0 and len(run.train_acc) == 2

    calls.update(get_data=0, analyze=0)
    run = original_baseline.train_dead_relu(
        bench.make_model(config, "relu", 0),
        original_data,
        epochs=3,
        lr=0.01,
        batch_size=config.batch_size,
    )
    assert calls == {"get_data": 3, "analyze": 0}  # the original lab reloads the data every epoch
    assert len(run.extra["zero_fraction"]) == 3


def test_dead_relu_baseline_trains_the_same_forward_as_the_model(tiny_data):
    """The original lab forgot `x = activated`; the baseline trains Network's real forward (same model)."""
    config = bench.experiment_config("dead", "quick", epochs=1, variants=("relu",))
    a, b = bench.make_model(config, "relu", 3), bench.make_model(config, "relu", 3)
    x = torch.randn(5, 784)
    h = a.activation(a.input_layer(x))
    for layer in a.layers:
        h = a.activation(layer(h))
    torch.testing.assert_close(a.output_layer(h), b(x))


# --- configuration ---------------------------------------------------------------


def test_full_profile_is_the_original_setting():
    grad = bench.experiment_config("grad", "full")
    assert (
        grad.variants,
        grad.epochs,
        grad.lr,
        grad.batch_size,
        grad.num_layers,
        grad.n_train,
    ) == (
        ("relu", "sigmoid", "tanh"),
        5,
        0.001,
        64,
        2,
        None,
    )
    dead = bench.experiment_config("dead", "full")
    assert (dead.variants, dead.epochs, dead.lr, dead.batch_size) == (
        ("relu", "tanh"),
        5,
        0.001,
        64,
    )
    drop = bench.experiment_config("dropout", "full")
    assert (drop.variants, drop.epochs, drop.lr, drop.batch_size, drop.dropout) == (
        ("none", "scratch"),
        15,
        0.5,
        256,
        0.3,
    )


def test_models_are_identical_on_both_paths():
    config = bench.experiment_config("dropout", "quick")
    a, b = bench.make_model(config, "scratch", 7), bench.make_model(config, "scratch", 7)
    assert a.dropout_rate == 0.3 and bench.make_model(config, "none", 7).dropout_rate == 0.0
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize(
    "argv", [["--experiments", "grad,nope"], ["--epochs", "0"], ["--repeat", "0"]]
)
def test_bad_arguments_are_rejected(argv):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


# --- the harness end to end ---------------------------------------------------------


def test_harness_runs_both_paths_and_reports_the_table(tiny_data, tmp_path, capsys):
    out = tmp_path / "bench.json"
    threads_before = torch.get_num_threads()
    code = bench.main(["--no-isolate", "--threads", "1", "--epochs", "1", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    for needle in (
        "s/epoch",
        "speedup",
        "original",
        "labcode",
        "gradient vanishing",
        "dead ReLU",
        "dropout (CNN)",
        "peak RSS",
        "|Δacc| ≤ 5",
    ):
        assert needle in text
    payload = json.loads(out.read_text(encoding="utf-8"))
    summaries = {s["experiment"]: s for s in payload["summaries"]}
    assert set(summaries) == {"grad", "dead", "dropout"}
    for name, s in summaries.items():
        assert s["original_s_per_epoch"] > 0 and s["labcode_s_per_epoch"] > 0
        assert s["speedup"] == pytest.approx(s["original_s_per_epoch"] / s["labcode_s_per_epoch"])
        assert set(s["original_acc"]) == set(s["labcode_acc"]) == set(bench.ORIGINAL_VARIANTS[name])
        for acc in (*s["original_acc"].values(), *s["labcode_acc"].values()):
            assert 0.0 <= acc <= 100.0
        assert s["acc_agree"] == (s["max_abs_delta_acc"] <= s["acc_tol"])
        assert s["original_peak_rss_mib"] > 50 and s["labcode_peak_rss_mib"] > 50
    results = payload["results"]
    assert {(r["experiment"], r["path"]) for r in results} == {
        (e, p) for e in ("grad", "dead", "dropout") for p in ("original", "labcode")
    }
    assert all(r["n_train"] == N_TRAIN and r["n_test"] == N_TEST for r in results)
    assert all(r["config"]["epochs"] == 1 and r["threads"] == 1 for r in results)
    assert torch.get_num_threads() == threads_before  # --threads does not leak out of the run


def test_summary_takes_medians_and_flags_disagreement():
    def result(path, s_per_epoch, acc):
        return {
            "experiment": "grad",
            "path": path,
            "s_per_epoch": s_per_epoch,
            "peak_rss_mib": 100.0,
            "runs": {"relu": {"test_acc": acc}},
        }

    results = [
        result("original", 3.0, 80.0),
        result("labcode", 1.0, 90.0),
        result("labcode", 0.5, 90.0),
        result("original", 2.0, 80.0),
        result("original", 4.0, 80.0),
        result("labcode", 2.0, 90.0),
    ]
    (summary,) = bench.summarize(results, acc_tol=5.0)
    assert summary.original_s_per_epoch == 3.0 and summary.labcode_s_per_epoch == 1.0
    assert summary.speedup == pytest.approx(3.0)
    assert summary.max_abs_delta_acc == pytest.approx(10.0) and not summary.acc_agree
    assert "NO (<=5)" in bench.format_table([summary])


@pytest.mark.slow
def test_isolated_runs_report_per_path_peak_rss(tiny_data):
    """Default CLI mode: every (experiment, path) in a fresh spawned process."""
    jobs = [
        bench.Job(
            "dead", path, "quick", "cpu", epochs=1, variants=("relu",), data_dir=str(tiny_data)
        )
        for path in bench.PATHS
    ]
    results = bench.run_jobs(jobs, isolate=True, log=lambda *_: None)
    assert [r["path"] for r in results] == list(bench.PATHS)
    assert all(r["peak_rss_mib"] > 50 and r["seconds"] > 0 for r in results)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_paths_run(tiny_data):
    for path in bench.PATHS:
        result = bench.run_job(
            bench.Job("grad", path, "quick", "cuda", epochs=1, variants=("relu",))
        )
        assert result["device"].startswith("cuda") and result["seconds"] > 0


# --- full-size timing stand-in ---------------------------------------------------


def test_standin_tiles_the_subset_to_full_size(tmp_path):
    from benchmarks.standin import is_standin, write_standin
    from labcode.data import read_idx

    source = tmp_path / "src"
    write_tiny_mnist(source)
    (source / "MNIST").rename(source / "MNIST-subset")  # where labcode keeps the offline subset
    out = write_standin(tmp_path / "out", source, n_train=500, n_test=130)
    raw = out / "MNIST" / "raw"
    assert is_standin(out) and not is_standin(source)
    sub_x = read_idx(source / "MNIST-subset" / "raw" / "train-images-idx3-ubyte")
    sub_y = read_idx(source / "MNIST-subset" / "raw" / "train-labels-idx1-ubyte")
    x = read_idx(raw / "train-images-idx3-ubyte")
    y = read_idx(raw / "train-labels-idx1-ubyte")
    assert x.shape == (500, 28, 28) and y.shape == (500,)
    assert np.array_equal(x[N_TRAIN : 2 * N_TRAIN], sub_x) and np.array_equal(y[:N_TRAIN], sub_y)
    assert np.array_equal(x[2 * N_TRAIN :], sub_x[: 500 - 2 * N_TRAIN])  # cut at exactly n_train
    assert read_idx(raw / "t10k-images-idx3-ubyte").shape == (130, 28, 28)
    clear_cache()
    data = load_mnist(out, device="cpu", allow_download=False)  # labcode reads it as "full" size
    assert (len(data.train_y), len(data.test_y)) == (500, 130)
    clear_cache()
    with pytest.raises(ValueError, match="n_train"):
        write_standin(tmp_path / "bad", source, n_train=0)


def test_bench_rejects_standin_with_a_data_dir(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--standin", "--data-dir", "/tmp/x"])
    assert "--standin 与 --data-dir 只能选一个" in capsys.readouterr().err


# --- whole-lab timing ----------------------------------------------------------------


def test_lab_timing_runs_what_the_chapters_run():
    """benchmarks.lab_timing reads the experiment calls from docs/<chapter>.py (no hand-kept list)."""
    from benchmarks.lab_timing import CHAPTERS, STUDENT_ARGS

    assert list(CHAPTERS) == ["gradient_vanishing", "dead_relu", "l2", "dropout"]
    gradient = [
        (f, {k: v for k, v in kw.items() if k != "_assign"})
        for f, kw in CHAPTERS["gradient_vanishing"]
    ]
    assert gradient == [
        ("run_gradient_vanishing", {}),
        ("run_gradient_seeds", {"reuse": ("reuse", "res")}),
        ("run_depth_sweep", {"reuse": ("reuse", "seeds")}),
        ("run_init_gradients", {"depth": 8}),
    ]
    dead = [(f, kw.get("setting")) for f, kw in CHAPTERS["dead_relu"]]
    assert dead == [
        ("run_dead_relu", "original"),
        ("run_dead_relu_seeds", None),
        ("run_dead_at_init", None),
        ("run_dead_relu", "dying"),
    ]
    funcs = [f for f, _ in CHAPTERS["dropout"]]
    assert funcs == ["run_dropout", "run_dropout_mlp", "run_dropout_mlp_sweep"]
    for steps in CHAPTERS.values():
        for _, kwargs in steps:
            assert not STUDENT_ARGS & set(kwargs), kwargs  # the student's code is not timed


def test_lab_timing_times_each_call_of_a_chapter(monkeypatch):
    """The timing plumbing, with the chapter's experiments replaced by stand-ins (the real runs
    are what the chapters and their lesson tests train)."""
    import time

    from benchmarks.lab_timing import CHAPTERS, run_chapter, run_lab
    from labcode import experiments

    calls = []

    def stand_in(name):
        def run(**kwargs):
            calls.append((name, kwargs))
            time.sleep(0.001)
            return f"result of {name}"

        return run

    for func, _ in CHAPTERS["l2"]:
        monkeypatch.setattr(experiments, func, stand_in(func))
    for name in ("LABCODE_PROFILE", "LABCODE_DEVICE", "LABCODE_DATA_DIR"):
        monkeypatch.setenv(name, "")  # run_chapter sets them in this process
    report = run_chapter("l2", "quick", "cpu", None)
    reused = [kwargs["reuse"] for _, kwargs in calls if "reuse" in kwargs]
    assert all(r.startswith("result of run_") for r in reused), "reuse gets the earlier result"
    assert [s["call"] for s in report["steps"]] == [
        "run_l2(method='scratch')",
        "run_l2(method='weight_decay')",
        "run_lambda_sweep()",
        "run_l2_seeds()",
        "run_l1_vs_l2()",
        "run_l1_vs_l2_seeds()",
    ]
    assert all(s["seconds"] > 0 for s in report["steps"])
    assert report["seconds"] >= sum(s["seconds"] for s in report["steps"])
    with pytest.raises(ValueError, match="章节"):
        run_chapter("nope", "quick", "cpu", None)
    with pytest.raises(ValueError, match="jobs"):
        run_lab(["l2"], "quick", "cpu", jobs=0)


@pytest.mark.slow
def test_lab_timing_runs_a_real_chapter_in_its_own_process():
    from benchmarks.lab_timing import run_lab

    seen = []
    results, wall = run_lab(["l2"], "quick", "cpu", on_done=lambda r, t: seen.append((r, t)))
    assert [r["chapter"] for r in results] == ["l2"] and seen[0][0] == results[0]
    assert 0 < results[0]["seconds"] <= seen[0][1] <= wall
