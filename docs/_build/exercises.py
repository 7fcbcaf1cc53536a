"""Exercises: one chapter source, two notebooks (maintainer-facing).

A chapter marks each exercise's reference solution inside a code cell::

    class Network(nn.Module):
        def forward(self, x):
            # BEGIN SOLUTION 练习 2.1：请实现 Network.forward（检查：check_forward）
            ...the reference code...
            # END SOLUTION

The text after ``BEGIN SOLUTION`` is the exercise's label: its number, what to write, and (in
``（检查：name）``) the ``labcode.selfcheck`` function that verifies it. From that one source:

* the **answers** notebook is the source as it is (executed by the build, every lesson checked);
* the **student** notebook (:func:`student_notebook`) replaces each region by
  ``raise NotImplementedError("<label>")`` at the region's indentation, so run top to bottom it
  stops at the first unfinished exercise with that message;
* the **page** shows the student version of the cell with the reference solution folded away in a
  "参考答案" block right after it (:func:`page_cells`).

:func:`restore` puts the solutions back into a student notebook; a test checks that this gives the
answers notebook's code exactly, so the two versions cannot drift.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<label>\S.*?))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
LABEL = re.compile(r"^练习 (?P<number>\d+\.\d+)：(?P<task>.+?)(?:（检查：(?P<check>[\w.]+)）)?$")
STUB_TAG = "exercise"  # cell tag added to code cells that hold an exercise


class ExerciseMarkupError(ValueError):
    """Unbalanced or unlabelled ``# BEGIN SOLUTION`` / ``# END SOLUTION`` markers."""


@dataclass(frozen=True)
class Exercise:
    """One solution region: where it is and what it asks."""

    number: str  # "2.1"
    task: str  # "请实现 Network.forward"
    check: str | None  # "check_forward"
    label: str  # the full label, also the stub's message
    cell: int  # index of the code cell (among all cells)
    indent: str
    solution: str  # the region's lines, without the markers


def _stub(indent: str, label: str) -> str:
    return f"{indent}raise NotImplementedError({label!r})"


def split_source(source: str, *, where: str = "") -> tuple[str, list[tuple[str, str, str]]]:
    """Return (student source, [(label, indent, solution text), ...]) for one code cell."""
    out: list[str] = []
    regions: list[tuple[str, str, str]] = []
    current: tuple[str, str, list[str]] | None = None
    for lineno, line in enumerate(source.split("\n"), start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if current is not None:
                raise ExerciseMarkupError(f"{where} line {lineno}: BEGIN SOLUTION inside a region")
            label = begin.group("label")
            if not label or not LABEL.match(label):
                raise ExerciseMarkupError(
                    f"{where} line {lineno}: the marker needs a label like "
                    "'# BEGIN SOLUTION 练习 2.1：请实现 Network.forward（检查：check_forward）'"
                )
            current = (label, begin.group("indent"), [])
        elif end:
            if current is None:
                raise ExerciseMarkupError(f"{where} line {lineno}: END SOLUTION without BEGIN")
            label, indent, lines = current
            regions.append((label, indent, "\n".join(lines)))
            out.append(_stub(indent, label))
            current = None
        elif current is not None:
            current[2].append(line)
        else:
            out.append(line)
    if current is not None:
        raise ExerciseMarkupError(f"{where}: BEGIN SOLUTION {current[0]!r} is never closed")
    return "\n".join(out), regions


def exercises(nb, name: str = "") -> list[Exercise]:
    """Every exercise of a notebook, in order."""
    found: list[Exercise] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        _, regions = split_source(cell.source, where=f"{name} cell {index}")
        for label, indent, solution in regions:
            match = LABEL.match(label)
            found.append(
                Exercise(
                    number=match.group("number"),
                    task=match.group("task"),
                    check=match.group("check"),
                    label=label,
                    cell=index,
                    indent=indent,
                    solution=solution,
                )
            )
    labels: dict[str, str] = {}
    for exercise in found:  # one exercise may span several regions (e.g. f and derivative)
        if labels.setdefault(exercise.number, exercise.label) != exercise.label:
            raise ExerciseMarkupError(
                f"{name}: 练习 {exercise.number} has two different labels: "
                f"{labels[exercise.number]!r} and {exercise.label!r}"
            )
    return found


def distinct(found: list[Exercise]) -> list[Exercise]:
    """One entry per exercise number (the first region), in order."""
    seen: dict[str, Exercise] = {}
    for exercise in found:
        seen.setdefault(exercise.number, exercise)
    return list(seen.values())


def student_notebook(nb, name: str = ""):
    """A copy of ``nb`` without outputs in which every solution region is a stub."""
    student = copy.deepcopy(nb)
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        source, regions = split_source(cell.source, where=f"{name} cell {index}")
        cell.source = source
        cell.outputs = []
        cell.execution_count = None
        if regions:
            tags = list(cell.metadata.get("tags", []))
            cell.metadata["tags"] = [*tags, STUB_TAG] if STUB_TAG not in tags else tags
    student.metadata.pop("labcode_build", None)
    if name:  # the chapter: `python -m labcode.grade` reads it to grade a handed-in notebook
        chapter = name.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0]
        student.metadata["labcode"] = {"chapter": chapter, "notebook": "exercises"}
    return student


def restore(student, found: list[Exercise]):
    """Put the solutions of ``found`` back into a student notebook (the inverse of the stubs)."""
    restored = copy.deepcopy(student)
    for exercise in found:
        cell = restored.cells[exercise.cell]
        stub = _stub(exercise.indent, exercise.label)
        if stub not in cell.source.split("\n"):
            raise ExerciseMarkupError(f"stub of 练习 {exercise.number} not found in its cell")
        begin = f"{exercise.indent}# BEGIN SOLUTION {exercise.label}"
        end = f"{exercise.indent}# END SOLUTION"
        lines = cell.source.split("\n")
        at = lines.index(stub)
        body = exercise.solution.split("\n") if exercise.solution else []
        lines[at : at + 1] = [begin, *body, end]
        cell.source = "\n".join(lines)
        tags = [t for t in cell.metadata.get("tags", []) if t != STUB_TAG]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    return restored


def solution_markdown(exercise_cells: list[Exercise], full_source: str) -> str:
    """The folded "参考答案" block shown on the page after an exercise cell."""
    numbers = "、".join(dict.fromkeys(e.number for e in exercise_cells))
    clean = "\n".join(
        line for line in full_source.split("\n") if not (BEGIN.match(line) or END.match(line))
    )
    body = "\n".join(("    " + line) if line else "" for line in clean.split("\n"))
    return f'??? success "参考答案（练习 {numbers}）"\n\n    ```python\n{body}\n    ```\n'


def page_cells(nb, name: str = ""):
    """The page's notebook: exercise cells show the task (stubs), each followed by its folded answer.

    Outputs stay with the exercise cell (they were computed by the reference solution).
    """
    import nbformat

    page = copy.deepcopy(nb)
    found = exercises(page, name)
    by_cell: dict[int, list[Exercise]] = {}
    for exercise in found:
        by_cell.setdefault(exercise.cell, []).append(exercise)
    cells = []
    for index, cell in enumerate(page.cells):
        if index not in by_cell:
            cells.append(cell)
            continue
        full = cell.source
        cell.source, _ = split_source(full, where=f"{name} cell {index}")
        cells.append(cell)
        cells.append(nbformat.v4.new_markdown_cell(solution_markdown(by_cell[index], full)))
    page.cells = cells
    return page
