"""Run profiles, device choice and seeding: the settings every notebook starts from.

One notebook serves three sizes of run. The profile is read from the environment variable
``REPS4LHC_PROFILE``; without it a machine with CUDA runs the ``gpu`` profile and any other machine the
``cpu`` profile. Notebooks choose sizes with :func:`pick` and check headline results with :func:`expect`.

Each result has a band per profile, either *measured* (a recorded run at that profile produced it; a plain
``(lo, hi)``) or a *target* (:func:`target`: a goal no run has confirmed). Who is told about a miss depends on
who runs the notebook: a student's interactive session gets a warning and goes on; CI, nbval and the
maintainer's ``reps4lhc notebooks run`` set ``REPS4LHC_STRICT=1``, where a missed measured band raises. A
missed target never raises; the run record (``REPS4LHC_EXPECT_LOG``) carries it to the status page.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch

__all__ = [
    "BAND_KINDS",
    "EXPECT_LOG_ENV",
    "PROFILES",
    "PROFILE_ENV",
    "STRICT_ENV",
    "Band",
    "ExpectationError",
    "ExpectationWarning",
    "RunConfig",
    "active_profile",
    "check_rng",
    "device_name",
    "expect",
    "get_device",
    "pick",
    "seed_everything",
    "setup",
    "strict_expectations",
    "target",
]

PROFILES = ("ci", "cpu", "gpu")
PROFILE_ENV = "REPS4LHC_PROFILE"
STRICT_ENV = "REPS4LHC_STRICT"  # "1": a missed measured band raises (CI, nbval, `reps4lhc notebooks run`)
EXPECT_LOG_ENV = "REPS4LHC_EXPECT_LOG"  # JSON-lines file that receives every expect() call of a run

T = TypeVar("T")
_UNSET: Any = object()


class ExpectationError(AssertionError):
    """A headline result missed a measured band for the active profile under CI or a maintainer's run."""


class ExpectationWarning(UserWarning):
    """A headline result missed its band in an interactive session (or missed a target band anywhere)."""


def active_profile() -> str:
    """Return the active profile: ``$REPS4LHC_PROFILE``, else ``gpu`` with CUDA, else ``cpu``."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower()
    if not name:
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={name!r} is not a profile; use one of {', '.join(PROFILES)} "
            f"(or unset it to choose by hardware)."
        )
    return name


def get_device() -> torch.device:
    """Return the fastest available device: CUDA, then Apple MPS, then CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    """Return a readable name for ``device``: the GPU model, or the CPU model and its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{_cpu_model()} ({cores} cores)"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():  # Linux: platform.processor() only gives the architecture there
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- notebooks and libraries still draw from the legacy global state
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def check_rng(rng: object) -> np.random.Generator:
    """Return ``rng`` if it is a NumPy ``Generator``; raise a TypeError that shows how to make one otherwise.

    Functions that draw random numbers take an explicit generator so that a seed fixes their output.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy Generator such as np.random.default_rng(0), got {type(rng).__name__}."
        )
    return rng


def pick(*, ci: T = _UNSET, cpu: T = _UNSET, gpu: T = _UNSET) -> T:
    """Return the value given for the active profile.

    Examples
    --------
    >>> n_train = pick(ci=5_000, cpu=100_000, gpu=1_000_000)
    """
    values = {"ci": ci, "cpu": cpu, "gpu": gpu}
    profile = active_profile()
    if values[profile] is _UNSET:
        raise ValueError(
            f"pick() has no value for the active profile {profile!r}; pass {profile}=... "
            f"(every notebook size needs ci=, cpu= and gpu=)."
        )
    return values[profile]


class Band(NamedTuple):
    """The closed interval a headline result should fall in at one profile, and where it comes from.

    ``kind`` is ``"measured"`` when a recorded run at that profile produced results inside it (the notebook
    names the run, profile, device and date next to its bands) or ``"target"`` for a goal that no run has
    confirmed yet. A plain ``(lo, hi)`` tuple given to :func:`expect` is a measured band; wrap targets with
    :func:`target`.
    """

    low: float
    high: float
    kind: str = "measured"


BAND_KINDS = ("measured", "target")


def target(low: float, high: float) -> Band:
    """Return a *target* band: a goal for a profile that no recorded run has confirmed yet.

    A result outside a target band is reported (printed, warned, recorded in the run summary and on the
    status page) but never stops a notebook, not even under CI.

    Examples
    --------
    >>> expect("AUC", 0.97, ci=(0.8, 1.0), cpu=(0.95, 1.0), gpu=target(0.98, 1.0))  # doctest: +SKIP
    """
    return _band(Band(low, high, "target"), "target()")


def _band(bounds: tuple[float, ...] | Band, where: str) -> Band:
    """Check ``bounds`` and return them as a :class:`Band` (a plain pair is a measured band)."""
    if isinstance(bounds, Band):
        band = bounds
    elif isinstance(bounds, tuple | list) and len(bounds) == 2:
        band = Band(*bounds)
    else:
        raise ValueError(f"{where}: a band is (lo, hi) or tutor.target(lo, hi), got {bounds!r}.")
    if band.kind not in BAND_KINDS:
        raise ValueError(f"{where}: band kind must be one of {', '.join(BAND_KINDS)}, got {band.kind!r}.")
    low, high = float(band.low), float(band.high)
    if not low <= high:
        raise ValueError(f"{where}: the band has lo={low} > hi={high}.")
    return Band(low, high, band.kind)


def strict_expectations() -> bool:
    """Whether a missed measured band raises: under CI, nbval and ``reps4lhc notebooks run``.

    Those set ``REPS4LHC_STRICT=1``; an interactive session (a student's notebook) leaves it unset, so a
    missed band warns and the notebook goes on.
    """
    value = os.environ.get(STRICT_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(f"{STRICT_ENV}={value!r} is not a switch; use 1 (raise on missed bands) or 0 (warn).")


def expect(
    name: str,
    value: float,
    *,
    ci: tuple[float, float] | Band | None = None,
    cpu: tuple[float, float] | Band | None = None,
    gpu: tuple[float, float] | Band | None = None,
) -> float:
    """Check a headline result against the band set for the active profile.

    Prints one line, ``expect <name> = <value> in [lo, hi] (<profile>, <kind>): ok``. A result outside a
    *measured* band (a plain ``(lo, hi)``) raises :class:`ExpectationError` under CI, nbval and
    ``reps4lhc notebooks run`` (``REPS4LHC_STRICT=1``), so a regression fails there; in an interactive
    session it issues an :class:`ExpectationWarning` that says what was expected and what it means, and the
    notebook goes on. A result outside a *target* band (:func:`target`) never raises; it warns and is
    recorded. Every call is appended to the run record named by ``$REPS4LHC_EXPECT_LOG`` when that is set
    (the notebook runner collects it into the notebook's metadata and the status page).

    Returns ``value`` so the call can sit inside an expression.
    """
    given = {"ci": ci, "cpu": cpu, "gpu": gpu}
    bands = {p: _band(b, f"expect({name!r}, {p}=...)") for p, b in given.items() if b is not None}
    profile = active_profile()
    if profile not in bands:
        raise ValueError(
            f"expect({name!r}) has no bound for the active profile {profile!r}; pass {profile}=(lo, hi)."
        )
    band = bands[profile]
    value = float(value)
    ok = band.low <= value <= band.high  # False for NaN as well
    line = f"expect {name} = {value:.6g} in [{band.low:.6g}, {band.high:.6g}] ({profile}, {band.kind}): " + (
        "ok" if ok else "MISSED"
    )
    print(line)
    _record(name, value, profile, band, ok, bands)
    if ok:
        return value
    if band.kind == "target":
        warnings.warn(
            f"{name} = {value:.6g} missed the {profile}-profile target [{band.low:.6g}, {band.high:.6g}]. "
            "A target is a goal no recorded run has confirmed yet, so this is a finding to report, not a "
            "failure; the notebook goes on.",
            ExpectationWarning,
            stacklevel=2,
        )
        return value
    if strict_expectations():
        raise ExpectationError(line)
    warnings.warn(
        f"{name} = {value:.6g} lies outside [{band.low:.6g}, {band.high:.6g}], the band a recorded "
        f"{profile}-profile run of this notebook produced. The notebook goes on. Expected with other data, "
        "other sizes or an edited cell; otherwise read this result with care (and rerun to see if it is a "
        "fluctuation). Under CI the same miss is a failure.",
        ExpectationWarning,
        stacklevel=2,
    )
    return value


def _record(name: str, value: float, profile: str, band: Band, ok: bool, bands: dict[str, Band]) -> None:
    """Append one expectation to the JSON-lines file ``$REPS4LHC_EXPECT_LOG`` if it is set."""
    log_path = os.environ.get(EXPECT_LOG_ENV, "").strip()
    if not log_path:
        return
    entry = {
        "name": name,
        "value": value if math.isfinite(value) else str(value),
        "profile": profile,
        "band": [band.low, band.high],
        "kind": band.kind,
        "ok": ok,
        "kinds": {p: b.kind for p, b in bands.items()},
    }
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


@dataclass(frozen=True)
class RunConfig:
    """What a notebook runs with, as returned by :func:`setup`."""

    profile: str  # ci, cpu or gpu: sets the size of every run
    device: torch.device  # where models and batches live
    seed: int  # the seed given to Python, NumPy and torch


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def setup(seed: int = 0) -> RunConfig:
    """Seed everything, choose profile and device, and print them with the relevant versions."""
    seed_everything(seed)
    config = RunConfig(profile=active_profile(), device=get_device(), seed=seed)
    print(f"profile: {config.profile}   device: {config.device} ({device_name(config.device)})  seed: {seed}")
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"reps4lhc_tutor {_version('reps4lhc_tutor')}"
    )
    return config
