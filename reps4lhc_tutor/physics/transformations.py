"""Linear maps of four-momenta for symmetry probes: the symmetries of a collider event and maps that are not.

Every function returns matrices of shape ``(..., 4, 4)`` acting on ``(E, px, py, pz)``; apply them with
:func:`~reps4lhc_tutor.physics.lorentz.lorentz_transform`. A squared amplitude is invariant under every
Lorentz transformation, so a network that learned it should give the same output on transformed events.
With the beams along ``z``, boosts along the beam and rotations about it also keep the events inside the
collider's phase space. A shear or a general ``SL(4)`` map has determinant one as well but changes the
invariants ``p_i . p_j``, so it changes the amplitude: a network that is blind to it has learned a wrong
symmetry. :func:`random_transformations` draws any of these kinds by name.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import expm

from ..config import check_rng
from .lorentz import METRIC, random_lorentz_transformation
from .lorentz import rotation_z_matrix as beam_rotation_matrix

__all__ = [
    "DEFAULT_STRENGTH",
    "TRANSFORMATION_KINDS",
    "beam_boost_matrix",
    "beam_rotation_matrix",
    "is_lorentz_transformation",
    "random_sl4_matrix",
    "random_transformations",
    "shear_matrix",
]

_AXES = {"t": 0, "x": 1, "y": 2, "z": 3}

TRANSFORMATION_KINDS = ("beam_boost", "beam_rotation", "lorentz", "shear", "sl4")
"""The kinds :func:`random_transformations` draws: three symmetries of the amplitude, two that are not."""

DEFAULT_STRENGTH = {
    "beam_boost": 0.5,  # largest rapidity of the boost along z: gamma <= cosh(0.5) = 1.13
    "beam_rotation": np.pi,  # largest angle about z: all azimuths
    "lorentz": 0.5,  # largest rapidity of a boost in a random direction, after a random rotation
    "shear": 0.5,  # largest shear parameter s in p_y -> p_y + s p_z
    "sl4": 0.3,  # Frobenius norm of the traceless generator X in exp(X)
}
"""Default size of each kind; the beam boost, shear and SL(4) defaults move momenta by similar amounts."""


def _finite(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds NaN or infinite values.")
    return arr


def beam_boost_matrix(rapidity: ArrayLike) -> NDArray[np.float64]:
    """Boosts along the beam (``z``) axis with the given rapidities.

    Parameters
    ----------
    rapidity : float or array, shape ``(...)``
        Rapidity ``y`` of the boost: ``E' = E cosh y + p_z sinh y``, ``p_z' = p_z cosh y + E sinh y``.

    Returns
    -------
    array, shape ``(..., 4, 4)``
    """
    rapidity = _finite(rapidity, "rapidity")
    lam = np.zeros((*rapidity.shape, 4, 4))
    lam[..., 0, 0] = lam[..., 3, 3] = np.cosh(rapidity)
    lam[..., 0, 3] = lam[..., 3, 0] = np.sinh(rapidity)
    lam[..., 1, 1] = lam[..., 2, 2] = 1
    return lam


def shear_matrix(strength: ArrayLike, axes: tuple[str, str] = ("y", "z")) -> NDArray[np.float64]:
    """Shears ``p_a -> p_a + s p_b`` for ``axes = (a, b)``; the default is the y–z shear of the probes.

    A shear has determinant one but is not a Lorentz transformation: it changes ``p_i . p_j``.

    Parameters
    ----------
    strength : float or array, shape ``(...)``
        The shear parameter ``s``.
    axes : (str, str)
        Two different axes among ``"t", "x", "y", "z"`` (``"t"`` is the energy).

    Returns
    -------
    array, shape ``(..., 4, 4)``
    """
    strength = _finite(strength, "strength")
    if isinstance(axes, str) or len(axes) != 2 or axes[0] == axes[1] or not set(axes) <= set(_AXES):
        raise ValueError(f"axes must be two different names among {tuple(_AXES)}, got {axes!r}.")
    lam = np.broadcast_to(np.eye(4), (*strength.shape, 4, 4)).copy()
    lam[..., _AXES[axes[0]], _AXES[axes[1]]] = strength
    return lam


def random_sl4_matrix(
    rng: np.random.Generator, scale: float, size: int | tuple[int, ...] | None = None
) -> NDArray[np.float64]:
    """Random maps ``exp(scale X)`` in ``SL(4, R)``, ``X`` a random traceless matrix with unit Frobenius norm.

    ``det exp(scale X) = exp(scale tr X) = 1``. ``X`` has Gaussian entries, so the map mixes energy and
    momenta in every direction; it is a Lorentz transformation with probability zero.

    Parameters
    ----------
    rng : numpy.random.Generator
    scale : float
        Distance from the identity, ``>= 0``.
    size : int or tuple of int, optional
        Number (shape) of independent maps.

    Returns
    -------
    array, shape ``(4, 4)`` or ``(*size, 4, 4)``
    """
    check_rng(rng)
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be finite and >= 0, got {scale}.")
    shape = () if size is None else tuple(np.atleast_1d(size).tolist())
    generator = rng.standard_normal((*shape, 4, 4))
    generator -= np.trace(generator, axis1=-2, axis2=-1)[..., None, None] * np.eye(4) / 4
    generator /= np.linalg.norm(generator, axis=(-2, -1), keepdims=True)
    return expm(scale * generator)


def random_transformations(
    kind: str,
    rng: np.random.Generator,
    size: int | tuple[int, ...],
    strength: float | None = None,
) -> NDArray[np.float64]:
    """Draw ``size`` random maps of one kind; ``strength`` sets how far they reach from the identity.

    Parameters
    ----------
    kind : str
        ``"beam_boost"`` (boost along ``z``, rapidity uniform in ``[-strength, strength]``),
        ``"beam_rotation"`` (about ``z``, angle uniform in ``[-strength, strength]``), ``"lorentz"`` (a
        uniformly random rotation, then a boost in a random direction with rapidity uniform in
        ``[0, strength]``; strength 0 still rotates), ``"shear"`` (y–z shear, ``s`` uniform in
        ``[-strength, strength]``) or ``"sl4"`` (:func:`random_sl4_matrix` with scale ``strength``).
    rng : numpy.random.Generator
    size : int or tuple of int
        Number (shape) of maps, e.g. one per event.
    strength : float, optional
        Defaults to ``DEFAULT_STRENGTH[kind]``.

    Returns
    -------
    array, shape ``(*size, 4, 4)``
    """
    if kind not in TRANSFORMATION_KINDS:
        raise ValueError(
            f"unknown transformation kind {kind!r}; use one of {', '.join(TRANSFORMATION_KINDS)}."
        )
    check_rng(rng)
    strength = DEFAULT_STRENGTH[kind] if strength is None else float(strength)
    if not (np.isfinite(strength) and strength >= 0):
        raise ValueError(f"strength must be finite and >= 0, got {strength}.")
    shape = tuple(np.atleast_1d(size).tolist())
    if kind == "lorentz":
        return random_lorentz_transformation(rng, max_rapidity=strength, size=shape)
    if kind == "sl4":
        return random_sl4_matrix(rng, strength, shape)
    parameter = rng.uniform(-strength, strength, shape)
    make = {"beam_boost": beam_boost_matrix, "beam_rotation": beam_rotation_matrix, "shear": shear_matrix}
    return make[kind](parameter)


def is_lorentz_transformation(lam: ArrayLike, atol: float = 1e-10) -> NDArray[np.bool_]:
    """Whether each matrix keeps the Minkowski metric, ``Lambda^T g Lambda = g``, to ``atol`` relative.

    The tolerance is relative to the largest entry of ``Lambda^T Lambda``, so large boosts pass as well. Only
    the metric is checked: parity and time reversal count as Lorentz transformations here.

    Parameters
    ----------
    lam : array, shape ``(..., 4, 4)``

    Returns
    -------
    array of bool, shape ``(...)``
    """
    lam = _finite(lam, "lam")
    if lam.shape[-2:] != (4, 4):
        raise ValueError(f"lam must have shape (..., 4, 4), got {lam.shape}.")
    residual = np.swapaxes(lam, -1, -2) @ METRIC @ lam - METRIC
    scale = np.maximum(1.0, 4 * np.max(lam**2, axis=(-2, -1)))  # bounds the entries of Lambda^T Lambda
    return np.all(np.abs(residual) <= atol * scale[..., None, None], axis=(-2, -1))
