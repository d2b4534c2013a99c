"""The reps4lhc command line (reps4lhc_tutor.cli)."""

from __future__ import annotations

import nbformat
import pytest
from notebook_factory import code, course_tree, markdown, write_pair

from reps4lhc_tutor.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("notebooks", "run | status | pairing", "links", "assignments", "build | ci:"):
        assert command in out


def test_subcommand_help_lists_actions(capsys):
    with pytest.raises(SystemExit):
        main(["notebooks", "--help"])
    out = capsys.readouterr().out
    assert all(action in out for action in ("run", "status", "pairing"))


def test_unknown_notebook_is_one_line_and_status_2(tmp_path, capsys):
    status, _, err = run(
        capsys, "--root", str(course_tree(tmp_path)), "notebooks", "run", "--profile", "ci", "07"
    )
    assert status == 2
    assert err == "reps4lhc: error: '07' is not a notebook; available: 00_intro, 01_more.\n"


def test_unknown_profile_is_one_line_and_status_2(tmp_path, capsys):
    status, _, err = run(capsys, "--root", str(course_tree(tmp_path)), "notebooks", "run", "--profile", "tpu")
    assert status == 2
    assert err == "reps4lhc: error: unknown profile 'tpu'; use one of ci, cpu, gpu.\n"


def test_outside_a_course_repository_is_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, "links", "--check")
    assert status == 2 and "no course repository" in err and err.count("\n") == 1


def test_root_is_found_from_a_subfolder(tmp_path, capsys, monkeypatch):
    root = course_tree(tmp_path)
    monkeypatch.chdir(root / "notebooks")
    status, _, _ = run(capsys, "notebooks", "pairing")
    assert status == 0


def test_links_check_then_sync(tmp_path, capsys):
    root = str(course_tree(tmp_path))
    status, _, err = run(capsys, "--root", root, "links", "--check")
    assert status == 1 and "README.md has out-of-date links; run `reps4lhc links`." in err
    status, out, _ = run(capsys, "--root", root, "links")
    assert status == 0 and out.startswith("rewrote ")
    assert run(capsys, "--root", root, "links", "--check")[0] == 0


def test_status_check_then_write(tmp_path, capsys):
    root = str(course_tree(tmp_path))
    status, _, err = run(capsys, "--root", root, "notebooks", "status", "--check")
    assert status == 1 and "book/status.md is out of date" in err
    assert run(capsys, "--root", root, "notebooks", "status")[0] == 0
    assert run(capsys, "--root", root, "notebooks", "status", "--check")[0] == 0


def test_pairing_mismatch_is_status_1(tmp_path, capsys):
    root = course_tree(tmp_path)
    nbformat.write(nbformat.v4.new_notebook(cells=[code("changed")]), root / "notebooks" / "01_more.ipynb")
    status, _, err = run(capsys, "--root", str(root), "notebooks", "pairing")
    assert status == 1 and err.startswith("notebooks/01_more: cell 1 is markdown in the .py but code")


def test_run_failure_is_status_1_with_traceback_and_updates_status_page(tmp_path, capsys):
    root = course_tree(tmp_path)
    write_pair(root / "notebooks", "02_bad", [markdown("# Bad"), code("raise KeyError('boom')")])
    status, _, err = run(capsys, "--root", str(root), "notebooks", "run", "--profile", "ci", "02")
    assert status == 1
    assert "02_bad.ipynb failed at profile ci in cell 2 of 2" in err and "KeyError: 'boom'" in err
    assert "1 of 1 notebooks failed: 02_bad" in err
    assert (root / "book" / "status.md").exists()


def test_assignments_build_writes_student_versions(tmp_path, capsys):
    root = course_tree(tmp_path)
    status, out, _ = run(capsys, "--root", str(root), "assignments", "build", "--out", "students")
    assert status == 0 and out == "wrote 2 student notebooks to students/\n"
    assert sorted(p.name for p in (root / "students").iterdir()) == ["00_intro.ipynb", "01_more.ipynb"]


def test_assignments_ci_writes_notebooks_that_grade_their_student_version(tmp_path, capsys):
    root = course_tree(tmp_path)
    exercise = [
        markdown("## Exercise 1\n\nSet `answer`."),
        code("answer = 42", "solution"),
        code("assert answer == 42", "check"),
    ]
    write_pair(root / "notebooks", "02_exercise", [code("x = 1"), *exercise])
    status, out, _ = run(capsys, "--root", str(root), "assignments", "ci", "--out", "ci-notebooks")
    assert status == 0 and out.startswith("wrote 3 notebooks with their student checks to ci-notebooks/\n")
    nb = nbformat.read(root / "ci-notebooks" / "02_exercise.ipynb", as_version=4)
    inserted = nb.cells[2]
    assert inserted.metadata["tags"] == ["student-check"] and "run_student_exercises(" in inserted.source
    assert [c.source for c in nb.cells[3:]] == [c.source for c in exercise[1:]]


def test_assignments_ci_refuses_a_notebook_without_self_check(tmp_path, capsys):
    root = course_tree(tmp_path)
    cells = [markdown("## Exercise 1"), code("answer = 42", "solution")]
    write_pair(root / "notebooks", "02_exercise", cells)
    status, _, err = run(capsys, "--root", str(root), "assignments", "ci", "--out", "ci-notebooks")
    assert status == 1 and "02_exercise: exercise 1 has no cell tagged 'check'" in err
    assert not (root / "ci-notebooks").exists()


def test_bad_profile_in_the_environment_is_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("REPS4LHC_PROFILE", "huge")
    status, _, err = run(capsys, "--root", str(course_tree(tmp_path)), "notebooks", "run", "00")
    assert status == 2 and "REPS4LHC_PROFILE='huge' is not a profile" in err and err.count("\n") == 1
