"""labcode.lessons: the gate (report) and the registry (lesson, check_all).

Each chapter's lessons are tested in tests/test_lessons_<topic>.py: on hand-made results where the
effect holds, on a catalogue of counterfactual results where it is absent or reversed (each lesson
must fail there), and (slow) on the real quick-profile experiments over 3 seed sets.
"""

import pytest

from labcode import lessons
from labcode.experiments.results import ExperimentResult, RunResult

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
# the registry


def test_every_registered_lesson_is_a_public_name_of_a_chapter_module():
    modules = {f"labcode.lessons.{m}" for m in ("gradients", "dead_units", "l2", "dropout")}
    assert len(lessons.REGISTRY) >= 20
    for name, rule in lessons.REGISTRY.items():
        assert getattr(lessons, name) is rule.check and name in lessons.__all__
        assert rule.check.__module__ in modules, name
        assert rule.check.__doc__, f"{name} has no docstring saying what it checks"


def test_decorator_names_the_lesson_checks_the_kind_and_prefixes_errors():
    @lessons.lesson("toy_kind", runs=("a",), auto=False)
    def toy_lesson_for_test(result, threshold=1.0):
        if threshold < 0:
            raise ValueError("阈值不能为负。")
        value = result["a"].summary["x"]
        return value > threshold, f"实测 {value}，要求大于 {threshold}。", {"x": value}

    try:
        res = ExperimentResult("toy_kind", None, None, "cpu", 0, "quick")
        res.runs["a"] = RunResult("a", summary={"x": 2.0})
        out = toy_lesson_for_test(res)
        assert out == lessons.Lesson(
            "toy_lesson_for_test", True, "实测 2.0，要求大于 1.0。", {"x": 2.0}
        )
        assert not toy_lesson_for_test(res, threshold=3.0).passed
        with pytest.raises(ValueError, match="结论 toy_lesson_for_test：阈值不能为负"):
            toy_lesson_for_test(res, threshold=-1)
        other = ExperimentResult("other_kind", None, None, "cpu", 0, "quick")
        with pytest.raises(ValueError, match="结论 toy_lesson_for_test：需要 toy_kind"):
            toy_lesson_for_test(other)
        res.runs.clear()
        with pytest.raises(ValueError, match="缺少"):
            toy_lesson_for_test(res)
        with pytest.raises(ValueError, match="登记了两次"):
            lessons.lesson("toy_kind")(toy_lesson_for_test.__wrapped__)
    finally:
        del lessons.REGISTRY["toy_lesson_for_test"]


def test_check_all_dispatches_on_the_kind_of_each_result():
    assert lessons.check_all() == []
    with pytest.raises(TypeError, match="ExperimentResult"):
        lessons.check_all({"sigmoid": 1})
    with pytest.raises(ValueError, match="no_such_kind"):
        lessons.check_all(ExperimentResult("no_such_kind", None, None, "cpu", 0, "quick"))
    auto = {rule.kinds[0] for rule in lessons.REGISTRY.values() if rule.auto}
    assert {"gradient_seeds", "dead_relu_seeds", "dead_at_init"} <= auto


@pytest.mark.parametrize("rule", ["each", "se"])
def test_paired_comparison_states_its_rule_and_needs_five_seeds(rule):
    passed, text = lessons.paired([0.02, 0.03, 0.025, 0.01, 0.04], rule=rule)
    assert passed and "5 个种子" in text
    assert ("每个都大于 0" if rule == "each" else "2 × 标准误") in text
    assert not lessons.paired([0.02, 0.03, 0.025, 0.01, -0.04], rule=rule)[0]
    with pytest.raises(ValueError, match="至少 5 个种子"):
        lessons.paired([0.1, 0.2, 0.3], rule=rule)


def test_paired_se_rule_accepts_one_negative_seed_when_the_mean_is_clear():
    assert lessons.paired([0.05, 0.06, 0.04, 0.05, -0.001], rule="se")[0]
    assert not lessons.paired([0.05, 0.06, 0.04, 0.05, -0.001], rule="each")[0]
