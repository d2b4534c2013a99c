"""Student versions of notebooks and their verification (reps4lhc_tutor.assignments)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_notebook, new_output
from notebook_factory import code, markdown, write_pair

from reps4lhc_tutor.assignments import (
    ExerciseLayoutError,
    build_all,
    build_assignment,
    exercise_numbers,
    stub_source,
    verify_assignment,
)
from reps4lhc_tutor.notebooks import load_notebook

TEMPLATE = Path(__file__).resolve().parents[1] / "notebooks" / "templates" / "chapter_template.py"
STUB = (
    'raise NotImplementedError("Exercise {}: replace this cell with your solution '
    '(see the exercise text above)")'
)


def exercise_notebook(check: str = "assert answer == 42") -> nbformat.NotebookNode:
    """A notebook with a setup cell and two exercises, the second with a markdown solution."""
    return new_notebook(
        cells=[
            markdown("# Title"),
            code("base = 40"),
            markdown("## Exercise 1: the answer\n\nCompute `answer`."),
            code("# Hint: add two\n# a private note\nanswer = base + 2", "solution", "hide-input"),
            code(check, "check"),
            markdown("### Exercise 2\n\nExplain."),
            markdown("Because.", "solution"),
        ],
        metadata={"reps4lhc": {"profile": "gpu"}},
    )


def test_stub_keeps_only_leading_hint_comments():
    solution = "# Hint: one\n# not a hint\n\n# Hint: two\nx = 1\n# Hint: not leading"
    assert stub_source(solution, 3) == "# Hint: one\n# Hint: two\n" + STUB.format(3)
    assert stub_source("x = 1", 1) == STUB.format(1)


def test_build_assignment_replaces_solutions_and_clears_outputs():
    nb = exercise_notebook()
    nb.cells[1].outputs = [new_output("stream", name="stdout", text="40\n")]
    nb.cells[1].execution_count = 1
    original = copy.deepcopy(nb)
    student = build_assignment(nb)

    assert nb == original  # the input is not modified
    assert student.cells[3].source == "# Hint: add two\n" + STUB.format(1)
    assert "tags" not in student.cells[3].metadata  # solution and hide-input dropped
    assert student.cells[4] == nb.cells[4]  # check cell kept
    assert student.cells[6].source == "*Exercise 2: write your answer here.*"
    assert student.cells[1].outputs == [] and student.cells[1].execution_count is None
    assert "reps4lhc" not in student.metadata
    assert "base + 2" not in nbformat.writes(student)


def test_exercise_numbers_come_from_the_markdown_above():
    nb = exercise_notebook()
    nb.cells[2].source = "## Exercise 7: renumbered"
    assert exercise_numbers(nb) == {3: 7, 4: 7, 6: 2}


def test_solution_without_exercise_heading_is_an_error():
    nb = new_notebook(cells=[markdown("# Title"), code("x = 1", "solution")])
    with pytest.raises(ExerciseLayoutError, match="cell 2 is tagged 'solution'"):
        build_assignment(nb)


def test_verify_flags_leftover_solution_code_and_missing_checks(tmp_path):
    nb = exercise_notebook()
    student = build_assignment(nb)
    student.cells[3].source += "\nanswer = 42"
    nb.cells[4].metadata["tags"] = []  # exercise 1 loses its check
    problems = verify_assignment(nb, student, tmp_path)
    assert problems == [
        "cell 4 should hold only the exercise stub, found " + repr(STUB.format(1)[:60]),
        "exercise 1 has no cell tagged 'check'",
    ]


def test_verify_passes_a_working_assignment(tmp_path):
    nb = exercise_notebook()
    assert verify_assignment(nb, build_assignment(nb), tmp_path, timeout=120) == []


def test_verify_flags_a_check_that_passes_without_solution_and_a_wrong_solution(tmp_path):
    nb = exercise_notebook(check="assert base == 40")  # does not depend on the solution
    nb.cells.insert(5, code("assert answer == 41", "check"))  # the solution fails this one
    problems = verify_assignment(nb, build_assignment(nb), tmp_path, timeout=120)
    assert problems == [
        "check cell 5 (exercise 1) passes without a solution",
        "cell 6 fails with the solutions in place: AssertionError: ",
    ]


def test_build_all_writes_student_notebooks(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", exercise_notebook().cells)
    written = build_all(tmp_path, "out")
    assert written == [tmp_path / "out" / "00_alpha.ipynb"]
    student = nbformat.read(written[0], as_version=4)
    assert student.cells[3].source.endswith(STUB.format(1))


def test_template_assignment_fails_its_checks_and_solutions_pass(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(TEMPLATE, folder / "00_template.py")
    original = load_notebook(folder / "00_template.ipynb")
    assert verify_assignment(original, build_assignment(original), folder, profile="ci", timeout=300) == []
