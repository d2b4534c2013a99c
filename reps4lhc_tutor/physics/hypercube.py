r"""Massless ``n``-body phase space as an invertible map from the unit hypercube ("RAMBO on diet").

Importance samplers (VEGAS, normalizing flows) work on the unit hypercube ``[0, 1]^d``, so they need a
bijection from ``d`` random numbers to phase-space points with a known Jacobian. RAMBO
(:func:`~reps4lhc_tutor.physics.phasespace.rambo`) is flat but uses ``4 n`` random numbers for the
``d = 3 n - 4`` dimensions of massless ``n``-body phase space, so it is not a bijection. Plätzer's "RAMBO on
diet" (S. Plätzer, arXiv:1308.2922) is: it decays the total momentum step by step, ``Q_0 -> p_0 + Q_1``,
``Q_1 -> p_1 + Q_2``, ..., ``Q_{n-2} -> p_{n-2} + p_{n-1}``, with

* ``n - 2`` random numbers for the intermediate masses ``M_1 > M_2 > ... > M_{n-2}``: with ``k`` particles
  still to produce, ``x = M_{i+1}^2 / M_i^2`` has the density ``(k-1)(k-2) (1 - x) x^(k-3)`` of massless
  phase space, whose CDF ``F_k(x) = (k-1) x^(k-2) - (k-2) x^(k-1)`` maps ``x`` to a uniform number;
* ``2 (n - 1)`` random numbers for the decay angles ``(cos theta, phi)`` of ``p_i`` in the rest frame of
  ``Q_i``, uniform on the sphere.

Every point then carries the same weight, the phase-space volume ``rambo_weight(n, sqrt_s)``: the map is
flat, like RAMBO, and ``int dPhi_n f = rambo_weight * int_{[0,1]^d} du f(p(u))``.

Conventions as in :mod:`~reps4lhc_tutor.physics.phasespace`: events are ``(2 + n, 4)`` arrays
``(E, px, py, pz)`` in GeV, beams first along ``+z`` and ``-z``, the final state in the partonic
centre-of-mass frame; float64 throughout. The random numbers are ordered as ``u[:, :n-2]`` (masses), then
``(u[:, n-2+2i], u[:, n-1+2i]) = ((1 + cos theta_i) / 2, phi_i / (2 pi))`` for the decay of ``Q_i``,
``i = 0 ... n-2``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .phasespace import _check_count, _check_sqrt_s, beams

__all__ = ["from_unit_cube", "phase_space_dimension", "to_unit_cube"]

# Bisection steps for the mass equation F_k(x) = r on [0, 1]: 2^-60 is below float64's resolution near 1.
_BISECTION_STEPS = 60


def phase_space_dimension(n_final: int) -> int:
    """Dimension ``3 n - 4`` of massless ``n``-body phase space at fixed total momentum."""
    return 3 * _check_count(n_final, "n_final", 2) - 4


def _mass_cdf(x: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """``F_k(x)``: CDF of ``x = M_{i+1}^2 / M_i^2`` when ``Q_i`` decays into ``k`` massless particles."""
    return (k - 1) * x ** (k - 2) - (k - 2) * x ** (k - 1)


def _solve_mass_cdf(r: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Invert :func:`_mass_cdf` elementwise: ``x`` in ``[0, 1]`` with ``F_k(x) = r`` (by bisection)."""
    if k == 3:  # 2x - x^2 = r has a closed form
        return 1.0 - np.sqrt(1.0 - r)
    lo, hi = np.zeros_like(r), np.ones_like(r)
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = _mass_cdf(mid, k) < r
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _boost_from_rest(p: NDArray[np.float64], frame: NDArray[np.float64]) -> NDArray[np.float64]:
    """Boost ``p`` (events, 4), given in the rest frame of ``frame`` (events, 4), to the lab frame."""
    mass = np.sqrt(np.maximum(frame[:, 0] ** 2 - np.sum(frame[:, 1:] ** 2, axis=-1), 0.0))
    vec_dot = np.sum(frame[:, 1:] * p[:, 1:], axis=-1)
    energy = (frame[:, 0] * p[:, 0] + vec_dot) / mass
    factor = (vec_dot / (frame[:, 0] + mass) + p[:, 0]) / mass
    return np.concatenate([energy[:, None], p[:, 1:] + factor[:, None] * frame[:, 1:]], axis=-1)


def from_unit_cube(u: ArrayLike, n_final: int, sqrt_s: ArrayLike) -> NDArray[np.float64]:
    """Map points of the unit hypercube to massless ``2 -> n_final`` events (RAMBO on diet).

    The map is a bijection (up to sets of measure zero) with a constant Jacobian: a uniform ``u`` gives
    events distributed uniformly in phase space, each with the weight ``rambo_weight(n_final, sqrt_s)``.

    Parameters
    ----------
    u : array, shape ``(events, 3 n_final - 4)``
        Points in ``[0, 1]^d``, ordered as in the module docstring.
    n_final : int
        Number of massless final-state particles, >= 2.
    sqrt_s : float or array, shape ``(events,)``
        Partonic centre-of-mass energy in GeV.

    Returns
    -------
    array, shape ``(events, 2 + n_final, 4)``
        Float64 four-momenta, beams first, final state in the centre-of-mass frame.
    """
    n = _check_count(n_final, "n_final", 2)
    u = np.asarray(u, dtype=np.float64)
    dim = phase_space_dimension(n)
    if u.ndim != 2 or u.shape[1] != dim:
        raise ValueError(
            f"u must have shape (events, 3 n_final - 4) = (events, {dim}) for n_final = {n}, got {u.shape}."
        )
    if not np.isfinite(u).all() or (u < 0).any() or (u > 1).any():
        raise ValueError("u must lie in the unit hypercube [0, 1]^d (finite values between 0 and 1).")
    n_events = len(u)
    energy = np.broadcast_to(_check_sqrt_s(sqrt_s, n_events), (n_events,))

    masses = [energy]  # M_0 = sqrt(s), then M_1 ... M_{n-2}; M_{n-1} = 0 (the last particle)
    for i in range(n - 2):
        masses.append(masses[-1] * np.sqrt(_solve_mass_cdf(u[:, i], n - i)))
    masses.append(np.zeros(n_events))

    frame = np.zeros((n_events, 4))  # Q_i in the lab; Q_0 is at rest
    frame[:, 0] = energy
    final = []
    for i in range(n - 1):
        momentum = (masses[i] ** 2 - masses[i + 1] ** 2) / (2 * masses[i])  # |p_i| in the rest frame of Q_i
        cos_theta = 2 * u[:, n - 2 + 2 * i] - 1
        sin_theta = np.sqrt(np.maximum(1 - cos_theta**2, 0.0))
        azimuth = 2 * np.pi * u[:, n - 1 + 2 * i]
        rest = momentum[:, None] * np.stack(
            [np.ones(n_events), sin_theta * np.cos(azimuth), sin_theta * np.sin(azimuth), cos_theta], axis=-1
        )
        p = rest if i == 0 else _boost_from_rest(rest, frame)
        final.append(p)
        frame = frame - p  # Q_{i+1} = Q_i - p_i: exact momentum conservation at every step
    final.append(frame)
    return np.concatenate([beams(energy), np.stack(final, axis=1)], axis=1)


def to_unit_cube(momenta: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`from_unit_cube`: the point of ``[0, 1]^d`` that produces each event.

    Parameters
    ----------
    momenta : array, shape ``(events, 2 + n_final, 4)``
        Massless events in their centre-of-mass frame, beams first (as :func:`from_unit_cube` returns).

    Returns
    -------
    array, shape ``(events, 3 n_final - 4)``
    """
    p = np.asarray(momenta, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 4 or p.shape[1] < 4:
        raise ValueError(
            f"momenta must have shape (events, 2 + n_final, 4) with n_final >= 2, beams first; got {p.shape}."
        )
    if not np.isfinite(p).all():
        raise ValueError("momenta contain NaN or inf.")
    final = p[:, 2:]
    n = final.shape[1]
    frames = np.cumsum(final[:, ::-1], axis=1)[:, ::-1]  # Q_i = p_i + ... + p_{n-1}, (events, n, 4)
    mass_sq = frames[..., 0] ** 2 - np.sum(frames[..., 1:] ** 2, axis=-1)
    columns = []
    for i in range(n - 2):  # x = M_{i+1}^2 / M_i^2 through the CDF of its density
        ratio = np.clip(mass_sq[:, i + 1] / mass_sq[:, i], 0.0, 1.0)  # rounding only: 0 <= x <= 1 exactly
        columns.append(_mass_cdf(ratio, n - i))
    for i in range(n - 1):  # p_i in the rest frame of Q_i: the inverse boost
        frame = frames[:, i].copy()
        frame[:, 1:] *= -1
        rest = _boost_from_rest(final[:, i], frame)
        cos_theta = rest[:, 3] / np.linalg.norm(rest[:, 1:], axis=-1)
        azimuth = np.mod(np.arctan2(rest[:, 2], rest[:, 1]), 2 * np.pi)
        columns += [np.clip((1 + cos_theta) / 2, 0.0, 1.0), azimuth / (2 * np.pi)]
    return np.stack(columns, axis=-1)
