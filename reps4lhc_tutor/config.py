"""Run profiles, device choice and seeding: the settings every notebook starts from.

One notebook serves three sizes of run. The profile is read from the environment variable
``REPS4LHC_PROFILE``; without it a machine with CUDA runs the ``gpu`` profile and any other machine the
``cpu`` profile. Notebooks choose sizes with :func:`pick` and check headline results with :func:`expect`.
"""

from __future__ import annotations

import os
import platform
import random
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "PROFILES",
    "PROFILE_ENV",
    "ExpectationError",
    "RunConfig",
    "active_profile",
    "check_rng",
    "device_name",
    "expect",
    "get_device",
    "pick",
    "seed_everything",
    "setup",
]

PROFILES = ("ci", "cpu", "gpu")
PROFILE_ENV = "REPS4LHC_PROFILE"

T = TypeVar("T")
_UNSET: Any = object()


class ExpectationError(AssertionError):
    """A headline result missed the bound set for the active profile."""


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


def expect(
    name: str,
    value: float,
    *,
    ci: tuple[float, float] | None = None,
    cpu: tuple[float, float] | None = None,
    gpu: tuple[float, float] | None = None,
) -> float:
    """Check a headline result against the closed interval set for the active profile.

    Prints one line, ``expect <name> = <value> in [lo, hi] (profile <p>): ok``, and raises
    :class:`ExpectationError` when the value lies outside, so a regression fails the notebook under nbval.
    Returns ``value`` so the call can sit inside an expression.
    """
    profile = active_profile()
    bounds = {"ci": ci, "cpu": cpu, "gpu": gpu}[profile]
    if bounds is None:
        raise ValueError(
            f"expect({name!r}) has no bound for the active profile {profile!r}; pass {profile}=(lo, hi)."
        )
    low, high = bounds
    if not low <= high:
        raise ValueError(f"expect({name!r}): the bound for {profile!r} has lo={low} > hi={high}.")
    value = float(value)
    ok = low <= value <= high  # False for NaN as well
    verdict = "ok" if ok else "FAILED"
    line = f"expect {name} = {value:.6g} in [{low:.6g}, {high:.6g}] (profile {profile}): {verdict}"
    print(line)
    if not ok:
        raise ExpectationError(line)
    return value


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
