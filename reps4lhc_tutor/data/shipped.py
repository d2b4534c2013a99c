"""The small jet samples shipped in the repository's ``data/`` folder and their manifest ``data/MANIFEST``.

Each shipped file ``data/<name>.h5`` was written by :func:`~reps4lhc_tutor.data.pythia.generate` (the
command is in the manifest). ``data/MANIFEST`` is YAML: per dataset the file's sha256 and size, its jet
counts per label, a summary of the generator settings taken from the file's own HDF5 metadata, the exact
command that regenerates it and the date the file was recorded. ``reps4lhc data manifest`` writes it,
``reps4lhc data manifest --check`` compares it with the files, and :func:`shipped_path` verifies a file's
sha256 against it before any loader reads the file.

Where the folder is: ``reps4lhc_tutor/../data``, i.e. next to the package in a git checkout (including an
editable install, ``pip install -e .``), or the ``data/`` folder of a checkout that ``$REPS4LHC_SHIPPED``
points to. A package installed from git with plain ``pip install`` (as on Colab) does not carry ``data/``;
there :func:`shipped_path` fetches the manifest and the requested file from the repository's published
``data/`` folder (:data:`SHIPPED_URL`, or ``$REPS4LHC_SHIPPED_URL``) into ``<cache>/shipped/``, verifying the
file's sha256 against that manifest; :func:`shipped_dir` itself raises an error that names the alternatives.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .cache import atomic_write, cache_dir
from .detector import DetectorConfig
from .download import download, file_digest
from .pythia import DATASETS, read_generated

__all__ = [
    "MANIFEST",
    "SHIPPED_ENV",
    "SHIPPED_URL",
    "SHIPPED_URL_ENV",
    "ShippedDataError",
    "check_manifest",
    "manifest_entry",
    "read_manifest",
    "regeneration_command",
    "shipped_dir",
    "shipped_file",
    "shipped_path",
    "shipped_status",
    "write_manifest",
]

MANIFEST = "MANIFEST"
"""The manifest's file name inside the shipped-data folder."""

SHIPPED_ENV = "REPS4LHC_SHIPPED"
"""Environment variable naming the shipped-data folder, for installs without a repository checkout."""

_JOBS = 2
_DATED = "date"  # the one manifest field that describes the manifest, not the file: --check ignores it
_HEADER = """\
# The jet samples shipped in data/, written by `reps4lhc data manifest` from the files' own HDF5 metadata.
# Checked by `reps4lhc data manifest --check`, tests/test_shipped_data.py and, before every read, by
# reps4lhc_tutor.data.shipped.shipped_path. Regenerate a sample with its `command` (the jets are the same
# for the same seed; with another h5py or HDF5 version the compressed bytes, hence sha256, may differ), then
# run `reps4lhc data manifest` to record the new checksums.
"""


SHIPPED_URL = "https://raw.githubusercontent.com/reps4lhc/reps4lhc/main/data"
"""The repository's ``data/`` folder on its main branch (the branch Colab installs the package from), where
:func:`shipped_path` fetches a sample when the package was installed without the repository."""

SHIPPED_URL_ENV = "REPS4LHC_SHIPPED_URL"
"""Environment variable that replaces :data:`SHIPPED_URL` (a mirror, a fork, a test server)."""

_MANIFEST_TIMEOUT = 10.0  # seconds: the manifest is a few kB


class ShippedDataError(RuntimeError):
    """A shipped file does not match ``data/MANIFEST`` (changed, truncated, or not listed)."""


def _folder() -> Path:
    """``$REPS4LHC_SHIPPED`` if set, else ``data/`` next to the package (which may not exist)."""
    configured = os.environ.get(SHIPPED_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path(__file__).resolve().parents[2] / "data"


def shipped_dir() -> Path:
    """The shipped-data folder: ``$REPS4LHC_SHIPPED`` if set, else ``data/`` next to the package.

    Raises
    ------
    FileNotFoundError
        If the folder or its MANIFEST is missing (the package was installed without the repository); the
        message names the other sources.
    """
    folder = _folder()
    if not (folder / MANIFEST).is_file():
        configured = os.environ.get(SHIPPED_ENV, "").strip()
        where = f"${SHIPPED_ENV}={configured}" if configured else f"{folder} (next to the package)"
        raise FileNotFoundError(
            f"no shipped data: {where} holds no {MANIFEST}. Shipped samples come with a git checkout of the "
            f"repository (plain `pip install` from git, as on Colab, leaves them out). Use "
            f"source='generated' (Pythia 8 on this machine), 'official' (download) or 'auto', or point "
            f"${SHIPPED_ENV} at the data/ folder of a checkout."
        )
    return folder


def shipped_file(name: str) -> str:
    """The file name of shipped dataset ``name`` (``"<name>.h5"``); ValueError for an unknown name."""
    if name not in DATASETS:
        raise ValueError(f"no shipped jet dataset {name!r}; choose one of {', '.join(DATASETS)}.")
    return f"{name}.h5"


def regeneration_command(metadata: dict[str, Any]) -> str:
    """The shell command that remakes a shipped file from its metadata (the file must be removed first:
    ``generate`` keeps an existing file)."""
    name = metadata["dataset"]
    level = "" if metadata["level"] == DATASETS[name].default_level else f" --level {metadata['level']}"
    return (
        f"rm -f data/{name}.h5 && reps4lhc data generate {name} --n {metadata['n_jets']} --jobs {_JOBS} "
        f"--seed {metadata['seed']}{level} --out data/{name}.h5"
    )


def _summary(metadata: dict[str, Any]) -> dict[str, Any]:
    """The generator settings worth reading: beam and process settings per label (the printing and seeding
    lines left out), selection, level, detector and versions."""
    common = ("Print:", "Next:", "Random:")
    detector = metadata["detector"]
    defaults = json.loads(json.dumps(vars(DetectorConfig())))  # as the file stores them: tuples become lists
    return {
        "generator": metadata["generator"],
        "clustering": metadata["clustering"],
        "level": metadata["level"],
        "detector": "DetectorConfig() defaults" if detector == defaults else detector,
        "seed": metadata["seed"],
        "selection": {key: value for key, value in metadata["selection"].items() if value is not None},
        "process_settings": {
            label: [line for line in lines if not line.startswith(common)]
            for label, lines in metadata["settings"].items()
        },
        "generator_version": metadata["generator_version"],
        "detector_version": metadata.get("detector_version"),
        "package_version": metadata["package_version"],
    }


def manifest_entry(path: Path) -> dict[str, Any]:
    """The manifest entry of a generated jet file, from its bytes and its HDF5 metadata (no date).

    Raises
    ------
    OSError
        If ``path`` is not a readable generated jet file.
    """
    arrays, metadata = read_generated(path)
    values, counts = np.unique(arrays["labels"], return_counts=True)
    names = metadata["labels"]
    return {
        "file": Path(path).name,
        "sha256": file_digest(Path(path)),
        "size_bytes": Path(path).stat().st_size,
        f"n_{DATASETS[metadata['dataset']].unit}": int(counts.sum()),
        "counts": {names[str(int(value))]: int(count) for value, count in zip(values, counts, strict=True)},
        "settings": _summary(metadata),
        "command": regeneration_command(metadata),
    }


def read_manifest(folder: Path | None = None) -> dict[str, dict[str, Any]]:
    """The manifest of ``folder`` (default :func:`shipped_dir`): dataset name -> entry.

    Raises
    ------
    FileNotFoundError
        If there is no manifest (see :func:`shipped_dir`).
    ShippedDataError
        If it is not a YAML mapping of entries; regenerate it with ``reps4lhc data manifest``.
    """
    path = (shipped_dir() if folder is None else Path(folder)) / MANIFEST
    rewrite = "rewrite it with `reps4lhc data manifest`."
    try:
        entries = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ShippedDataError(f"{path} is not valid YAML ({err}); {rewrite}") from err
    if not isinstance(entries, dict) or not all(isinstance(entry, dict) for entry in entries.values()):
        raise ShippedDataError(f"{path} is not a mapping of entries; {rewrite}")
    return entries


def write_manifest(folder: Path | None = None) -> Path:
    """Write ``MANIFEST`` for every shipped ``<name>.h5`` in ``folder`` (default: ``$REPS4LHC_SHIPPED`` or
    ``data/`` next to the package, which need not have a manifest yet) and return its path.

    Raises
    ------
    FileNotFoundError
        If the folder holds none of the shipped files.
    """
    folder = _folder() if folder is None else Path(folder)
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    try:  # an unchanged file keeps the date it was first recorded on
        old = read_manifest(folder) if (folder / MANIFEST).is_file() else {}
    except ShippedDataError:
        old = {}
    entries = {}
    for name in DATASETS:
        if (folder / shipped_file(name)).is_file():
            entry = manifest_entry(folder / shipped_file(name))
            same = old.get(name, {}).get("sha256") == entry["sha256"]
            entries[name] = {**entry, _DATED: old[name].get(_DATED, today) if same else today}
    if not entries:
        raise FileNotFoundError(f"{folder} holds none of {', '.join(map(shipped_file, DATASETS))}.")
    path = folder / MANIFEST
    path.write_text(_HEADER + yaml.safe_dump(entries, sort_keys=False, width=200))
    return path


def check_manifest(folder: Path | None = None) -> list[str]:
    """Compare the manifest with the shipped files; return the problems (empty when everything matches).

    Every field but the date is recomputed from the file and must be equal; a shipped file missing from the
    manifest, or a manifest entry without its file, is a problem too.
    """
    folder = shipped_dir() if folder is None else Path(folder)
    entries = read_manifest(folder)
    problems = []
    for name in DATASETS:
        path = folder / shipped_file(name)
        if name not in entries:
            if path.is_file():
                problems.append(f"{path.name} is not in {MANIFEST}; run `reps4lhc data manifest`.")
            continue
        if not path.is_file():
            problems.append(f"{path.name} is listed in {MANIFEST} but missing; {entries[name]['command']}")
            continue
        try:
            actual = manifest_entry(path)
        except OSError as err:
            problems.append(f"{path.name} cannot be read ({err}); {entries[name]['command']}")
            continue
        recorded = {key: value for key, value in entries[name].items() if key != _DATED}
        for key in sorted(set(actual) | set(recorded)):
            if actual.get(key) != recorded.get(key):
                problems.append(
                    f"{path.name}: {key} is {actual.get(key)!r} but {MANIFEST} says {recorded.get(key)!r}; "
                    "run `reps4lhc data manifest` if the new file is intended."
                )
    problems += [f"{MANIFEST} lists unknown dataset {name!r}" for name in entries if name not in DATASETS]
    return problems


def _base_url() -> str:
    return os.environ.get(SHIPPED_URL_ENV, "").strip().rstrip("/") or SHIPPED_URL


def _fetched(file: str, name: str, missing: FileNotFoundError, *, progress: bool) -> Path:
    """``file`` fetched from :func:`_base_url` into ``<cache>/shipped/`` and verified against the manifest
    published next to it; FileNotFoundError naming both failures if that is impossible."""
    folder = cache_dir() / "shipped"
    base = _base_url()
    manifest = folder / MANIFEST
    if not (folder / file).is_file() or not manifest.is_file():
        try:
            with urllib.request.urlopen(f"{base}/{MANIFEST}", timeout=_MANIFEST_TIMEOUT) as response:
                text = response.read()
        except (urllib.error.URLError, OSError) as err:
            raise FileNotFoundError(f"{missing} Fetching them from {base} failed too ({err}).") from err
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(manifest) as temporary:
            temporary.write_bytes(text)
    entry = read_manifest(folder).get(name)
    if entry is None:
        raise ShippedDataError(f"{base}/{MANIFEST} does not list {file}; the repository has no such sample.")
    return download(f"{base}/{file}", folder / file, f"sha256:{entry['sha256']}", progress=progress)


def shipped_path(name: str, *, progress: bool = True) -> Path:
    """The path of shipped dataset ``name`` after checking its size and sha256 against the manifest.

    Without a shipped-data folder (a package installed without the repository, as on Colab) the file is
    fetched from the repository (module docstring) into the cache, with a progress bar if ``progress``.

    Raises
    ------
    ValueError
        If ``name`` is not a jet dataset.
    FileNotFoundError
        If the file is missing from the shipped-data folder, or there is no such folder and the repository
        cannot be reached either (the message names the other sources).
    ShippedDataError
        If the file is not in the manifest, is truncated or its sha256 differs; the message gives the
        command that regenerates it.
    ~reps4lhc_tutor.data.download.DownloadError, ~reps4lhc_tutor.data.download.ChecksumError
        A fetch from the repository broke off (call again to resume) or delivered another file.
    """
    file = shipped_file(name)
    try:
        folder = shipped_dir()
    except FileNotFoundError as missing:
        if os.environ.get(SHIPPED_ENV, "").strip():
            raise  # an explicit folder that is wrong: say so, fetch nothing
        return _fetched(file, name, missing, progress=progress)
    path = folder / file
    entry = read_manifest(folder).get(name)
    if entry is None:
        raise ShippedDataError(f"{file} is not listed in {folder / MANIFEST}; run `reps4lhc data manifest`.")
    restore = f"restore it with `git checkout -- data/{file}` or regenerate it: {entry['command']}"
    if not path.is_file():
        raise FileNotFoundError(f"shipped file {path} is missing; {restore}")
    size = path.stat().st_size
    if size != entry["size_bytes"]:
        state = "truncated" if size < entry["size_bytes"] else "larger than recorded"
        raise ShippedDataError(
            f"shipped file {path} is {state} ({size} bytes, {MANIFEST} says {entry['size_bytes']}); {restore}"
        )
    if file_digest(path) != entry["sha256"]:
        raise ShippedDataError(f"shipped file {path} does not match its sha256 in {MANIFEST}; {restore}")
    return path


def shipped_status(name: str) -> str:
    """One phrase for ``reps4lhc data list``: size and whether the shipped file is present and verified."""
    try:
        path = shipped_path(name)
    except (FileNotFoundError, ShippedDataError) as err:
        return f"not available: {err}"
    return f"present, verified ({path.stat().st_size / 1e6:.1f} MB, {path})"
