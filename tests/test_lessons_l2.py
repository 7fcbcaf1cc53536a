"""labcode.lessons.l2: the L2 chapter's lessons on hand-made results and (slow) on the real runs."""

import re
from dataclasses import replace

import pytest

from labcode import lessons
from labcode.experiments.l2 import run_l1_vs_l2, run_l2, run_lambda_sweep
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.profiles import get_config

SEEDS = (0, 1, 2)

pytestmark = pytest.mark.usefixtures("offline")


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


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


def test_check_all_on_l2_results():
    small = replace(get_config("l2", "quick"), epochs=5, l1_epochs=5)
    out = lessons.check_all(run_l2(config=small))
    assert [lesson.name for lesson in out] == [
        "unregularized_model_overfits",
        "l2_shrinks_weights",
        "l2_reduces_test_loss",
    ]


# ---------------------------------------------------------------------------
# slow: the real experiments, quick profile, 3 seeds


def _holds(lesson):
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_l2_lessons(seed):
    scratch = run_l2(profile="quick", seed=seed)
    decay = run_l2(method="weight_decay", profile="quick", seed=seed)
    for lesson in (
        *lessons.check_all(scratch),
        lessons.weight_decay_matches_scratch(scratch, decay),
        *lessons.check_all(run_lambda_sweep(profile="quick", seed=seed)),
        *lessons.check_all(run_l1_vs_l2(profile="quick", seed=seed)),
    ):
        _holds(lesson)
