"""labcode.lessons.l2: the L2 chapter's lessons on hand-made results (each with a counterfactual on which it
fails) and, slow, on the real runs over 3 seed sets."""

import re
from dataclasses import replace

import pytest

from labcode import lessons
from labcode.experiments.l2 import (
    make_synthetic_data,
    ridge_solution,
    run_l1_vs_l2_seeds,
    run_l2,
    run_l2_seeds,
)
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.profiles import get_config
from tests.seed_sets import CHAPTER_SEEDS, MORE_SEED_SETS

pytestmark = pytest.mark.usefixtures("offline")

SEEDS5 = (0, 1, 2, 3, 4)
LAMS = (0.0, 0.1, 3.0, 30.0)


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _seeds_result(
    *,
    seeds=SEEDS5,
    norms=(0.55, 0.5, 0.1, 0.05),
    train=(1e-8, 1e-6, 4e-4, 7e-3),
    test=(0.3, 0.27, 0.027, 0.0143),
    const_train=0.02,
    const_test=0.022,
    min_norm_test=0.0195,
    zero_test=0.0195,
    distance=1e-3,
    ridge=(0.0195, 0.0195, 0.0196, 0.0143),
    jitter=1e-4,
):
    """A hand-built run_l2_seeds result: per λ (LAMS) the GD summaries, plus zero-init GD and closed forms.
    ``jitter`` varies the numbers a little per seed (paired SEs must not be 0)."""
    res = ExperimentResult("l2_seeds", None, None, "cpu", seeds[0], "quick")
    for i, seed in enumerate(seeds):
        j = 1 + jitter * (i - 2) * 10
        for lam, n, tr, te in zip(LAMS, norms, train, test, strict=True):
            key = f"gd/lambda={lam:g}/seed={seed}"
            res.runs[key] = RunResult(
                key,
                params={"kind": "gd", "seed": seed, "lambda": lam},
                summary={"w_norm": n * j, "final_train_loss": tr * j, "final_test_loss": te * j},
            )
        key = f"gd_zero/seed={seed}"
        res.runs[key] = RunResult(
            key,
            params={"kind": "gd_zero", "seed": seed, "lambda": 0.0},
            summary={"final_test_loss": zero_test * j},
        )
        key = f"closed_form/seed={seed}"
        res.runs[key] = RunResult(
            key,
            params={"kind": "closed_form", "seed": seed},
            summary={
                "constant_train_loss": const_train * j,
                "constant_test_loss": const_test * (2 - j),
                "min_norm_test_loss": min_norm_test * j,
                "gd_zero_distance_to_min_norm": distance * j,
                "ridge_test_loss": {
                    f"lambda={lam:g}": r * j for lam, r in zip(LAMS, ridge, strict=True)
                },
            },
        )
    return res


GOOD = _seeds_result()

# Catalogue of counterfactuals: (lesson, result on which the effect is absent or reversed).
COUNTERFACTUALS = [
    # λ = 0 generalises better than the constant predictor: no overfitting to speak of
    ("unregularized_model_overfits", _seeds_result(test=(0.015, 0.27, 0.027, 0.0143))),
    # λ = 0 does not even fit the training set
    ("unregularized_model_overfits", _seeds_result(train=(0.01, 0.01, 0.01, 0.01))),
    # λ = 3 barely shrinks the weights
    ("l2_shrinks_weights", _seeds_result(norms=(0.55, 0.5, 0.4, 0.05))),
    # λ = 3 does not lower the test loss
    ("l2_reduces_test_loss", _seeds_result(test=(0.3, 0.27, 0.25, 0.0143))),
    # λ = 3 clearly beats the constant predictor
    ("l2_at_lambda_3_no_better_than_constant", _seeds_result(test=(0.3, 0.27, 0.010, 0.0143))),
    # zero-init GD ends far from the minimum-norm solution (e.g. a random start)
    ("gradient_descent_from_zero_finds_min_norm", _seeds_result(distance=0.9)),
    # zero-init GD is no better than the random start
    ("gradient_descent_from_zero_finds_min_norm", _seeds_result(zero_test=0.31)),
    # a strong signal: something beats the constant predictor by far
    ("little_signal_to_learn", _seeds_result(ridge=(0.005, 0.0195, 0.0196, 0.0143))),
    # the sweep is converged at the smallest λ (GD = closed form)
    ("fixed_epoch_sweep_measures_decay", _seeds_result(ridge=(0.0195, 0.27, 0.0196, 0.0143))),
    # ... or far from converged at the largest
    ("fixed_epoch_sweep_measures_decay", _seeds_result(ridge=(0.0195, 0.0195, 0.0196, 0.005))),
    # the norm grows with λ somewhere
    ("lambda_sweep_trades_fit_for_size", _seeds_result(norms=(0.55, 0.6, 0.1, 0.05))),
    # the training loss falls with λ somewhere
    ("lambda_sweep_trades_fit_for_size", _seeds_result(train=(1e-8, 1e-6, 7e-3, 4e-4))),
]

SEED_LESSONS = sorted({name for name, _ in COUNTERFACTUALS})


def test_every_l2_seeds_lesson_has_a_counterfactual():
    registered = {n for n, r in lessons.REGISTRY.items() if r.kinds[:1] == ("l2_seeds",)}
    assert registered == set(SEED_LESSONS)


@pytest.mark.parametrize("name", SEED_LESSONS)
def test_lesson_holds_on_the_good_result(name):
    lesson = getattr(lessons, name)(GOOD)
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)
    assert "种子" in lesson.detail  # the rule that passed is stated


@pytest.mark.parametrize(("name", "result"), COUNTERFACTUALS, ids=[n for n, _ in COUNTERFACTUALS])
def test_lesson_fails_on_its_counterfactual(name, result):
    assert not getattr(lessons, name)(result).passed


def test_seed_lessons_need_five_seeds():
    few = _seeds_result(seeds=(0, 1, 2, 3))
    with pytest.raises(ValueError, match="5"):
        lessons.unregularized_model_overfits(few)


def test_ties_are_listed_as_ties():
    lesson = lessons.lambda_sweep_trades_fit_for_size(GOOD)
    assert lesson.values["best"] == 30.0 and lesson.values["ties"] == [30.0]
    # λ = 3 and 30 within noise of each other: both listed
    tied = _seeds_result(test=(0.3, 0.27, 0.0143, 0.0143), jitter=3e-3)
    assert {3.0, 30.0} <= set(lessons.lambda_sweep_trades_fit_for_size(tied).values["ties"])


def test_weight_decay_matches_scratch_pass_and_fail():
    def single(weights):
        res = ExperimentResult("l2", None, None, "cpu", 0, "quick")
        res.runs["lambda=3"] = RunResult(
            "lambda=3",
            params={"lambda": 3.0},
            summary={"final_test_loss": 0.02},
            arrays={"weights": weights},
        )
        return res

    a, b = single([0.1, 0.2]), single([0.1, 0.2 + 1e-3])
    assert lessons.weight_decay_matches_scratch(a, a).passed
    assert not lessons.weight_decay_matches_scratch(a, b).passed


def test_ridge_solution_matches_lstsq_and_min_norm():
    import torch

    cfg = get_config("l2", "quick")
    x, y, _, _ = make_synthetic_data(cfg, 0, "cpu")
    w, b = ridge_solution(x, y, 0.0)
    assert b == 0.0
    xd, yd = x.double(), y.double().reshape(-1)
    assert torch.allclose(xd @ w, yd, atol=1e-8)  # interpolates
    # any other interpolant (add a null-space direction) has a larger norm
    null = torch.linalg.svd(xd, full_matrices=True).Vh[-1]
    assert (w + 0.1 * null).norm() > w.norm()
    # λ > 0: the gradient of mean((xw − y)²) + λ/2 ‖w‖² is zero
    w3, _ = ridge_solution(x, y, 3.0)
    grad = 2 / len(yd) * xd.T @ (xd @ w3 - yd) + 3.0 * w3
    assert grad.abs().max() < 1e-10


def test_run_l2_seeds_structure_and_zero_init():
    cfg = replace(get_config("l2", "quick"), epochs=3, sweep_lambdas=(0.0, 3.0))
    res = run_l2_seeds(seeds=(0, 1), config=cfg)
    assert set(res.runs) == {
        f"{k}/seed={s}"
        for s in (0, 1)
        for k in ("gd/lambda=0", "gd/lambda=3", "gd_zero", "closed_form")
    }
    closed = res["closed_form/seed=0"].summary
    assert closed["cv_lambda"] in (0.0, 3.0)
    assert closed["constant_test_loss"] > 0
    # zero init is really zero: after 3 epochs the weights lie in the row space of X (no null-space part)
    import torch

    x, _, _, _ = make_synthetic_data(cfg, 0, "cpu")
    w = torch.tensor(res["gd_zero/seed=0"].arrays["weights"], dtype=torch.float64)
    projected = torch.linalg.pinv(x.double()) @ (x.double() @ w)
    assert torch.allclose(projected, w, atol=1e-5)
    with pytest.raises(ValueError, match="seeds"):
        run_l2_seeds(seeds=(0,), config=cfg)
    with pytest.raises(ValueError, match="lambdas"):
        run_l2_seeds(seeds=(0, 1), lambdas=(1.0, 3.0), config=cfg)


# ---------------------------------------------------------------------------
# slow: the real experiments, quick profile, on the 2 seed sets the chapters don't train
# (seed set 0 is gated by the site build: tests/seed_sets.py)


def _holds(lesson):
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)


@pytest.mark.slow
@pytest.mark.parametrize("seed_set", sorted(MORE_SEED_SETS))
def test_l2_lessons_over_seed_sets(seed_set):
    res = run_l2_seeds(seeds=MORE_SEED_SETS[seed_set], profile="quick")
    out = lessons.check_all(res)
    assert sorted(lesson.name for lesson in out) == SEED_LESSONS
    for lesson in out:
        _holds(lesson)


@pytest.mark.slow
def test_single_run_lessons_of_the_chapter():
    scratch = run_l2(profile="quick")
    decay = run_l2(method="weight_decay", profile="quick")
    _holds(lessons.weight_decay_matches_scratch(scratch, decay))


@pytest.mark.slow
def test_real_counterfactual_strong_signal_beats_constant():
    """A run with the cause removed: with 400 samples for 200 weights there is plenty to learn, and
    little_signal_to_learn must fail."""
    cfg = replace(get_config("l2", "quick"), n_train=400, batch_size=100, sweep_lambdas=(0.0, 3.0))
    res = run_l2_seeds(seeds=CHAPTER_SEEDS, config=cfg)
    assert not lessons.little_signal_to_learn(res).passed


def _l1_result(l1_zero, l2_zero, seeds=SEEDS5):
    res = ExperimentResult("l1_vs_l2_seeds", get_config("l2", "quick"), None, "cpu", 0, "quick")
    for seed in seeds:
        for name, zero in (("l1", l1_zero), ("l2", l2_zero)):
            res.runs[f"{name}/seed={seed}"] = RunResult(
                f"{name}/seed={seed}",
                params={"penalty": name, "seed": seed},
                summary={
                    "near_zero_fraction": zero + 0.01 * seed,
                    "exact_zero_fraction": zero / 2,
                    "final_test_loss": 0.02,
                },
            )
    return res


def test_l1_is_sparser_than_l2_counterfactual():
    assert lessons.l1_is_sparser_than_l2(_l1_result(0.9, 0.3)).passed
    # L1 barely sparser: the lesson fails
    assert not lessons.l1_is_sparser_than_l2(_l1_result(0.5, 0.3)).passed
    with pytest.raises(ValueError, match="5"):
        lessons.l1_is_sparser_than_l2(_l1_result(0.9, 0.3, seeds=(0, 1)))


@pytest.mark.slow
@pytest.mark.parametrize("seed_set", sorted(MORE_SEED_SETS))
def test_l1_lesson_over_seed_sets(seed_set):
    for lesson in lessons.check_all(
        run_l1_vs_l2_seeds(seeds=MORE_SEED_SETS[seed_set], profile="quick")
    ):
        _holds(lesson)
