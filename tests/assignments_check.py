"""CI check on the real notebooks: each student version hides its solutions and fails its self-checks,
and the solutions pass them (at the ci profile).

Not collected with the unit tests (the file name does not start with ``test_``): each case runs a whole
notebook. Run it as ``REPS4LHC_PROFILE=ci pytest tests/assignments_check.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reps4lhc_tutor.assignments import build_assignment, verify_assignment
from reps4lhc_tutor.notebooks import list_notebooks, load_notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", list_notebooks(ROOT), ids=lambda p: p.stem)
def test_student_version_fails_its_checks_and_solutions_pass(path):
    original = load_notebook(path)
    problems = verify_assignment(original, build_assignment(original), path.parent, profile="ci", timeout=600)
    assert problems == [], "\n".join(problems)
