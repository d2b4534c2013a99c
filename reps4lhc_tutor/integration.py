r"""Monte Carlo integration with weighted events: estimates, their errors, and unweighting.

An importance sampler draws points ``x_i`` from a density ``q`` and gives each the weight
``w_i = f(x_i) / q(x_i)``; then ``I = int f dx = E_q[w]`` is estimated by the mean weight, with the standard
error ``std(w) / sqrt(N)``. The closer ``q`` is to ``f / I``, the flatter the weights: ``q = f / I`` gives
every point the weight ``I`` and an exact result from a single point.

Unweighting turns weighted points into events with weight one by keeping each with the probability
``w_i / w_max`` (hit or miss); the fraction kept, ``<w> / w_max``, is the unweighting efficiency, the number
an event generator is judged by. It is set by the largest weight, so a few large weights ruin it, and it
is a noisy number: a larger sample can only find a larger maximum. Generators therefore often unweight
against a reduced maximum that leaves a small fraction of the cross section (say 0.1 %) in overweight
events (:func:`reduced_maximum`).

Weights are NumPy float64 arrays of shape ``(events,)``; zero weights (points outside the cuts) are part of
the sample and count.
"""

from __future__ import annotations

from numbers import Real
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .config import check_rng

__all__ = ["Estimate", "estimate", "reduced_maximum", "relative_std", "unweight", "unweighting_efficiency"]


class Estimate(NamedTuple):
    """A Monte Carlo integral: the mean weight and its standard error."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.5g} +- {self.error:.2g}"


def _check_weights(weights: ArrayLike, minimum: int = 2) -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) < minimum:
        raise ValueError(f"weights must have shape (events,) with at least {minimum} events, got {w.shape}.")
    if not np.isfinite(w).all():
        raise ValueError("weights contain NaN or inf: check the integrand and the sampling density.")
    if (w < 0).any():
        raise ValueError("weights must be >= 0: importance sampling here assumes a non-negative integrand.")
    if not (w > 0).any():
        raise ValueError("all weights are zero: no point passed the cuts; loosen them or sample more points.")
    return w


def estimate(weights: ArrayLike) -> Estimate:
    """The integral ``mean(w)`` and its standard error ``std(w, ddof=1) / sqrt(N)``.

    Parameters
    ----------
    weights : array, shape ``(events,)``
    """
    w = _check_weights(weights)
    return Estimate(float(w.mean()), float(w.std(ddof=1) / np.sqrt(len(w))))


def relative_std(weights: ArrayLike) -> float:
    """``std(w) / mean(w)``: the relative error of one point; the estimate's is this over ``sqrt(N)``."""
    w = _check_weights(weights)
    return float(w.std(ddof=1) / w.mean())


def reduced_maximum(weights: ArrayLike, overweight: float) -> float:
    """The smallest ``w_max`` with overweights ``sum(max(w - w_max, 0))`` of at most ``overweight * sum(w)``.

    Unweighting against a reduced maximum keeps points with ``w > w_max`` with weight ``w / w_max > 1``
    instead of one; they carry the fraction ``overweight`` of the cross section. Event generators use this
    to stop a handful of rare large weights from setting the efficiency of the whole sample.

    Parameters
    ----------
    weights : array, shape ``(events,)``
    overweight : float
        Fraction in ``[0, 1)`` of ``sum(w)`` allowed above ``w_max``; 0 gives ``max(w)``.
    """
    w = _check_weights(weights)
    if not (isinstance(overweight, Real) and 0 <= overweight < 1):
        raise ValueError(f"overweight must be a fraction in [0, 1), got {overweight!r}.")
    if overweight == 0:
        return float(w.max())
    ordered = np.sort(w)[::-1]  # w_(1) >= w_(2) >= ...
    partial = np.cumsum(ordered)  # S_k, the sum of the k largest weights
    target = overweight * partial[-1]
    # The overweight above w_max, sum_{w > w_max} (w - w_max), falls continuously as w_max rises. Evaluated
    # at w_max = w_(k+1) it is S_k - k w_(k+1), which grows with k: find the first k where it exceeds the
    # target, then w_max lies in [w_(k+1), w_(k)] and solves S_k - k w_max = target.
    excess = partial[:-1] - np.arange(1, len(ordered)) * ordered[1:]
    k = int(np.searchsorted(excess, target, side="right")) + 1
    return float((partial[k - 1] - target) / k)


def unweighting_efficiency(weights: ArrayLike, overweight: float = 0.0) -> float:
    """``mean(w) / w_max``: the expected fraction of points that hit-or-miss unweighting keeps.

    Parameters
    ----------
    weights : array, shape ``(events,)``
    overweight : float
        0 (default): ``w_max = max(w)``. Otherwise the :func:`reduced_maximum` that leaves this fraction of
        the cross section in overweights.
    """
    w = _check_weights(weights)
    return float(w.mean() / reduced_maximum(w, overweight))


def unweight(weights: ArrayLike, rng: np.random.Generator) -> NDArray[np.bool_]:
    """Hit-or-miss unweighting: keep point ``i`` with probability ``w_i / max(w)``.

    Parameters
    ----------
    weights : array, shape ``(events,)``
    rng : numpy.random.Generator

    Returns
    -------
    array of bool, shape ``(events,)``
        Which points survive; they are distributed as ``f`` with weight one each (given ``max(w)`` is the
        true maximum; a larger weight beyond the sample would have been under-represented).
    """
    w = _check_weights(weights, minimum=1)
    check_rng(rng)
    return rng.random(len(w)) * w.max() < w
