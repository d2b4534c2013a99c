#!/usr/bin/env python3
"""Check the student's path: chapter notebooks in a Colab-like venv without pythia8mc, on official data.

Colab has PyTorch preinstalled and gets this package from the notebooks' ``colab-install`` cell
(``pip install "reps4lhc_tutor[colab] @ git+..."``), which brings no event generator. No machine here reaches
the official datasets, so this check serves files in their official layouts, made from the Pythia jets in the
user's cache, from a loopback HTTP server, and points the kernels' dataset registry at it. Steps:

1. venv: create ``--venv`` (or reuse it with ``--reuse``) with the CPU torch wheel first, then this checkout
   installed as the colab-install cell installs it (non-editable, ``[colab]`` extra, torch pinned), plus
   nbclient and ipykernel; check that ``pythia8`` (and fastjet, unless the colab extra has it) is absent.
2. files: write the official top-tagging (pandas "fixed" HDF5) and quark/gluon (``.npz``) files from the
   generated seed-0 jets that the cpu profile reads (``reps4lhc data generate ... --seed 0``).
3. server: serve them and the repository's ``data/`` folder (where an installed package fetches shipped
   samples, ``$REPS4LHC_SHIPPED_URL``) on 127.0.0.1 and write an IPython startup file (in a temporary
   IPYTHONDIR) that swaps ``reps4lhc_tutor.data.registry.OFFICIAL`` entries for mirrors with the files'
   checksums and counts; a three-cell probe notebook checks that a kernel of the venv loads from it.
4. notebooks: run each notebook's cells (from ``notebooks/NN_*.py``) with nbclient in that venv's python3
   kernel at the cpu profile, with an empty data cache and without ``REPS4LHC_STRICT`` (a student's run: a
   missed band warns); the executed copies go to ``--out``, never into ``notebooks/``.

Run it with the project venv, which reads the generated jets:

    .venv/bin/python tools/colab_check.py                      # 04a to 05b, about 45 minutes on 2 cores
    .venv/bin/python tools/colab_check.py --reuse --notebooks 04b --out /tmp/colab-out

It exits non-zero when a cell fails or a loader did not take the expected source: the official one, or for a
dataset without one (the Z -> mu mu + jets of 05a and 05b) the shipped sample, since pythia8mc cannot be
installed there; a chapter that reads no data (10) must not call a loader at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VENV = Path(tempfile.gettempdir()) / "reps4lhc-colab"
DEFAULT_TORCH = "2.13.0"  # the CPU wheel on this machine's disk; Colab brings its own build
STAMP = ".reps4lhc-colab.json"  # marks a venv made by this tool; --reuse needs it
PROFILE = "cpu"
CELL_TIMEOUT_S = 3600  # a cell of a cpu-profile notebook takes minutes; this catches a hang
# The generated seed-0 files that the cpu profile reads (notebooks/04a_top_tagging.py: 80k/10k/10k of a
# 100k-jet file; notebooks/04b_cwola.py: 16k/2k/2k of a 20k-jet file). Their loader splits become the
# official files: top tagging train/val/test.h5; quark/gluon 20 equal files (the official split: 16/2/2).
GENERATED_JETS = {"top-tagging": 100_000, "quark-gluon": 20_000}
QUARK_GLUON_FILES = 20
# The chapters checked -> the official datasets each reads (none: e.g. zmumu, or the two zjets samples of one
# file, which only generated and shipped files hold; None: the chapter reads no data at all, as chapter 10,
# whose amplitudes are computed on the fly).
NEEDS: dict[str, tuple[str, ...] | None] = {
    "04a": ("top-tagging",),
    "04b": ("quark-gluon",),
    "05a": (),
    "05b": (),
    "06": (),
    "07": ("quark-gluon", "top-tagging"),
    "08": ("top-tagging", "quark-gluon"),
    "09": ("top-tagging",),
    "10": None,
}
# The source every loader of a chapter must take on Colab: official where the datasets have one; otherwise the
# shipped sample, since Colab cannot install pythia8mc to generate.
EXPECTED_SOURCE = {
    chapter: "none" if datasets is None else "official" if datasets else "shipped"
    for chapter, datasets in NEEDS.items()
}
TOP_TAGGING_WIDTH = 200  # constituents per jet in the official top-tagging files
SOURCE_LINE = re.compile(r"^(?P<dataset>[\w-]+): source='auto' -> '(?P<source>\w+)' \((?P<why>.*)\)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

STARTUP = '''"""Written by tools/colab_check.py: official datasets from this check's loopback server."""


def _reps4lhc_loopback() -> None:
    import json

    from reps4lhc_tutor.data import registry

    for name, mirror in json.loads({mirrors!r}).items():
        registry.OFFICIAL[name] = registry.OFFICIAL[name].with_base_url(
            mirror["url"], checksum=mirror["checksum"], n_jets=mirror["n_jets"]
        )


_reps4lhc_loopback()
del _reps4lhc_loopback
'''

PROBE_CELLS = (
    "import sys\nprint('kernel python:', sys.executable)",
    "import importlib.util\nprint('pythia8 importable:', importlib.util.find_spec('pythia8') is not None)",
    "from reps4lhc_tutor.data import load_top_tagging, registry\n"
    "probe = load_top_tagging('val', 100, source='auto', progress=False)\n"
    "print('probe:', probe.meta['source'], len(probe), registry.OFFICIAL['top-tagging'].files[0].url)",
)


class CheckError(RuntimeError):
    """A step of the check failed; the message says what to do."""


@dataclass
class Mirror:
    """The official-format files of one dataset, served under ``<server>/<name>/``."""

    name: str  # registry key, e.g. "top-tagging"
    files: dict[str, bytes]  # file name -> content
    n_jets: dict[str, int]  # file name -> jets in it

    def registry_patch(self, base_url: str) -> dict[str, Any]:
        """What the startup file passes to ``OfficialDataset.with_base_url`` for this dataset."""
        from official_files import sha256_checksum

        return {
            "url": f"{base_url}/{self.name}",
            "checksum": {name: sha256_checksum(content) for name, content in self.files.items()},
            "n_jets": self.n_jets,
        }


@dataclass
class NotebookResult:
    """What one notebook run showed."""

    stem: str
    expected_source: str  # "official", "shipped" or "none" (EXPECTED_SOURCE)
    returncode: int
    wall_s: float
    executed: Path
    source_lines: list[str] = field(default_factory=list)  # the loaders' choice of source and why
    summary_lines: list[str] = field(default_factory=list)  # the notebook's own "source: ..." lines
    warnings: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    expectations: str = ""
    error: str = ""

    @property
    def expected(self) -> bool:
        """Every loader line names the expected source, and there is at least one (none for a chapter that
        reads no data)."""
        if self.expected_source == "none":
            return not self.source_lines
        found = [SOURCE_LINE.match(line) for line in self.source_lines]
        return bool(found) and all(m is not None and m["source"] == self.expected_source for m in found)

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.error and self.expected


def step(text: str) -> None:
    """Print a progress line of the check."""
    print(f"[colab-check] {text}", flush=True)


# --- 1. the Colab-like venv -------------------------------------------------------------------------------


def run(command: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure raise CheckError with its output's tail."""
    done = subprocess.run(command, text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise CheckError(f"{what} failed (exit {done.returncode}): {' '.join(command)}\n{tail}")
    return done


def find_python(name: str) -> Path:
    """The interpreter ``name`` (a command or a path), or CheckError naming the fix."""
    found = shutil.which(name)
    if found is None:
        raise CheckError(f"no interpreter {name!r}; install it or pass --python PATH (Python >= 3.11).")
    return Path(found)


def colab_extra_requirements() -> set[str]:
    """Distribution names the ``[colab]`` extra pulls in, its nested extras of this package resolved."""
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names: set[str] = set()
    pending, seen = ["colab"], set()
    while pending:
        extra = pending.pop()
        seen.add(extra)
        for requirement in extras[extra]:
            name = re.split(r"[\s\[<>=!~;@]", requirement, maxsplit=1)[0].lower()
            if name == "reps4lhc_tutor" and "[" in requirement:
                inner = requirement.split("[", 1)[1].split("]", 1)[0]
                pending += [e.strip() for e in inner.split(",") if e.strip() not in seen]
            else:
                names.add(name)
    return names


def source_copy(target: Path) -> Path:
    """Copy the checkout's tracked and untracked, not ignored files to ``target`` (what a git install sees,
    uncommitted edits included), so that building the wheel leaves no ``build/`` in the checkout."""
    listing = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], "git ls-files", cwd=REPO
    )
    for name in filter(None, listing.stdout.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def create_venv(venv: Path, python: Path) -> None:
    """A fresh venv at ``venv``; an existing one is removed only if this tool made it."""
    if venv.exists():
        if not (venv / STAMP).is_file() and not (venv / "pyvenv.cfg").is_file():
            raise CheckError(f"{venv} exists and is not a venv; remove it or pass --venv elsewhere.")
        step(f"removing the old venv {venv} (pass --reuse to keep it)")
        shutil.rmtree(venv)
    step(f"creating {venv} with {python}")
    run([str(python), "-m", "venv", str(venv)], "creating the venv")


def pip_install(venv: Path, *requirements: str) -> None:
    """``pip install`` into ``venv``; the caller always names ``torch==<version>`` so pip keeps that build."""
    step(f"pip install {' '.join(requirements)}")
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements], "pip install")


def reusable(venv: Path, python_name: str, torch_version: str) -> bool:
    """Whether ``venv`` was made by this tool with the same interpreter and torch; says why not."""
    stamp = venv / STAMP
    if not stamp.is_file() or not (venv / "bin" / "python").is_file():
        step(f"cannot reuse {venv}: this tool did not make it (no {STAMP})")
        return False
    recorded = json.loads(stamp.read_text())
    if (recorded.get("interpreter"), recorded.get("torch")) != (python_name, torch_version):
        step(f"cannot reuse {venv}: made with {recorded.get('interpreter')}, torch {recorded.get('torch')}")
        return False
    return True


def prepare_venv(venv: Path, python_name: str, torch_version: str, reuse: bool) -> Path:
    """Create or reuse the Colab-like venv and install this checkout into it; returns its python."""
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    if reuse and reusable(venv, python_name, torch_version):
        step(f"reusing {venv} ({json.loads(stamp.read_text())['python']})")
    else:
        create_venv(venv, find_python(python_name))
        pip_install(venv, f"torch=={torch_version}")  # Colab's preinstalled torch
    with tempfile.TemporaryDirectory(prefix="reps4lhc-src-") as tmp:
        source = source_copy(Path(tmp))
        # the colab-install cell, from this checkout instead of git; torch named so pip keeps the CPU build
        pip_install(venv, f"{source}[colab]", f"torch=={torch_version}", "nbclient", "ipykernel")
    version = run([str(python), "--version"], "python --version").stdout.strip()
    stamp.write_text(json.dumps({"python": version, "interpreter": python_name, "torch": torch_version}))
    return python


VENV_REPORT = """
import importlib.metadata as md, importlib.util as iu, json, sys
import torch, reps4lhc_tutor
names = [d.metadata["Name"] for d in md.distributions()]
print(json.dumps({
    "python": sys.version.split()[0],
    "base": getattr(sys, "_base_executable", sys.executable),
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "package": reps4lhc_tutor.__file__,
    "importable": {m: iu.find_spec(m) is not None for m in ("pythia8", "fastjet", "nbclient", "ipykernel")},
    "nvidia": sorted(name for name in names if name.lower().startswith("nvidia")),
}))
"""


def check_venv(python: Path, venv: Path, torch_version: str) -> dict[str, Any]:
    """Fail loudly unless the venv looks like Colab's: the CPU torch asked for, the package installed (not
    from the checkout), pythia8mc absent, fastjet absent unless the colab extra brings it, no CUDA wheels."""
    report = json.loads(run([str(python), "-c", VENV_REPORT], "inspecting the venv", cwd=venv).stdout)
    extra = colab_extra_requirements()
    problems = []
    if "pythia8mc" in extra:
        problems.append("the [colab] extra requires pythia8mc, which has no wheel for Colab's Python")
    if report["importable"]["pythia8"]:
        problems.append("`import pythia8` works; pythia8mc must not be installed (who pulls it in?)")
    if report["importable"]["fastjet"] and "fastjet" not in extra:
        problems.append("fastjet is importable though the [colab] extra does not require it")
    if not all(report["importable"][m] for m in ("nbclient", "ipykernel")):
        problems.append("nbclient or ipykernel is missing")
    if report["torch"].split("+")[0] != torch_version or report["cuda"] is not None or report["nvidia"]:
        problems.append(f"torch {report['torch']} (CUDA {report['cuda']}, {report['nvidia']}), not CPU torch")
    if not Path(report["package"]).resolve().is_relative_to(venv.resolve()):
        problems.append(f"reps4lhc_tutor is imported from {report['package']}, not from the venv")
    if problems:
        raise CheckError(f"{venv} is not Colab-like: " + "; ".join(problems) + ". Rerun without --reuse.")
    fastjet = "present" if report["importable"]["fastjet"] else "absent"
    step(
        f"venv ok: Python {report['python']} from {report['base']} (Colab has 3.12), "
        f"torch {report['torch']}, pythia8 absent, fastjet {fastjet}"
    )
    return report


# --- 2. official-format files -----------------------------------------------------------------------------


def require_generated(name: str, n_jets: int, seed: int) -> None:
    """CheckError naming the generate command unless the generated file is cached (no generation here)."""
    from reps4lhc_tutor.data import pythia

    path = pythia.generated_path(name, n_jets, seed)
    if not path.is_file():
        raise CheckError(
            f"no generated {name} file of {n_jets} jets with seed {seed} ({path}); make it first with "
            f"`reps4lhc data generate {name} --n {n_jets} --seed {seed}` (or wait for a running one)."
        )


def top_tagging_mirror(n_jets: int, seed: int) -> Mirror:
    """train/val/test.h5 from the loader's splits of the generated file, 200 constituents per jet."""
    from official_files import top_tagging_file

    from reps4lhc_tutor.data import load_top_tagging
    from reps4lhc_tutor.data.jets import SPLITS, _split_range  # the loader's own split rule

    require_generated("top-tagging", n_jets, seed)
    files, counts = {}, {}
    for split in SPLITS:
        part = _split_range(n_jets, split)
        data = load_top_tagging(
            split, part.stop - part.start, TOP_TAGGING_WIDTH, "generated", seed=seed, progress=False
        )
        files[f"{split}.h5"] = top_tagging_file(data.constituents, data.labels)  # no truth top: not stored
        counts[f"{split}.h5"] = len(data)
    return Mirror("top-tagging", files, counts)


def quark_gluon_mirror(n_jets: int, seed: int) -> Mirror:
    """The 20 quark/gluon files, equal slices of the generated file in order, so that the official split by
    files (16/2/2) takes the same jets as the generated file's 80/10/10 split."""
    from official_files import quark_gluon_file, quark_gluon_name

    from reps4lhc_tutor.data import load_quark_gluon

    if n_jets % QUARK_GLUON_FILES:
        raise CheckError(f"--quark-gluon-jets must be a multiple of {QUARK_GLUON_FILES}, got {n_jets}.")
    require_generated("quark-gluon", n_jets, seed)
    data = load_quark_gluon(n_jets, None, "generated", seed=seed, progress=False)
    per_file = n_jets // QUARK_GLUON_FILES
    files, counts = {}, {}
    for index in range(QUARK_GLUON_FILES):
        rows = slice(index * per_file, (index + 1) * per_file)
        name = quark_gluon_name(index)
        files[name] = quark_gluon_file(data.constituents[rows], data.pid[rows], data.labels[rows])
        counts[name] = per_file
    return Mirror("quark-gluon", files, counts)


def make_mirrors(datasets: set[str], seed: int, sizes: dict[str, int]) -> list[Mirror]:
    """The official-format files of ``datasets``, with their sizes printed."""
    makers = {"top-tagging": top_tagging_mirror, "quark-gluon": quark_gluon_mirror}
    mirrors = []
    for name in sorted(datasets):
        step(f"writing official-format {name} files from the generated {sizes[name]}-jet seed-{seed} file")
        mirror = makers[name](sizes[name], seed)
        megabytes = sum(map(len, mirror.files.values())) / 1e6
        step(f"  {len(mirror.files)} files, {sum(mirror.n_jets.values())} jets, {megabytes:.0f} MB")
        mirrors.append(mirror)
    return mirrors


# --- 3. server and kernel environment ---------------------------------------------------------------------


@contextmanager
def serving(mirrors: list[Mirror]) -> Iterator[str]:
    """Serve every mirror's files at ``<url>/<dataset>/<file>`` while the block runs; yields ``<url>``."""
    from http_loopback import Loopback, serve

    files = {f"{m.name}/{name}": content for m in mirrors for name, content in m.files.items()}
    # The repository's data/ folder, which an installed package fetches shipped samples from (Colab).
    from reps4lhc_tutor.data import shipped

    published = [
        shipped.MANIFEST,
        *(entry["file"] for entry in shipped.read_manifest(REPO / "data").values()),
    ]
    files |= {f"data/{name}": (REPO / "data" / name).read_bytes() for name in published}
    with serve(Loopback(files=files)) as state:
        step(f"serving {len(files)} files at {state.url}")
        yield state.url


def write_startup(ipython_dir: Path, url: str, mirrors: list[Mirror]) -> Path:
    """The IPython startup file that points the kernel's registry at the loopback mirrors."""
    patches = {m.name: m.registry_patch(url) for m in mirrors}
    path = ipython_dir / "profile_default" / "startup" / "00-loopback.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTUP.format(mirrors=json.dumps(patches)))
    return path


def kernel_env(venv: Path, scratch: Path, cache: Path, expect_log: Path | None, url: str) -> dict[str, str]:
    """A student's kernel: cpu profile, empty data cache, not strict, shipped samples fetched from the
    loopback copy of the repository's ``data/`` (``<url>/data``); Jupyter and IPython settings only from
    ``scratch`` (the startup patch), so no kernelspec or config of the user's interferes."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REPS4LHC_", "JUPYTER", "IPYTHON"))
        and key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env |= {
        "REPS4LHC_PROFILE": PROFILE,
        "REPS4LHC_DATA": str(cache),
        "REPS4LHC_SHIPPED_URL": f"{url}/data",
        "IPYTHONDIR": str(scratch / "ipython"),
        "JUPYTER_CONFIG_DIR": str(scratch / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(scratch / "jupyter-data"),
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if expect_log is not None:
        env["REPS4LHC_EXPECT_LOG"] = str(expect_log)
    return env


# --- 4. running notebooks ---------------------------------------------------------------------------------


def notebook_source(chapter: str) -> Path:
    """``notebooks/NN_topic.py`` of ``chapter`` (e.g. ``"04a"``); CheckError if there is not exactly one."""
    matches = sorted((REPO / "notebooks").glob(f"{chapter}_*.py"))
    if len(matches) != 1:
        raise CheckError(f"notebooks/{chapter}_*.py matches {len(matches)} files; expected exactly one.")
    return matches[0]


def write_input_notebook(cells: list[str] | Path, path: Path) -> Path:
    """Write the cells to run as ``path``: a notebook's ``.py`` (via jupytext) or a list of code cells."""
    import jupytext
    import nbformat

    if isinstance(cells, Path):
        nb = jupytext.read(cells, fmt="py:percent")
        nb.metadata.pop("jupytext", None)
    else:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(nb, path)
    return path


def execute(python: Path, notebook: Path, workdir: Path, env: dict[str, str], timeout: int) -> int:
    """Run ``notebook`` in place with nbclient in ``python``'s environment (so its python3 kernel is that
    interpreter); the per-cell progress streams through. Returns the runner's exit code."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(Path(__file__).resolve()), "--run-in-kernel", str(notebook)]
    command += ["--workdir", str(workdir), "--cell-timeout", str(timeout)]
    return subprocess.run(command, env=env, cwd=workdir).returncode


def run_in_kernel(notebook: Path, workdir: Path, timeout: int) -> int:
    """The runner inside the Colab-like venv: execute, write the outputs (also of a failing run), exit 1 on a
    cell error. Imports only what that venv has (nbformat, nbclient)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    start = time.monotonic()

    def progress(cell: Any, cell_index: int, **_: Any) -> None:
        first = next((line for line in cell.source.splitlines() if line.strip()), "")[:70]
        number = code.index(cell_index) + 1
        print(f"    cell {number}/{len(code)} at {time.monotonic() - start:6.0f} s: {first}", flush=True)

    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.on_cell_execute = progress
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        last = ANSI.sub("", str(err)).strip().splitlines()[-1:] or [""]
        if isinstance(err, CellTimeoutError):
            last = [f"a cell ran longer than --cell-timeout {timeout} s (a busy machine? a hang?)"]
        nb.metadata["colab_check"] = {"failure": f"{type(err).__name__}: {last[0]}"}
        print(f"    FAILED: {nb.metadata['colab_check']['failure']}", flush=True)
        return 1
    finally:
        nbformat.write(nb, notebook)
    return 0


def outputs_text(nb: Any, name: str) -> list[str]:
    """Every line of the ``name`` stream ("stdout" or "stderr") of the notebook's outputs."""
    lines = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == name:
                lines += ANSI.sub("", output["text"]).splitlines()
    return lines


def first_error(nb: Any) -> str:
    """The first error output: exception and the last lines of its traceback; empty if there is none."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                trace = [line for t in output.get("traceback", []) for line in ANSI.sub("", t).splitlines()]
                tail = "\n      ".join(line for line in trace[-8:] if line.strip())
                first = next((line for line in cell.source.splitlines() if line.strip()), "")
                return f"cell {index} ({first[:60]}): {output['ename']}: {output['evalue']}\n      {tail}"
    return ""


def summarize(stem: str, executed: Path, returncode: int, wall_s: float, expect_log: Path) -> NotebookResult:
    """Read the executed notebook and the expectation log into a :class:`NotebookResult`."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    stdout, stderr = outputs_text(nb, "stdout"), outputs_text(nb, "stderr")
    records = (
        [json.loads(line) for line in expect_log.read_text().splitlines()] if expect_log.exists() else []
    )
    missed = [r for r in records if not r["ok"]]
    return NotebookResult(
        stem=stem,
        expected_source=EXPECTED_SOURCE[stem.split("_")[0]],
        returncode=returncode,
        wall_s=wall_s,
        executed=executed,
        source_lines=[line for line in stdout if SOURCE_LINE.match(line) or "source='auto'" in line],
        summary_lines=[line for line in stdout if line.startswith("source: ")],
        warnings=[line.strip() for line in stderr if "ExpectationWarning" in line],
        missed=[line for line in stdout if line.startswith("expect ") and line.endswith("MISSED")],
        expectations=f"{len(records) - len(missed)} of {len(records)} expectations in their bands",
        error=" / ".join(filter(None, [nb.metadata.get("colab_check", {}).get("failure"), first_error(nb)])),
    )


def probe(python: Path, venv: Path, scratch: Path, url: str) -> None:
    """Three cells in a kernel of the venv: its interpreter, no pythia8, the top-tagging val file from the
    loopback server. CheckError if any of it is off."""
    import nbformat

    step("probe: a three-cell notebook loads 100 official top-tagging jets in a kernel of the venv")
    notebook = write_input_notebook(list(PROBE_CELLS), scratch / "probe.ipynb")
    env = kernel_env(venv, scratch, scratch / "probe-cache", None, url)
    returncode = execute(python, notebook, scratch / "probe-work", env, 300)
    stdout = outputs_text(nbformat.read(notebook, as_version=4), "stdout")
    text = "\n".join(stdout)
    expected = (f"kernel python: {venv}", "pythia8 importable: False", "probe: official 100")
    if returncode != 0 or not all(piece in text for piece in expected):
        error = first_error(nbformat.read(notebook, as_version=4))
        raise CheckError(f"the probe kernel is not as expected:\n{text}\n{error}\nsee {notebook}")
    for line in stdout:
        step(f"  {line}")


def run_notebook(
    python: Path, venv: Path, source: Path, out: Path, scratch: Path, timeout: int, url: str
) -> NotebookResult:
    """Run one chapter notebook as a student on Colab would, with its own empty data cache; ``url`` is the
    loopback server (official mirrors and the repository's ``data/``)."""
    stem = source.stem
    executed = write_input_notebook(source, out / f"{stem}.ipynb")
    expect_log = out / f"{stem}.expect.jsonl"
    expect_log.unlink(missing_ok=True)
    env = kernel_env(venv, scratch, scratch / f"cache-{stem}", expect_log, url)
    step(f"running {source.name} at the {PROFILE} profile -> {executed}")
    start = time.monotonic()
    returncode = execute(python, executed, scratch / f"work-{stem}", env, timeout)
    result = summarize(stem, executed, returncode, time.monotonic() - start, expect_log)
    step(f"{stem}: {'passed' if result.passed else 'FAILED'} in {result.wall_s:.0f} s")
    return result


def report(results: list[NotebookResult], python_version: str) -> None:
    """Print the per-notebook findings."""
    print(f"\n=== Colab check ({python_version}, profile {PROFILE}, official data from loopback) ===")
    for r in results:
        print(f"{r.stem}: {'PASS' if r.passed else 'FAIL'}, {r.wall_s / 60:.1f} min, {r.expectations}")
        print(f"  executed copy: {r.executed}")
        for line in r.source_lines or ["(no loader printed a source line)"]:
            print(f"  loader: {line}")
        for line in r.summary_lines:
            print(f"  notebook: {line}")
        if not r.expected:
            print(f"  WRONG SOURCE: every loader must take source={r.expected_source!r}")
        for line in r.missed:
            print(f"  missed: {line}")
        for line in r.warnings:
            print(f"  warning: {line}")
        if r.error:
            print(f"  error: {r.error}")


# --- command line -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run chapter notebooks in a Colab-like venv (no pythia8mc) at the cpu profile, with the "
        "official datasets served from a loopback server. Run it with the project venv's python.",
    )
    parser.add_argument(
        "--notebooks", nargs="+", choices=sorted(NEEDS), default=sorted(NEEDS), help="chapters (default: all)"
    )
    parser.add_argument("--out", type=Path, help="folder for the executed copies (default: a new temp dir)")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help=f"the venv (default: {DEFAULT_VENV})")
    parser.add_argument("--reuse", action="store_true", help="reuse --venv if this tool made it")
    parser.add_argument("--python", default="python3.11", help="interpreter for the venv (Colab: 3.12)")
    parser.add_argument("--torch", default=DEFAULT_TORCH, help="torch release preinstalled, as on Colab")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated files (default 0)")
    for name, n_jets in GENERATED_JETS.items():
        parser.add_argument(
            f"--{name}-jets", type=int, default=n_jets, help=f"size of the generated {name} file ({n_jets})"
        )
    parser.add_argument("--cell-timeout", type=int, default=CELL_TIMEOUT_S, help="seconds per cell")
    parser.add_argument("--venv-only", action="store_true", help="prepare and check the venv, run nothing")
    parser.add_argument("--run-in-kernel", type=Path, help=argparse.SUPPRESS)  # the runner inside the venv
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def check_project_env() -> None:
    """CheckError unless this runs where the package and the test helpers import (the project venv)."""
    try:
        import jupytext  # noqa: F401

        import reps4lhc_tutor  # noqa: F401
    except ImportError as err:
        raise CheckError(
            f"{err}; run this with the project venv: .venv/bin/python tools/colab_check.py"
        ) from err
    sys.path.insert(0, str(REPO / "tests"))  # http_loopback, official_files


def check(args: argparse.Namespace) -> int:
    """All four steps; returns the exit code."""
    check_project_env()
    sources = [notebook_source(name) for name in args.notebooks]
    python = prepare_venv(args.venv, args.python, args.torch, args.reuse)
    venv_report = check_venv(python, args.venv, args.torch)
    if args.venv_only:
        return 0
    # the probe reads top-tagging
    datasets = {dataset for name in args.notebooks for dataset in NEEDS[name] or ()} | {"top-tagging"}
    sizes = {"top-tagging": args.top_tagging_jets, "quark-gluon": args.quark_gluon_jets}
    mirrors = make_mirrors(datasets, args.seed, sizes)
    out = args.out or Path(tempfile.mkdtemp(prefix="reps4lhc-colab-out-"))
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve().is_relative_to((REPO / "notebooks").resolve()):
        raise CheckError(
            f"--out {out} lies in notebooks/; choose a folder outside the repository's notebooks."
        )
    results = []
    with tempfile.TemporaryDirectory(prefix="reps4lhc-colab-") as tmp, serving(mirrors) as url:
        scratch = Path(tmp)
        step(f"startup patch: {write_startup(scratch / 'ipython', url, mirrors)}")
        probe(python, args.venv, scratch, url)
        for source in sources:
            results.append(run_notebook(python, args.venv, source, out, scratch, args.cell_timeout, url))
    report(results, f"Python {venv_report['python']}, torch {venv_report['torch']}")
    return 0 if all(r.passed for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run_in_kernel is not None:
        return run_in_kernel(args.run_in_kernel, args.workdir or Path.cwd(), args.cell_timeout)
    try:
        return check(args)
    except CheckError as err:
        print(f"[colab-check] error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
