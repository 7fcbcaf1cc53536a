"""labcode.grade and labcode.selfcheck.replay: grading handed-in exercise notebooks.

Fast tests record and judge in this process (what the kernel and the grader do, without a kernel);
the slow ones grade real notebooks derived from the dropout chapter in fresh kernels: complete,
untouched, one mistake, forging, hanging, crashing, flooding, deleting, malformed.
"""

from __future__ import annotations

import ast
import csv
import json
import math
import os
import re
import sys

import nbformat
import pytest
import torch

from docs._build import execute, exercises
from labcode import activations as A
from labcode import grade
from labcode.metrics import count_dead_units
from labcode.models import Network, RegularizedNetwork
from labcode.regularization import dropout_layer, l2_penalty
from labcode.selfcheck import regularization as selfcheck_regularization
from labcode.selfcheck import replay

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------------------------------
# a complete submission's names, and typical mistakes
# --------------------------------------------------------------------------------------------------


def l2_sgd_step(w, b, X, y, lr, lambd):
    loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * l2_penalty(w)
    loss.backward()
    with torch.no_grad():
        for param in (w, b):
            param -= lr * param.grad
            param.grad.zero_()


def accuracy_eval_mode(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(dim=1) == y).sum().item()
            total += len(y)
    return correct / total


def layer_gradient_means(model):
    return [
        {"layer": name, "mean": layer.weight.grad.abs().mean().item()}
        for name, layer in model.linear_layers()
    ]


class StudentNetwork(Network):
    def forward(self, x):
        x = self.activation(self.input_layer(x.flatten(1)))
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.output_layer(x)


class MyRegularizedNetwork(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = dropout_layer(x, self.dropout_rate)
        return self.fc2(torch.relu(self.fc1(x)))


COMPLETE = {
    "MyReLU": A.MyReLU,
    "MySigmoid": A.MySigmoid,
    "MyTanh": A.MyTanh,
    "MyModernActivation": A.MyELU,
    "Network": StudentNetwork,
    "layer_gradient_means": layer_gradient_means,
    "dead_fraction": count_dead_units,
    "l2_penalty": l2_penalty,
    "l2_sgd_step": l2_sgd_step,
    "dropout_layer": dropout_layer,
    "MyRegularizedNetwork": MyRegularizedNetwork,
    "accuracy_eval_mode": accuracy_eval_mode,
}


class SigmoidOnePlus(A.MySigmoid):
    def derivative(self, x):
        s = torch.sigmoid(x)
        return s * (1 + s)


class ReLUReturnsX(A.MyReLU):
    def derivative(self, x):
        return x.clone()


class TanhNoSquare(A.MyTanh):
    def derivative(self, x):
        return 1 - torch.tanh(x)


class SwappedLeaky(A.MyLeakyReLU):
    def f(self, x):
        return torch.where(x > 0, 0.01 * x, x)


class SkipsActivation(Network):
    def forward(self, x):
        x = self.input_layer(x.flatten(1))
        for layer in self.layers:
            x = self.activation(layer(x))
        return self.output_layer(x)


class ForgetsReLU(RegularizedNetwork):
    def forward(self, x):
        x = self.features(x)
        if self.training:
            x = dropout_layer(x, self.dropout_rate)
        return self.fc2(self.fc1(x))


def no_grad_zeroing(w, b, X, y, lr, lambd):
    loss = ((X @ w + b - y) ** 2 / 2).mean() + lambd * (w**2).sum() / 2
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad


MISTAKES = [
    ("1.1", "MyReLU", ReLUReturnsX, r"ReLU 的导数返回了 x 本身"),
    ("1.2", "MySigmoid", SigmoidOnePlus, r"σ\(x\)\(1 \+ σ\(x\)\)"),
    ("1.3", "MyTanh", TanhNoSquare, r"tanh 要平方"),
    ("1.4", "MyModernActivation", SwappedLeaky, r"把两侧弄反了"),
    ("2.1", "Network", SkipsActivation, r"输入层之后没有经过激活函数"),
    (
        "2.2",
        "layer_gradient_means",
        lambda m: [{"mean": layer.weight.grad.mean()} for _, layer in m.linear_layers()],
        r"没有取绝对值",
    ),
    (
        "3.1",
        "dead_fraction",
        lambda m, loader: [100 * v for v in count_dead_units(m, loader)],
        r"百分数",
    ),
    ("4.1", "l2_penalty", lambda w: (w**2).sum(), r"少了 1/2"),
    ("4.2", "l2_sgd_step", no_grad_zeroing, r"梯度在各步之间累加了"),
    (
        "5.1",
        "dropout_layer",
        lambda X, p: (torch.rand(X.shape, device=X.device) > p).to(X.dtype) * X / p,
        r"你的实现除以了 0\.3",
    ),
    ("5.2", "MyRegularizedNetwork", ForgetsReLU, r"fc1 之后忘了 ReLU"),
    ("5.3", "accuracy_eval_mode", lambda m, loader: 100 * accuracy_eval_mode(m, loader), r"百分数"),
]


def record_and_judge(tmp_path, number, namespace, patches=None, time_limit=30.0):
    """Record in this process (patched, as a forging kernel would be), then judge unpatched."""
    from labcode.selfcheck import report

    path = tmp_path / f"{number}.pt"
    namespace = dict(namespace)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(report, "TIME_LIMIT", report.TIME_LIMIT)  # record() sets it, as in a kernel
        for target, name, value in patches or ():
            m.setattr(target, name, value)
        replay.record(number, namespace, str(path), time_limit=time_limit)
    return replay.judge(number, torch.load(path, weights_only=True))


# --------------------------------------------------------------------------------------------------
# the exercise table matches the chapters
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", sorted(grade.CHAPTERS))
def test_every_chapter_exercise_is_graded_by_name(chapter):
    source = execute.ROOT / "docs" / f"{chapter}.py"
    nb = execute.read_notebook(source)
    numbers = [e.number for e in exercises.distinct(exercises.exercises(nb, source.name))]
    assert tuple(numbers) == grade.CHAPTERS[chapter]
    student = exercises.student_notebook(nb, source.name)
    assert student.metadata["labcode"]["chapter"] == chapter
    defined = {
        node.name
        for cell in student.cells
        if cell.cell_type == "code"
        for node in ast.walk(ast.parse(grade._definitions(cell.source)))
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }
    for number in numbers:
        assert replay.EXERCISES[number].name in defined
    assert set(replay.EXERCISES) == set(grade.ALL_EXERCISES)


def test_the_downloaded_exercise_notebooks_name_their_chapter(tmp_path):
    """The build's download (hooks.exercises_copy) is what students hand in: the grader reads it."""
    from docs._build import hooks

    for chapter in grade.CHAPTERS:
        path = tmp_path / f"{chapter}-exercises.ipynb"
        path.write_text(
            hooks.exercises_copy(execute.ROOT / "docs" / f"{chapter}.py"), encoding="utf-8"
        )
        nb, found = grade.read_submission(path)
        assert found == chapter and grade.program(nb)


def test_only_definitions_run():
    cell = (
        "%matplotlib inline\n"
        "import torch\n"
        "from labcode import lessons\n"
        "SCALE = 2.0\n"
        "torch.allclose = lambda *a, **k: True\n"
        "res = run_dropout(model_cls=Net)\n"
        "print('hello')\n"
        "check_dropout_layer(dropout_layer)\n"
        "def dropout_layer(X, p):\n"
        "    return X\n"
        "class Net:\n"
        "    x = compute()\n"
    )
    code = grade._definitions(cell)
    assert "import torch" in code and "from labcode import lessons" in code
    assert "SCALE = 2.0" in code and "def dropout_layer" in code and "x = compute()" in code
    assert "torch.allclose = lambda" in code  # no call: kept (and still cannot forge, see below)
    for dropped in ("%matplotlib", "run_dropout", "print(", "check_dropout_layer("):
        assert dropped not in code
    assert grade._definitions("def broken(:\n    pass") == "def broken(:\n    pass"
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "x"},
            {"cell_type": "code", "source": ["a = 1\n", "f(a)"]},
        ]
    }
    assert grade.program(nb) == ["a = 1"]


# --------------------------------------------------------------------------------------------------
# record and judge in this process
# --------------------------------------------------------------------------------------------------


def test_a_complete_submission_passes_every_exercise(tmp_path):
    for number in grade.ALL_EXERCISES:
        assert record_and_judge(tmp_path, number, COMPLETE) == ("pass", ""), number


def test_untouched_stubs_are_todo(tmp_path):
    def stub(*args, **kwargs):
        raise NotImplementedError("练习 5.1：请实现 dropout_layer（检查：check_dropout_layer）")

    class StubActivation(A.Activation):
        def f(self, x):
            raise NotImplementedError("练习 1.2：请实现 MySigmoid 的 f 与 derivative")

        def derivative(self, x):
            raise NotImplementedError("练习 1.2：请实现 MySigmoid 的 f 与 derivative")

    class StubNetwork(Network):
        def forward(self, x):
            raise NotImplementedError("练习 2.1：请实现 Network.forward")

    status, message = record_and_judge(tmp_path, "5.1", {**COMPLETE, "dropout_layer": stub})
    assert (status, message) == (
        "todo",
        "练习 5.1：请实现 dropout_layer（检查：check_dropout_layer）",
    )
    assert record_and_judge(tmp_path, "1.2", {**COMPLETE, "MySigmoid": StubActivation})[0] == "todo"
    assert record_and_judge(tmp_path, "2.1", {**COMPLETE, "Network": StubNetwork})[0] == "todo"


@pytest.mark.parametrize(
    ("number", "name", "wrong", "phrase"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_fails_its_exercise_with_the_checks_message(
    tmp_path, number, name, wrong, phrase
):
    status, message = record_and_judge(tmp_path, number, {**COMPLETE, name: wrong})
    assert status == "fail"
    assert re.search(phrase, message), message


def test_a_mistake_does_not_fail_the_exercises_that_use_it(tmp_path):
    """MyRegularizedNetwork calls dropout_layer and l2_sgd_step calls l2_penalty: graded on their own."""
    wrong_dropout = MISTAKES[9][2]
    namespace = {**COMPLETE, "dropout_layer": wrong_dropout, "l2_penalty": lambda w: (w**2).sum()}
    assert record_and_judge(tmp_path, "5.2", namespace) == ("pass", "")
    assert record_and_judge(tmp_path, "4.2", namespace) == ("pass", "")
    assert namespace["dropout_layer"] is wrong_dropout  # put back afterwards


def _always(*args, **kwargs):
    return True


def _passes(*args, **kwargs):
    return "通过"


FORGERY = [
    (torch, "allclose", _always),
    (torch, "equal", _always),
    (
        torch,
        "isclose",
        lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool),
    ),
    (math, "isclose", _always),
    (selfcheck_regularization, "check_dropout_layer", _passes),
    (selfcheck_regularization, "check_dropout_model", _passes),
    (selfcheck_regularization, "check_l2_penalty", _passes),
]


@pytest.mark.parametrize(
    ("number", "name", "wrong", "phrase"), MISTAKES, ids=[m[0] for m in MISTAKES]
)
def test_patching_torch_math_or_the_checks_cannot_forge_a_pass(
    tmp_path, number, name, wrong, phrase
):
    status, _ = record_and_judge(tmp_path, number, {**COMPLETE, name: wrong}, patches=FORGERY)
    assert status == "fail"


class Liar(torch.Tensor):
    """A tensor whose comparisons always succeed."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_tensor_subclass_that_lies_in_comparisons_cannot_forge_a_pass(tmp_path):
    def divides_by_p(X, p):
        out = (torch.rand(X.shape, device=X.device) > p).to(X.dtype) * X / p
        return out.as_subclass(Liar)

    status, message = record_and_judge(tmp_path, "5.1", {**COMPLETE, "dropout_layer": divides_by_p})
    assert status == "fail" and "你的实现除以了 0.3" in message


def test_a_check_replaced_in_the_kernel_is_detected(tmp_path):
    def fake_check(fn, **kwargs):  # calls the student's code differently from the real check
        fn(torch.zeros(3), 0.5)
        return "通过"

    namespace = {**COMPLETE, "dropout_layer": MISTAKES[9][2]}
    entry = replay.EXERCISES["5.1"]
    forged = replay.Exercise(entry.number, entry.name, entry.kind, fake_check)
    with pytest.MonkeyPatch.context() as m:
        m.setitem(replay.EXERCISES, "5.1", forged)
        replay.record("5.1", namespace, str(tmp_path / "r.pt"))
    assert replay.judge("5.1", torch.load(tmp_path / "r.pt", weights_only=True)) == (
        "fail",
        replay.TAMPERED,
    )


def test_records_that_cannot_be_judged_are_errors(tmp_path):
    assert replay.judge("5.1", {"number": "5.2"})[0] == "error"
    assert replay.judge("5.1", [])[0] == "error"
    missing = record_and_judge(tmp_path, "5.1", {})
    assert missing[0] == "error" and "没有定义 dropout_layer" in missing[1]
    assert (
        record_and_judge(tmp_path, "5.2", {"MyRegularizedNetwork": MyRegularizedNetwork().eval()})[
            0
        ]
        == "fail"
    )


def test_a_call_that_never_returns_fails_with_the_time_limit(tmp_path):
    def hangs(w):
        while True:
            pass

    status, message = record_and_judge(
        tmp_path, "4.1", {**COMPLETE, "l2_penalty": hangs}, time_limit=0.3
    )
    assert status == "fail" and "运行超过了 0.3 秒" in message


def test_an_odd_record_is_an_error_not_a_crash(tmp_path):
    target = tmp_path / "5.1.pt"
    torch.save({"number": "5.1", "name": "dropout_layer", "entries": "not a list of calls"}, target)
    status, message = grade._judge(replay, "5.1", target, [])
    assert status in ("error", "fail") and message
    target.write_bytes(b"not a torch file")
    assert grade._judge(replay, "5.1", target, [])[0] == "error"
    assert "没有写出" in grade._judge(replay, "5.1", tmp_path / "gone.pt", [])[1]


def test_sys_exit_in_a_submission_is_a_failure_not_an_exit(tmp_path):
    status, message = record_and_judge(
        tmp_path, "4.1", {**COMPLETE, "l2_penalty": lambda w: sys.exit(0)}
    )
    assert status == "fail" and "sys.exit(0)" in message


# --------------------------------------------------------------------------------------------------
# files: malformed submissions, the CSV and the summary
# --------------------------------------------------------------------------------------------------


def _student_notebook(chapter: str = "dropout"):
    source = execute.ROOT / "docs" / f"{chapter}.py"
    return exercises.student_notebook(execute.read_notebook(source), source.name)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe not text", "不是 UTF-8"),
        (b"{ not json", "不是有效的 JSON"),
        (b"[1, 2, 3]", "没有 cells 列表"),
        (b'{"cells": [], "metadata": {}}', "metadata.labcode.chapter"),
        (b'{"cells": [], "metadata": {"labcode": {"chapter": "unknown"}}}', "'unknown'"),
    ],
)
def test_malformed_submissions_are_errors_with_the_reason(tmp_path, content, reason):
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    result = grade.grade_notebook(path)
    assert result.error is not None and reason in result.error
    assert all(result.status(n) == "error" for n in grade.ALL_EXERCISES)


def test_missing_files_and_folders(tmp_path):
    nested = tmp_path / "class" / "alice"
    nested.mkdir(parents=True)
    (nested / "a.ipynb").write_text("{}")
    (nested / ".ipynb_checkpoints").mkdir()
    (nested / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    assert grade.collect([tmp_path / "class", tmp_path / "gone.ipynb"]) == [
        nested / "a.ipynb",
        tmp_path / "gone.ipynb",
    ]
    assert "无法读取文件" in grade.grade_notebook(tmp_path / "gone.ipynb").error
    (tmp_path / "folder.ipynb").mkdir()
    assert "无法读取文件" in grade.grade_notebook(tmp_path / "folder.ipynb").error


def test_csv_and_summary(tmp_path):
    grades = [
        grade.Grade(
            "a.ipynb", "l2", {"4.1": ("pass", ""), "4.2": ("fail", "梯度在各步之间累加了")}
        ),
        grade.Grade(
            "b.ipynb",
            "dropout",
            {"5.1": ("todo", "练习 5.1"), "5.2": ("error", "超时"), "5.3": ("pass", "")},
        ),
        grade.Grade("c.ipynb", error="文件不是有效的 JSON"),
    ]
    grade.write_csv(grades, tmp_path / "r.csv")
    rows = list(csv.reader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert rows[0] == ["file", *grade.ALL_EXERCISES]
    assert rows[1][:10] == ["a.ipynb", "", "", "", "", "", "", "", "pass", "fail"]
    assert rows[2][-3:] == ["todo", "error", "pass"] and rows[2][8] == ""
    assert set(rows[3][1:]) == {"error"}
    text = grade.summary_markdown(grades)
    assert "梯度在各步之间累加了" in text and "无法评分：文件不是有效的 JSON" in text
    assert "| 4.2 | fail |" in text and "练习 5.1\n" not in text  # todo messages are not repeated


def test_the_command_line(tmp_path, capsys):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    assert grade.main([str(bad), "--out", str(tmp_path / "r.csv")]) == 0
    assert (tmp_path / "r.md").read_text(encoding="utf-8").startswith("# 评分摘要")
    with pytest.raises(SystemExit):
        grade.main(
            [str(tmp_path / "empty-folder"), "--out", str(tmp_path / "r.csv"), "--timeout", "0"]
        )


# --------------------------------------------------------------------------------------------------
# real kernels (slow): one class of dropout submissions
# --------------------------------------------------------------------------------------------------


def _write(nb, path):
    nbformat.write(nb, str(path))
    return path


def _with_cell(nb, source, after_name="dropout_layer"):
    """A copy of ``nb`` with a code cell appended (it redefines names, as a student's edit would)."""
    copy = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    copy.cells.append(nbformat.v4.new_code_cell(source))
    return copy


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    student = _student_notebook("dropout")
    answers = exercises.restore(
        student, exercises.exercises(execute.read_notebook(execute.ROOT / "docs" / "dropout.py"))
    )
    subs = {
        "complete": _write(answers, folder / "complete.ipynb"),
        "untouched": _write(student, folder / "untouched.ipynb"),
        "wrong": _write(
            _with_cell(
                answers,
                "def dropout_layer(X, dropout):\n    return (torch.rand(X.shape) > dropout).float() * X / dropout\n",
            ),
            folder / "wrong.ipynb",
        ),
        "forging": _write(
            _with_cell(
                answers,
                "import math\nimport torch\nimport labcode.selfcheck.regularization as R\n"
                "torch.allclose = lambda *a, **k: True\n"
                "def dropout_layer(X, dropout):\n"
                "    torch.allclose = torch.equal = math.isclose = lambda *a, **k: True\n"
                "    R.check_dropout_layer = lambda *a, **k: '通过'\n"
                "    return X\n",
            ),
            folder / "forging.ipynb",
        ),
        "crashing": _write(
            _with_cell(answers, "import os\ndef dropout_layer(X, dropout):\n    os._exit(1)\n"),
            folder / "crashing.ipynb",
        ),
        "noisy": _write(
            _with_cell(
                answers,
                "import os\nfrom labcode.regularization import dropout_layer as _ref\n"
                "def dropout_layer(X, dropout):\n"
                "    print('x' * 1_000_000)\n"
                "    for name in os.listdir('.'):\n"
                "        os.remove(name)\n"
                "    return _ref(X, dropout)\n",
            ),
            folder / "noisy.ipynb",
        ),
        "hanging": _write(
            _with_cell(answers, "class Hang:\n    while True:\n        pass\n"),
            folder / "hanging.ipynb",
        ),
    }
    before = {name: path.read_bytes() for name, path in subs.items()}
    results = {}
    for name, path in subs.items():
        results[name] = grade.grade_notebook(
            path, timeout=25 if name == "hanging" else 240, call_timeout=20
        )
    assert {name: path.read_bytes() for name, path in subs.items()} == before  # graded in copies
    return results


def statuses(result):
    return {n: result.status(n) for n in ("5.1", "5.2", "5.3")}


@pytest.mark.slow
def test_kernel_complete_and_untouched(graded_class):
    assert statuses(graded_class["complete"]) == {"5.1": "pass", "5.2": "pass", "5.3": "pass"}
    assert statuses(graded_class["untouched"]) == {"5.1": "todo", "5.2": "todo", "5.3": "todo"}


@pytest.mark.slow
def test_kernel_one_mistake_fails_only_its_exercise(graded_class):
    result = graded_class["wrong"]
    assert statuses(result) == {"5.1": "fail", "5.2": "pass", "5.3": "pass"}
    assert "你的实现除以了 0.3" in result.results["5.1"][1]


@pytest.mark.slow
def test_kernel_forging_fails(graded_class):
    assert graded_class["forging"].status("5.1") == "fail"


@pytest.mark.slow
def test_kernel_crash_hang_flood_and_deletion_are_survived(graded_class):
    crashed = graded_class["crashing"]
    assert crashed.status("5.1") == "error" and "内核崩溃" in crashed.results["5.1"][1]
    assert crashed.status("5.3") == "pass"  # a new kernel for the remaining exercises
    assert statuses(graded_class["noisy"]) == {"5.1": "pass", "5.2": "pass", "5.3": "pass"}
    hung = graded_class["hanging"]
    assert set(statuses(hung).values()) == {"error"} and "超时" in hung.results["5.1"][1]


@pytest.mark.slow
def test_kernel_command_line_report(graded_class, tmp_path):
    folder = tmp_path / "hand-in"
    folder.mkdir()
    _write(_student_notebook("l2"), folder / "l2.ipynb")
    (folder / "broken.ipynb").write_text("{", encoding="utf-8")
    assert grade.main([str(folder), "--out", str(tmp_path / "report.csv"), "--timeout", "240"]) == 0
    rows = {r["file"]: r for r in csv.DictReader((tmp_path / "report.csv").open(encoding="utf-8"))}
    assert rows[str(folder / "l2.ipynb")]["4.1"] == "todo"
    assert rows[str(folder / "broken.ipynb")]["4.2"] == "error"
    assert "不是有效的 JSON" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert os.path.exists(folder / "l2.ipynb")
