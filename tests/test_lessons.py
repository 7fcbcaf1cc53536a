"""labcode.lessons: each lesson the chapters state, checked on results.

Fast tests check the lesson functions on hand-made results (they must fail when the lesson does
not hold). Slow tests run the experiments in the quick profile over 3 seeds and require every
lesson to hold; seed 0 runs each experiment exactly as the chapters do (end-to-end quick profile).
"""

import re
from dataclasses import replace

import pytest

from labcode import lessons
from labcode.experiments.dead_relu import run_dead_at_init, run_dead_relu
from labcode.experiments.dropout import (
    run_dropout,
    run_dropout_mlp,
    run_dropout_seeds,
    run_dropout_sweep,
)
from labcode.experiments.gradient_vanishing import run_depth_sweep, run_gradient_vanishing
from labcode.experiments.l2 import run_l1_vs_l2, run_l2, run_lambda_sweep
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.forward_signal import forward_spreads
from labcode.profiles import get_config

SEEDS = (0, 1, 2)


pytestmark = pytest.mark.usefixtures("offline")


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ---------------------------------------------------------------------------
# the gate: lessons.report


GOOD = lessons.Lesson("good_lesson", True, "实测 3，要求大于 1。", {"x": 3})
BAD = lessons.Lesson("bad_lesson", False, "实测 0.5，要求大于 1。", {"x": 0.5})


def test_report_prints_and_passes_when_every_lesson_holds(capsys):
    lessons.report([GOOD], gate=True)
    assert capsys.readouterr().out == "✓ good_lesson：实测 3，要求大于 1。\n"


def test_report_gate_raises_naming_lesson_and_values(capsys):
    with pytest.raises(lessons.LessonFailedError) as info:
        lessons.report([GOOD, BAD], gate=True)
    assert "bad_lesson" in str(info.value) and "实测 0.5" in str(info.value)
    assert "good_lesson" not in str(info.value) and info.value.lessons == [BAD]
    out = capsys.readouterr().out
    assert "✓ good_lesson" in out and "✗ bad_lesson" in out  # printed before raising


def test_report_without_gate_warns(monkeypatch):
    monkeypatch.delenv(lessons.GATE_ENV, raising=False)
    with pytest.warns(UserWarning, match="bad_lesson"):
        lessons.report([BAD])
    monkeypatch.setenv(lessons.GATE_ENV, "1")
    with pytest.raises(lessons.LessonFailedError):
        lessons.report([BAD])
    monkeypatch.setenv(lessons.GATE_ENV, "maybe")
    with pytest.raises(ValueError, match=lessons.GATE_ENV):
        lessons.report([GOOD])


def test_report_expected_failures(capsys):
    lessons.report([GOOD, BAD], expected_failures=["bad_lesson"], gate=True)
    assert "✗ bad_lesson：实测 0.5，要求大于 1。（预期不成立）" in capsys.readouterr().out
    with pytest.raises(lessons.LessonFailedError, match="good_lesson.*却成立了"):
        lessons.report([GOOD], expected_failures=["good_lesson"], gate=True)
    with pytest.raises(ValueError, match="typo_lesson"):
        lessons.report([GOOD], expected_failures=["typo_lesson"], gate=True)
    with pytest.raises(TypeError, match="Lesson"):
        lessons.report([True], gate=True)


# ---------------------------------------------------------------------------
# fast: the lessons added with the teaching fixes, on hand-made results (each must be able to fail)


def _spreads(per_layer, logits_sig=0.001, logits_tanh=0.06):
    rows = [{"layer": f"第 {i} 层", "spread": 0.1 * per_layer**i, "mean": 0.5} for i in range(3)]
    return {
        "sigmoid": [*rows, {"layer": "输出层", "spread": logits_sig, "mean": 0.0}],
        "tanh": [*rows, {"layer": "输出层", "spread": logits_tanh, "mean": 0.0}],
    }


def test_forward_signal_lesson():
    assert lessons.sigmoid_forward_signal_collapses(_spreads(0.14)).passed
    assert not lessons.sigmoid_forward_signal_collapses(_spreads(0.6)).passed
    assert not lessons.sigmoid_forward_signal_collapses(_spreads(0.14, logits_sig=0.05)).passed


def _sweep(acc):
    res = ExperimentResult("depth_sweep", None, None, "cpu", 0, "quick")
    for (act, init, depth), a in acc.items():
        res.runs[f"{act}+{init}/depth={depth}"] = RunResult(
            "x",
            params={"activation": act, "init": init, "num_layers": depth},
            summary={"final_test_acc": a, "grad_ratio": 1.0},
        )
    return res


def test_initialisation_lesson():
    good = {("relu", "default", 8): 0.1, ("relu", "he", 8): 0.85, ("relu", "default", 1): 0.9}
    assert lessons.initialisation_rescues_depth(_sweep(good)).passed
    assert not lessons.initialisation_rescues_depth(_sweep({**good, ("relu", "he", 8): 0.3})).passed
    with pytest.raises(ValueError, match="sweep_inits"):
        lessons.initialisation_rescues_depth(_sweep({("relu", "default", 8): 0.1}))


def _dead(revived):
    res = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    res.runs["relu"] = RunResult("relu", history={"revived_fraction": revived})
    return res


def test_dead_at_init_lesson():
    def newborn(default, he):
        res = ExperimentResult("dead_at_init", None, None, "cpu", 0, "quick")
        for init, deep in (("default", default), ("he", he)):
            res.runs[init] = RunResult(
                init,
                summary={"dead_fraction": [0.0, deep], "deep_dead_fraction": deep},
                layer_names=["input_layer", "layers.0"],
            )
        return res

    assert lessons.deep_default_init_starts_dead(newborn(0.5, 0.08)).passed
    assert not lessons.deep_default_init_starts_dead(newborn(0.1, 0.02)).passed
    assert not lessons.deep_default_init_starts_dead(newborn(0.5, 0.4)).passed


def test_revival_lesson():
    assert lessons.dead_units_partly_revive(_dead([[0, 0, 0], [0, 0.07, 0.01]])).passed
    assert not lessons.dead_units_partly_revive(_dead([[0, 0, 0], [0, 0.01, 0.0]])).passed


def _rates(test, train):
    res = ExperimentResult("dropout_sweep", None, None, "cpu", 0, "quick")
    for p, (t, tr) in zip((0.0, 0.5, 0.9), zip(test, train, strict=True), strict=True):
        res.runs[f"p={p:g}"] = RunResult(
            "x", params={"dropout": p}, history={"test_acc": [t] * 3, "train_acc_eval": [tr] * 3}
        )
    return res


def test_high_dropout_lesson():
    assert lessons.high_dropout_underfits(_rates((0.94, 0.95, 0.93), (0.98, 0.97, 0.95))).passed
    assert not lessons.high_dropout_underfits(
        _rates((0.94, 0.95, 0.949), (0.98, 0.97, 0.95))
    ).passed
    assert not lessons.high_dropout_underfits(_rates((0.94, 0.95, 0.93), (0.98, 0.97, 0.99))).passed


def _paired(name, variants, values, key):
    res = ExperimentResult(name, None, None, "cpu", 0, "quick")
    for seed, pair in enumerate(values):
        for variant, v in zip(variants, pair, strict=True):
            hist = {key: [v] * 3, "test_acc": [0.9] * 3, "gap": [0.03] * 3, "test_loss": [0.5] * 3}
            hist[key] = [v] * 3
            res.runs[f"{variant}/seed={seed}"] = RunResult(
                "x", params={"variant": variant, "seed": seed}, history=hist
            )
    return res


def test_dropout_over_seeds_lessons():
    gaps = [(0.115, 0.102), (0.127, 0.114), (0.111, 0.099)]
    assert lessons.dropout_gap_over_seeds(
        _paired("dropout_seeds", ("none", "scratch"), gaps, "loss_gap")
    ).passed
    one_worse = [*gaps[:2], (0.111, 0.112)]
    res = _paired("dropout_seeds", ("none", "scratch"), one_worse, "loss_gap")
    assert not lessons.dropout_gap_over_seeds(res).passed

    def mlp(losses, accs=((0.86, 0.87),) * 3):
        res = _paired("dropout_mlp", ("none", "dropout"), accs, "test_acc")
        for run in res.runs.values():
            pair = losses[run.params["seed"]]
            run.history["test_loss"] = [pair[0] if run.params["variant"] == "none" else pair[1]] * 3
        return res

    clear = [(0.548, 0.506), (0.533, 0.495), (0.539, 0.500)]
    assert lessons.dropout_helps_small_data_mlp(mlp(clear)).passed
    one_worse = [*clear[:2], (0.50, 0.51)]
    assert not lessons.dropout_helps_small_data_mlp(mlp(one_worse)).passed
    worse_acc = ((0.88, 0.86),) * 3  # lower loss but clearly lower accuracy
    assert not lessons.dropout_helps_small_data_mlp(mlp(clear, worse_acc)).passed


# ---------------------------------------------------------------------------
# fast: lesson functions on hand-made results


def _gradient_result(sigmoid_first, relu_first, sigmoid_last=1e-2, accs=(0.9, 0.2, 0.85)):
    res = ExperimentResult("gradient_vanishing", None, None, "cpu", 0, "quick")
    for name, first, last, acc in (
        ("relu", relu_first, 1e-2, accs[0]),
        ("sigmoid", sigmoid_first, sigmoid_last, accs[1]),
        ("tanh", 1e-3, 1e-2, accs[2]),
    ):
        res.runs[name] = RunResult(
            name,
            summary={"first_layer_grad": first, "last_layer_grad": last, "final_test_acc": acc},
        )
    return res


def test_gradient_lessons_pass_and_fail():
    good = _gradient_result(sigmoid_first=1e-5, relu_first=1e-3)
    lesson = lessons.sigmoid_first_layer_vanishes(good)
    assert lesson.passed and _has_numbers(lesson.detail) and str(lesson).startswith("✓")
    assert not lessons.sigmoid_first_layer_vanishes(
        _gradient_result(1e-5, 5e-5)
    )  # ReLU not 10x larger
    assert not lessons.sigmoid_first_layer_vanishes(_gradient_result(1e-5, 1e-3, sigmoid_last=5e-5))
    assert lessons.sigmoid_learns_slowest(good).passed
    slow_relu = _gradient_result(1e-5, 1e-3, accs=(0.22, 0.2, 0.85))
    assert not lessons.sigmoid_learns_slowest(slow_relu)  # within the 5-point margin


def test_lessons_reject_the_wrong_result():
    dead = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    with pytest.raises(ValueError, match="gradient_vanishing"):
        lessons.sigmoid_first_layer_vanishes(dead)
    with pytest.raises(ValueError, match="缺少"):
        lessons.relu_dies_in_dying_setting(dead)


def _dead_result(relu_dead, leaky_dead=0.0, init=0.0, zero=0.5):
    res = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    for name, dead in (("relu", relu_dead), ("leaky_relu", leaky_dead), ("tanh", 0.0)):
        res.runs[name] = RunResult(
            name,
            params={"setting": "dying", "optimizer": "adam", "lr": 0.01},
            history={"dead_fraction": [[dead, dead]], "zero_output_fraction": [[zero, zero]]},
            summary={
                "final_dead_fraction": dead,
                "dead_fraction_init": [init, init],
                "final_zero_output_fraction": zero,
            },
            layer_names=["input_layer", "layers.0"],
        )
    return res


def test_dead_relu_lessons_pass_and_fail():
    assert lessons.relu_dies_in_dying_setting(_dead_result(0.3)).passed
    assert not lessons.relu_dies_in_dying_setting(_dead_result(0.05))
    assert not lessons.relu_dies_in_dying_setting(
        _dead_result(0.3, init=0.25)
    )  # dead from the start
    assert lessons.leaky_relu_does_not_die(_dead_result(0.3)).passed
    assert not lessons.leaky_relu_does_not_die(_dead_result(0.3, leaky_dead=0.01))
    naive = lessons.naive_zero_fraction_is_not_death(_dead_result(0.01, zero=0.5))
    assert naive.passed and "%" in naive.detail
    assert not lessons.naive_zero_fraction_is_not_death(_dead_result(0.2, zero=0.5))


def _lambda_result(norms, tests, trains=None, name="l2"):
    res = ExperimentResult(name, None, None, "cpu", 0, "quick")
    trains = trains or [1e-8 * (i + 1) for i in range(len(norms))]
    for i, (lam, norm, test) in enumerate(zip((0.0, 3.0, 10.0), norms, tests, strict=False)):
        res.runs[f"lambda={lam:g}"] = RunResult(
            f"lambda={lam:g}",
            params={"lambda": lam},
            summary={"w_norm": norm, "final_test_loss": test, "final_train_loss": trains[i]},
            arrays={"weights": [norm] * 4},
        )
    return res


def test_l2_lessons_pass_and_fail():
    good = _lambda_result([0.5, 0.1], [0.3, 0.03])
    assert lessons.l2_shrinks_weights(good) and lessons.l2_reduces_test_loss(good)
    assert lessons.unregularized_model_overfits(good)
    bad = _lambda_result([0.5, 0.4], [0.3, 0.2])
    assert not lessons.l2_shrinks_weights(bad) and not lessons.l2_reduces_test_loss(bad)
    assert lessons.weight_decay_matches_scratch(good, good).passed
    assert not lessons.weight_decay_matches_scratch(good, bad)
    sweep = _lambda_result([0.5, 0.1, 0.03], [0.3, 0.03, 0.04], [0.0, 1e-4, 1e-3], "lambda_sweep")
    assert lessons.lambda_sweep_trades_fit_for_size(sweep)
    not_monotone = _lambda_result(
        [0.5, 0.1, 0.2], [0.3, 0.03, 0.04], [0.0, 1e-4, 1e-3], "lambda_sweep"
    )
    assert not lessons.lambda_sweep_trades_fit_for_size(not_monotone)


def _dropout_result(gaps, seed_gaps, loss_gaps, name="dropout_sweep"):
    res = ExperimentResult(name, None, None, "cpu", 0, "quick")
    for rate, gap, seed_gap, loss_gap in zip((0.0, 0.7), gaps, seed_gaps, loss_gaps, strict=True):
        key = f"p={rate:g}"
        res.runs[key] = RunResult(
            key,
            params={"dropout": rate},
            history={
                "gap": [gap] * 3,
                "gap_seed_style": [seed_gap] * 3,
                "loss_gap": [loss_gap] * 3,
                "test_acc": [0.9] * 3,
            },
        )
    return res


def test_dropout_lessons_pass_and_fail():
    good = _dropout_result((0.04, 0.03), (0.035, -0.01), (0.12, 0.08))
    assert lessons.dropout_reduces_overfitting_at_high_rate(good)
    assert lessons.seed_train_accuracy_understates_with_dropout(good)
    bad = _dropout_result((0.04, 0.03), (0.035, 0.025), (0.12, 0.13))
    assert not lessons.dropout_reduces_overfitting_at_high_rate(bad)
    assert not lessons.seed_train_accuracy_understates_with_dropout(bad)


# ---------------------------------------------------------------------------
# slow: the real experiments, quick profile, 3 seeds

_CACHE: dict = {}


def cached(key, fn):
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


def gradient(seed):
    return cached(("gradient", seed), lambda: run_gradient_vanishing(profile="quick", seed=seed))


def depth_sweep(seed):
    return cached(("depth", seed), lambda: run_depth_sweep(profile="quick", seed=seed))


def dead(seed, setting):
    return cached(
        ("dead", seed, setting), lambda: run_dead_relu(setting=setting, profile="quick", seed=seed)
    )


def dropout(seed):
    return cached(("dropout", seed), lambda: run_dropout(profile="quick", seed=seed))


def dropout_sweep(seed):
    if seed == 0:  # seed 0: the sweep exactly as the chapter runs it
        return cached(("dsweep", 0), lambda: run_dropout_sweep(profile="quick", seed=0))
    rates = get_config("dropout", "quick").sweep_rates
    # the lessons compare p=0, the best rate and the highest: 0, the main rate and the top two
    rates = (0.0, get_config("dropout", "quick").dropout, *sorted(rates)[-2:])
    return cached(
        ("dsweep", seed), lambda: run_dropout_sweep(rates=rates, profile="quick", seed=seed)
    )


#: disjoint seed sets for the experiments that compare several seeds themselves
SEED_SETS = {0: (0, 1, 2), 1: (3, 4, 5), 2: (6, 7, 8)}


def dropout_seeds(seed):
    return cached(
        ("dseeds", seed), lambda: run_dropout_seeds(seeds=SEED_SETS[seed], profile="quick")
    )


def dropout_mlp(seed):
    return cached(("dmlp", seed), lambda: run_dropout_mlp(seeds=SEED_SETS[seed], profile="quick"))


def _holds(lesson):
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_gradient_vanishing_lessons(seed):
    res = gradient(seed)
    assert res.profile == "quick" and res.device == "cpu"
    _holds(lessons.sigmoid_first_layer_vanishes(res))
    _holds(lessons.sigmoid_learns_slowest(res))
    _holds(lessons.depth_makes_sigmoid_vanish(depth_sweep(seed)))
    _holds(lessons.initialisation_rescues_depth(depth_sweep(seed)))
    _holds(lessons.sigmoid_forward_signal_collapses(forward_spreads(res)))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_dead_relu_lessons(seed):
    dying = dead(seed, "dying")
    _holds(lessons.relu_dies_in_dying_setting(dying))
    _holds(lessons.leaky_relu_does_not_die(dying))
    _holds(lessons.tanh_has_no_dead_units(dying))
    _holds(lessons.dead_units_partly_revive(dying))
    _holds(lessons.deep_default_init_starts_dead(run_dead_at_init(profile="quick", seed=seed)))
    seed_setting = dead(seed, "seed")
    _holds(lessons.naive_zero_fraction_is_not_death(seed_setting))
    _holds(lessons.leaky_relu_does_not_die(seed_setting))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_l2_lessons(seed):
    scratch = run_l2(profile="quick", seed=seed)
    decay = run_l2(method="weight_decay", profile="quick", seed=seed)
    for lesson in (
        lessons.unregularized_model_overfits(scratch),
        lessons.l2_shrinks_weights(scratch),
        lessons.l2_reduces_test_loss(scratch),
        lessons.weight_decay_matches_scratch(scratch, decay),
        lessons.lambda_sweep_trades_fit_for_size(run_lambda_sweep(profile="quick", seed=seed)),
        lessons.l1_is_sparser_than_l2(run_l1_vs_l2(profile="quick", seed=seed)),
    ):
        _holds(lesson)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_lessons(seed):
    res = dropout(seed)
    assert res.data.n_train == get_config("dropout", "quick").n_train
    _holds(lessons.dropout_narrows_loss_gap(res))
    _holds(lessons.dropout_implementations_agree(res))
    sweep = dropout_sweep(seed)
    _holds(lessons.dropout_reduces_overfitting_at_high_rate(sweep))
    _holds(lessons.seed_train_accuracy_understates_with_dropout(sweep))
    _holds(lessons.high_dropout_underfits(sweep))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_lessons_across_seed_sets(seed):
    """Lessons that compare several seeds themselves, each on its own set of 3 seeds."""
    _holds(lessons.dropout_gap_over_seeds(dropout_seeds(seed)))
    _holds(lessons.dropout_helps_small_data_mlp(dropout_mlp(seed)))


@pytest.mark.slow
def test_check_all_on_the_quick_profile():
    """All four experiments as the chapters run them (seed 0): every lesson holds."""
    results = {
        "gradient": gradient(0),
        "depth_sweep": depth_sweep(0),
        "dead_seed": dead(0, "seed"),
        "dead_dying": dead(0, "dying"),
        "l2": run_l2(profile="quick"),
        "l2_weight_decay": run_l2(method="weight_decay", profile="quick"),
        "lambda_sweep": run_lambda_sweep(profile="quick"),
        "l1_vs_l2": run_l1_vs_l2(profile="quick"),
        "dropout": dropout(0),
        "dropout_sweep": dropout_sweep(0),
        "dropout_seeds": dropout_seeds(0),
        "dropout_mlp": dropout_mlp(0),
        "dead_at_init": run_dead_at_init(profile="quick"),
    }
    checked = lessons.check_all(**results)
    assert len(checked) == 23
    failed = [str(lesson) for lesson in checked if not lesson.passed]
    assert not failed, "\n".join(failed)
    assert results["dropout_sweep"].run_names == [
        f"p={r:g}" for r in get_config("dropout", "quick").sweep_rates
    ]


def test_check_all_skips_missing_results():
    assert lessons.check_all() == []
    small = replace(get_config("l2", "quick"), epochs=5, l1_epochs=5)
    out = lessons.check_all(l2=run_l2(config=small))
    assert [lesson.name for lesson in out] == [
        "unregularized_model_overfits",
        "l2_shrinks_weights",
        "l2_reduces_test_loss",
    ]
