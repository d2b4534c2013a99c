"""Datasets: generated on demand or downloaded, always cached on disk with their provenance.

* :mod:`~reps4lhc_tutor.data.cache` -- the cache folder (``$REPS4LHC_DATA``, default ``~/.cache/reps4lhc``),
  stable keys, atomic writes.
* :mod:`~reps4lhc_tutor.data.loaders` -- one ``load_*`` function per dataset, e.g. :func:`load_amplitudes`.
"""

from . import cache, loaders
from .loaders import AMPLITUDE_PROCESSES, AmplitudeData, load_amplitudes

__all__ = ["AMPLITUDE_PROCESSES", "AmplitudeData", "cache", "load_amplitudes", "loaders"]
