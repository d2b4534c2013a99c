"""Noise models for regression targets: what a network sees when its training amplitudes are imprecise.

Exact tree-level amplitudes have no uncertainty. Real training data do: loop amplitudes come from numerical
integration with a finite precision, and some regions of phase space are numerically unstable. These
functions add such noise in a controlled, seeded way, so the uncertainty chapters can check whether a network
learns the noise it was given:

* :func:`smear` -- relative Gaussian noise everywhere, ``A -> N(A, f_smear * A)``: a uniform relative
  precision of the training labels (a statistical uncertainty of the data).
* :func:`smear_in_window` -- the same noise only where an invariant mass lies inside a window, exact values
  elsewhere: a "phase-space gap" in which the labels are unreliable. A network with a calibrated uncertainty
  should report a larger uncertainty inside the gap than outside it.

Both take a :class:`numpy.random.Generator`, draw one standard normal per event in event order, and return a
new array. With the same seed, :func:`smear_in_window` gives inside the window exactly the values of
:func:`smear`. Noisy values can be negative when ``f_smear`` is not small (probability
``Phi(-1 / f_smear)``); they are left so, because clipping would bias the mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import check_rng
from . import lorentz

__all__ = ["GaussianNoise", "smear", "smear_in_window"]


def _check_f_smear(f_smear: float) -> None:
    if not (np.isfinite(f_smear) and f_smear >= 0):
        raise ValueError(f"f_smear is a relative width and must be finite and >= 0, got {f_smear}.")


def _check_window(window: tuple[float, float]) -> None:
    if not (len(window) == 2 and window[0] < window[1]):
        raise ValueError(f"window must be (lo, hi) in GeV with lo < hi, got {window}.")


def _check_inputs(amplitudes: ArrayLike, f_smear: float, rng: object) -> NDArray[np.float64]:
    values = np.asarray(amplitudes)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"amplitudes must be real numbers, got dtype {values.dtype}.")
    if values.ndim != 1:
        raise ValueError(f"amplitudes must have shape (events,), got {values.shape}.")
    if not np.isfinite(values).all():
        raise ValueError("amplitudes contain NaN or infinite values; remove those events first.")
    _check_f_smear(f_smear)
    check_rng(rng)
    return values.astype(np.float64)


def smear(amplitudes: ArrayLike, f_smear: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Relative Gaussian noise: ``A -> A (1 + f_smear * z)`` with ``z ~ N(0, 1)``, i.e. ``N(A, f_smear A)``.

    Parameters
    ----------
    amplitudes : array, shape ``(events,)``
        Exact values, e.g. squared matrix elements.
    f_smear : float
        Relative standard deviation, >= 0 (0.1 is a 10 % uncertainty).
    rng : numpy.random.Generator
        Draws one standard normal per event.

    Returns
    -------
    array, shape ``(events,)``
    """
    values = _check_inputs(amplitudes, f_smear, rng)
    return values * (1 + f_smear * rng.standard_normal(values.shape))


def smear_in_window(
    amplitudes: ArrayLike,
    invariant_masses: ArrayLike,
    window: tuple[float, float],
    f_smear: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Relative Gaussian noise only for events whose invariant mass lies strictly inside ``window``.

    Models a phase-space gap: ``A_train = N(A, f_smear A)`` if ``lo < m < hi`` and ``A_train = A`` otherwise,
    i.e. ``|m - m_0| < w`` for ``window = (m_0 - w, m_0 + w)``.

    Parameters
    ----------
    amplitudes : array, shape ``(events,)``
    invariant_masses : array, shape ``(events,)``
        The mass that defines the gap, in GeV (e.g. of two or three final-state partons).
    window : (float, float)
        ``(lo, hi)`` in GeV with ``lo < hi``.
    f_smear : float
        Relative standard deviation inside the window, >= 0.
    rng : numpy.random.Generator
        Draws one standard normal for *every* event, so the noise inside the window does not depend on it.

    Returns
    -------
    array, shape ``(events,)``
        Outside the window the input values, unchanged.
    """
    values = _check_inputs(amplitudes, f_smear, rng)
    masses = np.asarray(invariant_masses, dtype=np.float64)
    if masses.shape != values.shape:
        raise ValueError(
            f"invariant_masses must have the shape of amplitudes {values.shape}, got {masses.shape}."
        )
    if np.isnan(masses).any():
        raise ValueError("invariant_masses contain NaN; remove those events first.")
    _check_window(window)
    lo, hi = window
    inside = (masses > lo) & (masses < hi)
    return np.where(inside, smear(values, f_smear, rng), values)


@dataclass(frozen=True)
class GaussianNoise:
    """A noise model as data, for :func:`~reps4lhc_tutor.data.loaders.load_amplitudes` and its cache.

    ``window=None`` applies :func:`smear` to every event, otherwise :func:`smear_in_window` with the invariant
    mass of the listed particles.
    """

    f_smear: float  # relative standard deviation
    window: tuple[float, float] | None = None  # (lo, hi) in GeV; None smears everywhere
    particles: tuple[int, ...] = (2, 3)  # whose invariant mass defines the window: the first two outgoing
    seed: int = 0  # noise realisation; the same exact data can carry several

    def __post_init__(self) -> None:
        _check_f_smear(self.f_smear)
        if self.window is not None:
            _check_window(self.window)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}.")
        if len(self.particles) < 2:
            raise ValueError(f"particles must name at least two particles, got {self.particles}.")

    def apply(
        self, momenta: ArrayLike, amplitudes: ArrayLike, rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """Noisy ``amplitudes`` ``(events,)`` for the events ``momenta`` ``(events, particles, 4)``."""
        if self.window is None:
            return smear(amplitudes, self.f_smear, rng)
        momenta = np.asarray(momenta)
        if momenta.ndim != 3 or max(self.particles) >= momenta.shape[1]:
            raise ValueError(
                f"particles {self.particles} need momenta of shape (events, > {max(self.particles)}, 4), "
                f"got {momenta.shape}."
            )
        masses = lorentz.invariant_mass(momenta[:, list(self.particles)])
        return smear_in_window(amplitudes, masses, self.window, self.f_smear, rng)
