"""Links derived from _config.yml: badges, install lines, README course map (reps4lhc_tutor.links)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import jupytext
import nbformat
import pytest
from notebook_factory import (
    OLD_BADGE,
    OLD_INSTALL,
    README,
    chapter_cells,
    code,
    course_tree,
    markdown,
    write_pair,
)

from reps4lhc_tutor.links import (
    BADGE_IMAGE,
    LinksError,
    Repository,
    colab_badge,
    install_line,
    read_repository,
    sync,
)
from reps4lhc_tutor.notebooks import check_pairing

REPO = Repository(owner="owner", name="course", branch="main")
ROOT = Path(__file__).resolve().parent.parent
# In a notebook the badge image is the book's own copy, relative to notebooks/ (the offline book shows it).
BADGE_00 = (
    "[![Open In Colab](../book/_static/colab-badge.svg)]"
    "(https://colab.research.google.com/github/owner/course/blob/main/notebooks/00_intro.ipynb)"
)
# In the README (repository root) the same image, relative to the root.
README_BADGE_00 = BADGE_00.replace("../book/", "book/")
INSTALL = '%pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/owner/course@main"'


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_links_follow_the_documented_forms():
    assert colab_badge(REPO, "00_intro") == BADGE_00
    assert colab_badge(REPO, "00_intro", where="notebooks/") == BADGE_00
    assert colab_badge(REPO, "00_intro", where=".") == README_BADGE_00
    assert install_line(REPO) == INSTALL


def test_badge_image_ships_with_the_book():
    """The image every badge points to is in the repository: a small SVG with its own size and text."""
    image = ROOT / BADGE_IMAGE
    assert image.is_file() and image.stat().st_size < 4096
    svg = ET.parse(image).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert float(svg.get("width")) > 0 and float(svg.get("height")) > 0
    text = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "Open in" in text and "Colab" in text
    assert "http://" not in image.read_text().replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in image.read_text()  # nothing fetched from the web


def test_old_remote_badges_are_rewritten_to_the_local_image(tmp_path):
    """course_tree's notebooks carry the old remote image (OLD_BADGE): sync replaces the whole badge."""
    root = course_tree(tmp_path)
    assert "colab.research.google.com/assets" in OLD_BADGE
    sync(root)
    for path in (root / "notebooks").iterdir():
        text = path.read_text()
        assert "colab.research.google.com/assets" not in text and "../book/_static/colab-badge.svg" in text
    readme = (root / "README.md").read_text()
    assert "](book/_static/colab-badge.svg)" in readme and "colab.research.google.com/assets" not in readme


@pytest.mark.parametrize("url", ["https://github.com/owner/course", "https://github.com/owner/course.git/"])
def test_read_repository(tmp_path, url):
    (tmp_path / "_config.yml").write_text(f"repository:\n  url: {url}\n  branch: main\n")
    assert read_repository(tmp_path) == REPO


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "_config.yml not found"),
        ("title: x\n", "has no repository.url and repository.branch"),
        ("repository:\n  url: https://github.com/o/r\n", "has no repository.branch"),
        (
            "repository:\n  url: https://gitlab.com/o/r\n  branch: main\n",
            "not of the form https://github.com",
        ),
    ],
)
def test_read_repository_errors_say_what_to_fix(tmp_path, config, message):
    if config is not None:
        (tmp_path / "_config.yml").write_text(config)
    with pytest.raises(LinksError, match=message):
        read_repository(tmp_path)


def test_check_reports_stale_files_and_writes_nothing(tmp_path):
    root = course_tree(tmp_path)
    before = snapshot(root)
    stale = sync(root, check=True)
    names = sorted(p.relative_to(root).as_posix() for p in stale)
    assert names == [
        "README.md",
        "notebooks/00_intro.ipynb",
        "notebooks/00_intro.py",
        "notebooks/01_more.ipynb",
        "notebooks/01_more.py",
    ]
    assert snapshot(root) == before


def test_sync_rewrites_both_files_of_each_pair_and_keeps_outputs(tmp_path):
    root = course_tree(tmp_path)
    ipynb = root / "notebooks" / "00_intro.ipynb"
    nb = nbformat.read(ipynb, as_version=4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="kept\n")]
    nbformat.write(nb, ipynb)

    sync(root)

    py_text = (root / "notebooks" / "00_intro.py").read_text()
    assert BADGE_00 in py_text and f"    # {INSTALL}" in py_text  # jupytext's commented magic
    assert OLD_BADGE not in py_text and OLD_INSTALL not in py_text
    nb = nbformat.read(ipynb, as_version=4)
    assert BADGE_00 in nb.cells[0].source and INSTALL in nb.cells[1].source
    assert nb.cells[2].outputs[0].text == "kept\n"
    assert check_pairing(root) == []
    assert sync(root, check=True) == []
    assert sync(root) == []  # idempotent


def test_readme_course_map_follows_the_toc(tmp_path):
    root = course_tree(tmp_path)
    sync(root)
    readme = (root / "README.md").read_text()
    assert readme.startswith("# Course\n\nBefore.\n\n<!-- course-map:start -->\n\n| chapter |")
    assert readme.endswith("\n\n<!-- course-map:end -->\n\nAfter.\n") and "old map" not in readme
    rows = [line for line in readme.splitlines() if line.startswith("| 0")]
    assert rows == [
        "| 00 | Networks \\| fits | [lecture](book/00_intro.md) | [notebook](notebooks/00_intro.ipynb) | "
        + README_BADGE_00
        + " |",
        "| 01 | More | [lecture](book/01_more.md) | [notebook](notebooks/01_more.ipynb) | "
        + README_BADGE_00.replace("00_intro", "01_more")
        + " |",
    ]


def test_map_uses_the_lecture_title_for_a_chapter_without_notebook(tmp_path):
    root = course_tree(tmp_path)
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/01_more\n")
    sync(root)
    assert "| 01 | Lecture one | [lecture](book/01_more.md) | — | — |" in (root / "README.md").read_text()


def _two_part_map_rows(tmp_path, toc_files: str, pages: tuple[str, ...] = ()) -> list[list[str]]:
    """The course-map rows (split into cells) of chapter 01 with notebooks 01a and 01b and ``toc_files``."""
    root = course_tree(tmp_path)
    for page in pages:
        (root / "book" / f"{page}.md").write_text("# A page\n")
    for stem, title in [("01a_more", "Part a"), ("01b_more", "Part b")]:
        write_pair(root / "notebooks", stem, chapter_cells(title))
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n" + toc_files)
    sync(root)
    lines = (root / "README.md").read_text().splitlines()
    return [line.split(" | ") for line in lines if line.startswith("| 0")]


def test_map_has_a_row_per_notebook_of_a_chapter(tmp_path):
    toc = "  - file: book/01_more\n  - file: notebooks/01a_more\n  - file: notebooks/01b_more\n"
    assert [row[:4] for row in _two_part_map_rows(tmp_path, toc)] == [
        ["| 01a", "Part a", "[lecture](book/01_more.md)", "[notebook](notebooks/01a_more.ipynb)"],
        ["| 01b", "Part b", "[lecture](book/01_more.md)", "[notebook](notebooks/01b_more.ipynb)"],
    ]


def test_a_part_with_its_own_lecture_page_links_it(tmp_path):
    toc = (
        "  - file: book/01_more\n  - file: notebooks/01a_more\n"
        "  - file: book/01b_precision\n  - file: notebooks/01b_more\n"
    )
    rows = _two_part_map_rows(tmp_path, toc, pages=("01b_precision",))
    assert [row[2] for row in rows] == ["[lecture](book/01_more.md)", "[lecture](book/01b_precision.md)"]


def test_missing_badge_is_an_error_and_nothing_is_written(tmp_path):
    root = course_tree(tmp_path)
    write_pair(root / "notebooks", "02_bare", [markdown("# Bare"), code("x = 1")])
    before = snapshot(root)
    with pytest.raises(LinksError) as info:
        sync(root)
    message = str(info.value)
    assert "notebooks/02_bare.ipynb lacks a Colab badge in its first markdown cell" in message
    assert "notebooks/02_bare.py lacks a code cell tagged colab-install" in message
    assert snapshot(root) == before


def test_missing_readme_markers_are_an_error(tmp_path):
    root = course_tree(tmp_path)
    (root / "README.md").write_text(README.replace("<!-- course-map:end -->", ""))
    with pytest.raises(LinksError, match="course-map:end"):
        sync(root, check=True)


def test_badge_in_py_is_read_back_by_jupytext(tmp_path):
    """The .py rewrite is textual; jupytext must still see the new badge in the first markdown cell."""
    root = course_tree(tmp_path)
    sync(root)
    nb = jupytext.read(root / "notebooks" / "00_intro.py", fmt="py:percent")
    assert nb.cells[0].source == f"# Networks | fits\n\n{BADGE_00}"


def test_toc_entry_without_notebook_is_an_error(tmp_path):
    root = course_tree(tmp_path)
    for suffix in (".py", ".ipynb"):
        (root / "notebooks" / f"01_more{suffix}").unlink()
    with pytest.raises(LinksError, match=r"_toc\.yml lists notebooks/01_more, but neither"):
        sync(root, check=True)
