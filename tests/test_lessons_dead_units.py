"""labcode.lessons.dead_units: the dead-ReLU chapter's lessons on hand-made results and (slow) on
the real quick-profile runs."""

import re

import pytest

from labcode import lessons
from labcode.experiments.dead_relu import run_dead_at_init, run_dead_relu
from labcode.experiments.results import ExperimentResult, RunResult

SEEDS = (0, 1, 2)

pytestmark = pytest.mark.usefixtures("offline")


def _has_numbers(text: str) -> bool:
    return bool(re.search(r"\d", text)) and any("\u4e00" <= ch <= "\u9fff" for ch in text)


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


def _dead_result(relu_dead, leaky_dead=0.0, init=0.0, zero=0.5, setting="dying"):
    res = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    for name, dead in (("relu", relu_dead), ("leaky_relu", leaky_dead), ("tanh", 0.0)):
        res.runs[name] = RunResult(
            name,
            params={"setting": setting, "optimizer": "adam", "lr": 0.01},
            history={
                "dead_fraction": [[dead, dead]],
                "zero_output_fraction": [[zero, zero]],
                "revived_fraction": [[0.0, 0.05]],
            },
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


def test_check_all_picks_the_lessons_of_each_setting():
    dying = [c.name for c in lessons.check_all(_dead_result(0.3))]
    assert dying == [
        "relu_dies_in_dying_setting",
        "dead_units_partly_revive",
        "leaky_relu_does_not_die",
        "tanh_has_no_dead_units",
    ]
    seed = [c.name for c in lessons.check_all(_dead_result(0.01, setting="seed"))]
    assert seed == ["naive_zero_fraction_is_not_death"]


def test_lessons_reject_the_wrong_result():
    dead = ExperimentResult("dead_relu", None, None, "cpu", 0, "quick")
    with pytest.raises(ValueError, match="缺少"):
        lessons.relu_dies_in_dying_setting(dead)


# ---------------------------------------------------------------------------
# slow: the real experiments, quick profile, 3 seeds

_CACHE: dict = {}


def dead(seed, setting):
    key = ("dead", seed, setting)
    if key not in _CACHE:
        _CACHE[key] = run_dead_relu(setting=setting, profile="quick", seed=seed)
    return _CACHE[key]


def _holds(lesson):
    assert lesson.passed, str(lesson)
    assert _has_numbers(lesson.detail)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_dead_relu_lessons(seed):
    for lesson in lessons.check_all(
        dead(seed, "dying"), dead(seed, "seed"), run_dead_at_init(profile="quick", seed=seed)
    ):
        _holds(lesson)
    _holds(lessons.leaky_relu_does_not_die(dead(seed, "seed")))
