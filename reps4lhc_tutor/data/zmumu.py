"""Z/gamma* -> mu+ mu- + jets events, the data of the generative chapters: :func:`load_zmumu`.

The events (:mod:`~reps4lhc_tutor.data.pythia`, dataset ``zmumu``): Drell-Yan ``q qbar -> Z g`` and
``q g -> Z q`` from Pythia 8 at 13 TeV with the full gamma*/Z interference, 66 < m(gamma*/Z) < 116 GeV and
the decay to muons only; the shower adds further jets; hadronisation on, multi-parton interactions off (no
underlying event: ten times faster, so that a truth sample of millions of events is affordable, and what a
generator has to learn is the hard process and the QCD radiation). Jets: anti-kT R = 0.4 on every visible
final-state particle except the muons and the photons within Delta R < 0.1 of them, which dress the muons;
an event needs at least one jet with pT > 20 GeV and |eta| < 4.5, and ``n_jets`` counts all such jets (the
exclusive multiplicity). This is the process of the precision studies of generative networks (Butter et
al., SciPost Phys. 14 (2023) 078 and "Jet diffusion versus JetGPT", arXiv:2305.10475), there generated with
Sherpa. ``level="detector"`` reads a file made with ``reps4lhc data generate zmumu --level detector``: the
muons are then the two leading opposite-sign muon tracks of :mod:`~reps4lhc_tutor.data.detector` and the
jets are clustered from its energy-flow objects.

Sources as for the jet datasets (:mod:`~reps4lhc_tutor.data.jets`), without an official one:
``"shipped"`` (40k events in ``data/zmumu.h5``, verified against ``data/MANIFEST``), ``"generated"`` (in
the cache; when missing, made here at about 150 to 200 events per second and core, after a printed time
estimate) and ``"auto"`` (shipped at the ci profile, else a cached generated file, else generated now if
Pythia 8 and FastJet are installed, else shipped with a
:class:`~reps4lhc_tutor.data.jets.SmallSampleWarning`). Splits are the contiguous fractions
:data:`~reps4lhc_tutor.data.jets.SPLIT_FRACTIONS` of the shuffled events of one file.

Held-out truth: a generated file of another seed is statistically independent of the training file (every
shard's Pythia seed derives from the file seed). Chapter 5b measures how many events a generator is worth
against the sample of seed :data:`TRUTH_SEED`, made once with ``reps4lhc data generate zmumu --n N --seed
<TRUTH_SEED> --jobs J`` (or ``--chunk k --of K`` on a batch system, then ``reps4lhc data merge``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import jets, pythia

__all__ = ["TRUTH_SEED", "ZmumuEvents", "load_zmumu"]

TRUTH_SEED = 1_000_003
"""The seed of the large held-out truth sample (any seed other than a training file's would do)."""

_NAME = "zmumu"
_LEVELS = ("particle", "detector")


@dataclass
class ZmumuEvents:
    """Z -> mu mu + jets events (module docstring); the first axis of every array is the event."""

    muons: NDArray[np.float32]  # (events, 2, 4) (E, px, py, pz) GeV, leading pT first
    muon_charges: NDArray[np.int8]  # (events, 2) +1 or -1
    jets: NDArray[np.float32]  # (events, MAX_JETS, 4) (E, px, py, pz), pT-ordered, zero-padded
    n_jets: NDArray[np.int64]  # (events,) every jet with pT > 20 GeV, |eta| < 4.5, also beyond MAX_JETS
    meta: dict[str, Any]  # source, file, provenance, level, seed, split

    def __len__(self) -> int:
        return len(self.muons)

    def select(self, keep: NDArray[np.bool_]) -> ZmumuEvents:
        """The events where ``keep`` ``(events,)`` is True; ``meta["n_events"]`` counts them."""
        keep = np.asarray(keep)
        if keep.dtype != np.bool_ or keep.shape != (len(self),):
            raise ValueError(
                f"keep must be a boolean mask of shape ({len(self)},), got {keep.dtype} {keep.shape}."
            )
        return ZmumuEvents(
            self.muons[keep],
            self.muon_charges[keep],
            self.jets[keep],
            self.n_jets[keep],
            {**self.meta, "n_events": int(keep.sum())},
        )

    def exclusive(self, n: int) -> ZmumuEvents:
        """The events with exactly ``n`` jets (their ``jets`` still hold :data:`MAX_JETS` rows)."""
        if not 1 <= n <= pythia.MAX_JETS:
            raise ValueError(f"n must be a jet multiplicity in 1 ... {pythia.MAX_JETS}, got {n!r}.")
        return self.select(self.n_jets == n)


def load_zmumu(
    n_events: int | None = 100_000,
    source: str = "auto",
    *,
    split: str | None = None,
    seed: int = 0,
    level: str = "particle",
    progress: bool = True,
) -> ZmumuEvents:
    """Z -> mu mu + jets events from the shipped sample or a generated file (module docstring).

    Parameters
    ----------
    n_events
        Events of the split, in file order (the file is shuffled); None takes all.
    source
        ``"shipped"``, ``"generated"`` or ``"auto"``; there is no official dataset.
    split
        None (everything), ``"train"``, ``"val"`` or ``"test"``.
    seed
        Seed of the generated file; :data:`TRUTH_SEED` is the held-out truth sample.
    level
        ``"particle"`` or ``"detector"`` (generated files only).
    progress
        Show the generation progress bar.

    Returns
    -------
    ZmumuEvents

    Raises
    ------
    ValueError
        Bad arguments, or ``n_events`` above what an explicit source holds.
    FileNotFoundError, ~reps4lhc_tutor.data.shipped.ShippedDataError
        A missing or damaged shipped file, or no generated file with ``n_events=None``.
    ImportError
        The events have to be generated but pythia8mc or fastjet is missing (the message says how to install).
    """
    if source == "official":
        raise ValueError(
            "there is no official Z -> mu mu + jets dataset; use 'shipped', 'generated' or 'auto'."
        )
    jets._check_source(source)
    jets._check_counts(n_events, None)
    jets._check_split(split)
    if level not in _LEVELS:
        raise ValueError(f"level must be 'particle' or 'detector', got {level!r}.")
    if level == "detector" and source == "shipped":
        raise ValueError("the shipped sample is particle level; use source='generated' for detector level.")
    n_file = jets._file_size_for(n_events, split, 1)
    choice = jets._choose(_NAME, source, None, n_file, seed, level)
    if choice.source == "shipped" and level == "detector":
        raise ValueError(f"source='auto' fell back to the particle-level shipped sample ({choice.reason}).")
    path, about = jets._local_file(_NAME, choice.source, n_file, seed, progress, level)
    arrays, metadata = pythia.read_generated(path)
    shortfall = None
    if choice.source == "shipped" and choice.reason is not None:
        shortfall = jets._small_sample_warner(_NAME, choice.reason, n_file, seed)
    what = f"the {choice.source} {_NAME} file {path.name}"
    columns, n = jets._take(arrays, split, n_events, what, shortfall, unit="events")
    meta = {
        "dataset": _NAME,
        "source": choice.source,
        **about,
        "generator": metadata["generator"],
        "clustering": metadata["clustering"],
        "level": metadata["level"],
        "seed": metadata["seed"],
        "split": split,
        "split_fractions": jets.SPLIT_FRACTIONS if split is not None else None,
        "n_events": n,
        "provenance": metadata,
    }
    return ZmumuEvents(
        columns["muons"], columns["muon_charges"], columns["jets"], columns["n_jets"].astype(np.int64), meta
    )
