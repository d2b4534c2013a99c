"""The course notebooks as files: find them, run them, check their pairing, report their last runs.

Each chapter notebook is a pair in ``notebooks/``: ``NN_topic.py`` (py:percent, the source people edit) and
``NN_topic.ipynb`` (the same cells with the outputs of a real run, which the book shows). Running a notebook
takes the cells from the ``.py``, executes them with nbclient at a chosen profile, and writes the ``.ipynb``
atomically together with the run's metadata (``metadata["reps4lhc"]``), from which the status page is built.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import platform
import re
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jupytext
import nbformat
from jupytext.combine import combine_inputs_with_outputs
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from .config import EXPECT_LOG_ENV, PROFILE_ENV, PROFILES, STRICT_ENV, device_name, get_device

__all__ = [
    "METADATA_KEY",
    "NOTEBOOK_DIR",
    "STATUS_PAGE",
    "CourseError",
    "NotebookExecutionError",
    "UnknownNotebookError",
    "UnknownProfileError",
    "cell_tags",
    "check_pairing",
    "check_profile",
    "execution_client",
    "expectation_summary",
    "kernel_env",
    "list_notebooks",
    "load_notebook",
    "notebook_title",
    "read_expectations",
    "render_status_page",
    "resolve_notebooks",
    "run_notebook",
    "write_notebook_atomic",
    "write_status_page",
    "write_text_atomic",
]

log = logging.getLogger(__name__)

METADATA_KEY = "reps4lhc"  # notebook metadata entry that records the last run
STATUS_PAGE = Path("book") / "status.md"  # relative to the repository root
NOTEBOOK_DIR = "notebooks"
# chapter notebooks are NN_topic, or NNa_topic when a chapter has several; templates and scratch files are not
_CHAPTER_STEM = re.compile(r"(?P<chapter>\d\d[a-z]?)_\w+")
KERNEL_NAME = "python3"  # resolved by jupyter_client to the interpreter running this code
_KERNELSPEC = {"name": KERNEL_NAME, "display_name": "Python 3 (ipykernel)", "language": "python"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class CourseError(Exception):
    """A problem with the course files or a command's arguments that the user has to fix."""


class UnknownNotebookError(CourseError, LookupError):
    """A notebook name matches no chapter notebook."""


class UnknownProfileError(CourseError, ValueError):
    """A profile name is not one of :data:`reps4lhc_tutor.PROFILES`."""


class NotebookExecutionError(RuntimeError):
    """A notebook cell raised, timed out or killed the kernel; the notebook file was left unchanged.

    Attributes
    ----------
    path : Path
        The notebook that failed.
    cell_index : int or None
        0-based index of the failing cell, if known.
    traceback : str
        The kernel's traceback of the failing cell (ANSI colours removed); empty if there was none.
    """

    def __init__(self, message: str, *, path: Path, cell_index: int | None, traceback: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.cell_index = cell_index
        self.traceback = traceback


# --- finding notebooks ------------------------------------------------------------------------------------


def list_notebooks(root: Path) -> list[Path]:
    """Return the ``.ipynb`` path of every chapter notebook, sorted by name.

    A chapter counts if either file of its pair exists (a new chapter may have only its ``.py`` yet).

    Parameters
    ----------
    root : Path
        Repository root (the folder holding ``notebooks/``).
    """
    folder = Path(root) / NOTEBOOK_DIR
    stems = {
        p.stem
        for suffix in (".py", ".ipynb")
        for p in folder.glob(f"*{suffix}")
        if _CHAPTER_STEM.fullmatch(p.stem)
    }
    return [folder / f"{stem}.ipynb" for stem in sorted(stems)]


def resolve_notebooks(names: Sequence[str], root: Path) -> list[Path]:
    """Map user-given notebook names to ``.ipynb`` paths; no names means every chapter notebook.

    Accepted forms: a chapter number (``"00"``; ``"04a"`` where a chapter has several notebooks), a stem
    (``"00_networks_are_fits"``) or a path to either file of the pair
    (``"notebooks/00_networks_are_fits.ipynb"``, ``".../00_networks_are_fits.py"``).

    Raises
    ------
    UnknownNotebookError
        If a name matches no chapter notebook, or a chapter number matches several; the message lists
        the available notebooks.
    """
    available = list_notebooks(root)
    if not names:
        return available
    by_stem = {p.stem: p for p in available}
    chapters = {s: _CHAPTER_STEM.fullmatch(s)["chapter"] for s in by_stem}  # "04a_top_tagging" -> "04a"
    resolved = []
    for name in names:
        stem = Path(name).stem if name.endswith((".py", ".ipynb")) else Path(name).name
        matches = (
            [by_stem[stem]]
            if stem in by_stem
            else [by_stem[s] for s, chapter in chapters.items() if stem in (chapter, chapter[:2])]
        )
        if len(matches) != 1:
            listing = ", ".join(by_stem) or f"none (no {NOTEBOOK_DIR}/NN_*.py or .ipynb in {root})"
            problem = "matches several notebooks" if matches else "is not a notebook"
            raise UnknownNotebookError(f"{name!r} {problem}; available: {listing}.")
        resolved.append(matches[0])
    return resolved


def cell_tags(cell: NotebookNode) -> list[str]:
    """Return the cell's tags (``metadata.tags``), an empty list if it has none."""
    return list(cell.get("metadata", {}).get("tags", []))


def notebook_title(nb: NotebookNode) -> str | None:
    """Return the first ``# `` heading of the notebook's first markdown cell, or None if there is none."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            return None
    return None


def load_notebook(path: Path) -> NotebookNode:
    """Read a chapter notebook with its inputs from the ``.py`` and its outputs from the ``.ipynb``.

    This is what ``jupytext --sync`` does: the ``.py`` is the source of the cells; the ``.ipynb``
    contributes outputs, cell ids and notebook metadata where its cells still match. Either file may be
    missing (but not both).

    Parameters
    ----------
    path : Path
        Either file of the pair.
    """
    path = Path(path)
    py, ipynb = path.with_suffix(".py"), path.with_suffix(".ipynb")
    if not py.exists() and not ipynb.exists():
        raise FileNotFoundError(f"neither {py} nor {ipynb} exists; check the notebook name.")
    if not py.exists():
        return nbformat.read(ipynb, as_version=4)
    source = jupytext.read(py, fmt="py:percent")
    if not ipynb.exists():
        source.metadata.pop("jupytext", None)
        source.metadata["kernelspec"] = dict(_KERNELSPEC)
        return source
    # combine_inputs_with_outputs is the function behind `jupytext --sync`; using it keeps both in step.
    return combine_inputs_with_outputs(source, nbformat.read(ipynb, as_version=4), fmt="py:percent")


# --- writing files atomically -----------------------------------------------------------------------------


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so no half-written file remains."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        # mkstemp creates the file private (0600); give it the permissions of the file it replaces.
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_notebook_atomic(nb: NotebookNode, path: Path) -> None:
    """Validate ``nb`` and write it to ``path`` atomically, formatted as jupytext writes notebooks."""
    nbformat.validate(nb)
    write_text_atomic(path, jupytext.writes(nb, fmt="ipynb"))


# --- running ----------------------------------------------------------------------------------------------


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`~reps4lhc_tutor.PROFILES`, else raise UnknownProfileError."""
    if profile not in PROFILES:
        raise UnknownProfileError(f"unknown profile {profile!r}; use one of {', '.join(PROFILES)}.")
    return profile


def execution_client(
    nb: NotebookNode,
    workdir: Path,
    *,
    timeout: int | None,
    allow_errors: bool = False,
    on_cell_execute: Callable[..., Any] | None = None,
) -> NotebookClient:
    """Return an nbclient client that runs ``nb`` in the ``python3`` kernel of the current environment.

    Start it with ``client.execute(env=kernel_env(profile))`` or ``client.setup_kernel(env=...)``.

    Parameters
    ----------
    nb : NotebookNode
        The notebook; the client writes outputs into it.
    workdir : Path
        Working directory of the kernel (the notebook's folder, so relative data paths work).
    timeout : int or None
        Seconds one cell may run; None for no limit.
    allow_errors : bool
        Go on after a failing cell instead of raising CellExecutionError.
    on_cell_execute : callable, optional
        nbclient hook called as ``hook(cell=..., cell_index=...)`` before each code cell runs.
    """
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    if on_cell_execute is not None:
        client.on_cell_execute = on_cell_execute
    return client


def kernel_env(profile: str, *, expect_log: Path | None = None) -> dict[str, str]:
    """Return the environment for a maintainer's or CI kernel that runs at ``profile``.

    Such a kernel is strict (``REPS4LHC_STRICT=1``): a result outside a measured band raises. With
    ``expect_log`` every :func:`~reps4lhc_tutor.expect` call is appended to that JSON-lines file.
    """
    env = {**os.environ, PROFILE_ENV: check_profile(profile), STRICT_ENV: "1"}
    if expect_log is not None:
        env[EXPECT_LOG_ENV] = str(expect_log)
    else:
        env.pop(EXPECT_LOG_ENV, None)
    return env


def read_expectations(path: Path) -> list[dict[str, Any]]:
    """Return the records that :func:`~reps4lhc_tutor.expect` appended to the JSON-lines file ``path``."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


def expectation_summary(records: Sequence[dict[str, Any]]) -> str:
    """One line on a run's expectations: how many met their band, and which missed (targets only, since a
    missed measured band stops a strict run)."""
    if not records:
        return "no expectations checked"
    missed = [r for r in records if not r["ok"]]
    text = f"{len(records) - len(missed)} of {len(records)} expectations in their bands"
    if missed:
        text += "; missed: " + "; ".join(
            f"{r['name']} = {_number(r['value'])} ({r['kind']} [{_number(r['band'][0])}, "
            f"{_number(r['band'][1])}])"
            for r in missed
        )
    return text


def _number(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.4g}"


def _run_metadata(profile: str, wall_time_s: float, expectations: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    from . import __version__

    device = get_device()
    return {
        "profile": profile,
        "device": device.type,
        "device_name": device_name(device),
        "wall_time_s": round(wall_time_s, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "expectations": expectations,
    }


def _first_line(cell: NotebookNode) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()]
    return lines[0].strip()[:60] if lines else "(empty)"


def run_notebook(path: Path, profile: str, *, timeout: int | None = 1800) -> NotebookNode:
    """Execute a chapter notebook at ``profile`` and write its outputs and run metadata in place.

    The cells come from the ``.py`` of the pair (see :func:`load_notebook`); the kernel is ``python3`` of
    the current environment, started in the notebook's folder with ``REPS4LHC_PROFILE=profile`` and
    ``REPS4LHC_STRICT=1`` (a result outside a measured band fails the run). The ``.ipynb`` is replaced only
    after every cell succeeded.

    Parameters
    ----------
    path : Path
        Either file of the pair; the ``.ipynb`` is written.
    profile : str
        One of ``ci``, ``cpu``, ``gpu``.
    timeout : int or None
        Seconds one cell may run; None for no limit.

    Returns
    -------
    NotebookNode
        The executed notebook, with ``metadata["reps4lhc"]`` holding profile, device, device_name,
        wall_time_s, date (ISO, UTC), package_version, python, torch and expectations (every
        :func:`~reps4lhc_tutor.expect` call: name, value, band, kind, ok and the kinds of all bands).

    Raises
    ------
    UnknownProfileError
        If ``profile`` is not a profile.
    NotebookExecutionError
        If a cell fails, times out or kills the kernel; names the cell and leaves the file untouched.
    """
    check_profile(profile)
    target = Path(path).with_suffix(".ipynb")
    nb = copy.deepcopy(load_notebook(target))
    nb.metadata["kernelspec"] = dict(_KERNELSPEC)
    current: dict[str, int] = {}

    def remember(cell: NotebookNode, cell_index: int, **_: Any) -> None:
        current["index"] = cell_index

    client = execution_client(nb, target.parent, timeout=timeout, on_cell_execute=remember)
    log.info("running %s at profile %s", target.name, profile)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="reps4lhc-run-") as scratch:
        expect_log = Path(scratch) / "expectations.jsonl"
        _execute(client, nb, target, profile, current, expect_log)
        expectations = read_expectations(expect_log)
    nb.metadata[METADATA_KEY] = _run_metadata(profile, time.perf_counter() - start, expectations)
    write_notebook_atomic(nb, target)
    log.info(
        "wrote %s (%.1f s): %s",
        target.name,
        nb.metadata[METADATA_KEY]["wall_time_s"],
        expectation_summary(expectations),
    )
    return nb


def _execute(
    client: NotebookClient,
    nb: NotebookNode,
    target: Path,
    profile: str,
    current: dict[str, int],
    expect_log: Path,
) -> None:
    """Run every cell; turn nbclient's errors into a NotebookExecutionError that names the cell."""
    try:
        client.execute(env=kernel_env(profile, expect_log=expect_log))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        index = current.get("index")
        where = (
            f"cell {index + 1} of {len(nb.cells)} ({_first_line(nb.cells[index])!r})"
            if index is not None
            else "start-up"
        )
        if isinstance(err, CellExecutionError):
            what, trace = f"{err.ename}: {err.evalue}", _ANSI.sub("", err.traceback)
        else:
            what, trace = f"{type(err).__name__}: {err}", ""
        raise NotebookExecutionError(
            f"{target} failed at profile {profile} in {where}: {what}; the notebook file was not changed.",
            path=target,
            cell_index=index,
            traceback=trace,
        ) from err


# --- pairing ----------------------------------------------------------------------------------------------


def _cell_signature(cell: NotebookNode) -> tuple[str, str, list[str]]:
    return cell.cell_type, cell.source.rstrip(), sorted(cell_tags(cell))


def _first_difference(py_cells: list[NotebookNode], nb_cells: list[NotebookNode]) -> str | None:
    for index, (a, b) in enumerate(zip(py_cells, nb_cells, strict=False)):
        (type_a, source_a, tags_a), (type_b, source_b, tags_b) = _cell_signature(a), _cell_signature(b)
        if type_a != type_b:
            return f"cell {index + 1} is {type_a} in the .py but {type_b} in the .ipynb"
        if source_a != source_b:
            return f"cell {index + 1} ({_first_line(a)!r}) has different source"
        if tags_a != tags_b:
            return (
                f"cell {index + 1} ({_first_line(a)!r}) has tags {tags_a} in the .py, {tags_b} in the .ipynb"
            )
    if len(py_cells) != len(nb_cells):
        return f"the .py has {len(py_cells)} cells, the .ipynb {len(nb_cells)}"
    return None


def check_pairing(root: Path) -> list[str]:
    """Compare every chapter ``.py`` with its ``.ipynb``: cell types, sources and tags must be equal.

    Returns
    -------
    list of str
        One line per notebook that is out of step, naming the first difference and the fix; empty if
        every pair matches.
    """
    root = Path(root)
    problems = []
    for ipynb in list_notebooks(root):
        py, name = ipynb.with_suffix(".py"), f"{NOTEBOOK_DIR}/{ipynb.stem}"
        if not py.exists():
            problems.append(
                f"{name}.ipynb has no {py.name}; create it with `jupytext --set-formats ipynb,py:percent`."
            )
            continue
        if not ipynb.exists():
            problems.append(f"{name}.py has no {ipynb.name}; run `reps4lhc notebooks run {ipynb.stem}`.")
            continue
        difference = _first_difference(
            jupytext.read(py, fmt="py:percent").cells, nbformat.read(ipynb, as_version=4).cells
        )
        if difference is not None:
            problems.append(f"{name}: {difference}; run `jupytext --sync {name}.py` (the newer file wins).")
    return problems


# --- status page ------------------------------------------------------------------------------------------

_STATUS_INTRO = """\
# Notebook runs

<!-- Generated by `reps4lhc notebooks status` from the notebooks' metadata; do not edit by hand. -->

Every notebook runs at one of three sizes, chosen by the environment variable `REPS4LHC_PROFILE`:
`ci` is a tiny run that checks on two CPU cores that everything works, `cpu` gives meaningful results on a
laptop or Colab without a GPU, and `gpu` is the full size for a GPU. The book shows each notebook's committed
outputs, and they come from the run in the first table: its profile and device say what you are looking at.
"""

_BANDS_INTRO = """\
## Bands

Each headline result is checked against a band per profile (`tutor.expect`). A *measured* band was set
from a recorded run at that profile (the notebook names the run next to its bands); a *target* is a goal
that no run has confirmed yet. In your own session a result outside a band prints a warning and the notebook
goes on; in CI and in the maintainers' runs that commit outputs, a result outside a measured band fails. A
missed target never fails: it is listed here.
"""


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _format_date(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _last_run(ipynb: Path) -> dict[str, Any] | None:
    return nbformat.read(ipynb, as_version=4).metadata.get(METADATA_KEY) if ipynb.exists() else None


def _run_row(ipynb: Path, run: dict[str, Any] | None) -> list[str]:
    if run is None:
        return [f"`{ipynb.stem}`", "not run yet", "—", "—", "—", "—"]
    return [
        f"`{ipynb.stem}`",
        run["profile"],
        f"{run['device_name']} ({run['device']})",
        _format_duration(run["wall_time_s"]),
        _format_date(run["date"]),
        run["package_version"],
    ]


def _kind_counts(records: Sequence[dict[str, Any]], profile: str) -> str:
    kinds = [r["kinds"][profile] for r in records if profile in r["kinds"]]
    counts = [f"{kinds.count(kind)} {kind}" for kind in ("measured", "target") if kind in kinds]
    return ", ".join(counts) if counts else "—"


def _bands_row(ipynb: Path, run: dict[str, Any] | None) -> list[str]:
    records = run.get("expectations") if run is not None else None
    if records is None:
        unknown = "not recorded (run before band records; rerun with `reps4lhc notebooks run`)"
        return [f"`{ipynb.stem}`", *(["—"] * len(PROFILES)), unknown]
    missed = [f"{r['name']} ({r['kind']})" for r in records if not r["ok"]]
    shown = f"{len(records) - len(missed)} of {len(records)} in band at {run['profile']}"
    if missed:
        shown += "; missed: " + ", ".join(missed)
    return [f"`{ipynb.stem}`", *(_kind_counts(records, p) for p in PROFILES), shown]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| --- " * len(header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_status_page(root: Path) -> str:
    """Return the markdown of ``book/status.md``: per chapter notebook, the run behind its committed outputs
    and the kinds of its bands (measured or target) at each profile, with what the shown run missed."""
    notebooks = list_notebooks(Path(root))
    if not notebooks:
        return "\n".join([_STATUS_INTRO, "No chapter notebook exists yet."]) + "\n"
    runs = {p: _last_run(p) for p in notebooks}
    run_table = _table(
        ["notebook", "profile", "device", "wall time", "date", "package"],
        [_run_row(p, r) for p, r in runs.items()],
    )
    bands_table = _table(
        ["notebook", *(f"{p} bands" for p in PROFILES), "results of the shown run"],
        [_bands_row(p, r) for p, r in runs.items()],
    )
    return "\n".join([_STATUS_INTRO, *run_table, "", _BANDS_INTRO, *bands_table]) + "\n"


def write_status_page(root: Path, *, check: bool = False) -> bool:
    """Render ``book/status.md``; write it unless ``check``.

    Returns
    -------
    bool
        True if the page on disk was out of date (and, unless ``check``, has now been rewritten).
    """
    page = Path(root) / STATUS_PAGE
    text = render_status_page(root)
    stale = not page.exists() or page.read_text(encoding="utf-8") != text
    if stale and not check:
        page.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(page, text)
    return stale
