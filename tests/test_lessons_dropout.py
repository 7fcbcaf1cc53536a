"""labcode.lessons.dropout: the dropout chapter's lessons on hand-made results and (slow) real runs."""

import re

import pytest

from labcode import lessons
from labcode.experiments.dropout import (
    run_dropout,
    run_dropout_mlp,
    run_dropout_seeds,
    run_dropout_sweep,
)
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.profiles import get_config

SEEDS = (0, 1, 2)

pytestmark = pytest.mark.usefixtures("offline")


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


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
    names = [lesson.name for lesson in lessons.check_all(good)]
    assert names == [
        "dropout_reduces_overfitting_at_high_rate",
        "seed_train_accuracy_understates_with_dropout",
    ]


# ---------------------------------------------------------------------------
# slow: the real experiments, quick profile, 3 seeds

_CACHE: dict = {}


def cached(key, fn):
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


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
def test_check_all_as_the_chapter_runs_it():
    """The chapter's calls (seed 0): every lesson holds."""
    checked = lessons.check_all(dropout(0), dropout_sweep(0), dropout_seeds(0), dropout_mlp(0))
    assert len(checked) == 7
    failed = [str(lesson) for lesson in checked if not lesson.passed]
    assert not failed, "\n".join(failed)
    assert dropout_sweep(0).run_names == [
        f"p={r:g}" for r in get_config("dropout", "quick").sweep_rates
    ]
