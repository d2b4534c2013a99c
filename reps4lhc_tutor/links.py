"""Links derived from the repository address: Colab badges, Colab install lines and the README course map.

The single source of the address is ``_config.yml`` (``repository.url``, ``repository.branch``). After a
fork, a rename or a new chapter, :func:`sync` rewrites every derived link, in both files of each notebook
pair, so they stay paired; ``sync(root, check=True)`` only reports what is out of date (for CI).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import yaml
from nbformat import NotebookNode

from .notebooks import (
    NOTEBOOK_DIR,
    CourseError,
    cell_tags,
    list_notebooks,
    load_notebook,
    notebook_title,
    write_notebook_atomic,
    write_text_atomic,
)

__all__ = [
    "BADGE_IMAGE",
    "LinksError",
    "Repository",
    "colab_badge",
    "course_map",
    "install_line",
    "read_repository",
    "sync",
]

MAP_START = "<!-- course-map:start -->"
MAP_END = "<!-- course-map:end -->"
# The badge image ships with the book, so the offline book shows it without fetching anything from the web.
# Badges refer to it by a path relative to the file they are in (README: the repository root; notebooks:
# notebooks/), which keeps the image inside the Sphinx source folder, so Sphinx copies it into _images/.
BADGE_IMAGE = "book/_static/colab-badge.svg"
# Any Colab badge, whatever image (ours, or the remote one of older versions), repository, branch or notebook.
_BADGE_RE = re.compile(
    r"\[!\[Open In Colab\]\([^)\s]+\)\]\(https://colab\.research\.google\.com/github/[^)\s]*\)"
)
# Any install line of this package from a git repository (jupytext writes it as `# %pip ...` in the .py).
_INSTALL_RE = re.compile(r'%pip install --quiet "reps4lhc_tutor\[colab\] @ git\+https://github\.com/[^"\s]*"')
_GITHUB_RE = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")
_CHAPTER_RE = re.compile(r"^(?P<kind>book|notebooks)/(?P<number>\d\d)(?P<part>[a-z]?)_[^/]*$")


class LinksError(CourseError):
    """The repository address, the table of contents, the README or a notebook lacks what links need."""


@dataclass(frozen=True)
class Repository:
    """A GitHub repository and the branch the links point to."""

    owner: str  # GitHub user or organisation
    name: str  # repository name
    branch: str  # branch that Colab opens and pip installs from

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}"


def read_repository(root: Path) -> Repository:
    """Read ``repository.url`` and ``repository.branch`` from ``<root>/_config.yml``.

    Raises
    ------
    LinksError
        If the file or a key is missing, or the URL is not ``https://github.com/OWNER/REPO``.
    """
    config_path = Path(root) / "_config.yml"
    if not config_path.exists():
        raise LinksError(
            f"{config_path} not found; links are derived from its repository.url and repository.branch."
        )
    repository = (yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}).get("repository") or {}
    missing = [key for key in ("url", "branch") if not repository.get(key)]
    if missing:
        keys = " and ".join(f"repository.{key}" for key in missing)
        raise LinksError(f"{config_path} has no {keys}; set them (e.g. url: https://github.com/OWNER/REPO).")
    match = _GITHUB_RE.match(str(repository["url"]).strip())
    if match is None:
        raise LinksError(
            f"{config_path}: repository.url {repository['url']!r} is not of the form "
            "https://github.com/OWNER/REPO (Colab opens notebooks from GitHub only)."
        )
    return Repository(owner=match["owner"], name=match["name"], branch=str(repository["branch"]).strip())


def colab_badge(repo: Repository, notebook: str, where: str = NOTEBOOK_DIR) -> str:
    """Return the markdown *Open in Colab* badge for ``notebooks/<notebook>.ipynb``.

    Parameters
    ----------
    repo : Repository
        The repository Colab opens the notebook from.
    notebook : str
        The notebook's stem, such as ``00_networks_are_fits``.
    where : str
        Folder, relative to the repository root, of the file the badge goes in: the image path
        (:data:`BADGE_IMAGE`, shipped with the book) is written relative to it. ``"notebooks"`` for a
        notebook (``../book/_static/colab-badge.svg``), ``"."`` for the README.
    """
    image = posixpath.relpath(BADGE_IMAGE, posixpath.normpath(where))
    target = f"https://colab.research.google.com/github/{repo.owner}/{repo.name}/blob/{repo.branch}"
    return f"[![Open In Colab]({image})]({target}/{NOTEBOOK_DIR}/{notebook}.ipynb)"


def install_line(repo: Repository) -> str:
    """Return the ``%pip`` line that installs this package from the repository (in the colab-install cell)."""
    return f'%pip install --quiet "reps4lhc_tutor[colab] @ git+{repo.url}@{repo.branch}"'


# --- notebooks --------------------------------------------------------------------------------------------


def _rewrite(text: str, badge: str, install: str) -> str:
    text = _BADGE_RE.sub(lambda _: badge, text)
    return _INSTALL_RE.sub(lambda _: install, text)


def _missing_links(nb: NotebookNode, badge: str, install: str) -> list[str]:
    """Say which derived links a notebook lacks where the conventions put them."""
    missing = []
    first_markdown = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first_markdown is None or badge not in first_markdown.source:
        missing.append(f"a Colab badge in its first markdown cell ({badge})")
    install_cells = [c for c in nb.cells if "colab-install" in cell_tags(c)]
    if not any(install in c.source for c in install_cells):
        missing.append(f"a code cell tagged colab-install containing {install}")
    return missing


def _sync_notebook(ipynb: Path, repo: Repository) -> tuple[list[tuple[Path, str | NotebookNode]], list[str]]:
    """Compute the link updates of one pair: the files to rewrite with their new content, and what is missing.

    The ``.ipynb`` comes first so that, written in this order, the ``.py`` (the source) ends up newer.
    """
    badge, install = colab_badge(repo, ipynb.stem), install_line(repo)
    py = ipynb.with_suffix(".py")
    updates: list[tuple[Path, str | NotebookNode]] = []
    problems: list[str] = []
    if ipynb.exists():
        nb = nbformat.read(ipynb, as_version=4)
        changed = False
        for cell in nb.cells:
            new = _rewrite(cell.source, badge, install)
            changed |= new != cell.source
            cell.source = new
        problems += [f"{ipynb.name} lacks {m}" for m in _missing_links(nb, badge, install)]
        if changed:
            updates.append((ipynb, nb))
    if py.exists():
        text = py.read_text(encoding="utf-8")
        new_text = _rewrite(text, badge, install)
        new_nb = jupytext.reads(new_text, fmt="py:percent")
        problems += [f"{py.name} lacks {m}" for m in _missing_links(new_nb, badge, install)]
        if new_text != text:
            updates.append((py, new_text))
    return updates, problems


# --- README course map ------------------------------------------------------------------------------------


def _toc_files(entry: Any) -> Iterator[str]:
    """Yield every ``file``/``root`` entry of a Jupyter Book ``_toc.yml`` in reading order."""
    if isinstance(entry, list):
        for item in entry:
            yield from _toc_files(item)
    elif isinstance(entry, dict):
        for key in ("root", "file"):
            if key in entry:
                yield str(entry[key])
        for key in ("parts", "chapters", "sections"):
            yield from _toc_files(entry.get(key, []))


def _markdown_title(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def course_map(root: Path, repo: Repository) -> str:
    """Return the README's course map: one markdown table row per chapter listed in ``_toc.yml``.

    A chapter is ``book/NN_*.md`` (the lecture) and its notebook ``notebooks/NN_*``, or several notebooks
    ``notebooks/NNa_*``, ``NNb_*``, one row each; a part with a lecture page of its own (``book/NNb_*.md``)
    links that page, the others the chapter's. A row's topic is its notebook's title (first ``# `` heading
    of its first markdown cell), else the lecture page's title.
    """
    root = Path(root)
    toc_path = root / "_toc.yml"
    if not toc_path.exists():
        raise LinksError(f"{toc_path} not found; the course map lists the chapters in its order.")
    chapters: list[str] = []  # chapter numbers in toc order
    lectures: dict[str, str] = {}  # number + part ("05", "05b") -> lecture page stem
    notebooks: dict[str, list[tuple[str, str]]] = {}  # chapter number -> [(number + part, notebook stem)]
    for file in _toc_files(yaml.safe_load(toc_path.read_text(encoding="utf-8"))):
        match = _CHAPTER_RE.match(Path(file).with_suffix("").as_posix())
        if not match:
            continue
        chapters.append(match["number"])
        stem = Path(file).with_suffix("").name
        if match["kind"] == "book":
            lectures.setdefault(match["number"] + match["part"], stem)
        else:
            notebooks.setdefault(match["number"], []).append((match["number"] + match["part"], stem))
    rows = ["| chapter | topic | lecture | notebook | run it |", "| --- | --- | --- | --- | --- |"]
    for number in dict.fromkeys(chapters):  # toc order, each chapter once
        for label, notebook in notebooks.get(number, [(number, None)]):
            lecture = lectures.get(label, lectures.get(number))  # a part's own page (05b), else the chapter's
            title = None
            if notebook is not None:
                path = root / NOTEBOOK_DIR / f"{notebook}.ipynb"
                if not path.exists() and not path.with_suffix(".py").exists():
                    raise LinksError(
                        f"_toc.yml lists {NOTEBOOK_DIR}/{notebook}, but neither its .py nor .ipynb exists."
                    )
                title = notebook_title(load_notebook(path))
            if title is None and lecture is not None:
                title = _markdown_title(root / "book" / f"{lecture}.md")
            cells = [
                label,
                (title or "—").replace("|", "\\|"),
                f"[lecture](book/{lecture}.md)" if lecture else "—",
                f"[notebook]({NOTEBOOK_DIR}/{notebook}.ipynb)" if notebook else "—",
                colab_badge(repo, notebook, where=".") if notebook else "—",
            ]
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _readme_update(root: Path, repo: Repository) -> list[tuple[Path, str | NotebookNode]]:
    """Return the README with its course map rebuilt, if that changes it."""
    readme = Path(root) / "README.md"
    text = readme.read_text(encoding="utf-8") if readme.exists() else ""
    start, end = text.find(MAP_START), text.find(MAP_END)
    if start < 0 or end < start:
        raise LinksError(
            f"{readme} needs the lines {MAP_START} and {MAP_END} (in this order) around the course map."
        )
    new_text = text[: start + len(MAP_START)] + "\n\n" + course_map(root, repo) + "\n\n" + text[end:]
    return [] if new_text == text else [(readme, new_text)]


def sync(root: Path, check: bool = False) -> list[Path]:
    """Bring every link derived from ``_config.yml`` up to date.

    Rewrites the Colab badges and install lines of every chapter notebook (``.ipynb`` through nbformat,
    keeping its outputs, and ``.py`` as text, so the pair stays equal) and the README's course map.

    Parameters
    ----------
    root : Path
        Repository root.
    check : bool
        Only report; write nothing.

    Returns
    -------
    list of Path
        Files that were out of date (rewritten unless ``check``); empty if all links were current.

    Raises
    ------
    LinksError
        If ``_config.yml``, ``_toc.yml`` or the README markers are missing, or a notebook lacks its badge
        or its colab-install line (these are added by hand, from the chapter template).
    """
    root = Path(root)
    repo = read_repository(root)
    updates: list[tuple[Path, str | NotebookNode]] = []
    problems: list[str] = []
    for ipynb in list_notebooks(root):
        notebook_updates, missing = _sync_notebook(ipynb, repo)
        updates += notebook_updates
        problems += missing
    if problems:
        raise LinksError("; ".join(f"{NOTEBOOK_DIR}/{p}" for p in problems))
    updates += _readme_update(root, repo)
    # Everything is computed before anything is written, so a sync that raises changes nothing.
    if not check:
        for path, content in updates:
            if isinstance(content, str):
                write_text_atomic(path, content)
            else:
                write_notebook_atomic(content, path)
    return [path for path, _ in updates]
