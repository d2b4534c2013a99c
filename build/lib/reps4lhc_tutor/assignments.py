"""Student versions of the notebooks: solutions replaced by stubs, self-checks kept.

In a chapter notebook each exercise is a markdown cell that names it (``## Exercise 2: ...``), one or more
code cells tagged ``solution`` and one or more cells tagged ``check`` that fail unless the exercise is
solved. :func:`build_assignment` replaces every solution cell by a stub that raises
``NotImplementedError``, keeping the solution's leading ``# Hint`` comments; :func:`verify_assignment`
executes the student version and confirms that its checks fail while the solutions make them pass.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from nbformat import NotebookNode

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
    "ExerciseLayoutError",
    "build_all",
    "build_assignment",
    "exercise_numbers",
    "stub_source",
    "verify_assignment",
]

SOLUTION_TAG = "solution"
CHECK_TAG = "check"
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


def _static_problems(original: NotebookNode, student: NotebookNode, numbers: dict[int, int]) -> list[str]:
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
    a check cell. Then one kernel runs the whole student version (going on after errors), where every check
    cell must fail and no cell before the first exercise may fail; then the original's cells from the first
    solution cell onwards run in the same kernel, where nothing may fail. Replaying only the exercise
    section costs one notebook run instead of two; the original's full, in-order run is the nbval job's.

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
    numbers = exercise_numbers(original)
    problems = _static_problems(original, student, numbers)
    solutions = [i for i, c in enumerate(original.cells) if SOLUTION_TAG in cell_tags(c)]
    if problems or not solutions:
        return problems
    first = solutions[0]
    checks = [i for i in numbers if CHECK_TAG in cell_tags(original.cells[i])]
    run_student, run_original = copy.deepcopy(student), copy.deepcopy(original)
    client = execution_client(run_student, workdir, timeout=timeout, allow_errors=True)
    with client.setup_kernel(env=kernel_env(profile)):
        for index, cell in enumerate(run_student.cells):
            client.execute_cell(cell, index)
        client.nb = run_original
        for index in range(first, len(run_original.cells)):
            client.execute_cell(run_original.cells[index], index)
    for index in range(first):
        if (error := _error(run_student.cells[index])) is not None:
            problems.append(f"cell {index + 1}, before the exercises, fails: {error}")
    for index in checks:
        if _error(run_student.cells[index]) is None:
            problems.append(f"check cell {index + 1} (exercise {numbers[index]}) passes without a solution")
    for index in range(first, len(run_original.cells)):
        if (error := _error(run_original.cells[index])) is not None:
            problems.append(f"cell {index + 1} fails with the solutions in place: {error}")
    return problems
