"""Four-vectors: Minkowski invariants, collider coordinates and Lorentz transformations.

Conventions (the same everywhere in the course)
-----------------------------------------------
* A four-vector is an array whose last axis has length 4, ordered ``(E, px, py, pz)``, in GeV. Leading axes
  are free: ``(4,)`` is one particle, ``(batch, particles, 4)`` a batch of events. Binary functions
  broadcast their leading axes with numpy's rules.
* The metric is ``diag(+1, -1, -1, -1)``, so ``p.p = E^2 - |p|^2 = m^2``.
* The beam axis is ``z``; the azimuth ``phi`` lies in ``(-pi, pi]``.
* Transformations are *active*: they move the particles, not the observer. ``boost(p, beta)`` sets a particle
  at rest moving with velocity ``beta``.

Every function checks its input: a last axis of the wrong length or a NaN/inf entry raises ``ValueError``.

Precision in float64
--------------------
* Four-momentum round trips through ``(pt, eta, phi, m)`` reproduce ``(E, px, py, pz)`` to ~1e-15 relative
  to ``E`` for any pseudorapidity, massless particles included.
* The mass itself comes from ``E^2 - |p|^2``, a difference of large numbers: its absolute error is about
  ``1e-16 * E^2 / m``. A massless particle therefore comes back with ``|m| ~ 1e-8 E`` (of either sign),
  and an electron with ``E = 1 TeV`` keeps only three or four significant digits of its mass. This is a
  property of the stored four-vector, not of the formulas.
* Rapidity is computed as ``artanh(pz / E)``; near the beam its absolute error grows like
  ``1e-16 * cosh(y)^2`` (about 1e-13 at ``|y| = 4``), and the same factor enters the round trip through
  ``(pt, y, phi, m)``.
* A particle exactly along the beam (``pt = 0``, ``pz != 0``) has infinite ``eta`` (and infinite ``y`` if
  massless); such values cannot be converted back. The null vector (zero padding) gets ``eta = y = 0``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import check_rng

__all__ = [
    "METRIC",
    "boost",
    "boost_matrix",
    "boost_to_rest_frame",
    "delta_phi",
    "delta_r",
    "eta",
    "from_ptetaphim",
    "from_ptyphim",
    "invariant_mass",
    "lorentz_transform",
    "mass",
    "mass_squared",
    "minkowski_dot",
    "pairwise_dots",
    "phi",
    "pt",
    "random_lorentz_transformation",
    "rapidity",
    "rotate",
    "rotation_z",
    "rotation_z_matrix",
    "to_ptetaphim",
    "to_ptyphim",
    "wrap_angle",
]

METRIC: NDArray[np.float64] = np.diag([1.0, -1.0, -1.0, -1.0])
"""The Minkowski metric ``g = diag(+1, -1, -1, -1)``, shape ``(4, 4)`` (read-only)."""
METRIC.flags.writeable = False

_FOUR_VECTOR = "ordered (E, px, py, pz)"


def _check_finite(arr: NDArray, name: str) -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        n_bad = arr.size - int(np.count_nonzero(finite))
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite entries; drop or mask those entries first "
            f"(np.isfinite finds them)."
        )


def _as_real_array(x: ArrayLike, name: str, trailing: tuple[int, ...], layout: str) -> NDArray[np.floating]:
    """Return ``x`` as a finite floating array whose last axes are ``trailing``; raise otherwise."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.ndim < len(trailing) or arr.shape[arr.ndim - len(trailing) :] != trailing:
        expected = "(..., " + ", ".join(map(str, trailing)) + ")"
        raise ValueError(f"{name} must have shape {expected}, {layout}; got shape {arr.shape}.")
    _check_finite(arr, name)
    return arr


def _four_vectors(p: ArrayLike, name: str = "p") -> NDArray[np.floating]:
    return _as_real_array(p, name, (4,), _FOUR_VECTOR + " (build it with np.stack([E, px, py, pz], axis=-1))")


# ---------------------------------------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------------------------------------


def minkowski_dot(p: ArrayLike, q: ArrayLike) -> NDArray[np.floating]:
    """Minkowski product ``p.q = E_p E_q - p_vec . q_vec``.

    Parameters
    ----------
    p, q : array, shape ``(..., 4)``
        Four-vectors; leading axes broadcast.

    Returns
    -------
    array, shape ``(...)``
    """
    p, q = _four_vectors(p, "p"), _four_vectors(q, "q")
    return p[..., 0] * q[..., 0] - np.sum(p[..., 1:] * q[..., 1:], axis=-1)


def mass_squared(p: ArrayLike) -> NDArray[np.floating]:
    """Invariant mass squared ``m^2 = p.p``, negative for spacelike vectors; shape ``(..., 4) -> (...)``."""
    return minkowski_dot(p, p)


def mass(p: ArrayLike) -> NDArray[np.floating]:
    """Invariant mass with a signed square root, ``sign(m^2) * sqrt(|m^2|)``.

    Spacelike vectors (``m^2 < 0``) get a *negative* mass instead of NaN, as in scikit-hep/vector. Rounding
    makes massless particles slightly spacelike half of the time, so a tiny negative mass is normal; the
    sign keeps ``m * |m| = m^2`` exact, which :func:`from_ptetaphim` relies on.

    Parameters
    ----------
    p : array, shape ``(..., 4)``

    Returns
    -------
    array, shape ``(...)``
    """
    m2 = mass_squared(p)
    return np.copysign(np.sqrt(np.abs(m2)), m2)


def invariant_mass(*momenta: ArrayLike) -> NDArray[np.floating]:
    """Invariant mass of a system of particles, ``sqrt((sum_i p_i)^2)`` (signed as in :func:`mass`).

    Either pass several arrays of shape ``(..., 4)``, one per particle (``invariant_mass(mu1, mu2)``), or a
    single array of shape ``(..., n, 4)`` holding the ``n`` particles of each system.

    Returns
    -------
    array, shape ``(...)``
    """
    if not momenta:
        raise TypeError("invariant_mass needs at least one array of four-momenta.")
    if len(momenta) == 1:
        system = _four_vectors(momenta[0], "momenta")
        if system.ndim < 2:
            raise ValueError(
                f"a single argument must have shape (..., n, 4), n particles per system, got {system.shape}; "
                f"for one particle use mass(p)."
            )
        return mass(system.sum(axis=-2))
    return mass(sum(_four_vectors(p, f"momenta[{i}]") for i, p in enumerate(momenta)))


def pairwise_dots(p: ArrayLike) -> NDArray[np.floating]:
    """Minkowski products ``p_i . p_j`` of every pair ``i < j`` of the ``n`` particles of each event.

    For massless particles ``2 p_i . p_j = (p_i + p_j)^2 = s_ij``; together they are a complete set of
    Lorentz invariants of the event (not independent: only ``3n - 10`` are, for ``n >= 4`` massless momenta).

    Parameters
    ----------
    p : array, shape ``(..., n, 4)``

    Returns
    -------
    array, shape ``(..., n (n - 1) / 2)``
        Ordered ``(0, 1), (0, 2), ..., (0, n-1), (1, 2), ...``, as ``numpy.triu_indices(n, 1)``.
    """
    p = _four_vectors(p)
    if p.ndim < 2 or p.shape[-2] < 2:
        raise ValueError(f"p must have shape (..., n, 4) with n >= 2 particles, got {p.shape}.")
    i, j = np.triu_indices(p.shape[-2], 1)
    return minkowski_dot(p[..., i, :], p[..., j, :])


# ---------------------------------------------------------------------------------------------------------
# Collider coordinates
# ---------------------------------------------------------------------------------------------------------


def pt(p: ArrayLike) -> NDArray[np.floating]:
    """Transverse momentum ``sqrt(px^2 + py^2)``; shape ``(..., 4) -> (...)``."""
    p = _four_vectors(p)
    return np.hypot(p[..., 1], p[..., 2])


def eta(p: ArrayLike) -> NDArray[np.floating]:
    """Pseudorapidity ``eta = -ln tan(theta / 2) = arsinh(pz / pt)``; shape ``(..., 4) -> (...)``.

    ``arsinh(pz / pt)`` stays accurate near the beam, where ``artanh(pz / |p|)`` would not. Along the beam
    (``pt = 0``) ``eta = +-inf``; the null three-vector gets ``eta = 0``.
    """
    p = _four_vectors(p)
    transverse, pz = np.hypot(p[..., 1], p[..., 2]), p[..., 3]
    with np.errstate(divide="ignore", invalid="ignore"):  # pt = 0 handled just below
        result = np.arcsinh(pz / transverse)
    return np.where((transverse == 0) & (pz == 0), 0.0, result)


def rapidity(p: ArrayLike) -> NDArray[np.floating]:
    """Rapidity ``y = artanh(pz / E) = 0.5 ln((E + pz) / (E - pz))``; shape ``(..., 4) -> (...)``.

    Defined for ``|pz| <= E``; a massless particle along the beam has ``y = +-inf``, the null vector
    ``y = 0``.

    Raises
    ------
    ValueError
        If some ``|pz| > E`` (negative energy or a spacelike vector along ``z``).
    """
    p = _four_vectors(p)
    energy, pz = p[..., 0], p[..., 3]
    bad = np.abs(pz) > energy
    if bad.any():
        raise ValueError(
            f"rapidity needs |pz| <= E, but {int(np.count_nonzero(bad))} entries have |pz| > E; check the "
            f"component order (E, px, py, pz) and that energies are positive, or use eta()."
        )
    ratio = np.divide(pz, energy, out=np.zeros_like(pz), where=energy > 0)
    with np.errstate(divide="ignore"):  # |pz| = E: massless along the beam, y = +-inf as documented
        return np.arctanh(ratio)


def phi(p: ArrayLike) -> NDArray[np.floating]:
    """Azimuthal angle ``atan2(py, px)`` in ``(-pi, pi]``; shape ``(..., 4) -> (...)``."""
    p = _four_vectors(p)
    angle = np.arctan2(p[..., 2], p[..., 1])
    return np.where(angle == -np.pi, np.pi, angle)  # atan2(-0.0, x < 0) gives -pi


def wrap_angle(angle: ArrayLike) -> NDArray[np.floating]:
    """Map angles into ``(-pi, pi]`` by adding multiples of ``2 pi``; any shape.

    Angles already inside the interval are returned unchanged (bit for bit).
    """
    angle = np.asarray(angle, dtype=np.result_type(np.asarray(angle).dtype, np.float32))
    _check_finite(angle, "angle")
    wrapped = angle - 2 * np.pi * np.round(angle / (2 * np.pi))
    return np.where(wrapped <= -np.pi, wrapped + 2 * np.pi, wrapped)


def delta_phi(p: ArrayLike, q: ArrayLike) -> NDArray[np.floating]:
    """Azimuthal separation ``phi(p) - phi(q)`` wrapped into ``(-pi, pi]``; shapes ``(..., 4) -> (...)``."""
    return wrap_angle(phi(p) - phi(q))


def delta_r(p: ArrayLike, q: ArrayLike, *, use_rapidity: bool = False) -> NDArray[np.floating]:
    """Angular distance ``sqrt(delta_eta^2 + delta_phi^2)``; shapes ``(..., 4) -> (...)``.

    With ``use_rapidity=True`` the rapidity difference replaces ``delta_eta``, as in jet clustering with the
    anti-kt algorithm; both agree for massless particles.
    """
    longitudinal = rapidity if use_rapidity else eta
    return np.hypot(longitudinal(p) - longitudinal(q), delta_phi(p, q))


def to_ptetaphim(p: ArrayLike) -> NDArray[np.floating]:
    """Convert ``(E, px, py, pz)`` to ``(pt, eta, phi, m)``, shape ``(..., 4) -> (..., 4)``.

    ``m`` is the signed mass of :func:`mass`; see the module docstring for precision.

    Raises
    ------
    ValueError
        If some energy is negative: ``(pt, eta, phi, m)`` cannot represent it.
    """
    p = _four_vectors(p)
    negative = p[..., 0] < 0
    if negative.any():
        raise ValueError(
            f"{int(np.count_nonzero(negative))} four-vectors have E < 0, which (pt, eta, phi, m) cannot "
            f"represent; check the component order (E, px, py, pz)."
        )
    return np.stack([pt(p), eta(p), phi(p), mass(p)], axis=-1)


def to_ptyphim(p: ArrayLike) -> NDArray[np.floating]:
    """Convert ``(E, px, py, pz)`` to ``(pt, y, phi, m)`` with the rapidity ``y``; ``(..., 4) -> (..., 4)``.

    Raises
    ------
    ValueError
        If some ``|pz| > E`` (see :func:`rapidity`).
    """
    p = _four_vectors(p)
    return np.stack([pt(p), rapidity(p), phi(p), mass(p)], axis=-1)


def _split_collider_coordinates(x: ArrayLike, layout: str) -> tuple[NDArray[np.floating], ...]:
    x = _as_real_array(x, "coordinates", (4,), f"ordered {layout}")
    transverse, longitudinal, azimuth, m = np.moveaxis(x, -1, 0)
    if (transverse < 0).any():
        raise ValueError(f"pt must be >= 0 in {layout}; check the component order.")
    return transverse, longitudinal, azimuth, m * np.abs(m)  # signed m^2, inverse of mass()


def from_ptetaphim(x: ArrayLike) -> NDArray[np.floating]:
    """Convert ``(pt, eta, phi, m)`` to ``(E, px, py, pz)``, shape ``(..., 4) -> (..., 4)``.

    A negative ``m`` means ``m^2 = -m^2`` (spacelike), undoing :func:`mass`.

    Raises
    ------
    ValueError
        If ``pt < 0``, an entry is not finite (e.g. ``eta = inf``), or a negative mass exceeds ``|p|``.
    """
    transverse, pseudorapidity, azimuth, m2 = _split_collider_coordinates(x, "(pt, eta, phi, m)")
    energy2 = (transverse * np.cosh(pseudorapidity)) ** 2 + m2
    if (energy2 < 0).any():
        raise ValueError("a negative (spacelike) mass with |m| > |p| would need E^2 < 0; check the masses.")
    return np.stack(
        [
            np.sqrt(energy2),
            transverse * np.cos(azimuth),
            transverse * np.sin(azimuth),
            transverse * np.sinh(pseudorapidity),
        ],
        axis=-1,
    )


def from_ptyphim(x: ArrayLike) -> NDArray[np.floating]:
    """Convert ``(pt, y, phi, m)`` to ``(E, px, py, pz)``, shape ``(..., 4) -> (..., 4)``.

    Uses the transverse mass ``mT = sqrt(pt^2 + m^2)``: ``E = mT cosh y`` and ``pz = mT sinh y``.

    Raises
    ------
    ValueError
        If ``pt < 0``, an entry is not finite, or a negative mass exceeds ``pt`` (``mT^2 < 0``).
    """
    transverse, y, azimuth, m2 = _split_collider_coordinates(x, "(pt, y, phi, m)")
    mt2 = transverse**2 + m2
    if (mt2 < 0).any():
        raise ValueError("a negative (spacelike) mass with |m| > pt gives mT^2 < 0; check the masses.")
    mt = np.sqrt(mt2)
    return np.stack(
        [mt * np.cosh(y), transverse * np.cos(azimuth), transverse * np.sin(azimuth), mt * np.sinh(y)],
        axis=-1,
    )


# ---------------------------------------------------------------------------------------------------------
# Lorentz transformations: every one is a (..., 4, 4) matrix applied by lorentz_transform
# ---------------------------------------------------------------------------------------------------------


def lorentz_transform(p: ArrayLike, lam: ArrayLike) -> NDArray[np.floating]:
    """Apply a linear map ``p'^mu = Lambda^mu_nu p^nu``.

    Parameters
    ----------
    p : array, shape ``(..., 4)``
    lam : array, shape ``(..., 4, 4)``
        The matrix ``Lambda``; it is not checked to be a Lorentz transformation. Its leading axes broadcast
        against those of ``p``: for one matrix per event and ``p`` of shape ``(batch, particles, 4)`` pass
        ``lam[:, None]`` of shape ``(batch, 1, 4, 4)``.

    Returns
    -------
    array, shape ``(..., 4)``
    """
    p = _four_vectors(p)
    lam = _as_real_array(lam, "lam", (4, 4), "acting on (E, px, py, pz)")
    return np.matmul(lam, p[..., None])[..., 0]


def boost_matrix(beta: ArrayLike) -> NDArray[np.floating]:
    """Matrix of the pure boost that gives a particle at rest the velocity ``beta``.

    ``Lambda^0_0 = gamma``, ``Lambda^0_i = Lambda^i_0 = gamma beta_i`` and
    ``Lambda^i_j = delta_ij + gamma^2 / (gamma + 1) beta_i beta_j``, using
    ``(gamma - 1) / beta^2 = gamma^2 / (gamma + 1)``, which has no 0/0 at ``beta = 0``.

    Parameters
    ----------
    beta : array, shape ``(..., 3)``
        Velocities in units of ``c``, each with ``|beta| < 1``.

    Returns
    -------
    array, shape ``(..., 4, 4)``
    """
    beta = _as_real_array(beta, "beta", (3,), "the velocity (beta_x, beta_y, beta_z) in units of c")
    speed = np.sqrt(np.sum(beta**2, axis=-1))
    if (speed >= 1).any():
        raise ValueError(
            f"a boost needs |beta| < 1, got |beta| up to {speed.max():.17g}; for the rest frame of a "
            f"four-momentum P use boost_to_rest_frame (P must be massive)."
        )
    gamma = 1 / np.sqrt((1 - speed) * (1 + speed))  # more accurate than 1 - beta^2 when beta -> 1
    lam = np.zeros((*beta.shape[:-1], 4, 4), dtype=beta.dtype)
    lam[..., 0, 0] = gamma
    lam[..., 0, 1:] = lam[..., 1:, 0] = gamma[..., None] * beta
    factor = (gamma**2 / (gamma + 1))[..., None, None]
    lam[..., 1:, 1:] = np.eye(3) + factor * beta[..., :, None] * beta[..., None, :]
    return lam


def boost(p: ArrayLike, beta: ArrayLike) -> NDArray[np.floating]:
    """Boost four-vectors by the velocity ``beta`` (active: a particle at rest ends up moving with ``beta``).

    Parameters
    ----------
    p : array, shape ``(..., 4)``
    beta : array, shape ``(..., 3)``
        ``|beta| < 1``; leading axes broadcast as in :func:`lorentz_transform`.

    Returns
    -------
    array, shape ``(..., 4)``
    """
    return lorentz_transform(p, boost_matrix(beta))


def boost_to_rest_frame(p: ArrayLike, frame: ArrayLike) -> NDArray[np.floating]:
    """Express ``p`` in the rest frame of the four-momentum ``frame``, where ``frame -> (m, 0, 0, 0)``.

    Parameters
    ----------
    p : array, shape ``(..., 4)``
    frame : array, shape ``(..., 4)``
        A massive four-momentum with ``E > 0``, e.g. the sum of the decay products of a resonance.

    Returns
    -------
    array, shape ``(..., 4)``
    """
    frame = _four_vectors(frame, "frame")
    if (frame[..., 0] <= 0).any() or (mass_squared(frame) <= 0).any():
        raise ValueError(
            "frame must be timelike with E > 0 and m^2 > 0: massless or spacelike vectors have no rest frame."
        )
    return boost(p, -frame[..., 1:] / frame[..., :1])


def _embed_rotation(rotation: NDArray[np.floating]) -> NDArray[np.floating]:
    """Place 3x3 rotations ``(..., 3, 3)`` in the spatial block of 4x4 matrices ``(..., 4, 4)``."""
    lam = np.zeros((*rotation.shape[:-2], 4, 4), dtype=rotation.dtype)
    lam[..., 0, 0] = 1
    lam[..., 1:, 1:] = rotation
    return lam


def rotate(p: ArrayLike, rotation: ArrayLike) -> NDArray[np.floating]:
    """Rotate the three-momenta of ``p`` by the matrix ``rotation``; the energy is unchanged.

    Parameters
    ----------
    p : array, shape ``(..., 4)``
    rotation : array, shape ``(..., 3, 3)``
        Orthogonal matrices with determinant +1 (not checked).

    Returns
    -------
    array, shape ``(..., 4)``
    """
    rotation = _as_real_array(rotation, "rotation", (3, 3), "a 3x3 rotation matrix")
    return lorentz_transform(p, _embed_rotation(rotation))


def rotation_z_matrix(angle: ArrayLike) -> NDArray[np.float64]:
    """Matrices of rotations about the beam axis by ``angle`` (radians): ``phi -> phi + angle``.

    Parameters
    ----------
    angle : float or array, shape ``(...)``

    Returns
    -------
    array, shape ``(..., 4, 4)``
    """
    angle = np.asarray(angle, dtype=np.float64)
    _check_finite(angle, "angle")
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.zeros((*angle.shape, 3, 3))
    rotation[..., 0, 0], rotation[..., 0, 1] = cos, -sin
    rotation[..., 1, 0], rotation[..., 1, 1] = sin, cos
    rotation[..., 2, 2] = 1
    return _embed_rotation(rotation)


def rotation_z(p: ArrayLike, angle: ArrayLike) -> NDArray[np.floating]:
    """Rotate ``p`` by ``angle`` (radians, counter-clockwise) about the beam axis: ``phi -> phi + angle``.

    Parameters
    ----------
    p : array, shape ``(..., 4)``
    angle : float or array, shape ``(...)``
        Broadcast against the leading axes of ``p``.

    Returns
    -------
    array, shape ``(..., 4)``
    """
    return lorentz_transform(p, rotation_z_matrix(angle))


def random_lorentz_transformation(
    rng: np.random.Generator, *, max_rapidity: float = 1.0, size: int | tuple[int, ...] | None = None
) -> NDArray[np.float64]:
    """Draw proper orthochronous Lorentz transformations ``Lambda = B R`` for symmetry tests.

    ``R`` is a uniformly distributed rotation; ``B`` boosts in a uniformly distributed direction with a
    rapidity drawn uniformly from ``[0, max_rapidity]`` (``|beta| = tanh(rapidity)``).

    Parameters
    ----------
    rng : numpy.random.Generator
        E.g. ``np.random.default_rng(0)``.
    max_rapidity : float
        Largest boost rapidity; 1 means ``gamma <= cosh(1) = 1.54``.
    size : int or tuple of int, optional
        Number (shape) of independent transformations.

    Returns
    -------
    array, shape ``(4, 4)`` or ``(*size, 4, 4)``
        Each satisfies ``Lambda^T g Lambda = g`` and ``det Lambda = +1``.
    """
    check_rng(rng)
    if not (np.isfinite(max_rapidity) and max_rapidity >= 0):
        raise ValueError(f"max_rapidity must be finite and >= 0, got {max_rapidity}.")
    shape = () if size is None else tuple(np.atleast_1d(size).tolist())

    # Uniform rotation: QR of a Gaussian matrix, column signs fixed by diag(R), then det forced to +1.
    q, r = np.linalg.qr(rng.standard_normal((*shape, 3, 3)))
    q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]
    q[..., :, 0] *= np.linalg.det(q)[..., None]

    direction = rng.standard_normal((*shape, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    beta = np.tanh(rng.uniform(0, max_rapidity, shape))[..., None] * direction
    return boost_matrix(beta) @ _embed_rotation(q)
