"""Jet datasets for classification and unfolding: :func:`load_top_tagging`, :func:`load_quark_gluon`,
:func:`load_zjets`, each returning a :class:`JetData`.

Every loader returns the same conventions, whatever the file layout of the source:

* ``constituents``: ``(jets, max_constituents, 4)`` float32 four-vectors (E, px, py, pz) in GeV, the leading
  particles by pT first, zero-padded (a padding row is all zeros).
* ``pid``: ``(jets, max_constituents)`` int32 PDG ids where the source has them (0 for padding), else None.
* ``labels``: ``(jets,)`` int64 class labels where the dataset has classes, else None.

Only ``source="official"`` (the public Zenodo records of :mod:`~reps4lhc_tutor.data.registry`, downloaded
and verified on first use) is available in this version; ``"shipped"``, ``"generated"`` and ``"auto"`` are
accepted names that raise a ValueError saying so.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray

from ..physics.lorentz import from_ptyphim
from .cache import CacheError
from .registry import ZJETS_GENERATORS, OfficialDataset, RemoteFile, fetch, official_dataset

__all__ = ["SOURCES", "ZJETS_OBSERVABLES", "JetData", "load_quark_gluon", "load_top_tagging", "load_zjets"]

SOURCES = ("shipped", "generated", "official", "auto")
"""Where a loader may take its data from (DESIGN.md, "Data"); only "official" exists in this version."""

ZJETS_OBSERVABLES = ("mults", "widths", "lhas", "ang2s", "tau2s", "sdms", "zgs")
"""Per-jet observables stored in the Z+jets files (prefixed by the level, e.g. ``gen_widths``)."""

# The Z+jets files store a PDG id as a small float: round(10 * value) indexes this table.
_ZJETS_PIDS = np.array([22, 211, -211, 130, 11, -11, 13, -13, 321, -321, 2212, -2212, 2112, -2112])


@dataclass
class JetData:
    """A jet dataset in the package conventions (module docstring)."""

    constituents: NDArray[np.float32]  # (jets, particles, 4): (E, px, py, pz) in GeV, zero-padded
    labels: NDArray[np.int64] | None  # (jets,) or None
    pid: NDArray[np.int32] | None  # (jets, particles) or None
    meta: dict[str, Any]  # dataset, DOI, reference, source, files, conventions, counts
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)  # other per-jet arrays, first axis jets

    def __len__(self) -> int:
        return len(self.constituents)


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}.")
    if source != "official":
        raise ValueError(
            f"source={source!r} is not available yet in this version of reps4lhc_tutor; use "
            "source='official' (downloads the public dataset from Zenodo)."
        )


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


def _too_few(n_events: int, found: int, what: str) -> ValueError:
    return ValueError(f"n_events={n_events} but {what} holds only {found} jets; ask for at most {found}.")


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
        "conventions": (
            "constituents (jets, particles, 4) float32 (E, px, py, pz) in GeV, leading pT first, zero-padded"
        ),
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
    split: str = "train",
    n_events: int | None = None,
    max_constituents: int = 200,
    source: str = "official",
    *,
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

    Parameters
    ----------
    split
        ``"train"``, ``"val"`` or ``"test"``.
    n_events
        Number of jets, the first ones of the file; None for the whole split.
    max_constituents
        Particles kept per jet, leading pT first; more than the file holds pads with zeros.
    source
        Only ``"official"`` in this version.
    progress
        Show download progress bars.

    Returns
    -------
    JetData
        ``constituents`` ``(jets, max_constituents, 4)``, ``labels`` ``(jets,)`` (1 top, 0 QCD), no ``pid``;
        ``extra["truth_p4"]`` ``(jets, 4)``: the matched top's (E, px, py, pz) (zeros for QCD).

    Raises
    ------
    ValueError
        Unknown split or source, a non-official source, bad counts, or ``n_events`` beyond the split.
    ~reps4lhc_tutor.data.download.DownloadError
        Offline or interrupted (the message names the alternatives).
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    dataset = official_dataset("top-tagging")
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}.")
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

    Parameters
    ----------
    n_events
        Number of jets, taken from the files in order; only the files needed are downloaded. None: all 2M.
    max_constituents
        Particles kept per jet, leading pT first; None keeps the widest jet of the files read.
    source
        Only ``"official"`` in this version.
    progress
        Show download progress bars.

    Returns
    -------
    JetData
        ``constituents`` ``(jets, particles, 4)``, ``labels`` ``(jets,)`` (1 quark, 0 gluon), ``pid``
        ``(jets, particles)``.

    Raises
    ------
    ValueError
        Unknown or non-official source, bad counts, or ``n_events`` above the 2M jets.
    ~reps4lhc_tutor.data.download.DownloadError, ~reps4lhc_tutor.data.download.ChecksumError
        Offline, interrupted, or a file with the wrong checksum (deleted).
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    dataset = official_dataset("quark-gluon")
    files = dataset.group("pythia")
    what = "the quark/gluon dataset"
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
    meta = _meta(dataset, used, n, masses="massless: E = pt cosh y, pz = pt sinh y", generator="Pythia 8.226")
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
    generator: str = "pythia26",
    level: str = "gen",
    n_events: int | None = 100_000,
    max_constituents: int | None = None,
    source: str = "official",
    *,
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

    Parameters
    ----------
    generator
        ``"herwig"``, ``"pythia21"``, ``"pythia25"`` or ``"pythia26"``.
    level
        ``"gen"`` (particle level) or ``"sim"`` (detector level).
    n_events
        Number of jets, in file order; only the files needed are downloaded. None: all files.
    max_constituents
        Particles kept per jet, leading pT first; None keeps the widest jet of the files read.
    source
        Only ``"official"`` in this version.
    progress
        Show download progress bars.

    Returns
    -------
    JetData
        ``constituents``, ``pid``, ``labels`` None (no classes); ``extra``: ``"jets"`` ``(jets, 4)``
        (pt, y, phi, m), every observable in the files (``"mults"``, ``"widths"``, ...) and at gen level
        ``"Zs"`` ``(jets, 3)``.
    """
    _check_source(source)
    _check_counts(n_events, max_constituents)
    if generator not in ZJETS_GENERATORS:
        raise ValueError(f"generator must be one of {', '.join(ZJETS_GENERATORS)}, got {generator!r}.")
    if level not in ("gen", "sim"):
        raise ValueError(f"level must be 'gen' (particle level) or 'sim' (detector level), got {level!r}.")
    dataset = official_dataset("zjets")
    files = dataset.group(generator)
    what = f"the Z+jets {generator!r} sample"
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
    meta = _meta(dataset, used, n, generator=generator, level=level, masses="massless")
    return JetData(constituents, None, pid, meta, extra)
