"""Who a missed band stops: a student's kernel warns and goes on; nbval and `reps4lhc notebooks run` fail on a
missed measured band; a missed target fails nowhere and reaches the status page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_factory import code, write_pair

from reps4lhc_tutor.config import EXPECT_LOG_ENV, PROFILE_ENV, STRICT_ENV
from reps4lhc_tutor.notebooks import (
    METADATA_KEY,
    NotebookExecutionError,
    execution_client,
    render_status_page,
    run_notebook,
)

ROOT = Path(__file__).resolve().parents[1]
MEASURED_MISS = 'tutor.expect("answer", 2.0, ci=(0, 1), cpu=(0, 1), gpu=tutor.target(0, 1))'
TARGET_MISS = 'tutor.expect("answer", 2.0, ci=tutor.target(0, 1), cpu=(0, 1), gpu=(0, 1))'


def small_notebook(folder: Path, check: str) -> Path:
    """A chapter notebook pair: import, one expect call, then a cell that shows whether it ran."""
    return write_pair(
        folder / "notebooks",
        "00_small",
        [code("import reps4lhc_tutor as tutor"), code(check), code('print("the next cell ran")')],
    )


def student_env() -> dict[str, str]:
    """A student's kernel: the ci profile for speed, nothing that marks a maintainer's or CI run."""
    env = {key: value for key, value in os.environ.items() if key not in (STRICT_ENV, EXPECT_LOG_ENV)}
    return env | {PROFILE_ENV: "ci"}


def text_of(cell: nbformat.NotebookNode) -> str:
    return "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")


@pytest.mark.parametrize("check", [MEASURED_MISS, TARGET_MISS], ids=["measured", "target"])
def test_interactive_kernel_warns_and_goes_on(tmp_path, check):
    path = small_notebook(tmp_path, check)
    nb = nbformat.read(path, as_version=4)
    execution_client(nb, path.parent, timeout=120).execute(env=student_env())  # raises if a cell fails
    expect_cell, next_cell = nb.cells[1], nb.cells[2]
    assert "expect answer = 2 in [0, 1] (ci, " in text_of(expect_cell)
    assert "ExpectationWarning: answer = 2" in text_of(expect_cell)  # stderr: visible in the notebook
    assert "the notebook goes on" in text_of(expect_cell).lower()
    assert text_of(next_cell) == "the next cell ran\n"


def nbval(path: Path) -> subprocess.CompletedProcess[str]:
    """pytest --nbval-lax on ``path`` as CI runs it, with the repository's conftest and no REPS4LHC_STRICT."""
    command = [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q"]
    command += ["--nbval-lax", "--nbval-current-env", f"--rootdir={path.parent}", str(path)]
    return subprocess.run(command, cwd=ROOT, env=student_env(), capture_output=True, text=True, timeout=300)


def test_nbval_fails_on_a_missed_measured_band(tmp_path):
    result = nbval(small_notebook(tmp_path, MEASURED_MISS))
    assert result.returncode == 1, result.stdout + result.stderr
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # the kernel's traceback is coloured
    assert "ExpectationError: expect answer = 2 in [0, 1] (ci, measured): MISSED" in output


def test_nbval_passes_a_missed_target(tmp_path):
    result = nbval(small_notebook(tmp_path, TARGET_MISS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_maintainer_run_fails_on_a_missed_measured_band(tmp_path, monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)  # the runner sets it for its kernel by itself
    path = small_notebook(tmp_path, MEASURED_MISS)
    before = path.read_bytes()
    with pytest.raises(NotebookExecutionError, match=r"cell 2 of 3 .*ExpectationError: expect answer = 2"):
        run_notebook(path, "ci", timeout=120)
    assert path.read_bytes() == before


def test_maintainer_run_records_a_missed_target_for_the_status_page(tmp_path, monkeypatch):
    monkeypatch.delenv(STRICT_ENV, raising=False)
    path = small_notebook(tmp_path, TARGET_MISS)
    nb = run_notebook(path, "ci", timeout=120)
    assert text_of(nb.cells[2]) == "the next cell ran\n"
    (record,) = nb.metadata[METADATA_KEY]["expectations"]
    assert record == {
        "name": "answer",
        "value": 2.0,
        "profile": "ci",
        "band": [0.0, 1.0],
        "kind": "target",
        "ok": False,
        "kinds": {"ci": "target", "cpu": "measured", "gpu": "measured"},
    }
    row = next(
        line for line in render_status_page(tmp_path).splitlines() if line.startswith("| `00_small` | 1")
    )
    assert row == (
        "| `00_small` | 1 target | 1 measured | 1 measured | 0 of 1 in band at ci; missed: answer (target) |"
    )
