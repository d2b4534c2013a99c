"""Jet datasets for classification and unfolding: :func:`load_top_tagging`, :func:`load_quark_gluon`,
:func:`load_zjets`, each returning a :class:`JetData`.

Every loader returns the same conventions, whatever the source and its file layout:

* ``constituents``: ``(jets, max_constituents, 4)`` float32 four-vectors (E, px, py, pz) in GeV, the leading
  particles by pT first, zero-padded (a padding row is all zeros).
* ``pid``: ``(jets, max_constituents)`` int32 PDG ids where the source has them (0 for padding), else None.
* ``labels``: ``(jets,)`` int64 class labels where the dataset has classes, else None.
* ``meta["source"]``: where the jets came from, with the provenance of the file(s).

Sources (``source=``, DESIGN.md "Data"):

* ``"shipped"``: the small samples in the repository's ``data/`` folder, verified against ``data/MANIFEST``
  before use (:mod:`~reps4lhc_tutor.data.shipped`); they need a checkout of the repository.
* ``"generated"``: a file made by :func:`~reps4lhc_tutor.data.pythia.generate` in the cache folder for the
  requested size and ``seed``. If it is not there and ``n_events`` is given, it is generated now (Pythia 8
  and FastJet on all cores, with a progress bar), after a printed message with the number of jets, the
  worker processes, the estimated wall time (:func:`~reps4lhc_tutor.data.pythia.estimated_seconds`;
  quark/gluon jets are the slowest), the file it writes and the ``reps4lhc data generate`` command that
  makes it ahead of time. With ``n_events=None`` the largest cached file of that seed is used.
* ``"official"``: the public Zenodo records of :mod:`~reps4lhc_tutor.data.registry`, downloaded and
  verified on first use.
* ``"auto"``: the first that applies of

  1. the shipped sample at the ``ci`` profile (``REPS4LHC_PROFILE=ci``);
  2. official, if its first file is cached or the server answers within :data:`REACHABLE_TIMEOUT` seconds;
  3. a cached generated file of the size the call needs (with ``n_events=None``: the largest);
  4. generated now, if ``n_events`` is given (so the size is known) and ``pythia8mc`` and ``fastjet`` can
     be imported (``pip install "reps4lhc_tutor[data]"``), as for ``"generated"``;
  5. the shipped sample.

  It prints its choice and why in one line. Where it ends on the shipped sample and that holds fewer jets
  than ``n_events``, it takes all it has and warns (:class:`SmallSampleWarning`) with the ways to get the
  full size; an explicit ``source="shipped"`` raises instead.

Splits: the official top-tagging files come as ``"train"``, ``"val"`` and ``"test"``. Everywhere else
``split`` takes the contiguous fractions :data:`SPLIT_FRACTIONS` of the jets (generated and shipped files
store their jets in random order) or, for the official quark/gluon and Z+jets records, of the files in
order; ``split=None`` takes everything. ``n_events`` then counts the jets of that split.
"""

from __future__ import annotations

import math
import os
import socket
import urllib.parse
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..config import active_profile
from ..physics.lorentz import from_ptyphim
from . import pythia, shipped
from .cache import CacheError, cache_dir, cached_files
from .registry import (
    OFFICIAL,
    ZJETS_GENERATORS,
    OfficialDataset,
    RemoteFile,
    fetch,
    local_path,
    official_dataset,
)

__all__ = [
    "REACHABLE_TIMEOUT",
    "SOURCES",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "ZJETS_OBSERVABLES",
    "JetData",
    "SmallSampleWarning",
    "load_quark_gluon",
    "load_top_tagging",
    "load_zjets",
    "zjets_observables",
]

SOURCES = ("shipped", "generated", "official", "auto")
"""Where a loader may take its data from (module docstring)."""

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
"""The share of the jets (or official files) in ``"train"``, ``"val"`` and ``"test"`` where the source has
no split of its own."""

REACHABLE_TIMEOUT = 3.0
"""Seconds ``source="auto"`` waits for the official server before it takes another source."""

ZJETS_OBSERVABLES = ("mults", "widths", "lhas", "ang2s", "tau2s", "sdms", "zgs")
"""Per-jet observables stored in the official Z+jets files (prefixed by the level, e.g. ``gen_widths``)."""

ZJETS_SAMPLES = {"simulation": "pythia26", "data": "herwig"}
"""The generic Z+jets sample names and the official generator each means (as in the OmniFold paper); in
generated and shipped files they are labels 0 and 1."""

# The Z+jets files store a PDG id as a small float: round(10 * value) indexes this table.
_ZJETS_PIDS = np.array([22, 211, -211, 130, 11, -11, 13, -13, 321, -321, 2212, -2212, 2112, -2112])
_CONVENTIONS = (
    "constituents (jets, particles, 4) float32 (E, px, py, pz) in GeV, leading pT first, zero-padded"
)


@dataclass
class JetData:
    """A jet dataset in the package conventions (module docstring)."""

    constituents: NDArray[np.float32]  # (jets, particles, 4): (E, px, py, pz) in GeV, zero-padded
    labels: NDArray[np.int64] | None  # (jets,) or None
    pid: NDArray[np.int32] | None  # (jets, particles) or None
    meta: dict[str, Any]  # dataset, source, provenance, conventions, counts
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)  # other per-jet arrays, first axis jets

    def __len__(self) -> int:
        return len(self.constituents)


class SmallSampleWarning(UserWarning):
    """``source="auto"`` fell back to the shipped sample, which holds fewer jets than were asked for."""


@dataclass(frozen=True)
class _Choice:
    """The source a loader reads, and why ``source="auto"`` took it (None for an explicit source)."""

    source: str
    reason: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Arguments, splits and the choice of source
# ---------------------------------------------------------------------------------------------------------


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}.")


def _check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be 'train', 'val', 'test' or None (everything), got {split!r}.")


def _split_range(n_total: int, split: str | None) -> slice:
    """The part of ``n_total`` jets (or files) that ``split`` takes: contiguous :data:`SPLIT_FRACTIONS`."""
    if split is None:
        return slice(0, n_total)
    edges = np.rint(np.cumsum((0.0, *SPLIT_FRACTIONS)) * n_total).astype(int)
    index = SPLITS.index(split)
    return slice(int(edges[index]), int(edges[index + 1]))


def _file_size_for(n_events: int | None, split: str | None, samples: int) -> int | None:
    """The smallest number of jets in a generated file whose ``split`` part holds ``n_events`` jets of each
    of ``samples`` equal samples (2 when a loader keeps one label of two); None for None."""
    if n_events is None:
        return None
    n_total = n_events
    if split is not None:
        n_total = math.ceil(n_events / SPLIT_FRACTIONS[SPLITS.index(split)])
        while _split_range(n_total, split).stop - _split_range(n_total, split).start < n_events:
            n_total += 1
    return samples * n_total


def _reachable(url: str, timeout: float = REACHABLE_TIMEOUT) -> bool:
    """Whether a TCP connection to the server of ``url`` opens within ``timeout`` seconds."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return True
    except OSError:  # offline, refused, unresolvable, timed out: all mean "not reachable now"
        return False


def _cached_generated(name: str, n_file: int | None, seed: int, level: str | None = None) -> Path | None:
    """The cached generated file of ``name`` with ``n_file`` records (None: the largest), ``seed`` and
    ``level`` (None: the dataset's default), if any."""
    if n_file is not None:
        path = pythia.generated_path(name, n_file, seed, level)
        return path if path.is_file() else None
    level = pythia.DATASETS[name].default_level if level is None else level
    found = {
        file.metadata["n_jets"]: file.path
        for file in cached_files()
        if file.path.suffix == ".h5"
        and file.metadata is not None
        and file.metadata.get("dataset") == name
        and "chunk" not in file.metadata
        and file.metadata.get("seed") == seed
        and file.metadata.get("level") == level
        and file.metadata.get("generator_version") == pythia.GENERATOR_VERSION
        and file.metadata.get("detector_version") == pythia.detector_version(level)
    }
    return found[max(found)] if found else None


def _generated_file(
    n_file: int | None, name: str, seed: int, *, progress: bool, level: str | None = None
) -> Path:
    """The generated file to read: cached, else made now when ``n_file`` says how large."""
    path = _cached_generated(name, n_file, seed, level)
    if path is not None:
        return path
    if n_file is None:
        raise FileNotFoundError(
            f"no generated {name} file with seed {seed} in {cache_dir()}; pass n_events to generate one "
            f"here, or run `reps4lhc data generate {name} --n N --seed {seed}`."
        )
    jobs = os.cpu_count() or 1
    missing = pythia.missing_generator()
    if missing is not None:
        raise ImportError(
            f"generating {n_file} {name} {pythia.DATASETS[name].unit} here needs Pythia 8 and FastJet "
            f"({missing} is missing): "
            f'pip install "reps4lhc_tutor[data]", or use source="shipped" or "official".',
            name=missing,
        )
    print(pythia.generation_notice(name, n_file, seed, jobs, level=level), flush=True)
    return pythia.generate(name, n_file, seed, jobs=jobs, level=level, progress=progress)


def _auto(
    name: str, first_official: RemoteFile | None, n_file: int | None, seed: int, level: str | None = None
) -> _Choice:
    """The source ``source="auto"`` takes, in the order of the module docstring, and why."""
    if active_profile() == "ci":
        return _Choice("shipped", "the ci profile uses shipped data only")
    unit = pythia.DATASETS[name].unit
    if first_official is None:
        no_official = "no official file holds this sample"
    else:
        local = local_path(official_dataset(name), first_official)
        if local.is_file():
            return _Choice("official", f"cached in {local.parent}")
        if _reachable(first_official.url):
            return _Choice("official", f"{urllib.parse.urlsplit(first_official.url).hostname} is reachable")
        no_official = "official server unreachable"
    if (path := _cached_generated(name, n_file, seed, level)) is not None:
        return _Choice("generated", f"{no_official}; cached {path.name}")
    if n_file is None:
        return _Choice(
            "shipped",
            f"{no_official}, no generated file in the cache, and without n_events the size to generate is "
            "unknown",
        )
    missing = pythia.missing_generator()
    if missing is None:
        return _Choice(
            "generated",
            f"{no_official} and no generated file of {n_file} {unit} in the cache; pythia8mc and fastjet "
            "are installed, so they are generated now",
        )
    return _Choice(
        "shipped",
        f"{no_official}, no generated file of {n_file} {unit} in the cache, and {missing} cannot be "
        "imported to generate one",
    )


def _choose(
    name: str,
    source: str,
    first_official: RemoteFile | None,
    n_file: int | None,
    seed: int,
    level: str | None = None,
) -> _Choice:
    """Resolve ``source="auto"`` (module docstring) and print the choice; other sources pass through.

    ``first_official`` is the first official file the call needs (None: the dataset has none), ``n_file``
    the size of the generated file it would read (None: any), ``level`` its level (None: the default).
    """
    if source != "auto":
        return _Choice(source)
    choice = _auto(name, first_official, n_file, seed, level)
    print(f"{name}: source='auto' -> {choice.source!r} ({choice.reason})", flush=True)
    return choice


# ---------------------------------------------------------------------------------------------------------
# Generated and shipped files
# ---------------------------------------------------------------------------------------------------------


def _local_file(
    name: str, source: str, n_file: int | None, seed: int, progress: bool, level: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """The verified shipped file or the generated file, with what ``meta`` should record about it."""
    if source == "shipped":
        path = shipped.shipped_path(name, progress=progress)
        entry = shipped.read_manifest(path.parent)[name]
        return path, {"file": str(path), "sha256": entry["sha256"], "command": entry["command"]}
    path = _generated_file(n_file, name, seed, progress=progress, level=level)
    return path, {"file": str(path)}


def _take(
    columns: dict[str, NDArray[Any]],
    split: str | None,
    n_events: int | None,
    what: str,
    shortfall: Callable[[int, int, str], None] | None = None,
    unit: str = "jets",
) -> tuple[dict[str, NDArray[Any]], int]:
    """The ``split`` part of every column (first axis: records, ``unit`` in messages), cut to the first
    ``n_events`` records.

    With fewer records than ``n_events`` it raises, or, if ``shortfall`` is given, calls
    ``shortfall(n_events, available, where)`` and takes them all.
    """
    n_total = len(next(iter(columns.values())))
    part = _split_range(n_total, split)
    available = part.stop - part.start
    if n_events is not None and n_events > available:
        where = (
            what
            if split is None
            else f"the {split!r} split ({SPLIT_FRACTIONS[SPLITS.index(split)]:g}) of {what}"
        )
        if shortfall is None:
            raise _too_few(n_events, available, where, unit)
        shortfall(n_events, available, where)
        n_events = available
    n = available if n_events is None else n_events
    return {key: value[part][:n] for key, value in columns.items()}, n


def _small_sample_warner(
    name: str, reason: str, n_file: int | None, seed: int
) -> Callable[[int, int, str], None]:
    """A ``shortfall`` for :func:`_take` that warns why ``source="auto"`` took the small shipped sample and
    how to get the full size."""

    unit = pythia.DATASETS[name].unit

    def warn(n_events: int, available: int, where: str) -> None:
        if active_profile() == "ci":
            fix = f"ask for at most {available} {unit} at the ci profile, or run at the cpu or gpu profile"
        else:
            command = f"reps4lhc data generate {name} --n {n_file} --seed {seed}"
            official = "run with network access (the official dataset), " if name in OFFICIAL else ""
            fix = (
                f'pip install "reps4lhc_tutor[data]" (the {unit} are then generated here), {official}or make '
                f"them ahead of time with `{command}` where Pythia 8 is installed and copy the cache folder"
            )
        message = (
            f"{name}: n_events={n_events} but {where} holds only {available} {unit}; "
            f"using those {available}. "
            f"source='auto' took the shipped sample because {reason}. Results will be noisier than the "
            f"bands the notebook quotes for the full size. To get {n_events} {unit}: {fix}."
        )
        warnings.warn(message, SmallSampleWarning, stacklevel=5)

    return warn


def _from_file(
    name: str,
    source: _Choice,
    split: str | None,
    n_events: int | None,
    max_constituents: int | None,
    seed: int,
    progress: bool,
    *,
    level: str | None = None,
    label: int | None = None,
) -> JetData:
    """A :class:`JetData` from a generated or shipped file (``source`` says which, and why, if auto).

    ``level`` (``"particle"`` or ``"detector"``) picks the prefixed columns of a two-level file (zjets) and
    ``label`` keeps the jets of one label only (zjets: 0 simulation, 1 data).
    """
    n_file = _file_size_for(n_events, split, 1 if label is None else 2)
    path, about = _local_file(name, source.source, n_file, seed, progress)
    arrays, metadata = pythia.read_generated(path)
    prefix = f"{level}/" if level is not None else ""
    columns = {
        key.removeprefix(prefix): value
        for key, value in arrays.items()
        if key.startswith(prefix) or key == "labels"
    }
    columns = {key.removeprefix("observables/"): value for key, value in columns.items()}
    if label is not None:
        keep = columns["labels"] == label
        columns = {key: value[keep] for key, value in columns.items()}
    what = f"the {source.source} {name} file {path.name}"
    if label is not None:
        what += f" ({metadata['labels'][str(label)]!r} jets)"
    shortfall = None
    if source.source == "shipped" and source.reason is not None:
        shortfall = _small_sample_warner(name, source.reason, n_file, seed)
    columns, n = _take(columns, split, n_events, what, shortfall)
    constituents, pid = _leading(columns.pop("constituents"), columns.pop("pid", None), max_constituents)
    labels = columns.pop("labels").astype(np.int64)
    extra = {"jet_p4": columns.pop("jets")} | columns  # observables and, at detector level, "found"
    meta = {
        "dataset": name,
        "source": source.source,
        **about,
        "generator": metadata["generator"],
        "clustering": metadata["clustering"],
        "level": metadata["level"] if level is None else level,
        "labels_meaning": metadata["labels"],
        "seed": metadata["seed"],
        "split": split,
        "split_fractions": SPLIT_FRACTIONS if split is not None else None,
        "n_jets": n,
        "max_constituents": constituents.shape[1],
        "conventions": _CONVENTIONS,
        "provenance": metadata,
    }
    return JetData(constituents, None if label is not None else labels, pid, meta, extra)


# ---------------------------------------------------------------------------------------------------------
# Official files
# ---------------------------------------------------------------------------------------------------------


def _check_counts(n_events: int | None, max_constituents: int | None) -> None:
    for name, value in (("n_events", n_events), ("max_constituents", max_constituents)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")


def _check_available(n_events: int | None, files: tuple[RemoteFile, ...], what: str) -> None:
    """Fail before any download when the registry already shows that ``n_events`` jets do not exist."""
    counts = [file.n_jets for file in files]
    if n_events is None or any(count is None for count in counts):
        return
    available = sum(count for count in counts if count is not None)
    if n_events > available:
        raise _too_few(n_events, available, what)


def _too_few(n_events: int, found: int, what: str, unit: str = "jets") -> ValueError:
    return ValueError(f"n_events={n_events} but {what} holds only {found} {unit}; ask for at most {found}.")


def _leading(
    p4: NDArray[np.floating], pid: NDArray[np.integer] | None, max_constituents: int | None
) -> tuple[NDArray[np.float32], NDArray[np.int32] | None]:
    """Sort the particles of each jet by decreasing pT and cut or zero-pad to ``max_constituents``.

    ``p4`` has shape ``(jets, particles, 4)``, ``pid`` ``(jets, particles)``; None keeps every column.
    """
    transverse = np.hypot(p4[..., 1], p4[..., 2])
    order = np.argsort(-transverse, axis=1, kind="stable")  # stable: padding keeps its place at the end
    width = p4.shape[1] if max_constituents is None else max_constituents
    order = order[:, :width]
    out = np.zeros((len(p4), width, 4), dtype=np.float32)
    out[:, : order.shape[1]] = np.take_along_axis(p4, order[..., None], axis=1)
    if pid is None:
        return out, None
    ids = np.zeros((len(p4), width), dtype=np.int32)
    ids[:, : order.shape[1]] = np.take_along_axis(pid, order, axis=1)
    return out, ids


def _meta(dataset: OfficialDataset, files: list[RemoteFile], n_jets: int, **more: Any) -> dict[str, Any]:
    return {
        "dataset": dataset.name,
        "title": dataset.title,
        "doi": dataset.doi,
        "reference": dataset.reference,
        "description": dataset.description,
        "source": "official",
        "files": [file.name for file in files],
        "n_jets": n_jets,
        "conventions": _CONVENTIONS,
        **more,
    }


def _gather(
    dataset: OfficialDataset,
    files: tuple[RemoteFile, ...],
    n_events: int | None,
    read: Callable[[Path], dict[str, NDArray[Any]]],
    *,
    progress: bool,
) -> tuple[dict[str, list[NDArray[Any]]], list[RemoteFile], int]:
    """Fetch and read ``files`` in order until ``n_events`` jets are in (all files when None)."""
    parts: dict[str, list[NDArray[Any]]] = {}
    used: list[RemoteFile] = []
    total = 0
    for file in files:
        if n_events is not None and total >= n_events:
            break
        arrays = read(fetch(dataset, file, progress=progress))
        for key, value in arrays.items():
            parts.setdefault(key, []).append(value)
        used.append(file)
        total += len(next(iter(arrays.values())))
    return parts, used, total


def _join(chunks: list[NDArray[Any]], n: int) -> NDArray[Any]:
    """Concatenate along the jets, zero-padding the particle axis to the widest chunk, and keep ``n`` jets."""
    if chunks[0].ndim >= 2:
        width = max(chunk.shape[1] for chunk in chunks)
        pad = [((0, 0), (0, width - c.shape[1])) + ((0, 0),) * (c.ndim - 2) for c in chunks]
        chunks = [np.pad(chunk, widths) for chunk, widths in zip(chunks, pad, strict=True)]
    return np.concatenate(chunks)[:n]


# ---------------------------------------------------------------------------------------------------------
# Top tagging
# ---------------------------------------------------------------------------------------------------------


def _pandas_fixed_blocks(group: h5py.Group) -> Iterator[tuple[list[str], h5py.Dataset]]:
    """The (column names, values) blocks of a DataFrame that pandas wrote in its "fixed" HDF5 format."""
    index = 0
    while f"block{index}_items" in group:
        names = [
            name.decode() if isinstance(name, bytes) else str(name) for name in group[f"block{index}_items"]
        ]
        yield names, group[f"block{index}_values"]
        index += 1


def _read_top_tagging(path: Path, n_rows: int | None) -> dict[str, NDArray[Any]]:
    """The constituents ``E_i, PX_i, PY_i, PZ_i``, label and truth top of the first ``n_rows`` jets."""
    try:
        with h5py.File(path, "r") as handle:
            if "table" not in handle or "block0_values" not in handle["table"]:
                raise KeyError("no pandas 'table' frame with block0_values")
            columns: dict[str, NDArray[Any]] = {}
            for names, values in _pandas_fixed_blocks(handle["table"]):
                block = values[:n_rows]  # (jets, columns of this block)
                columns.update({name: block[:, j] for j, name in enumerate(names)})
    except (OSError, KeyError) as err:
        raise CacheError(
            f"{path} is not a readable top-tagging file ({err}); delete it and load again to fetch it anew."
        ) from err
    n_particles = sum(1 for name in columns if name.startswith("E_"))
    needed = [f"{c}_{i}" for i in range(n_particles) for c in ("E", "PX", "PY", "PZ")] + ["is_signal_new"]
    missing = [name for name in needed if name not in columns]
    if n_particles == 0 or missing:
        raise CacheError(f"{path} lacks the top-tagging columns {missing[:4] or ['E_0']}; delete it.")
    p4 = np.stack([columns[name] for name in needed[:-1]], axis=-1).reshape(-1, n_particles, 4)
    arrays = {"p4": p4, "labels": columns["is_signal_new"].astype(np.int64)}
    if all(f"truth{c}" in columns for c in ("E", "PX", "PY", "PZ")):
        arrays["truth_p4"] = np.stack([columns[f"truth{c}"] for c in ("E", "PX", "PY", "PZ")], axis=-1)
    return arrays


def load_top_tagging(
    split: str | None = "train",
    n_events: int | None = None,
    max_constituents: int = 200,
    source: str = "official",
    *,
    seed: int = 0,
    progress: bool = True,
) -> JetData:
    """Top-quark jets against QCD jets: the top-tagging reference dataset (Kasieczka et al. 2019).

    Generator and cuts: pp at 14 TeV, Pythia 8 (default tune) for t tbar (signal) and QCD dijets
    (background), multiple interactions and pile-up off, Delphes with the ATLAS card. Anti-kT R = 0.8 jets
    with 550 < pT < 650 GeV and |eta| < 2; a top jet is matched to a hadronically decaying top whose three
    decay quarks lie within Delta R < 0.8 of the jet axis. Splits: 1.2M ``"train"``, 400k ``"val"``, 400k
    ``"test"`` jets, balanced. Zenodo record 10.5281/zenodo.2603256 (``train.h5``, ``val.h5``, ``test.h5``);
    cite G. Kasieczka, T. Plehn et al., SciPost Phys. 7 (2019) 014, arXiv:1902.09914.

    File layout: a pandas DataFrame under the key ``"table"`` in pandas' "fixed" HDF5 format (``axis0``: the
    column names, ``block0_values``: the values, one row per jet), read here with h5py alone. Columns
    ``E_0, PX_0, PY_0, PZ_0, ..., E_199, ..., PZ_199`` (the 200 leading constituents, zero-padded), the top's
    ``truthE, truthPX, truthPY, truthPZ``, ``ttv`` (the original split) and ``is_signal_new`` (1 top, 0 QCD).

    Generated and shipped samples (``source="generated"``, ``"shipped"``) mirror these settings with Pythia
    8.3 and FastJet and pass the particles through the simple detector model of
    :mod:`~reps4lhc_tutor.data.detector` instead of Delphes (:mod:`~reps4lhc_tutor.data.pythia`); the
    shipped file holds 10k jets, half top, half QCD, in random order.

    Parameters
    ----------
    split
        ``"train"``, ``"val"`` or ``"test"``: the official files, else the fractions :data:`SPLIT_FRACTIONS`
        of the generated or shipped file; None takes a whole generated or shipped file.
    n_events
        Number of jets, the first ones of the split; None for the whole split.
    max_constituents
        Particles kept per jet, leading pT first; more than the file holds pads with zeros.
    source
        ``"official"``, ``"shipped"``, ``"generated"`` or ``"auto"`` (module docstring). ``"generated"``
        and ``"auto"`` may generate the jets here, after a message with the estimated time; ``"auto"``
        ending on a shipped sample smaller than ``n_events`` takes it all with a :class:`SmallSampleWarning`.
    seed
        The seed of a generated file (``source="generated"`` or ``"auto"``).
    progress
        Show download or generation progress bars.

    Returns
    -------
    JetData
        ``constituents`` ``(jets, max_constituents, 4)``, ``labels`` ``(jets,)`` (1 top, 0 QCD), no ``pid``.
        Official: ``extra["truth_p4"]`` ``(jets, 4)``, the matched top's (E, px, py, pz) (zeros for QCD).
        Generated or shipped: ``extra["jet_p4"]`` ``(jets, 4)``, the jet's (E, px, py, pz).

    Raises
    ------
    ValueError
        Unknown split or source, bad counts, or ``n_events`` beyond the split (not for ``"auto"`` on the
        shipped sample: it warns).
    ImportError
        The jets have to be generated but pythia8mc or fastjet is missing (the message says how to install).
    FileNotFoundError, ~reps4lhc_tutor.data.shipped.ShippedDataError
        A missing shipped file or one that does not match ``data/MANIFEST`` (the message says how to
        restore it); a missing generated file with ``n_events=None``.
    ~reps4lhc_tutor.data.download.DownloadError
        Offline or interrupted (the message names the alternatives).
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    _check_split(split)
    dataset = official_dataset("top-tagging")
    first = dataset.group(split)[0] if split is not None else dataset.files[0]
    choice = _choose("top-tagging", source, first, _file_size_for(n_events, split, 1), seed)
    if choice.source != "official":
        return _from_file("top-tagging", choice, split, n_events, max_constituents, seed, progress)
    if split is None:
        raise ValueError("the official top-tagging dataset comes in splits: choose 'train', 'val' or 'test'.")
    files = dataset.group(split)
    what = f"the top-tagging {split!r} split"
    _check_available(n_events, files, what)
    parts, used, total = _gather(
        dataset,
        files,
        n_events,
        lambda path: _read_top_tagging(path, n_events),
        progress=progress,
    )
    if n_events is not None and total < n_events:
        raise _too_few(n_events, total, what)
    n = total if n_events is None else n_events
    constituents, _ = _leading(_join(parts["p4"], n), None, max_constituents)
    extra = {"truth_p4": _join(parts["truth_p4"], n)} if "truth_p4" in parts else {}
    meta = _meta(dataset, used, n, split=split, max_constituents=max_constituents)
    return JetData(constituents, _join(parts["labels"], n), None, meta, extra)


# ---------------------------------------------------------------------------------------------------------
# Quark and gluon jets
# ---------------------------------------------------------------------------------------------------------


def _read_npz(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, NDArray[Any]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise KeyError(f"missing arrays {missing}")
            return {key: archive[key] for key in keys + optional if key in archive.files}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise CacheError(f"{path} is not a readable dataset file ({err}); delete it and load again.") from err


def _massless(pt: NDArray[Any], y: NDArray[Any], phi: NDArray[Any]) -> NDArray[np.float64]:
    """(E, px, py, pz) of massless particles, shape ``(...,) -> (..., 4)``."""
    return from_ptyphim(np.stack([pt, y, phi, np.zeros_like(pt)], axis=-1).astype(np.float64))


def load_quark_gluon(
    n_events: int | None = 100_000,
    max_constituents: int | None = None,
    source: str = "official",
    *,
    split: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> JetData:
    """Quark against gluon jets: the EnergyFlow Pythia sample (Komiske, Metodiev & Thaler 2019).

    Generator and cuts: pp at 14 TeV, Pythia 8.226 with its default tune, hadronisation and multiple
    interactions on, no detector: q g -> Z(-> nu nu) q with light quarks (u, d, s) and q qbar -> Z(-> nu nu)
    g. Anti-kT R = 0.4 jets of all final-state particles but neutrinos (FastJet 3.3.0), 500 < pT < 550 GeV,
    |y| < 1.7. Layout: 20 ``.npz`` files of 100k jets (``QG_jets.npz``, ``QG_jets_1.npz`` ...
    ``QG_jets_19.npz``), each with ``X`` ``(jets, particles, 4)`` = (pt, y, phi, PDG id), zero-padded, and
    ``y`` (1 quark, 0 gluon), shuffled. No fixed split: 1.6M/200k/200k train/val/test is the usual choice.
    Zenodo 10.5281/zenodo.3164691; cite P. T. Komiske, E. M. Metodiev, J. Thaler, JHEP 01 (2019) 121,
    arXiv:1810.05165. Files are verified against the sha256 recorded by EnergyFlow.

    Four-vectors: every particle is taken as massless, E = pt cosh y, pz = pt sinh y, px = pt cos phi,
    py = pt sin phi. (The files store rapidity, not pseudorapidity; with the true hadron masses E and pz
    would be larger by a factor sqrt(1 + m^2/pt^2), under 1e-4 for a pion above 10 GeV.)

    Generated and shipped samples mirror these settings with Pythia 8.3 and FastJet
    (:mod:`~reps4lhc_tutor.data.pythia`; up to 150 constituents, with their true masses); the shipped file
    holds 8k jets, half quark, half gluon, in random order.

    Parameters
    ----------
    n_events
        Number of jets of the split; official: taken from the files in order, only the files needed are
        downloaded. None: all.
    max_constituents
        Particles kept per jet, leading pT first; None keeps the widest jet of the files read.
    source
        ``"official"``, ``"shipped"``, ``"generated"`` or ``"auto"`` (module docstring). ``"generated"``
        and ``"auto"`` may generate the jets here, after a message with the estimated time; ``"auto"``
        ending on a shipped sample smaller than ``n_events`` takes it all with a :class:`SmallSampleWarning`.
    split
        None (everything), ``"train"``, ``"val"`` or ``"test"``: the fractions :data:`SPLIT_FRACTIONS` of
        the jets, or of the 20 official files (16, 2 and 2, the usual 1.6M/200k/200k).
    seed
        The seed of a generated file (``source="generated"`` or ``"auto"``).
    progress
        Show download or generation progress bars.

    Returns
    -------
    JetData
        ``constituents`` ``(jets, particles, 4)``, ``labels`` ``(jets,)`` (1 quark, 0 gluon), ``pid``
        ``(jets, particles)``; generated or shipped: ``extra["jet_p4"]`` ``(jets, 4)``.

    Raises
    ------
    ValueError
        Unknown source or split, bad counts, or ``n_events`` above what the source holds (not for
        ``"auto"`` on the shipped sample: it warns).
    ImportError
        The jets have to be generated but pythia8mc or fastjet is missing (the message says how to install).
    FileNotFoundError, ~reps4lhc_tutor.data.shipped.ShippedDataError
        A missing or damaged shipped file, or no generated file with ``n_events=None``.
    ~reps4lhc_tutor.data.download.DownloadError, ~reps4lhc_tutor.data.download.ChecksumError
        Offline, interrupted, or a file with the wrong checksum (deleted).
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    _check_split(split)
    dataset = official_dataset("quark-gluon")
    every = dataset.group("pythia")
    files = every[_split_range(len(every), split)]
    choice = _choose("quark-gluon", source, files[0], _file_size_for(n_events, split, 1), seed)
    if choice.source != "official":
        return _from_file("quark-gluon", choice, split, n_events, max_constituents, seed, progress)
    what = "the quark/gluon dataset" + ("" if split is None else f" ({split!r} files)")
    _check_available(n_events, files, what)
    parts, used, total = _gather(
        dataset, files, n_events, lambda path: _read_npz(path, ("X", "y")), progress=progress
    )
    if n_events is not None and total < n_events:
        raise _too_few(n_events, total, what)
    n = total if n_events is None else n_events
    particles = _join(parts["X"], n)
    p4 = _massless(particles[..., 0], particles[..., 1], particles[..., 2])
    constituents, pid = _leading(p4, particles[..., 3].astype(np.int32), max_constituents)
    meta = _meta(
        dataset,
        used,
        n,
        masses="massless: E = pt cosh y, pz = pt sinh y",
        generator="Pythia 8.226",
        split=split,
    )
    return JetData(constituents, _join(parts["y"], n).astype(np.int64), pid, meta)


# ---------------------------------------------------------------------------------------------------------
# Z + jets for unfolding
# ---------------------------------------------------------------------------------------------------------


def _zjets_pids(code: NDArray[Any], path: Path) -> NDArray[np.int32]:
    index = np.rint(np.asarray(code) * 10).astype(np.int64)
    if index.min(initial=0) < 0 or index.max(initial=0) >= len(_ZJETS_PIDS):
        raise CacheError(f"{path} holds particle-id codes outside 0.0-1.3; delete it and load again.")
    return _ZJETS_PIDS[index].astype(np.int32)


def load_zjets(
    generator: str = "simulation",
    level: str = "gen",
    n_events: int | None = 100_000,
    max_constituents: int | None = None,
    source: str = "official",
    *,
    split: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> JetData:
    """Z + jet events for unfolding: the OmniFold dataset (Andreassen, Komiske, Metodiev, Nachman, Thaler).

    Generator and cuts: pp -> Z + jet at 14 TeV with a stable Z, pT_Z > 150 GeV at generation and > 200 GeV
    after; Herwig 7.1.5 (``"herwig"``) and Pythia 8.243 with the ATLAS A14 tune 21 (``"pythia21"``) and its
    variations 25 and 26 (``"pythia25"``, ``"pythia26"``); Delphes 3.4.2 with the CMS card. The hardest
    anti-kT R = 0.4 jet at particle level (``level="gen"``: all particles but neutrinos and the Z) and
    detector level (``level="sim"``: Delphes energy-flow objects). The paper unfolds Herwig as "data" with
    Pythia 26 as "simulation". Layout: 17 ``.npz`` files per generator (``Pythia26_Zjet_pTZ-200GeV_0.npz``
    ...), about 1.6M jets per generator, with ``{level}_particles`` ``(jets, particles, 4)`` =
    (pt/100, y - y_jet, phi - phi_jet, PID code), ``{level}_jets`` (pt, y, phi, m) and per-jet observables
    (:data:`ZJETS_OBSERVABLES`); ``gen_Zs`` (pt, y, phi) of the Z. Zenodo 10.5281/zenodo.3548091; cite
    A. Andreassen et al., Phys. Rev. Lett. 124 (2020) 182001, arXiv:1911.09107. Files are verified against
    the sha256 recorded by EnergyFlow.

    Four-vectors: constituents are translated back to absolute (pt, y, phi) with the jet axis and taken as
    massless (see :func:`load_quark_gluon`). PID codes become PDG ids (0.0 -> 22, 0.1 -> 211, 0.2 -> -211,
    0.3 -> 130, 0.4 -> 11, ..., 1.3 -> -2112); detector-level ECAL cells count as photons (22) and HCAL
    cells as K_L (130).

    Generated and shipped samples (:mod:`~reps4lhc_tutor.data.pythia`, ``zjets``): Z(-> nu nu) + jet from
    Pythia 8.3 at 14 TeV, the leading anti-kT R = 0.4 jet with pT > 200 GeV and |eta| < 2.5 at particle
    level and, in the same event, the leading jet after the detector model of
    :mod:`~reps4lhc_tutor.data.detector`. Label 0 ``"simulation"``: the Monash tune; label 1 ``"data"``: a
    smaller final-state shower coupling (``TimeShower:alphaSvalue = 0.100``), so its jets are narrower. Rows
    of the ``"gen"`` and ``"sim"`` levels of one file belong to the same events, in the same order (the
    pairing unfolding needs). The shipped file holds 6k events, 3k per sample.

    Parameters
    ----------
    generator
        ``"simulation"`` or ``"data"`` for every source (official: ``"pythia26"`` and ``"herwig"``, as in the
        OmniFold paper); official only: ``"herwig"``, ``"pythia21"``, ``"pythia25"``, ``"pythia26"``;
        generated or shipped only: ``"both"`` (both samples, with labels).
    level
        ``"gen"`` (particle level) or ``"sim"`` (detector level).
    n_events
        Number of jets, in file order; only the files needed are downloaded. None: all files.
    max_constituents
        Particles kept per jet, leading pT first; None keeps the widest jet of the files read.
    source
        ``"official"``, ``"shipped"``, ``"generated"`` or ``"auto"`` (module docstring). ``"generated"``
        and ``"auto"`` may generate the jets here, after a message with the estimated time; ``"auto"``
        ending on a shipped sample smaller than ``n_events`` takes it all with a :class:`SmallSampleWarning`.
    split
        None (everything), ``"train"``, ``"val"`` or ``"test"``: the fractions :data:`SPLIT_FRACTIONS` of
        the jets of the sample, or of the 17 official files of the generator (14, 1 and 2).
    seed
        The seed of a generated file (``source="generated"`` or ``"auto"``).
    progress
        Show download or generation progress bars.

    Returns
    -------
    JetData
        Official: ``constituents``, ``pid``, ``labels`` None (one generator); ``extra``: ``"jets"``
        ``(jets, 4)`` (pt, y, phi, m), every observable in the files (``"mults"``, ``"widths"``, ...) and at
        gen level ``"Zs"`` ``(jets, 3)``. Generated or shipped: ``constituents``, ``pid``, ``labels`` (only
        with ``generator="both"``: 0 simulation, 1 data); ``extra``: ``"jet_p4"`` ``(jets, 4)`` (E, px, py,
        pz), the observables of :data:`~reps4lhc_tutor.data.pythia.SUBSTRUCTURE` (``"mass"``,
        ``"multiplicity"``, ``"width"``, ``"ptd"``, ``"tau21"``, ``"z_g"``; NaN where no detector-level jet
        was found) and at detector level ``"found"`` ``(jets,)`` bool.

    Raises
    ------
    ValueError
        Unknown generator, level, source or split, bad counts, or ``n_events`` above what the source holds
        (not for ``"auto"`` on the shipped sample: it warns).
    FileNotFoundError, ~reps4lhc_tutor.data.shipped.ShippedDataError
        A missing or damaged shipped file, or no generated file with ``n_events=None``.
    ImportError
        The jets have to be generated but pythia8mc or fastjet is missing (the message says how to install).
    ~reps4lhc_tutor.data.download.DownloadError, ~reps4lhc_tutor.data.download.ChecksumError
        Offline, interrupted, or a file with the wrong checksum (deleted).
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    _check_split(split)
    if level not in ("gen", "sim"):
        raise ValueError(f"level must be 'gen' (particle level) or 'sim' (detector level), got {level!r}.")
    dataset = official_dataset("zjets")
    official_name = ZJETS_SAMPLES.get(generator, generator)
    # "both" exists only in generated and shipped files (the official ones hold one generator each), so
    # source="auto" must not pick the official set for it
    first = (
        dataset.group(official_name)[0]
        if official_name in ZJETS_GENERATORS
        else None
        if generator == "both"
        else dataset.files[0]
    )
    samples = 1 if generator == "both" else 2
    choice = _choose("zjets", source, first, _file_size_for(n_events, split, samples), seed)
    if choice.source != "official":
        samples = ("simulation", "data", "both")
        if generator not in samples:
            raise ValueError(
                f"generated and shipped Z+jets samples are {', '.join(samples)}, got {generator!r}."
            )
        label = None if generator == "both" else ("simulation", "data").index(generator)
        level_name = "particle" if level == "gen" else "detector"
        return _from_file(
            "zjets", choice, split, n_events, max_constituents, seed, progress, level=level_name, label=label
        )
    generator = official_name
    if generator not in ZJETS_GENERATORS:
        choices = [*ZJETS_SAMPLES, *ZJETS_GENERATORS]
        raise ValueError(f"generator must be one of {', '.join(choices)}, got {generator!r}.")
    every = dataset.group(generator)
    files = every[_split_range(len(every), split)]
    what = f"the Z+jets {generator!r} sample" + ("" if split is None else f" ({split!r} files)")
    _check_available(n_events, files, what)
    optional = tuple(f"{level}_{name}" for name in ZJETS_OBSERVABLES) + (
        ("gen_Zs",) if level == "gen" else ()
    )

    def read(path: Path) -> dict[str, NDArray[Any]]:
        arrays = _read_npz(path, (f"{level}_particles", f"{level}_jets"), optional)
        arrays["pid"] = _zjets_pids(arrays[f"{level}_particles"][..., 3], path)
        return arrays

    parts, used, total = _gather(dataset, files, n_events, read, progress=progress)
    if n_events is not None and total < n_events:
        raise _too_few(n_events, total, what)
    n = total if n_events is None else n_events
    particles, jets = _join(parts.pop(f"{level}_particles"), n), _join(parts.pop(f"{level}_jets"), n)
    real = particles[..., 0] > 0  # padding rows: pt = 0
    pt = 100.0 * particles[..., 0]
    y = np.where(real, particles[..., 1] + jets[:, None, 1], 0.0)
    phi = np.where(real, particles[..., 2] + jets[:, None, 2], 0.0)
    pid = np.where(real, _join(parts.pop("pid"), n), 0)
    constituents, pid = _leading(_massless(pt, y, phi), pid, max_constituents)
    extra = {"jets": jets} | {key.split("_", 1)[1]: _join(chunks, n) for key, chunks in parts.items()}
    meta = _meta(dataset, used, n, generator=generator, level=level, masses="massless", split=split)
    return JetData(constituents, None, pid, meta, extra)


def zjets_observables(data: JetData, chunk: int = 5_000, progress: bool = True) -> NDArray[np.float64]:
    """The observables of :data:`~reps4lhc_tutor.data.pythia.SUBSTRUCTURE` of Z+jets jets from any source.

    Generated and shipped files store them (computed at generation from the same constituents); for the
    official files they are computed here from the constituents with the same definitions
    (:func:`~reps4lhc_tutor.data.pythia.substructure`, about 1 ms per jet), so that every source gives
    like-for-like observables. The official files' own per-jet observables (``data.extra``) follow
    EnergyFlow's definitions and are not used. Load official jets with ``max_constituents=None``: a cut
    list of constituents changes the multiplicity and everything soft.

    Parameters
    ----------
    data
        From :func:`load_zjets`, at either level.
    chunk, progress
        Jets per step of the computation for official data, and a progress bar over the steps.

    Returns
    -------
    ndarray, shape (jets, 6)
        Mass (GeV), multiplicity, width, p_T D, tau_21 and z_g, in the order of ``SUBSTRUCTURE``; NaN for an
        event without a detector-level jet.
    """
    if data.meta.get("dataset") != "zjets":
        raise ValueError(
            f"zjets_observables needs Z+jets jets from load_zjets, got {data.meta.get('dataset')!r}."
        )
    if all(name in data.extra for name in pythia.SUBSTRUCTURE):
        return np.stack([np.asarray(data.extra[name], np.float64) for name in pythia.SUBSTRUCTURE], axis=1)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive number of jets, got {chunk!r}.")
    steps = range(0, len(data), chunk)
    parts = [
        pythia.substructure(data.constituents[start : start + chunk])
        for start in tqdm(steps, desc="jet observables", unit="chunk", disable=not progress)
    ]
    return np.stack([np.concatenate([part[name] for part in parts]) for name in pythia.SUBSTRUCTURE], axis=1)
