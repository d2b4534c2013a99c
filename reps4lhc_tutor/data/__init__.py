"""Datasets: generated on demand or downloaded, always cached on disk with their provenance.

* :mod:`~reps4lhc_tutor.data.cache` -- the cache folder (``$REPS4LHC_DATA``, default ``~/.cache/reps4lhc``),
  stable keys, atomic writes.
* :mod:`~reps4lhc_tutor.data.download` -- verified, resumable, atomic downloads.
* :mod:`~reps4lhc_tutor.data.registry` -- the official public datasets: files, checksums, DOIs.
* :mod:`~reps4lhc_tutor.data.loaders` -- :func:`load_amplitudes`, exact gluon amplitudes computed on demand.
* :mod:`~reps4lhc_tutor.data.jets` -- :func:`load_top_tagging`, :func:`load_quark_gluon`, :func:`load_zjets`
  from the shipped, generated or official samples.
* :mod:`~reps4lhc_tutor.data.zmumu` -- :func:`load_zmumu`, Z -> mu mu + jets events (generative chapters).
* :mod:`~reps4lhc_tutor.data.mixtures` -- :func:`mixed_samples`: two samples of set signal fractions (CWoLa).
* :mod:`~reps4lhc_tutor.data.shipped` -- the samples in the repository's ``data/`` and their MANIFEST.
* :mod:`~reps4lhc_tutor.data.pythia` and :mod:`~reps4lhc_tutor.data.detector` -- jet generation with
  Pythia 8 + FastJet (imported when generating: the ``data`` extra) and a parametric detector.
"""

from . import cache, download, jets, loaders, mixtures, registry, zmumu
from .jets import JetData, load_quark_gluon, load_top_tagging, load_zjets, zjets_observables
from .loaders import AMPLITUDE_PROCESSES, AmplitudeData, load_amplitudes
from .mixtures import mixed_samples
from .zmumu import TRUTH_SEED, ZmumuEvents, load_zmumu

__all__ = [
    "AMPLITUDE_PROCESSES",
    "TRUTH_SEED",
    "AmplitudeData",
    "JetData",
    "ZmumuEvents",
    "cache",
    "download",
    "jets",
    "load_amplitudes",
    "load_quark_gluon",
    "load_top_tagging",
    "load_zjets",
    "load_zmumu",
    "loaders",
    "mixed_samples",
    "mixtures",
    "registry",
    "zjets_observables",
    "zmumu",
]
