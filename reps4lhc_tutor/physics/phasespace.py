"""Massless phase space for ``2 -> n`` scattering: RAMBO, a parton luminosity, generation cuts.

Conventions
-----------
* An event is an array ``(2 + n_final, 4)`` of four-momenta ``(E, px, py, pz)`` in GeV, metric ``(+,-,-,-)``.
  Particles 0 and 1 are the incoming partons with positive energy, ``p0 = (E, 0, 0, E)`` and
  ``p1 = (E, 0, 0, -E)`` with ``E = sqrt(s) / 2``; particles ``2 ... n_final + 1`` are the massless final
  state, in the partonic centre-of-mass frame, so ``p0 + p1 = sum of the final-state momenta``.
* All arrays are float64. Momentum conservation and masslessness hold to ~1e-15 relative to ``sqrt(s)``.

RAMBO (Kleiss, Stirling and Ellis, Comput. Phys. Commun. 40 (1986) 359) turns ``4 n`` uniform random numbers
into ``n`` massless momenta distributed *uniformly* in Lorentz-invariant phase space: every event carries the
same weight, the phase-space volume of :func:`rambo_weight`. It draws ``n`` independent isotropic massless
momenta with energies distributed as ``q e^{-q}``, then boosts and rescales them so that they add up to
``(sqrt(s), 0, 0, 0)``; the exponential energy spectrum is exactly what makes the result flat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import check_rng
from . import lorentz

__all__ = [
    "Cuts",
    "PowerLawLuminosity",
    "apply_cuts",
    "beams",
    "generate",
    "generate_with_efficiency",
    "rambo",
    "rambo_weight",
    "sample_sqrt_s",
]


@dataclass(frozen=True)
class Cuts:
    """Generation cuts on the final-state partons (defaults as in the course's amplitude datasets).

    Both keep the amplitudes away from their soft and collinear singularities, where ``|M|^2`` diverges.
    """

    pt_min: float = 20.0  # GeV: every final-state parton is hard
    delta_r_min: float = 0.4  # every pair is separated by more than a typical jet radius

    def __post_init__(self) -> None:
        for name in ("pt_min", "delta_r_min"):
            value = getattr(self, name)
            if not (isinstance(value, Real) and np.isfinite(value) and value >= 0):
                raise ValueError(f"Cuts.{name} must be a finite number >= 0 (0 disables it), got {value!r}.")


@dataclass(frozen=True)
class PowerLawLuminosity:
    """A toy parton luminosity: ``sqrt(s)`` distributed as ``(sqrt(s))^(-power)`` between ``lo`` and ``hi``.

    Real parton luminosities fall steeply with the partonic energy; a power law with ``power`` around 3 to 5
    mimics that over a limited range without any parton distribution functions. ``power = 0`` is flat.
    """

    lo: float = 500.0  # GeV: lowest partonic centre-of-mass energy
    hi: float = 2000.0  # GeV: highest partonic centre-of-mass energy
    power: float = 3.0  # steepness of the fall-off

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lo) and np.isfinite(self.hi) and 0 < self.lo < self.hi):
            raise ValueError(f"PowerLawLuminosity needs 0 < lo < hi (GeV), got lo={self.lo}, hi={self.hi}.")
        if not np.isfinite(self.power):
            raise ValueError(f"PowerLawLuminosity.power must be finite, got {self.power}.")


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_sqrt_s(sqrt_s: ArrayLike, n_events: int) -> NDArray[np.float64]:
    """Return ``sqrt_s`` as a float64 array of shape ``()`` or ``(n_events,)``; raise on bad values."""
    arr = np.asarray(sqrt_s)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"sqrt_s must be a real number or an array of them, got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape[0] != n_events):
        raise ValueError(
            f"sqrt_s must be a number or an array of shape (n_events,) = ({n_events},), got {arr.shape}."
        )
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ValueError("sqrt_s must be finite and > 0 (GeV).")
    return arr


def rambo_weight(n_final: int, sqrt_s: ArrayLike) -> NDArray[np.float64]:
    r"""Volume of massless ``n``-body phase space: the constant weight of every RAMBO event.

    With the measure ``dPhi_n = prod_i d^3p_i / ((2 pi)^3 2 E_i) * (2 pi)^4 delta^4(P - sum_i p_i)``,

    .. math:: \Phi_n(s) = (2\pi)^{4 - 3n} \left(\frac{\pi}{2}\right)^{n-1} \frac{s^{n-2}}{(n-1)!\,(n-2)!},

    e.g. ``1 / (8 pi)`` for ``n = 2`` and ``s / (256 pi^3)`` for ``n = 3``; units ``GeV^(2n - 4)``. A Monte
    Carlo estimate of ``int dPhi_n f`` is ``rambo_weight(n, sqrt_s) * mean(f)`` over RAMBO events.

    Parameters
    ----------
    n_final : int
        Number of massless final-state particles, >= 2.
    sqrt_s : float or array, shape ``(events,)``
        Partonic centre-of-mass energy in GeV.

    Returns
    -------
    array, shape ``()`` or ``(events,)``
    """
    n = _check_count(n_final, "n_final", 2)
    s = _check_sqrt_s(sqrt_s, np.size(sqrt_s)) ** 2
    constant = (
        (2 * np.pi) ** (4 - 3 * n) * (np.pi / 2) ** (n - 1) / (math.factorial(n - 1) * math.factorial(n - 2))
    )
    return constant * s ** (n - 2)


def sample_sqrt_s(
    luminosity: PowerLawLuminosity, n_events: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """Draw partonic centre-of-mass energies from a :class:`PowerLawLuminosity` by inverting its CDF.

    Parameters
    ----------
    luminosity : PowerLawLuminosity
    n_events : int
    rng : numpy.random.Generator

    Returns
    -------
    array, shape ``(n_events,)``
        ``sqrt(s)`` in GeV, within ``[luminosity.lo, luminosity.hi]``.
    """
    if not isinstance(luminosity, PowerLawLuminosity):
        raise TypeError(f"luminosity must be a PowerLawLuminosity, got {type(luminosity).__name__}.")
    n_events = _check_count(n_events, "n_events", 0)
    check_rng(rng)
    u = rng.random(n_events)
    lo, hi, k = luminosity.lo, luminosity.hi, 1.0 - luminosity.power  # CDF ~ x^k (log x when k = 0)
    if k == 0:
        return lo * (hi / lo) ** u
    return (lo**k + u * (hi**k - lo**k)) ** (1.0 / k)


def rambo(n_final: int, sqrt_s: ArrayLike, n_events: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Draw events uniformly in massless ``2 -> n_final`` phase space with RAMBO.

    Parameters
    ----------
    n_final : int
        Number of massless final-state particles, >= 2.
    sqrt_s : float or array, shape ``(n_events,)``
        Partonic centre-of-mass energy in GeV, one for all events or one per event.
    n_events : int
        Number of events, >= 0.
    rng : numpy.random.Generator
        Source of randomness; the same seed gives the same events.

    Returns
    -------
    array, shape ``(n_events, 2 + n_final, 4)``
        Float64 four-momenta: the two beams along ``+z`` and ``-z``, then the final state. Each event has
        the weight :func:`rambo_weight`.
    """
    n = _check_count(n_final, "n_final", 2)
    n_events = _check_count(n_events, "n_events", 0)
    energy = _check_sqrt_s(sqrt_s, n_events)
    check_rng(rng)
    energy = np.broadcast_to(energy, (n_events,))

    # Step 1: n independent isotropic massless momenta q_i = q0_i (1, n_i) with energy density q0 exp(-q0).
    r = rng.random((4, n_events, n))
    cos_theta = 2 * r[0] - 1
    sin_theta = np.sqrt(1 - cos_theta**2)
    azimuth = 2 * np.pi * r[1]
    q0 = -np.log(r[2] * r[3])  # (events, n)
    direction = np.stack([sin_theta * np.cos(azimuth), sin_theta * np.sin(azimuth), cos_theta], axis=-1)

    # Step 2: boost to the rest frame of Q = sum_i q_i, then rescale to sqrt(s). When all q_i are nearly
    # collinear the boost is huge and E^2 - |p|^2 cancels catastrophically, so every invariant is built from
    # q_i.q_j = q0_i q0_j |n_i - n_j|^2 / 2, which has no cancellation: the errors then grow like the Lorentz
    # factor of the boost (not its square) and stay below 1e-12 relative in millions of events.
    separation = direction[:, :, None, :] - direction[:, None, :, :]  # (events, n, n, 3)
    dots = 0.5 * q0[:, :, None] * q0[:, None, :] * np.sum(separation**2, axis=-1)  # q_i.q_j, (events, n, n)
    total_mass = np.sqrt(dots.sum(axis=(1, 2)))  # M = sqrt(Q^2), (events,)
    rest_energy = dots.sum(axis=2) / total_mass[:, None]  # Q.q_i / M: energies in the Q rest frame
    q_vec = q0[..., None] * direction  # (events, n, 3)
    total_vec = q_vec.sum(axis=1)  # (events, 3)
    total_energy = q0.sum(axis=1)
    # Boost to the rest frame of Q: p_vec = q_vec - Q_vec (q0 + E_rest) / (Q0 + M).
    factor = (q0 + rest_energy) / (total_energy + total_mass)[:, None]  # (events, n)
    rest_vec = q_vec - factor[..., None] * total_vec[:, None, :]
    scale = (energy / total_mass)[:, None, None]
    final = scale * np.concatenate([rest_energy[..., None], rest_vec], axis=-1)

    return np.concatenate([beams(energy), final], axis=1)


def beams(sqrt_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """The incoming partons ``(E, 0, 0, E)`` and ``(E, 0, 0, -E)`` with ``E = sqrt_s / 2``.

    ``sqrt_s`` has shape ``(events,)``, in GeV; the result ``(events, 2, 4)``.
    """
    incoming = np.zeros((len(sqrt_s), 2, 4))
    incoming[:, :, 0] = sqrt_s[:, None] / 2
    incoming[:, 0, 3], incoming[:, 1, 3] = sqrt_s / 2, -sqrt_s / 2
    return incoming


def _check_momenta(momenta: ArrayLike) -> NDArray[np.floating]:
    arr = np.asarray(momenta)
    if arr.ndim != 3 or arr.shape[-1] != 4 or arr.shape[1] < 4:
        raise ValueError(
            f"momenta must have shape (events, 2 + n_final, 4) with n_final >= 2, ordered (E, px, py, pz) "
            f"with the two beams first; got shape {arr.shape}."
        )
    return arr


def apply_cuts(momenta: ArrayLike, pt_min: float = 20.0, delta_r_min: float = 0.4) -> NDArray[np.bool_]:
    """Which events pass the generation cuts on their final-state partons.

    Every final-state parton (particles ``2, 3, ...``) must have ``pt > pt_min`` and every pair of them
    ``Delta R = sqrt(Delta eta^2 + Delta phi^2) > delta_r_min``; the beams are ignored.

    Parameters
    ----------
    momenta : array, shape ``(events, 2 + n_final, 4)``
    pt_min : float
        GeV; 0 disables the cut.
    delta_r_min : float
        0 disables the cut.

    Returns
    -------
    array of bool, shape ``(events,)``
    """
    cuts = Cuts(pt_min, delta_r_min)  # validates the values
    final = _check_momenta(momenta)[:, 2:]
    passed = np.all(lorentz.pt(final) > cuts.pt_min, axis=-1)
    if cuts.delta_r_min > 0:
        i, j = np.triu_indices(final.shape[1], k=1)
        separation = lorentz.delta_r(final[:, i], final[:, j])  # (events, pairs)
        passed &= np.all(separation > cuts.delta_r_min, axis=-1)
    return passed


def generate(
    n_final: int,
    sqrt_s: float | PowerLawLuminosity,
    n_events: int,
    rng: np.random.Generator,
    cuts: Cuts | None = Cuts(),
    *,
    min_efficiency: float = 1e-3,
) -> NDArray[np.float64]:
    """Draw exactly ``n_events`` RAMBO events that pass ``cuts``.

    The same as :func:`generate_with_efficiency` without the efficiency; see there for the parameters.

    Returns
    -------
    array, shape ``(n_events, 2 + n_final, 4)``
    """
    return generate_with_efficiency(n_final, sqrt_s, n_events, rng, cuts, min_efficiency=min_efficiency)[0]


def generate_with_efficiency(
    n_final: int,
    sqrt_s: float | PowerLawLuminosity,
    n_events: int,
    rng: np.random.Generator,
    cuts: Cuts | None = Cuts(),
    *,
    min_efficiency: float = 1e-3,
) -> tuple[NDArray[np.float64], float]:
    """Draw exactly ``n_events`` RAMBO events that pass ``cuts``, oversampling in batches.

    Cuts make the accepted events uniform in the *cut* phase space, whose volume is
    ``rambo_weight(n_final, sqrt_s) * efficiency`` (for fixed ``sqrt_s``).

    Parameters
    ----------
    n_final : int
        Number of final-state partons, >= 2.
    sqrt_s : float or PowerLawLuminosity
        A fixed partonic energy in GeV, or a luminosity to draw one per event from.
    n_events : int
        Number of accepted events to return, >= 0.
    rng : numpy.random.Generator
    cuts : Cuts or None
        Generation cuts; ``None`` keeps every event.
    min_efficiency : float
        Give up when a pilot batch of at least 10,000 events shows a lower cut efficiency.

    Returns
    -------
    momenta : array, shape ``(n_events, 2 + n_final, 4)``
    efficiency : float
        Fraction of the generated events that passed the cuts (1 without cuts): an estimate from at least
        10,000 events.

    Raises
    ------
    ValueError
        If the cut efficiency is below ``min_efficiency``: loosen the cuts or raise ``sqrt_s``.
    """
    n_final = _check_count(n_final, "n_final", 2)
    n_events = _check_count(n_events, "n_events", 0)
    check_rng(rng)
    if cuts is not None and not isinstance(cuts, Cuts):
        raise TypeError(f"cuts must be a Cuts instance or None, got {type(cuts).__name__}.")
    if not isinstance(sqrt_s, PowerLawLuminosity):
        if np.ndim(sqrt_s) != 0:
            raise ValueError(
                "generate takes one sqrt_s for all events; for a spectrum pass a PowerLawLuminosity."
            )
        _check_sqrt_s(sqrt_s, 1)

    def draw(size: int) -> NDArray[np.float64]:
        energy = sample_sqrt_s(sqrt_s, size, rng) if isinstance(sqrt_s, PowerLawLuminosity) else sqrt_s
        return rambo(n_final, energy, size, rng)

    if cuts is None:
        return draw(n_events), 1.0

    accepted: list[NDArray[np.float64]] = []
    n_accepted = n_tried = 0
    while n_tried == 0 or n_accepted < n_events:  # the pilot batch runs even for n_events = 0
        if n_tried == 0:  # pilot batch: measures the efficiency
            size = max(10_000, n_events)
        else:  # enough for the rest at the measured efficiency, plus 10 % so one more batch is rare
            size = int(1.1 * (n_events - n_accepted) * n_tried / n_accepted) + 100
        batch = draw(size)
        keep = apply_cuts(batch, cuts.pt_min, cuts.delta_r_min)
        n_tried += size
        n_accepted += int(keep.sum())
        accepted.append(batch[keep])
        if n_accepted < min_efficiency * n_tried:
            raise ValueError(
                f"only {n_accepted} of {n_tried} events pass the cuts {cuts} at sqrt_s = {sqrt_s} for "
                f"n_final = {n_final} (efficiency < min_efficiency = {min_efficiency}); loosen the cuts or "
                f"raise sqrt_s."
            )
    return np.concatenate(accepted)[:n_events], n_accepted / n_tried
