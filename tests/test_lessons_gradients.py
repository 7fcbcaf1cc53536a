"""labcode.lessons.gradients: the gradient-vanishing chapter's lessons on hand-made results and
(slow) on the real quick-profile runs."""

import re

import pytest

from labcode import lessons
from labcode.experiments.gradient_vanishing import run_depth_sweep, run_gradient_vanishing
from labcode.experiments.results import ExperimentResult, RunResult
from labcode.forward_signal import forward_spreads

SEEDS = (0, 1, 2)

pytestmark = pytest.mark.usefixtures("offline")


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


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
    assert [c.name for c in lessons.check_all(good)] == [
        "sigmoid_first_layer_vanishes",
        "sigmoid_learns_slowest",
    ]


def test_lessons_reject_the_wrong_result():
    dead = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    with pytest.raises(ValueError, match="gradient_vanishing"):
        lessons.sigmoid_first_layer_vanishes(dead)


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


def _holds(lesson):
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_gradient_vanishing_lessons(seed):
    res = gradient(seed)
    assert res.profile == "quick" and res.device == "cpu"
    for lesson in (*lessons.check_all(res, depth_sweep(seed)),):
        _holds(lesson)
    _holds(lessons.sigmoid_forward_signal_collapses(forward_spreads(res)))
