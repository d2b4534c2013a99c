"""reps4lhc_tutor: the helper package of the Reps4LHC course (Representation Learning for the LHC).

Notebooks import it as ``import reps4lhc_tutor as tutor`` and use :func:`setup`, :func:`pick`,
:func:`expect` (with :func:`target` bands) and :func:`fit`; the submodules hold the physics, the datasets
(`data`), losses, models (`nn`), preprocessing, metrics, Monte Carlo integration and plotting.
"""

from importlib import metadata

from . import data, integration, losses, metrics, nn, physics, plotting, preprocessing
from .config import (
    PROFILES,
    Band,
    ExpectationError,
    ExpectationWarning,
    RunConfig,
    active_profile,
    expect,
    get_device,
    pick,
    seed_everything,
    setup,
    target,
)
from .train import History, fit

try:
    __version__ = metadata.version("reps4lhc_tutor")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "PROFILES",
    "Band",
    "ExpectationError",
    "ExpectationWarning",
    "History",
    "RunConfig",
    "__version__",
    "active_profile",
    "data",
    "expect",
    "fit",
    "get_device",
    "integration",
    "losses",
    "metrics",
    "nn",
    "physics",
    "pick",
    "plotting",
    "preprocessing",
    "seed_everything",
    "setup",
    "target",
]
