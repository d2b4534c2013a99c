"""Student versions of the notebooks: solutions replaced by stubs, self-checks kept.

In a chapter notebook each exercise is a markdown cell that names it (``## Exercise 2: ...``), one or more
code cells tagged ``solution`` and one or more cells tagged ``check`` that fail unless the exercise is
solved. :func:`build_assignment` replaces every solution cell by a stub that raises
``NotImplementedError``, keeping the solution's leading ``# Hint`` comments; :func:`ci_notebook`
adds to a notebook the cell that runs the student version's exercises and requires its checks to fail, so
that one run (nbval in CI, :func:`verify_assignment` elsewhere) also proves the solutions make them pass.
"""

from __future__ import annotations

import copy
import pprint
import re
from collections.abc import Sequence
from pathlib import Path

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

from .notebooks import (
    METADATA_KEY,
    CourseError,
    cell_tags,
    execution_client,
    kernel_env,
    list_notebooks,
    load_notebook,
    write_notebook_atomic,
)

__all__ = [
    "STUDENT_CHECK_TAG",
    "ExerciseLayoutError",
    "build_all",
    "build_assignment",
    "ci_notebook",
    "exercise_numbers",
    "run_student_exercises",
    "static_problems",
    "stub_source",
    "verify_assignment",
    "write_ci_notebooks",
]

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
STUDENT_CHECK_TAG = "student-check"  # the cell ci_notebook inserts
_BOOK_ONLY_TAGS = {SOLUTION_TAG, "hide-input"}  # a stub is the student's to edit: show it
_EXERCISE_RE = re.compile(r"\bexercise\s+(\d+)", re.IGNORECASE)
_STUB = (
    'raise NotImplementedError("Exercise {n}: replace this cell with your solution '
    '(see the exercise text above)")'
)
_MARKDOWN_STUB = "*Exercise {n}: write your answer here.*"


class ExerciseLayoutError(CourseError, ValueError):
    """A notebook's exercise cells do not follow the convention the student version relies on."""


def exercise_numbers(nb: NotebookNode) -> dict[int, int]:
    """Return the exercise number of every ``solution`` and ``check`` cell, keyed by cell index.

    A cell belongs to the exercise named (``Exercise N``) in the nearest markdown cell above it that
    names one.

    Raises
    ------
    ExerciseLayoutError
        If a solution or check cell has no such markdown cell above it.
    """
    numbers: dict[int, int] = {}
    current: int | None = None
    for index, cell in enumerate(nb.cells):
        tags = cell_tags(cell)
        if cell.cell_type == "markdown" and SOLUTION_TAG not in tags:
            match = _EXERCISE_RE.search(cell.source)
            current = int(match[1]) if match else current
        if SOLUTION_TAG in tags or CHECK_TAG in tags:
            if current is None:
                raise ExerciseLayoutError(
                    f"cell {index + 1} is tagged {SOLUTION_TAG!r} or {CHECK_TAG!r} but no markdown cell "
                    "above it names its exercise; head the exercise's markdown cell 'Exercise N'."
                )
            numbers[index] = current
    return numbers


def stub_source(solution: str, number: int) -> str:
    """Return the student stub for a code solution: its leading ``# Hint`` comment lines, then a raise."""
    hints = []
    for line in solution.splitlines():
        if line.strip() and not line.startswith("#"):
            break  # the end of the leading comment block
        if line.startswith("# Hint"):
            hints.append(line)
    return "\n".join([*hints, _STUB.format(n=number)])


def build_assignment(nb: NotebookNode) -> NotebookNode:
    """Return the student version of a notebook.

    Solution cells become stubs (see :func:`stub_source`; a markdown solution becomes an invitation to
    answer) and lose the ``solution`` and ``hide-input`` tags; check cells stay; all outputs and the
    run metadata are cleared. The input notebook is not modified.
    """
    numbers = exercise_numbers(nb)
    student = copy.deepcopy(nb)
    for key in (METADATA_KEY, "widgets"):  # they describe outputs the student version no longer has
        student.metadata.pop(key, None)
    for index, cell in enumerate(student.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        tags = cell_tags(cell)
        if SOLUTION_TAG not in tags:
            continue
        number = numbers[index]
        cell.source = (
            stub_source(cell.source, number) if cell.cell_type == "code" else _MARKDOWN_STUB.format(n=number)
        )
        kept = [t for t in tags if t not in _BOOK_ONLY_TAGS]
        if kept:
            cell.metadata["tags"] = kept
        else:
            cell.metadata.pop("tags")
    return student


def build_all(root: Path, out_dir: Path | str = "assignments") -> list[Path]:
    """Write the student version of every chapter notebook to ``<root>/<out_dir>/NN_topic.ipynb``.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(root) / out_dir
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ipynb in list_notebooks(root):
        target = out / ipynb.name
        write_notebook_atomic(build_assignment(load_notebook(ipynb)), target)
        written.append(target)
    return written


def write_ci_notebooks(root: Path, out_dir: Path | str) -> tuple[list[Path], list[str]]:
    """Write :func:`ci_notebook` of every chapter notebook to ``<root>/<out_dir>/`` for nbval to run.

    Returns
    -------
    (list of Path, list of str)
        The files written, and the static problems of the student versions (:func:`static_problems`),
        one line each, prefixed by the notebook; nothing is written while there are problems.
    """
    out = Path(root) / out_dir
    notebooks = {path: load_notebook(path) for path in list_notebooks(root)}
    students = {path: build_assignment(nb) for path, nb in notebooks.items()}
    problems = [
        f"{path.stem}: {problem}"
        for path, nb in notebooks.items()
        for problem in static_problems(nb, students[path])
    ]
    if problems:
        return [], problems
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, nb in notebooks.items():
        write_notebook_atomic(ci_notebook(nb, students[path]), out / path.name)
        written.append(out / path.name)
    return written, []


def static_problems(original: NotebookNode, student: NotebookNode) -> list[str]:
    """Return what is wrong with a student version without running it: solution code left in a stub cell,
    a solution cell still tagged, an exercise with a code solution but no self-check."""
    numbers = exercise_numbers(original)
    if len(original.cells) != len(student.cells):
        return [f"the student version has {len(student.cells)} cells, the original {len(original.cells)}"]
    problems = []
    solutions = {i for i, c in enumerate(original.cells) if SOLUTION_TAG in cell_tags(c)}
    for index in sorted(solutions):
        cell = student.cells[index]
        if SOLUTION_TAG in cell_tags(cell):
            problems.append(f"cell {index + 1} is still tagged {SOLUTION_TAG!r}")
        code = [
            line for line in cell.source.splitlines() if line.strip() and not line.lstrip().startswith("#")
        ]
        if cell.cell_type == "code" and code != [_STUB.format(n=numbers[index])]:
            found = repr(code[0][:60]) if code else "nothing"
            problems.append(f"cell {index + 1} should hold only the exercise stub, found {found}")
    checked = {n for i, n in numbers.items() if CHECK_TAG in cell_tags(original.cells[i])}
    coded = {
        numbers[i] for i in solutions if original.cells[i].cell_type == "code"
    }  # written answers: no check
    for number in sorted(coded - checked):
        problems.append(f"exercise {number} has no cell tagged {CHECK_TAG!r}")
    return problems


def _error(cell: NotebookNode) -> str | None:
    """Return ``'Name: value'`` of the error a cell raised when it last ran, or None."""
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}"
    return None


def _first_solution(nb: NotebookNode) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if SOLUTION_TAG in cell_tags(c)), None)


def ci_notebook(original: NotebookNode, student: NotebookNode | None = None) -> NotebookNode:
    """Return the notebook CI runs: ``original`` with a cell before its first solution that grades the student
    version.

    The inserted cell (tagged ``student-check``) runs the student version's code cells from the first
    solution onwards, stubs and self-checks included, in the kernel state the cells above left, and fails
    unless every self-check fails there (:func:`run_student_exercises`). The solutions and checks of
    ``original`` then run as usual. One kernel run thus proves that the notebook runs, that the student
    version's checks fail without solutions and that they pass with them; the part before the exercises,
    where the time goes, runs once. The exercise section must be the notebook's last section, as the
    course's notebook template has it.

    Parameters
    ----------
    original : NotebookNode
        The notebook with solutions (outputs kept, so nbval can compare marked cells).
    student : NotebookNode, optional
        Its student version; built with :func:`build_assignment` when not given.
    """
    student = build_assignment(original) if student is None else student
    nb = copy.deepcopy(original)
    first = _first_solution(original)
    if first is None:
        return nb
    numbers = exercise_numbers(original)
    cells = [
        (index + 1, numbers.get(index), CHECK_TAG in cell_tags(cell), cell.source)
        for index, cell in enumerate(student.cells[first:], start=first)
        if cell.cell_type == "code"
    ]
    source = _CI_CELL.format(cells=pprint.pformat(cells, width=110))
    nb.cells.insert(first, new_code_cell(source, metadata={"tags": [STUDENT_CHECK_TAG]}))
    return nb


_CI_CELL = """\
# Inserted for CI by reps4lhc_tutor.assignments.ci_notebook; not part of the notebook. It runs the student
# version of the exercises (stubs instead of solutions) here, and every self-check must fail.
from reps4lhc_tutor.assignments import run_student_exercises

run_student_exercises({cells})"""


def run_student_exercises(cells: Sequence[tuple[int, int | None, bool, str]]) -> None:
    """Run student exercise cells in this IPython kernel and require every self-check among them to fail.

    Each cell runs in the kernel's namespace; what it raises is caught (and not shown), since stubs raise by
    design. This is the cell :func:`ci_notebook` inserts.

    Parameters
    ----------
    cells : sequence of (cell number, exercise number or None, is a self-check, source)
        The student version's code cells from the first exercise on, in order.

    Raises
    ------
    AssertionError
        Naming every self-check that passed without a solution.
    RuntimeError
        Outside an IPython kernel.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError(
            "run_student_exercises runs inside an IPython kernel (the cell ci_notebook inserts)."
        )
    passing, failing = [], 0
    for number, exercise, is_check, source in cells:
        try:
            exec(compile(shell.transform_cell(source), f"<student cell {number}>", "exec"), shell.user_ns)
        except Exception:
            failing += is_check
        else:
            if is_check:
                passing.append(f"check cell {number} (exercise {exercise}) passes without a solution")
    if passing:
        raise AssertionError("; ".join(passing))
    print(f"student version: all {failing} self-checks fail without the solutions, as they must")


def verify_assignment(
    original: NotebookNode,
    student: NotebookNode,
    workdir: Path,
    *,
    profile: str = "ci",
    timeout: int | None = 600,
) -> list[str]:
    """Check that a student version hides the solutions and that its self-checks grade it.

    Statically, every solution cell must be a bare stub and every exercise with a code solution must have
    a check cell (:func:`static_problems`). Then :func:`ci_notebook` runs in one strict kernel (going on after
    errors): no cell before the exercises may fail, the student version's checks must fail, and with the
    solutions nothing may fail. CI runs the same notebooks under nbval instead (``reps4lhc assignments ci``).

    Parameters
    ----------
    original, student : NotebookNode
        The notebook with solutions and its student version (from :func:`build_assignment`).
    workdir : Path
        Working directory of the kernel: the original notebook's folder.
    profile : str
        Profile the kernel runs at.
    timeout : int or None
        Seconds one cell may run.

    Returns
    -------
    list of str
        What is wrong, one line each; empty if the assignment works.
    """
    problems = static_problems(original, student)
    first = _first_solution(original)
    if problems or first is None:
        return problems
    run = ci_notebook(original, student)
    execution_client(run, workdir, timeout=timeout, allow_errors=True).execute(env=kernel_env(profile))
    for index, cell in enumerate(run.cells):
        error = _error(cell)
        if error is None:
            continue
        if index < first:
            problems.append(f"cell {index + 1}, before the exercises, fails: {error}")
        elif index == first:
            problems += error.removeprefix("AssertionError: ").split("; ")
        else:  # numbered as in the original, which lacks the inserted cell
            problems.append(f"cell {index} fails with the solutions in place: {error}")
    return problems
