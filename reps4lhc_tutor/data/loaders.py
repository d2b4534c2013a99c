"""Dataset loaders: one function per dataset, returning arrays plus the metadata that says what they are.

:func:`load_amplitudes` -- exact tree-level squared amplitudes of ``gg -> n g`` on RAMBO phase space, computed
on demand and cached on disk (:mod:`reps4lhc_tutor.data.cache`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from tqdm.auto import tqdm

from ..physics import amplitudes as amp
from ..physics import phasespace
from ..physics.noise import GaussianNoise
from .cache import CacheError, cache_path, load_npz, save_npz

if TYPE_CHECKING:
    import torch

__all__ = [
    "AMPLITUDE_PROCESSES",
    "DEFAULT_SQRT_S",
    "GENERATOR_VERSION",
    "AmplitudeData",
    "load_amplitudes",
]

AMPLITUDE_PROCESSES: dict[str, int] = {"gg->gg": 2, "gg->ggg": 3, "gg->gggg": 4, "gg->ggggg": 5}
"""The amplitude datasets: process string -> number of final-state gluons."""

DEFAULT_SQRT_S = 1000.0
"""GeV: the partonic centre-of-mass energy unless told otherwise."""

GENERATOR_VERSION = 1
"""Bump it whenever a change alters the generated events or amplitudes: old cache files then stop matching."""

_CHUNK = 5_000  # events per progress-bar step: a bar that moves every second or so for gg -> ggg

_CONVENTIONS = {
    "momenta": (
        "(events, 2 + n_final, 4) float64, ordered (E, px, py, pz) in GeV, metric (+,-,-,-), partonic "
        "centre-of-mass frame; particles 0 and 1 are the incoming gluons along +z and -z"
    ),
    "amplitudes": (
        "tree-level |M|^2 summed (not averaged) over the helicities and colours of all gluons, g_s = 1, "
        "SU(3), no final-state symmetry factor; units GeV^(8 - 2n) for n gluons"
    ),
    "phase_space": "RAMBO, uniform in massless phase space; accepted events are uniform within the cuts",
}


@dataclass
class AmplitudeData:
    """An amplitude dataset; ``train``, ``val`` and ``test`` are ``(momenta, amplitudes)`` slices or None.

    The events are independent and identically distributed, so the splits are consecutive blocks.
    """

    momenta: NDArray[np.float64]  # (events, 2 + n_final, 4)
    amplitudes: NDArray[np.float64]  # (events,): the training targets, noisy when a noise model is given
    exact: NDArray[np.float64]  # (events,): the exact values (the same array when there is no noise)
    metadata: dict[str, Any]  # process, conventions, arguments, counts, generator version, cache file
    train: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    val: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    test: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None

    def __len__(self) -> int:
        return len(self.amplitudes)


def _check_process(process: str) -> int:
    if process not in AMPLITUDE_PROCESSES:
        raise ValueError(f"unknown process {process!r}; use one of {', '.join(AMPLITUDE_PROCESSES)}.")
    return AMPLITUDE_PROCESSES[process]


def _check_split(split: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
    if split is None:
        return None
    fractions = tuple(float(f) for f in split)
    if len(fractions) != 3 or min(fractions) < 0 or not np.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"split must be three fractions >= 0 (train, val, test) adding up to 1, got {split}."
        )
    return fractions  # type: ignore[return-value]


def _sqrt_s_key(sqrt_s: float | phasespace.PowerLawLuminosity) -> float | dict[str, Any]:
    """``sqrt_s`` as a JSON value for the cache key and the metadata."""
    if isinstance(sqrt_s, phasespace.PowerLawLuminosity):
        return {"luminosity": "power_law", **dataclasses.asdict(sqrt_s)}
    return float(sqrt_s)


def _generate(
    n_final: int,
    n_events: int,
    seed: int,
    sqrt_s: float | phasespace.PowerLawLuminosity,
    colour: str,
    cuts: phasespace.Cuts | None,
    progress: bool,
    desc: str,
    device: str | torch.device | None,
) -> tuple[dict[str, NDArray[np.float64]], dict[str, Any]]:
    """Generate the exact dataset: arrays ``momenta`` and ``amplitudes`` and the run statistics."""
    start = time.perf_counter()
    momenta, efficiency = phasespace.generate_with_efficiency(
        n_final, sqrt_s, n_events, np.random.default_rng(seed), cuts
    )
    values = np.empty(n_events)
    with tqdm(total=n_events, unit="events", desc=desc, disable=not progress) as bar:
        for first in range(0, n_events, _CHUNK):
            chunk = slice(first, min(first + _CHUNK, n_events))
            values[chunk] = amp.squared_amplitude(momenta[chunk], colour=colour, device=device)
            bar.update(chunk.stop - chunk.start)
    stats = {"cut_efficiency": efficiency, "generation_time_s": round(time.perf_counter() - start, 3)}
    return {"momenta": momenta, "amplitudes": values}, stats


def load_amplitudes(
    process: str = "gg->ggg",
    *,
    n_events: int = 100_000,
    seed: int = 0,
    sqrt_s: float | phasespace.PowerLawLuminosity = DEFAULT_SQRT_S,
    colour: str = "full",
    noise: GaussianNoise | None = None,
    split: tuple[float, float, float] | None = (0.8, 0.1, 0.1),
    cuts: phasespace.Cuts | None = phasespace.Cuts(),  # noqa: B008 -- frozen, so a safe default
    cache: bool = True,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> AmplitudeData:
    """Exact tree-level squared amplitudes of ``gg -> n g`` on RAMBO phase space, cached on disk.

    Events come from :func:`~reps4lhc_tutor.physics.phasespace.generate_with_efficiency` (seeded with
    ``seed``) and amplitudes from :func:`~reps4lhc_tutor.physics.amplitudes.squared_amplitude` (conventions
    in ``metadata["conventions"]``). The exact values are cached in ``$REPS4LHC_DATA`` (default
    ``~/.cache/reps4lhc``) under a key made of every argument that changes them; a second call with the
    same arguments reads the file. ``noise``, ``split`` and ``progress`` are applied after the cache, so noise
    variants and different splits reuse it.

    Parameters
    ----------
    process : str
        One of ``"gg->gg"``, ``"gg->ggg"``, ``"gg->gggg"``, ``"gg->ggggg"``.
    n_events : int
        Number of events after cuts.
    seed : int
        Seed of the phase-space generator (>= 0); it also seeds the noise, together with ``noise.seed``.
    sqrt_s : float or PowerLawLuminosity
        Partonic centre-of-mass energy in GeV, or a luminosity to draw it from per event.
    colour : {"full", "leading"}
        Exact colour sum or the leading-colour approximation.
    noise : GaussianNoise, optional
        Noise on the training targets; ``exact`` keeps the exact values.
    split : (float, float, float) or None
        Fractions for train, validation and test; None for no split.
    cuts : Cuts or None
        Generation cuts on the final-state gluons; the default is ``pt > 20 GeV`` and ``Delta R > 0.4``.
    cache : bool
        Read and write the cache; False always generates and writes nothing.
    progress : bool
        Show a progress bar while computing amplitudes.
    device : str or torch.device, optional
        Compute the amplitudes with torch on this device (e.g. ``"cuda"``) instead of numpy on the CPU; the
        values agree to rounding, so the cache does not depend on it.

    Returns
    -------
    AmplitudeData
        ``momenta`` ``(events, 2 + n_final, 4)``, ``amplitudes`` and ``exact`` ``(events,)``, ``metadata``
        (process, conventions, arguments, counts, cut efficiency, generator version, cache file, whether it
        came from the cache), and the splits.

    Raises
    ------
    ValueError
        For an unknown process or colour, a bad split or a bad count.
    CacheError
        If the cache file is damaged or does not match the arguments: delete it and call again.
    """
    n_final = _check_process(process)
    if colour not in ("full", "leading"):
        raise ValueError(f"colour must be 'full' or 'leading', got {colour!r}.")
    for name, value, minimum in (("n_events", n_events, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    if noise is not None and not isinstance(noise, GaussianNoise):
        raise TypeError(f"noise must be a GaussianNoise or None, got {type(noise).__name__}.")
    fractions = _check_split(split)
    if cuts is not None and not isinstance(cuts, phasespace.Cuts):
        raise TypeError(f"cuts must be a Cuts instance or None, got {type(cuts).__name__}.")

    key = {
        "dataset": "amplitudes",
        "process": process,
        "n_events": int(n_events),
        "seed": int(seed),
        "sqrt_s": _sqrt_s_key(sqrt_s),
        "colour": colour,
        "cuts": None if cuts is None else dataclasses.asdict(cuts),
        "generator_version": GENERATOR_VERSION,
    }
    path = cache_path(f"amplitudes-{process.replace('->', '-')}", key)
    desc = f"|M|^2 {process} ({colour} colour)"
    if cache and path.is_file():
        arrays, metadata = load_npz(path)
        if any(metadata.get(name) != value for name, value in key.items()):
            raise CacheError(
                f"cache file {path} holds other arguments than requested; delete it and call again."
            )
        metadata["from_cache"] = True
    else:
        arrays, stats = _generate(
            n_final, int(n_events), int(seed), sqrt_s, colour, cuts, progress, desc, device
        )
        from .. import __version__  # imported here so that the package's __init__ may import this module

        metadata = {
            **key,
            "n_final": n_final,
            "conventions": dict(_CONVENTIONS),  # a copy: callers may edit their metadata
            **stats,
            "package_version": __version__,
        }
        if cache:
            save_npz(path, arrays, metadata)
        metadata["from_cache"] = False

    metadata["cache_file"] = str(path) if cache else None  # where it is now, even if the folder moved
    momenta, exact = arrays["momenta"], arrays["amplitudes"]
    metadata["noise"] = None if noise is None else dataclasses.asdict(noise)
    values = exact
    if noise is not None:
        values = noise.apply(momenta, exact, np.random.default_rng([int(seed), noise.seed]))
    data = AmplitudeData(momenta, values, exact, metadata)
    if fractions is not None:
        n_train = round(fractions[0] * len(exact))
        n_val = round(fractions[1] * len(exact))
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, None)}
        for name, (lo, hi) in bounds.items():
            setattr(data, name, (momenta[lo:hi], values[lo:hi]))
        metadata["split"] = {name: len(getattr(data, name)[1]) for name in bounds}
    return data
