"""Jet datasets made with Pythia 8 and FastJet: top tagging, quark/gluon and Z+jet at two levels.

:func:`generate` runs Pythia 8 (``pythia8mc``) at 14 TeV, clusters the stable visible particles with FastJet
(anti-kT), optionally passes them through :mod:`~reps4lhc_tutor.data.detector` first, and writes an HDF5 file
with the jets and the metadata needed to remake it. The settings mirror the public reference datasets:

* ``top-tagging`` (label 1: hadronic t tbar, label 0: QCD dijets), as in Kasieczka et al., SciPost Phys. 7
  (2019) 014: MPI off, anti-kT R = 0.8, 550 < pT < 650 GeV, |eta| < 2; a top jet must contain the b quark and
  the two W-decay quarks of one top within Delta R < 0.8 of its axis. The two leading jets of an event are
  candidates. Detector level by default.
* ``quark-gluon`` (label 1: q g -> Z q with q = u, d, s; label 0: q qbar -> Z g; Z -> nu nu), as in Komiske,
  Metodiev & Thaler, JHEP 01 (2019) 121: MPI and hadronisation on, anti-kT R = 0.4, leading jet with
  500 < pT < 550 GeV and |y| < 1.7, particle level, with each constituent's PDG id.
* ``zjets`` (Z -> nu nu + jet, both processes) for unfolding, after Andreassen et al., PRL 124 (2020) 182001:
  the leading particle-level jet (anti-kT R = 0.4, pT > 200 GeV, |eta| < 2.5) and the leading detector-level
  jet of the same event, with their substructure (:func:`substructure`: mass, multiplicity, width, p_T D,
  tau_21, soft-drop z_g). Label 0 "simulation" uses Pythia's default Monash tune; label 1 "data" lowers the
  final-state shower coupling ``TimeShower:alphaSvalue`` from 0.1365 to 0.100, a deliberately large
  variation so that jets are visibly narrower with fewer constituents even in small samples.

Phase-space cuts on the hard process (``PhaseSpace:pTHatMin/Max``: 500-700 GeV for top tagging, 450-650
GeV for quark/gluon, above 200 GeV for Z+jet) keep the fraction of events with a selected jet high.

Generation is split into shards of :data:`SHARD_JETS` jets per label, each with its own Pythia seed derived
from ``seed``, the shard and the label, so a dataset is the same whatever ``jobs`` or ``chunk`` was used;
``chunk=(k, K)`` makes every K-th shard only and :func:`merge` joins the pieces. Jets are stored
pT-ordered, zero-padded, in a seed-determined shuffled order.

Generation is slow (quark/gluon most of all: few events pass its narrow pT window).
:func:`estimated_seconds` predicts the wall time from the per-core rates :data:`JETS_PER_CORE_SECOND`, and
:func:`generation_notice` is the message the loaders and ``reps4lhc data generate`` print before they start.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..physics import jets as jet_observables
from ..physics import lorentz
from .cache import atomic_write, cache_dir, cache_key
from .detector import DETECTOR_VERSION, DetectorConfig, simulate_detector

__all__ = [
    "DATASETS",
    "GENERATOR_VERSION",
    "JETS_PER_CORE_SECOND",
    "SHARD_JETS",
    "SUBSTRUCTURE",
    "JetDataset",
    "detector_version",
    "estimated_seconds",
    "generate",
    "generated_path",
    "generation_notice",
    "merge",
    "missing_generator",
    "read_generated",
    "shard_seed",
    "substructure",
]

GENERATOR_VERSION = 1
"""Bump it whenever a change alters the generated jets: old files then stop matching their names."""


def detector_version(level: str) -> int | None:
    """The :data:`~reps4lhc_tutor.data.detector.DETECTOR_VERSION` a file at ``level`` depends on (None for
    particle level): part of cache keys and metadata, so a changed detector never reuses an old file."""
    return None if level == "particle" else DETECTOR_VERSION


SHARD_JETS = 250
"""Jets per label in one shard: a few seconds of generation, the unit of parallel work."""

_PYTHIA_SEED_MAX = 900_000_000  # Pythia's Random:seed accepts 1 ... 900 000 000
_MAX_EVENTS_PER_JET = 200  # a shard that needs more events than this per jet has a broken selection
_INSTALL = 'pip install "reps4lhc_tutor[data]"'

_COMMON = (
    "Beams:eCM = 14000.",
    "Print:quiet = on",  # no banner, no listings: notebooks and CI stay clean
    "Next:numberCount = 0",
    "Random:setSeed = on",
)
_Z_TO_NUNU = ("WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16")


@dataclass(frozen=True)
class JetDataset:
    """How one dataset is generated and selected."""

    name: str
    samples: tuple[tuple[str, ...], ...]  # the Pythia settings of label 0, label 1, ...
    label_names: tuple[str, ...]
    radius: float  # anti-kT R
    pt_range: tuple[float, float]  # GeV
    abs_max: float  # the |eta| (or |y|) cut on the jet axis
    use_rapidity: bool  # cut on |y| instead of |eta|
    jets_per_event: int  # how many leading jets are candidates
    max_constituents: int
    default_level: str  # "particle", "detector" or "both"
    with_pid: bool
    substructure: bool = False  # store the observables of :func:`substructure` per level
    kind: str = "jets"  # "jets": a record per selected jet; "events": a record per event (zmumu)

    @property
    def unit(self) -> str:
        """What one record of the dataset is, for messages: ``"jets"`` or ``"events"``."""
        return self.kind


_ZMUMU = (
    "Beams:eCM = 13000.",  # LHC Run 2, as the Z + jets studies of generative networks
    "WeakBosonAndParton:qqbar2gmZg = on",
    "WeakBosonAndParton:qg2gmZq = on",
    "WeakZ0:gmZmode = 0",  # full gamma*/Z interference
    "23:onMode = off",
    "23:onIfAny = 13",
    "23:mMin = 66.",  # the usual Z window on the gamma*/Z mass
    "23:mMax = 116.",
    "PhaseSpace:pTHatMin = 15.",  # below the 20 GeV jet threshold, so that the shower can lift jets over it
    "PartonLevel:MPI = off",  # no underlying event: ten times faster, so million-event truth is affordable
)

MAX_JETS = 6
"""Jets stored per ``zmumu`` event (pT-ordered, zero-padded); ``n_jets`` counts them all."""

MUON_DRESSING_RADIUS = 0.1
"""Photons within this Delta R of a Z muon are added to it: a "dressed" muon, as at particle level."""

_TOP_PHASE_SPACE = ("PartonLevel:MPI = off", "PhaseSpace:pTHatMin = 500.", "PhaseSpace:pTHatMax = 700.")
_ZJET = (*_Z_TO_NUNU, "WeakBosonAndParton:qg2gmZq = on", "WeakBosonAndParton:qqbar2gmZg = on")

DATASETS: dict[str, JetDataset] = {
    "top-tagging": JetDataset(
        name="top-tagging",
        samples=(
            ("HardQCD:all = on", *_TOP_PHASE_SPACE),
            # Both W bosons decay to quarks (d, u, s, c, b), so both tops decay hadronically.
            (
                *("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
                *_TOP_PHASE_SPACE,
            ),
        ),
        label_names=("qcd", "top"),
        radius=0.8,
        pt_range=(550.0, 650.0),
        abs_max=2.0,
        use_rapidity=False,
        jets_per_event=2,
        max_constituents=200,
        default_level="detector",
        with_pid=False,
    ),
    "quark-gluon": JetDataset(
        name="quark-gluon",
        samples=(
            (
                *_Z_TO_NUNU,
                "WeakBosonAndParton:qqbar2gmZg = on",
                "PhaseSpace:pTHatMin = 450.",
                "PhaseSpace:pTHatMax = 650.",
            ),
            (
                *_Z_TO_NUNU,
                "WeakBosonAndParton:qg2gmZq = on",
                "PhaseSpace:pTHatMin = 450.",
                "PhaseSpace:pTHatMax = 650.",
            ),
        ),
        label_names=("gluon", "quark"),
        radius=0.4,
        pt_range=(500.0, 550.0),
        abs_max=1.7,
        use_rapidity=True,
        jets_per_event=1,
        max_constituents=150,
        default_level="particle",
        with_pid=True,
    ),
    "zjets": JetDataset(
        name="zjets",
        samples=(
            (*_ZJET, "PhaseSpace:pTHatMin = 200."),
            (*_ZJET, "PhaseSpace:pTHatMin = 200.", "TimeShower:alphaSvalue = 0.100"),
        ),
        label_names=("simulation", "data"),
        radius=0.4,
        pt_range=(200.0, float("inf")),
        abs_max=2.5,
        use_rapidity=False,
        jets_per_event=1,
        max_constituents=100,
        default_level="both",
        with_pid=True,
        substructure=True,
    ),
    "zmumu": JetDataset(
        name="zmumu",
        samples=(_ZMUMU,),
        label_names=("zmumu",),
        radius=0.4,
        pt_range=(20.0, float("inf")),
        abs_max=4.5,
        use_rapidity=False,
        jets_per_event=MAX_JETS,
        max_constituents=0,
        default_level="particle",
        with_pid=False,
        kind="events",
    ),
}
"""The datasets :func:`generate` makes, by name."""


def _require() -> tuple[Any, Any]:
    """Import pythia8mc and fastjet, or say how to install them."""
    try:
        pythia8mc = importlib.import_module("pythia8mc")
        fastjet = importlib.import_module("fastjet")
    except ImportError as err:
        raise ImportError(
            f"generating jets needs Pythia 8 and FastJet ({err.name} is missing): {_INSTALL}", name=err.name
        ) from err
    return pythia8mc, fastjet


def missing_generator() -> str | None:
    """The name of the generator module that cannot be imported (``"pythia8mc"`` or ``"fastjet"``), or None
    when :func:`generate` can run here."""
    try:
        _require()
    except ImportError as err:
        return err.name or "pythia8mc"
    return None


def _dataset(name: str) -> JetDataset:
    if name not in DATASETS:
        raise ValueError(f"unknown jet dataset {name!r}; use one of {', '.join(DATASETS)}.")
    return DATASETS[name]


def _level(spec: JetDataset, level: str | None) -> str:
    if level is None or level == spec.default_level:  # a checked level passes again unchanged
        return spec.default_level
    if spec.default_level == "both":
        raise ValueError(f"{spec.name} always stores particle and detector level; leave level unset.")
    if level not in ("particle", "detector"):
        raise ValueError(f"level must be 'particle' or 'detector', got {level!r}.")
    return level


def shard_seed(seed: int, shard: int, label: int) -> tuple[int, int]:
    """The Pythia seed (in 1 ... 900 000 000) and the detector seed of one shard of one label.

    Derived with :class:`numpy.random.SeedSequence` from ``(seed, shard, label)``, so shards never share a
    random stream and the same arguments always give the same seeds.
    """
    if min(seed, shard, label) < 0:
        raise ValueError(f"seed, shard and label must be >= 0, got {seed}, {shard}, {label}.")
    state = np.random.SeedSequence([seed, shard, label]).generate_state(2, dtype=np.uint64)
    return int(state[0] % _PYTHIA_SEED_MAX) + 1, int(state[1])


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Point the process's file descriptor 1 at os.devnull: FastJet prints its banner from C++."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _final_state(
    event: Any,
) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.float64], NDArray[np.int64]]:
    """The stable visible particles of a Pythia event: four-vectors ``(n, 4)``, PDG ids, charges and their
    indices in the event record."""
    rows = [
        (p.e(), p.px(), p.py(), p.pz(), p.id(), p.charge(), p.index())
        for p in event
        if p.isFinal() and p.isVisible()
    ]
    table = np.array(rows, dtype=np.float64).reshape(-1, 7)
    return table[:, :4], table[:, 4].astype(np.int32), table[:, 5], table[:, 6].astype(np.int64)


def _hadronic_top_quarks(event: Any) -> list[NDArray[np.float64]]:
    """(eta, phi) ``(3, 2)`` of the b and the two W-decay quarks of each top whose W decays to quarks."""
    found = []
    for i in range(event.size()):
        top = event[i]
        if abs(top.id()) != 6 or top.iBotCopyId() != i:  # only the last copy decays
            continue
        daughters = [event[j] for j in top.daughterList()]
        bottoms = [d for d in daughters if abs(d.id()) == 5]
        ws = [d for d in daughters if abs(d.id()) == 24]
        if len(bottoms) != 1 or len(ws) != 1:
            continue
        w = event[ws[0].iBotCopyId()]
        quarks = [event[j] for j in w.daughterList() if 1 <= abs(event[j].id()) <= 5]
        if len(quarks) == 2:
            found.append(np.array([[q.eta(), q.phi()] for q in (bottoms[0], *quarks)]))
    return found


def _matched(jet_eta: float, jet_phi: float, tops: list[NDArray[np.float64]], radius: float) -> bool:
    for quarks in tops:
        d_phi = (quarks[:, 1] - jet_phi + np.pi) % (2 * np.pi) - np.pi
        if np.all(np.hypot(quarks[:, 0] - jet_eta, d_phi) < radius):
            return True
    return False


def _cluster(fastjet: Any, p: NDArray[np.float64], radius: float) -> tuple[Any, list[Any]]:
    """Anti-kT jets of ``p`` ``(n, 4)``, hardest first; the cluster sequence must outlive the jets."""
    pseudojets = []
    for index, (e, px, py, pz) in enumerate(p):
        pseudojet = fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        pseudojet.set_user_index(index)
        pseudojets.append(pseudojet)
    sequence = fastjet.ClusterSequence(pseudojets, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    return sequence, fastjet.sorted_by_pt(sequence.inclusive_jets(1.0))


def _passes(spec: JetDataset, jet: Any) -> bool:
    axis = jet.rap() if spec.use_rapidity else jet.eta()
    return spec.pt_range[0] < jet.pt() < spec.pt_range[1] and abs(axis) < spec.abs_max


def _pack(
    spec: JetDataset, jet: Any | None, p: NDArray[np.float64], pid: NDArray[np.int32], prefix: str
) -> dict[str, NDArray]:
    """One jet's columns: zero-padded pT-ordered ``constituents`` ``(C, 4)``, ``pid`` ``(C,)``, ``jets``
    ``(4,)``; all zeros when ``jet`` is None."""
    constituents = np.zeros((spec.max_constituents, 4), np.float32)
    ids = np.zeros(spec.max_constituents, np.int32)
    four_vector = np.zeros(4, np.float32)
    if jet is not None:
        index = np.array([c.user_index() for c in jet.constituents()], dtype=np.int64)
        index = index[np.argsort(-np.hypot(p[index, 1], p[index, 2]), kind="stable")][: spec.max_constituents]
        constituents[: len(index)] = p[index]
        ids[: len(index)] = pid[index]
        four_vector[:] = (jet.e(), jet.px(), jet.py(), jet.pz())
    columns = {f"{prefix}constituents": constituents, f"{prefix}jets": four_vector}
    if spec.with_pid:
        columns[f"{prefix}pid"] = ids
    return columns


def _event_jets(
    spec: JetDataset,
    fastjet: Any,
    objects: dict[str, tuple[NDArray[np.float64], NDArray[np.int32]]],
    tops: list[NDArray[np.float64]] | None,
) -> list[dict[str, NDArray]]:
    """The selected jets of one event; ``objects`` maps each level to its four-vectors and pids.

    The first level in ``objects`` selects the jets. With two levels (``zjets``) each selected jet comes with
    the leading detector-level jet of the event (zeros and ``detector/found`` False if there is none).
    ``tops`` (top-tagging signal only) are the quarks a jet must be matched to.
    """
    levels = list(objects)
    prefix = "particle/" if len(levels) == 2 else ""
    _sequence, jets = _cluster(fastjet, objects[levels[0]][0], spec.radius)  # the sequence owns the jets
    records = []
    for jet in jets[: spec.jets_per_event]:
        if not _passes(spec, jet):
            continue
        if tops is not None and not _matched(jet.eta(), jet.phi_std(), tops, spec.radius):
            continue
        records.append(_pack(spec, jet, *objects[levels[0]], prefix))
    if records and len(levels) == 2:
        _detector_sequence, detector_jets = _cluster(fastjet, objects["detector"][0], spec.radius)
        leading = detector_jets[0] if detector_jets else None
        for record in records:
            record.update(_pack(spec, leading, *objects["detector"], "detector/"))
            record["detector/found"] = np.array(leading is not None)
    return records


def _z_muons(event: Any) -> list[int]:
    """Event-record indices of the final copies of the two muons from the gamma*/Z decay."""
    for i in range(event.size() - 1, -1, -1):  # the last Z copy is the one that decays
        if event[i].id() == 23:
            return [event[event[j].iBotCopyId()].index() for j in event[i].daughterList()]
    raise RuntimeError("a zmumu event without a gamma*/Z: the process settings are wrong.")


def _detector_muons(p: NDArray[np.float64], pid: NDArray[np.int32]) -> NDArray[np.int64] | None:
    """Indices of the two leading opposite-sign muon tracks among detector objects, or None."""
    muons = np.flatnonzero(np.abs(pid) == 13)
    muons = muons[np.argsort(-np.hypot(p[muons, 1], p[muons, 2]), kind="stable")]
    for second in muons[1:]:
        if pid[second] == -pid[muons[0]]:
            return np.array([muons[0], second])
    return None


def _dressed(
    p: NDArray[np.float64], pid: NDArray[np.int32], muons: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The muons ``(2, 4)`` with every photon within :data:`MUON_DRESSING_RADIUS` added to the nearer muon,
    and the mask ``(particles,)`` of what remains for jet clustering (neither muons nor their photons)."""
    rest = np.ones(len(p), bool)
    rest[muons] = False
    dressed = p[muons].copy()
    photons = np.flatnonzero((pid == 22) & rest)
    if photons.size:
        distance = np.stack([lorentz.delta_r(p[photons], muon) for muon in p[muons]])  # (2, photons)
        nearer = np.argmin(distance, axis=0)
        close = distance.min(axis=0) < MUON_DRESSING_RADIUS
        for k in (0, 1):
            dressed[k] += p[photons[close & (nearer == k)]].sum(axis=0)
        rest[photons[close]] = False
    return dressed, rest


def _event_record(
    spec: JetDataset,
    fastjet: Any,
    p: NDArray[np.float64],
    pid: NDArray[np.int32],
    muons: NDArray[np.int64],
    *,
    dress: bool,
) -> dict[str, NDArray] | None:
    """One ``zmumu`` event's columns, or None if no jet passes the cuts.

    ``muons`` are the indices of the two Z muons in ``p`` ``(objects, 4)``; with ``dress`` (particle level)
    photons around them are added to them; every other object is clustered into jets.
    """
    if dress:
        muon_p4, rest = _dressed(p, pid, muons)
    else:
        muon_p4, rest = p[muons], np.ones(len(p), bool)
        rest[muons] = False
    _sequence, jets = _cluster(fastjet, p[rest], spec.radius)  # the sequence owns the jets
    selected = [jet for jet in jets if _passes(spec, jet)]
    if not selected:
        return None
    jet_p4 = np.zeros((MAX_JETS, 4), np.float32)
    for k, jet in enumerate(selected[:MAX_JETS]):
        jet_p4[k] = (jet.e(), jet.px(), jet.py(), jet.pz())
    order = np.argsort(-lorentz.pt(muon_p4), kind="stable")
    return {
        "muons": muon_p4[order].astype(np.float32),
        "muon_charges": np.where(pid[muons[order]] > 0, -1, 1).astype(np.int8),  # PDG id 13 is the mu-
        "jets": jet_p4,
        "n_jets": np.array(len(selected), np.int16),
    }


def _zmumu_record(
    spec: JetDataset,
    fastjet: Any,
    event: Any,
    objects: dict[str, tuple[NDArray[np.float64], NDArray[np.int32]]],
    index: NDArray[np.int64],
) -> dict[str, NDArray] | None:
    """The record of a ``zmumu`` event at its one level, or None if it fails the selection.

    Particle level: the Z muons of the event record, dressed. Detector level: the two leading opposite-sign
    muon tracks (None if the detector lost a muon).
    """
    if "particle" in objects:
        p, pid = objects["particle"]
        muons = np.searchsorted(index, _z_muons(event))  # index is sorted: particles in record order
        return _event_record(spec, fastjet, p, pid, muons, dress=True)
    p, pid = objects["detector"]
    muons = _detector_muons(p, pid)
    return None if muons is None else _event_record(spec, fastjet, p, pid, muons, dress=False)


def _veto_heavy_quark(pythia: Any) -> bool:
    """True if the hard process made a c or b quark (the quark sample keeps u, d, s jets only)."""
    return any(abs(pythia.process[i].id()) in (4, 5) for i in range(5, pythia.process.size()))


SUBSTRUCTURE = ("mass", "multiplicity", "width", "ptd", "tau21", "z_g")
"""The observables :func:`substructure` computes (stored for ``zjets`` under ``<level>/observables/``)."""


def substructure(constituents: NDArray, radius: float = 0.4) -> dict[str, NDArray[np.float64]]:
    """The jet observables of :data:`SUBSTRUCTURE`, from :mod:`reps4lhc_tutor.physics.jets`.

    Parameters
    ----------
    constituents : ndarray, shape (jets, particles, 4)
        Zero-padded (E, px, py, pz) in GeV; an all-zero jet (no detector-level jet) gets NaN everywhere.
    radius : float
        The jet radius, soft drop's reference radius (``z_cut = 0.1``, ``beta = 0``).

    Returns
    -------
    dict of str to ndarray, shape (jets,)
        Jet mass (GeV), constituent multiplicity, width, p_T D, N-subjettiness ratio tau_21 and soft-drop z_g.
    """
    p = np.asarray(constituents, dtype=np.float64)
    found = np.any(p[..., 0] > 0, axis=1)
    values = {name: np.full(len(p), np.nan) for name in SUBSTRUCTURE}
    if not found.any():
        return values
    jets = p[found]
    computed = {
        "mass": jet_observables.jet_mass(jets),
        "multiplicity": jet_observables.multiplicity(jets),
        "width": jet_observables.width(jets),
        "ptd": jet_observables.ptd(jets),
        "tau21": jet_observables.tau21(jets),
        "z_g": jet_observables.soft_drop(jets, z_cut=0.1, beta=0.0, radius=radius).z_g,
    }
    for name, value in computed.items():
        values[name][found] = value
    return values


@dataclass(frozen=True)
class _Task:
    name: str
    shard: int
    label: int
    n_jets: int
    seed: int
    level: str


def _run(task: _Task) -> dict[str, NDArray]:
    """Generate one shard: ``n_jets`` selected jets of one label, as stacked columns. Runs in a worker."""
    pythia8mc, fastjet = _require()
    spec = DATASETS[task.name]
    pythia_seed, detector_seed = shard_seed(task.seed, task.shard, task.label)
    detector_rng = np.random.default_rng(detector_seed)
    pythia = pythia8mc.Pythia("", False)
    for setting in (*_COMMON, f"Random:seed = {pythia_seed}", *spec.samples[task.label]):
        if not pythia.readString(setting):
            raise RuntimeError(f"Pythia rejected the setting {setting!r}.")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise {task.name} label {task.label}.")
    with _stdout_to_devnull():  # FastJet prints its banner at the first clustering
        _cluster(fastjet, np.array([[1.0, 0.0, 1.0, 0.0]]), spec.radius)
    levels = ("particle", "detector") if task.level == "both" else (task.level,)
    top_signal = spec.name == "top-tagging" and task.label == 1
    jets: list[dict[str, NDArray]] = []
    n_events = 0
    while n_events < _MAX_EVENTS_PER_JET * task.n_jets:
        n_events += 1
        if not pythia.next():
            continue
        if spec.name == "quark-gluon" and task.label == 1 and _veto_heavy_quark(pythia):
            continue
        p, pid, charge, index = _final_state(pythia.event)
        objects = {"particle": (p, pid)}
        if "detector" in levels:
            objects["detector"] = simulate_detector(p, pid, charge, detector_rng, DetectorConfig())
        objects = {level: objects[level] for level in levels}
        if spec.kind == "events":
            record = _zmumu_record(spec, fastjet, pythia.event, objects, index)
            if record is not None:
                record["labels"] = np.array(task.label, np.int8)
                jets.append(record)
                if len(jets) == task.n_jets:
                    return _columns(spec, jets, levels)
            continue
        tops = _hadronic_top_quarks(pythia.event) if top_signal else None
        for record in _event_jets(spec, fastjet, objects, tops):
            record["labels"] = np.array(task.label, np.int8)
            jets.append(record)
            if len(jets) == task.n_jets:
                return _columns(spec, jets, levels)
    raise RuntimeError(
        f"{task.name} label {task.label}: only {len(jets)} of {task.n_jets} jets passed the selection in "
        f"{n_events} events; the phase-space settings do not match the jet cuts."
    )


def _columns(spec: JetDataset, jets: list[dict[str, NDArray]], levels: tuple[str, ...]) -> dict[str, NDArray]:
    """Stack per-jet records into columns, adding the substructure observables where the dataset has them."""
    columns = {key: np.stack([record[key] for record in jets]) for key in jets[0]}
    if spec.substructure:
        for level in levels:
            prefix = f"{level}/" if len(levels) == 2 else ""
            observables = substructure(columns[f"{prefix}constituents"], spec.radius)
            columns.update({f"{prefix}observables/{name}": value for name, value in observables.items()})
    return columns


def _tasks(spec: JetDataset, n_jets: int, seed: int, level: str) -> list[_Task]:
    """Every shard of a dataset of ``n_jets`` records, split evenly over the labels (the first labels take
    the rest)."""
    labels = len(spec.samples)
    per_label = [n_jets // labels + (label < n_jets % labels) for label in range(labels)]
    return [
        _Task(spec.name, shard, label, min(SHARD_JETS, count - start), seed, level)
        for label, count in enumerate(per_label)
        for shard, start in enumerate(range(0, count, SHARD_JETS))
    ]


def _selected_tasks(
    spec: JetDataset, n_jets: int, seed: int, level: str, chunk: tuple[int, int] | None
) -> list[_Task]:
    """The shards that ``chunk=(k, K)`` makes (every K-th, from k); all of them for None."""
    tasks = _tasks(spec, n_jets, seed, level)
    return tasks if chunk is None else [task for task in tasks if task.shard % chunk[1] == chunk[0]]


def _workers(jobs: int, tasks: list[_Task]) -> int:
    """How many of ``jobs`` worker processes get a shard of ``tasks`` (at least one)."""
    return max(1, min(jobs, len(tasks)))


def _check_jobs(jobs: int) -> None:
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}.")


def _check_arguments(
    name: str, n_jets: int, seed: int, level: str | None, chunk: tuple[int, int] | None
) -> tuple[JetDataset, str]:
    spec = _dataset(name)
    if isinstance(n_jets, bool) or not isinstance(n_jets, int) or n_jets < 1:
        raise ValueError(f"n_jets must be an integer >= 1, got {n_jets!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    if chunk is not None and not (len(chunk) == 2 and 0 <= chunk[0] < chunk[1]):
        raise ValueError(f"chunk must be (k, K) with 0 <= k < K, got {chunk!r}.")
    return spec, _level(spec, level)


JETS_PER_CORE_SECOND = {"top-tagging": 70.0, "quark-gluon": 15.0, "zjets": 45.0, "zmumu": 180.0}
"""Selected jets (zmumu: events) per second that one worker process makes, by dataset, at its default level.

Measured on the development machine (AMD EPYC, Pythia 8.317, FastJet 3.5.2) as the CPU time of
``generate(name, n, jobs=1)``, Pythia's initialisation included: 80 quark-gluon jets 15/s, 2000 zmumu
events 147/s (particle level, no underlying event); with the Delphes-card detector (version 2) as wall time
on two workers: 100 000 top-tagging jets in 656 s (76/s per core) and 6000 zjets in 62 s (49/s); 60 000
zmumu events on two workers took 8.3 min while other jobs shared the cores, and the 200 000 of the truth
sample of chapter 5b 8.1 min (205/s per core, with light other work). Quark/gluon is the slowest:
only a few events per jet pass its 500-550 GeV window. Rounded down, so that :func:`estimated_seconds` errs
on the long side; a laptop core is often faster, a shared one slower.
"""


def estimated_seconds(name: str, n_jets: int, jobs: int, *, chunk: tuple[int, int] | None = None) -> float:
    """Estimated wall time of :func:`generate` (or of one of its chunks) from :data:`JETS_PER_CORE_SECOND`.

    Parameters
    ----------
    name : {"top-tagging", "quark-gluon", "zjets"}
        The dataset.
    n_jets : int
        Jets in the whole dataset.
    jobs : int
        Worker processes; no more than the number of shards (:data:`SHARD_JETS` jets each) work at once.
    chunk : (k, K), optional
        Estimate only the shards of chunk k of K.

    Returns
    -------
    float
        Seconds: the jets to make divided by the rate of the workers that have a shard to work on.

    Raises
    ------
    ValueError
        On an unknown name or bad arguments, as :func:`generate`.
    """
    spec, level = _check_arguments(name, n_jets, 0, None, chunk)
    _check_jobs(jobs)
    tasks = _selected_tasks(spec, n_jets, 0, level, chunk)
    if not tasks:
        return 0.0
    return sum(task.n_jets for task in tasks) / (JETS_PER_CORE_SECOND[name] * _workers(jobs, tasks))


def _duration(seconds: float) -> str:
    """A rough duration for people: ``'about 40 s'``, ``'about 12 min'``, ``'about 2.5 h'``."""
    if seconds < 90:
        return f"about {max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def _command(
    name: str, n_jets: int, seed: int, level: str | None, chunk: tuple[int, int] | None, out: Path | None
) -> str:
    """The ``reps4lhc data generate`` command line that makes the same file."""
    words = ["reps4lhc", "data", "generate", name, "--n", str(n_jets), "--seed", str(seed)]
    words += ["--level", level] if level is not None else []
    words += ["--chunk", str(chunk[0]), "--of", str(chunk[1])] if chunk is not None else []
    words += ["--out", str(out)] if out is not None else []
    return " ".join(words)


def generation_notice(
    name: str,
    n_jets: int,
    seed: int,
    jobs: int,
    *,
    chunk: tuple[int, int] | None = None,
    level: str | None = None,
    out: Path | None = None,
) -> str:
    """The message to print before :func:`generate` starts with the same arguments.

    It says what is made, on how many worker processes, for about how long (:func:`estimated_seconds`),
    which file it writes and the ``reps4lhc data generate`` command that makes that file ahead of time.

    Raises
    ------
    ValueError
        On an unknown name or bad arguments, as :func:`generate`.
    """
    spec, checked_level = _check_arguments(name, n_jets, seed, level, chunk)
    seconds = estimated_seconds(name, n_jets, jobs, chunk=chunk)
    workers = _workers(jobs, _selected_tasks(spec, n_jets, seed, checked_level, chunk))
    path = Path(out) if out is not None else generated_path(name, n_jets, seed, level, chunk)
    what = f"{n_jets} {name} {spec.unit}"
    what = what if chunk is None else f"chunk {chunk[0]} of {chunk[1]} of {what}"
    return (
        f"Generating {what} with Pythia 8 + FastJet on {workers} worker process{'es' * (workers > 1)}: "
        f"{_duration(seconds)} here (estimated from {JETS_PER_CORE_SECOND[name]:g} {spec.unit}/s per core). "
        f"Writing {path}. To make it ahead of time, run: {_command(name, n_jets, seed, level, chunk, out)}"
    )


def generated_path(
    name: str, n_jets: int, seed: int = 0, level: str | None = None, chunk: tuple[int, int] | None = None
) -> Path:
    """Where :func:`generate` writes a dataset in the cache folder: ``<name>-<key>.h5`` (a chunk:
    ``<name>-<key>.chunk<k>of<K>.h5``), the key depending on every argument that changes the content."""
    spec, level = _check_arguments(name, n_jets, seed, level, chunk)
    params = {"n_jets": n_jets, "seed": seed, "level": level, "generator_version": GENERATOR_VERSION}
    version = detector_version(level)
    if version is not None:  # particle-level keys stay as before the detector had a version
        params["detector_version"] = version
    stem = f"{spec.name}-{cache_key(params)[:16]}"
    return cache_dir() / (f"{stem}.chunk{chunk[0]}of{chunk[1]}.h5" if chunk else f"{stem}.h5")


_EVENT_LAYOUT = (
    f"muons (events, 2, 4) float32 (E, px, py, pz) GeV, leading pT first; muon_charges (events, 2) int8; "
    f"jets (events, {MAX_JETS}, 4) float32 (E, px, py, pz), pT-ordered, zero-padded; n_jets (events,) int16, "
    "every jet passing the cuts; labels (events,) int8, all 0"
)
_MUON_SELECTION = {
    "particle": f"the gamma*/Z decay muons, dressed with photons within Delta R < {MUON_DRESSING_RADIUS}",
    "detector": "the two leading opposite-sign muon tracks; events with fewer are dropped",
}


def _metadata(spec: JetDataset, n_jets: int, seed: int, level: str) -> dict[str, Any]:
    from .. import __version__  # here, not at import time: the package imports this module

    pythia8mc, fastjet = _require()
    version = pythia8mc.Pythia("", False).parm("Pythia:versionNumber")
    return {
        "dataset": spec.name,
        "n_jets": n_jets,
        "seed": seed,
        "level": level,
        "labels": {str(i): label for i, label in enumerate(spec.label_names)},
        "generator": f"Pythia {version:.3f}",
        "clustering": f"FastJet {fastjet.__version__}, anti-kT R = {spec.radius}",
        "settings": {
            label: [*_COMMON, "Random:seed = <per shard, see shard_seed>", *spec.samples[i]]
            for i, label in enumerate(spec.label_names)
        },
        "selection": {
            "pt_range_gev": list(spec.pt_range)
            if np.isfinite(spec.pt_range[1])
            else [spec.pt_range[0], None],
            "abs_rapidity_max" if spec.use_rapidity else "abs_eta_max": spec.abs_max,
            "leading_jets_per_event": spec.jets_per_event if spec.kind == "jets" else None,
            "top_matching": "b and W-decay quarks within Delta R < R" if spec.name == "top-tagging" else None,
            "muons": _MUON_SELECTION[level] if spec.kind == "events" else None,
        },
        "detector": vars(DetectorConfig()) if level != "particle" else None,
        "layout": _EVENT_LAYOUT
        if spec.kind == "events"
        else (
            f"constituents (jets, {spec.max_constituents}, 4) float32 (E, px, py, pz) GeV, pT-ordered, "
            "zero-padded; jets (jets, 4) float32; labels (jets,) int8"
            + ("; pid (jets, particles) int32, 0 for padding" if spec.with_pid else "")
            + ("; prefixed particle/ and detector/, detector/found (jets,) bool" if level == "both" else "")
            + (
                f"; observables/<name> (jets,) float64 for {', '.join(SUBSTRUCTURE)}"
                if spec.substructure
                else ""
            )
        ),
        "shard_jets": SHARD_JETS,
        "generator_version": GENERATOR_VERSION,
        "detector_version": detector_version(level),
        "package_version": __version__,
    }


def _write(path: Path, columns: dict[str, NDArray], metadata: dict[str, Any]) -> None:
    """Write ``columns`` (names may hold '/', making groups) and the metadata to an HDF5 file, atomically."""
    with atomic_write(path) as temporary, h5py.File(temporary, "w") as stream:
        for key, value in columns.items():
            options = {"compression": "gzip", "shuffle": True} if value.ndim > 1 else {}
            stream.create_dataset(key, data=value, **options)
        stream.attrs["metadata"] = json.dumps(metadata, sort_keys=True)


def read_generated(path: Path) -> tuple[dict[str, NDArray], dict[str, Any]]:
    """The arrays (keyed by their HDF5 paths, e.g. ``'detector/jets'``) and metadata of a generated file.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    OSError
        If it is not a readable HDF5 file written by :func:`generate` (delete it and generate again).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generated jet file {path}; make it with reps4lhc data generate.")
    arrays: dict[str, NDArray] = {}
    try:
        with h5py.File(path, "r") as stream:
            stream.visititems(
                lambda key, item: arrays.update({key: item[()]}) if isinstance(item, h5py.Dataset) else None
            )
            metadata = json.loads(stream.attrs["metadata"])
    except (OSError, KeyError, ValueError) as err:
        raise OSError(
            f"{path} is not a readable generated jet file ({err}); delete it and regenerate."
        ) from err
    return arrays, metadata


def _assemble(results: dict[tuple[int, int], dict[str, NDArray]], seed: int) -> dict[str, NDArray]:
    """Join shard results in (label, shard) order and shuffle with a seed-determined permutation."""
    parts = [results[key] for key in sorted(results, key=lambda key: (key[1], key[0]))]
    columns = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.random.default_rng([seed, GENERATOR_VERSION]).permutation(len(columns["labels"]))
    return {key: value[order] for key, value in columns.items()}


def _execute(
    tasks: list[_Task], jobs: int, desc: str, progress: bool, unit: str
) -> dict[tuple[int, int], dict[str, NDArray]]:
    results = {}
    total = sum(task.n_jets for task in tasks)
    with tqdm(total=total, desc=desc, unit=unit.removesuffix("s"), disable=not progress) as bar:
        if jobs == 1:
            for task in tasks:
                results[task.shard, task.label] = _run(task)
                bar.update(task.n_jets)
            return results
        # fork: workers start at once and need nothing re-imported; spawn where fork does not exist.
        method = "fork" if "fork" in get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=_workers(jobs, tasks), mp_context=get_context(method)) as pool:
            futures = {pool.submit(_run, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                results[task.shard, task.label] = future.result()
                bar.update(task.n_jets)
    return results


def generate(
    name: str,
    n_jets: int,
    seed: int = 0,
    *,
    jobs: int = 1,
    chunk: tuple[int, int] | None = None,
    level: str | None = None,
    out: Path | None = None,
    progress: bool = True,
) -> Path:
    """Generate a jet dataset (or one chunk of it) into an HDF5 file and return its path.

    Parameters
    ----------
    name : {"top-tagging", "quark-gluon", "zjets"}
        The dataset (see the module documentation for processes, cuts and references).
    n_jets : int
        Jets in the whole dataset, split evenly between the two labels.
    seed : int
        Seeds every shard (:func:`shard_seed`) and the final shuffle: same seed, same file content.
    jobs : int
        Worker processes (shards run in parallel; the result does not depend on ``jobs``).
    chunk : (k, K), optional
        Make only the shards ``k, k + K, k + 2K, ...`` into a chunk file; :func:`merge` joins the K chunks.
    level : {"particle", "detector"}, optional
        Constituents before or after :mod:`~reps4lhc_tutor.data.detector` (default: the dataset's own,
        detector for top tagging, particle for quark/gluon). ``zjets`` always stores both; leave it unset.
    out : path, optional
        The file to write (default: :func:`generated_path` in the cache folder). A file already there is
        kept and returned without generating anything.
    progress : bool
        Show a progress bar counting jets.

    Returns
    -------
    pathlib.Path
        The HDF5 file: arrays as described in its ``metadata`` attribute (:func:`read_generated`).

    Raises
    ------
    ImportError
        If pythia8mc or fastjet is missing (``pip install "reps4lhc_tutor[data]"``).
    ValueError
        On an unknown name or bad arguments.
    """
    spec, level = _check_arguments(name, n_jets, seed, level, chunk)
    _check_jobs(jobs)
    _require()
    path = Path(out) if out is not None else generated_path(name, n_jets, seed, level, chunk)
    if path.is_file():
        return path
    tasks = _selected_tasks(spec, n_jets, seed, level, chunk)
    metadata = _metadata(spec, n_jets, seed, level)
    if chunk is not None:
        metadata["chunk"] = list(chunk)
    desc = spec.name if chunk is None else f"{spec.name} chunk {chunk[0]}/{chunk[1]}"
    # Big shards first, so that no worker is left with a long one at the end.
    results = _execute(sorted(tasks, key=lambda task: -task.n_jets), jobs, desc, progress, spec.unit)
    if chunk is None:
        columns = _assemble(results, seed)
    else:
        columns = {
            f"shards/{shard}-{label}/{key}": value
            for (shard, label), part in results.items()
            for key, value in part.items()
        }
    _write(path, columns, metadata)
    return path


def merge(paths: Sequence[Path], out: Path | None = None) -> Path:
    """Join the K chunk files of one dataset (written by ``generate(..., chunk=(k, K))``) into one file.

    The result equals what a single ``generate`` call with the same arguments writes. Raises ValueError if
    the chunks belong to different datasets or arguments, or if a chunk is missing or repeated.
    """
    if not paths:
        raise ValueError("merge needs the chunk files; got none.")
    results: dict[tuple[int, int], dict[str, NDArray]] = {}
    reference: dict[str, Any] | None = None
    seen: set[int] = set()
    for path in paths:
        arrays, metadata = read_generated(path)
        if "chunk" not in metadata:
            raise ValueError(f"{path} is not a chunk file (it has no 'chunk' metadata).")
        k, n_chunks = metadata.pop("chunk")
        if reference is None:
            reference = metadata
        elif metadata != reference:
            raise ValueError(f"{path} belongs to another dataset or other arguments than {paths[0]}.")
        if k in seen:
            raise ValueError(f"chunk {k} of {n_chunks} is given twice.")
        seen.add(k)
        for key, value in arrays.items():
            _, shard_label, column = key.split("/", 2)
            shard, label = (int(x) for x in shard_label.split("-"))
            results.setdefault((shard, label), {})[column] = value
    missing = sorted(set(range(n_chunks)) - seen)
    if missing:
        raise ValueError(
            f"chunks {missing} of {n_chunks} are missing; generate them with chunk=(k, {n_chunks})."
        )
    spec = _dataset(reference["dataset"])
    expected = {
        (task.shard, task.label)
        for task in _tasks(spec, reference["n_jets"], reference["seed"], reference["level"])
    }
    if set(results) != expected:
        raise ValueError(f"the chunks hold shards {sorted(results)}, expected {sorted(expected)}.")
    path = (
        Path(out)
        if out is not None
        else generated_path(
            spec.name,
            reference["n_jets"],
            reference["seed"],
            reference["level"] if spec.default_level != "both" else None,
        )
    )
    _write(path, _assemble(results, reference["seed"]), reference)
    return path
