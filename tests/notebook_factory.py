"""Small synthetic course trees for the tests of the notebook tools (runner, links, assignments, CLI)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OLD_BADGE = (
    "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    "(https://colab.research.google.com/github/someone/old/blob/dev/notebooks/x.ipynb)"
)
OLD_INSTALL = '%pip install --quiet "reps4lhc_tutor[colab] @ git+https://github.com/someone/old@dev"'
CONFIG = "title: test\nrepository:\n  url: https://github.com/owner/course\n  branch: main\n"
TOC = """\
format: jb-book
root: book/index
parts:
  - caption: Chapters
    chapters:
      - file: book/00_intro
      - file: notebooks/00_intro
      - file: book/01_more
        sections:
          - file: notebooks/01_more
"""
README = "# Course\n\nBefore.\n\n<!-- course-map:start -->\nold map\n<!-- course-map:end -->\n\nAfter.\n"


def code(source: str, *tags: str) -> NotebookNode:
    """A code cell with ``tags``."""
    return new_code_cell(source, metadata={"tags": list(tags)} if tags else {})


def markdown(source: str, *tags: str) -> NotebookNode:
    """A markdown cell with ``tags``."""
    return new_markdown_cell(source, metadata={"tags": list(tags)} if tags else {})


def chapter_cells(title: str = "Intro", body: str = "x = 1") -> list[NotebookNode]:
    """Cells of a minimal chapter: title with badge, colab-install cell, one code cell."""
    return [
        markdown(f"# {title}\n\n{OLD_BADGE}"),
        code(
            f'import sys\n\nif "google.colab" in sys.modules:\n    {OLD_INSTALL}\n    print("ok")',
            "colab-install",
        ),
        code(body),
    ]


def write_pair(folder: Path, stem: str, cells: list[NotebookNode], *, ipynb: bool = True) -> Path:
    """Write ``folder/stem.py`` (py:percent) and, if ``ipynb``, ``folder/stem.ipynb``; return the latter."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    jupytext.write(nb, folder / f"{stem}.py", fmt="py:percent")
    if ipynb:
        nbformat.write(nb, folder / f"{stem}.ipynb")
    return folder / f"{stem}.ipynb"


def course_tree(root: Path) -> Path:
    """A course repository: _config.yml, _toc.yml, README, two lecture pages and two notebook pairs."""
    (root / "book").mkdir(parents=True)
    (root / "_config.yml").write_text(CONFIG)
    (root / "_toc.yml").write_text(TOC)
    (root / "README.md").write_text(README)
    (root / "book" / "00_intro.md").write_text("# Lecture zero\n")
    (root / "book" / "01_more.md").write_text("# Lecture one\n")
    write_pair(root / "notebooks", "00_intro", chapter_cells("Networks | fits"))
    write_pair(root / "notebooks", "01_more", chapter_cells("More"))
    return root
