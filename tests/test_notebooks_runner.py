"""Notebook runner, name resolution, pairing check and status page (reps4lhc_tutor.notebooks)."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
import pytest
from notebook_factory import code, markdown, write_pair

from reps4lhc_tutor.notebooks import (
    NotebookExecutionError,
    UnknownNotebookError,
    UnknownProfileError,
    check_pairing,
    render_status_page,
    resolve_notebooks,
    run_notebook,
    write_status_page,
    write_text_atomic,
)

TEMPLATE = Path(__file__).resolve().parents[1] / "notebooks" / "templates" / "chapter_template.py"
RUN_KEYS = {
    *("profile", "device", "device_name", "wall_time_s", "date", "package_version", "python", "torch"),
    "expectations",
}


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)


# --- names ------------------------------------------------------------------------------------------------


def test_resolve_accepts_number_stem_and_either_path(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    write_pair(tmp_path / "notebooks", "01_beta", [code("x = 1")], ipynb=False)  # a new chapter: .py only
    expected = tmp_path / "notebooks" / "01_beta.ipynb"
    for name in ("01", "01_beta", "notebooks/01_beta.ipynb", "notebooks/01_beta.py"):
        assert resolve_notebooks([name], tmp_path) == [expected]
    assert [p.stem for p in resolve_notebooks([], tmp_path)] == ["00_alpha", "01_beta"]


def test_a_chapter_with_several_notebooks(tmp_path):
    for stem in ("04a_tagging", "04b_cwola", "05_next"):
        write_pair(tmp_path / "notebooks", stem, [code("x = 1")])
    write_pair(tmp_path / "notebooks", "scratch", [code("x = 1")])  # not a chapter notebook
    assert [p.stem for p in resolve_notebooks([], tmp_path)] == ["04a_tagging", "04b_cwola", "05_next"]
    assert resolve_notebooks(["04b"], tmp_path) == [tmp_path / "notebooks" / "04b_cwola.ipynb"]
    with pytest.raises(UnknownNotebookError, match="'04' matches several notebooks"):
        resolve_notebooks(["04"], tmp_path)


def test_unknown_notebook_names_the_available_ones(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    with pytest.raises(UnknownNotebookError, match=r"'07' is not a notebook; available: 00_alpha"):
        resolve_notebooks(["07"], tmp_path)


def test_ambiguous_chapter_number_is_an_error(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    write_pair(tmp_path / "notebooks", "00_beta", [code("x = 1")])
    with pytest.raises(UnknownNotebookError, match="matches several"):
        resolve_notebooks(["00"], tmp_path)


def test_unknown_profile_is_rejected_before_running(tmp_path):
    path = write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    before = path.read_bytes()
    with pytest.raises(UnknownProfileError, match="use one of ci, cpu, gpu"):
        run_notebook(path, "tpu")
    assert path.read_bytes() == before


# --- running ----------------------------------------------------------------------------------------------


def test_run_records_metadata_profile_workdir_and_interpreter(tmp_path):
    folder = tmp_path / "notebooks"
    cells = [
        markdown("# Alpha"),
        code(
            "import os, sys\nprint(os.environ['REPS4LHC_PROFILE'])\nprint(os.getcwd())\nprint(sys.executable)"
        ),
    ]
    path = write_pair(folder, "00_alpha", cells, ipynb=False)  # the .ipynb is created by the run
    nb = run_notebook(path, "ci", timeout=120)

    profile, cwd, executable = outputs_text(nb).split()
    assert profile == "ci"
    assert Path(cwd).resolve() == folder.resolve()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    written = nbformat.read(path, as_version=4)
    run = written.metadata["reps4lhc"]
    assert set(run) == RUN_KEYS
    assert run["profile"] == "ci" and run["device"] in {"cpu", "cuda", "mps"} and run["wall_time_s"] > 0
    assert datetime.fromisoformat(run["date"]).utcoffset().total_seconds() == 0
    assert outputs_text(written) == outputs_text(nb)
    assert check_pairing(tmp_path) == []  # inputs come from the .py, so the pair stays equal


def test_failing_cell_leaves_the_notebook_untouched(tmp_path):
    folder = tmp_path / "notebooks"
    path = write_pair(folder, "00_alpha", [markdown("# Alpha"), code("x = 1"), code("y = 1 / 0")])
    before = path.read_bytes()
    with pytest.raises(
        NotebookExecutionError, match=r"cell 3 of 3 \('y = 1 / 0'\): ZeroDivisionError"
    ) as info:
        run_notebook(path, "ci", timeout=120)
    assert info.value.cell_index == 2 and "ZeroDivisionError" in info.value.traceback
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["00_alpha.ipynb", "00_alpha.py"]  # no temporary file


def test_chapter_template_runs_at_ci_profile(tmp_path):
    """The template converted by jupytext runs end to end under nbclient at REPS4LHC_PROFILE=ci."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(TEMPLATE, folder / "00_template.py")
    nb = run_notebook(folder / "00_template.ipynb", "ci", timeout=300)
    text = outputs_text(nb)
    assert "profile: ci" in text
    assert text.count("(ci, measured): ok") == 2
    assert "Exercise 1: correct" in text and "Exercise 2: correct" in text


def test_template_follows_the_cell_conventions():
    nb = jupytext.read(TEMPLATE, fmt="py:percent")
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert "colab-install" in first_code.metadata["tags"] and "%pip install" in first_code.source
    assert "Open In Colab" in nb.cells[0].source and nb.cells[0].source.startswith("# ")
    tags = [tag for cell in nb.cells for tag in cell.metadata.get("tags", [])]
    assert tags.count("solution") == tags.count("check") >= 2
    assert any("tutor.setup(seed=" in c.source for c in nb.cells)
    assert any("tutor.expect(" in c.source for c in nb.cells)


# --- pairing ----------------------------------------------------------------------------------------------


def test_pairing_accepts_an_equal_pair(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", [markdown("# A"), code("x = 1", "solution")])
    assert check_pairing(tmp_path) == []


@pytest.mark.parametrize(
    ("ipynb_cells", "message"),
    [
        ([markdown("# A"), code("x = 2", "solution")], "cell 2 ('x = 1') has different source"),
        (
            [markdown("# A"), code("x = 1", "check")],
            "has tags ['solution'] in the .py, ['check'] in the .ipynb",
        ),
        ([markdown("# A"), markdown("x = 1", "solution")], "cell 2 is code in the .py but markdown"),
        ([markdown("# A"), code("x = 1", "solution"), code("z")], "the .py has 2 cells, the .ipynb 3"),
    ],
)
def test_pairing_names_the_first_difference(tmp_path, ipynb_cells, message):
    write_pair(tmp_path / "notebooks", "00_alpha", [markdown("# A"), code("x = 1", "solution")])
    nbformat.write(nbformat.v4.new_notebook(cells=ipynb_cells), tmp_path / "notebooks" / "00_alpha.ipynb")
    (problem,) = check_pairing(tmp_path)
    assert problem.startswith("notebooks/00_alpha: ") and message in problem and "jupytext --sync" in problem


def test_pairing_reports_a_missing_partner(tmp_path):
    write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")], ipynb=False)
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "01_beta.ipynb")
    problems = check_pairing(tmp_path)
    assert len(problems) == 2
    assert (
        "00_alpha.py has no 00_alpha.ipynb" in problems[0]
        and "01_beta.ipynb has no 01_beta.py" in problems[1]
    )


# --- status page ------------------------------------------------------------------------------------------

RUN = {
    "profile": "gpu",
    "device": "cuda",
    "device_name": "NVIDIA H100 80GB HBM3",
    "wall_time_s": 192.4,
    "date": "2026-01-02T03:04:05+00:00",
    "package_version": "0.1.0",
    "python": "3.12.3",
    "torch": "2.13.0",
}


NOT_RECORDED = "not recorded (run before band records; rerun with `reps4lhc notebooks run`)"


def test_status_page_lists_runs_and_explains_profiles(tmp_path):
    path = write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    write_pair(tmp_path / "notebooks", "01_beta", [code("x = 1")])
    nb = nbformat.read(path, as_version=4)
    nb.metadata["reps4lhc"] = RUN
    nbformat.write(nb, path)

    page = render_status_page(tmp_path)
    assert "REPS4LHC_PROFILE" in page and "`ci`" in page and "`gpu`" in page
    assert "*measured*" in page and "*target*" in page
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    assert rows == [
        "| `00_alpha` | gpu | NVIDIA H100 80GB HBM3 (cuda) | 3 min 12 s | 2026-01-02 03:04 UTC | 0.1.0 |",
        "| `01_beta` | not run yet | — | — | — | — |",
        f"| `00_alpha` | — | — | — | {NOT_RECORDED} |",
        f"| `01_beta` | — | — | — | {NOT_RECORDED} |",
    ]


def test_status_page_counts_band_kinds_and_lists_misses(tmp_path):
    path = write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    kinds = {"ci": "measured", "cpu": "measured", "gpu": "target"}
    records = [
        {"name": "a", "value": 1.0, "profile": "gpu", "band": [0, 2], "kind": "target", "ok": True},
        {"name": "b", "value": 3.0, "profile": "gpu", "band": [0, 2], "kind": "target", "ok": False},
        {"name": "c", "value": 1.0, "profile": "gpu", "band": [0, 2], "kind": "measured", "ok": True},
    ]
    records = [
        r | {"kinds": kinds if r["name"] != "c" else dict.fromkeys(kinds, "measured")} for r in records
    ]
    nb = nbformat.read(path, as_version=4)
    nb.metadata["reps4lhc"] = RUN | {"expectations": records}
    nbformat.write(nb, path)
    bands = [line for line in render_status_page(tmp_path).splitlines() if line.startswith("| `")][1]
    kinds_cells, shown = bands.split(" | 2 of 3", 1)
    assert kinds_cells == "| `00_alpha` | 3 measured | 3 measured | 1 measured, 2 target"
    assert shown == " in band at gpu; missed: b (target) |"


def test_status_page_check_detects_a_stale_page(tmp_path):
    path = write_pair(tmp_path / "notebooks", "00_alpha", [code("x = 1")])
    page = tmp_path / "book" / "status.md"
    assert write_status_page(tmp_path, check=True) is True and not page.exists()
    assert write_status_page(tmp_path) is True and page.exists()
    assert write_status_page(tmp_path, check=True) is False

    nb = nbformat.read(path, as_version=4)
    nb.metadata["reps4lhc"] = RUN
    nbformat.write(nb, path)
    before = page.read_text()
    assert write_status_page(tmp_path, check=True) is True
    assert page.read_text() == before  # check mode writes nothing


def test_status_page_without_notebooks_says_so(tmp_path):
    page = render_status_page(tmp_path)
    assert page.endswith("No chapter notebook exists yet.\n") and "| notebook |" not in page


def test_atomic_write_keeps_permissions(tmp_path):
    new, existing = tmp_path / "new.md", tmp_path / "existing.md"
    existing.write_text("old")
    existing.chmod(0o640)
    write_text_atomic(new, "a")
    write_text_atomic(existing, "b")
    assert (new.stat().st_mode & 0o777, new.read_text()) == (0o644, "a")
    assert (existing.stat().st_mode & 0o777, existing.read_text()) == (0o640, "b")
