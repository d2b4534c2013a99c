"""Per-constituent features of jets for taggers: coordinates relative to the jet axis, optionally rotated.

Taggers on constituents (deep sets, transformers, particle-flow networks) do not take raw four-momenta: a top
jet at 500 GeV and one at 600 GeV, or one at phi = 0 and one at phi = 2, are the same object. The usual
remedy, which ParticleNet and the particle transformer also use, is to describe each constituent relative to
its jet: its rapidity and azimuth measured from the jet axis (centring), its transverse momentum and energy
as logarithms and as fractions of the jet's (scaling), and its distance to the axis. Zero padding stays zero,
and a mask says which rows are constituents. Optionally the (Delta y, Delta phi) plane is rotated so that
the jet's principal axis lies along Delta y (rotation), the preprocessing of jet images.

Input layout and mask rule as in :mod:`~reps4lhc_tutor.physics.jets`: ``(jets, particles, 4)`` four-vectors
``(E, px, py, pz)`` in GeV, zero-padded; a row is a constituent when its energy is positive.

Under a boost along the beam, Delta y, Delta phi, Delta R and the transverse momenta are unchanged; under a
rotation about the beam so are all features except the energies, which change under boosts only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import lorentz
from .jets import _constituents, _pt_y_phi

__all__ = ["FEATURE_NAMES", "constituent_features", "constituent_mask", "principal_axis_angle"]

FEATURE_NAMES = (
    "delta_y",  # rapidity minus the jet axis' rapidity
    "delta_phi",  # azimuth minus the jet axis' azimuth, wrapped to (-pi, pi]
    "log_pt",  # log(pT / GeV)
    "log_e",  # log(E / GeV)
    "log_pt_fraction",  # log(pT / pT_jet)
    "log_e_fraction",  # log(E / E_jet)
    "delta_r",  # sqrt(delta_y^2 + delta_phi^2)
)
"""The features of :func:`constituent_features`, in order along the last axis."""


def constituent_mask(constituents: ArrayLike) -> NDArray[np.bool_]:
    """True for constituents and False for padding: ``(jets, particles, 4) -> (jets, particles)``.

    Raises the ValueErrors of :mod:`~reps4lhc_tutor.physics.jets` for malformed input.
    """
    return _constituents(constituents)[1]


def principal_axis_angle(delta_y: ArrayLike, delta_phi: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Angle of the weighted principal axis of points in the (Delta y, Delta phi) plane, per jet.

    The axis is the eigenvector with the larger eigenvalue of the weighted second-moment matrix
    ``C = sum_i w_i (d_i d_i^T)``, ``d_i = (Delta y_i, Delta phi_i)``; its angle to the Delta y axis is
    ``theta = atan2(2 C_yphi, C_yy - C_phiphi) / 2``.

    Parameters
    ----------
    delta_y, delta_phi, weights : array, shape ``(jets, particles)``
        Coordinates relative to the jet axis and weights (zero for padding).

    Returns
    -------
    array, shape ``(jets,)``
        Angles in ``(-pi/2, pi/2]``.
    """
    delta_y, delta_phi, weights = (np.asarray(a, dtype=np.float64) for a in (delta_y, delta_phi, weights))
    if not (delta_y.shape == delta_phi.shape == weights.shape) or delta_y.ndim != 2:
        raise ValueError(
            f"delta_y, delta_phi and weights must share the shape (jets, particles), got {delta_y.shape}, "
            f"{delta_phi.shape} and {weights.shape}."
        )
    c_yy = (weights * delta_y**2).sum(axis=1)
    c_pp = (weights * delta_phi**2).sum(axis=1)
    c_yp = (weights * delta_y * delta_phi).sum(axis=1)
    return 0.5 * np.arctan2(2 * c_yp, c_yy - c_pp)


def constituent_features(constituents: ArrayLike, *, rotate: bool = False) -> NDArray[np.float64]:
    """Features of every constituent relative to its jet, in the order of :data:`FEATURE_NAMES`.

    Parameters
    ----------
    constituents : array, shape ``(jets, particles, 4)``
        Zero-padded ``(E, px, py, pz)`` in GeV.
    rotate : bool
        Rotate ``(Delta y, Delta phi)`` about the jet axis so that the pT-weighted principal axis lies along
        ``Delta y``, then flip ``Delta y`` so that the pT-weighted third moment along it is >= 0 (the
        longer tail of the jet, for two prongs the softer and farther one, points to positive ``Delta y``).
        ``Delta R`` and the momenta are unchanged.

    Returns
    -------
    array, shape ``(jets, particles, 7)``
        All zero on padding rows. The jet axis is the direction of the sum of the constituents (E-scheme).
    """
    p, mask = _constituents(constituents)
    jet = p.sum(axis=1)  # (jets, 4)
    pt_jet, y_jet, phi_jet = _pt_y_phi(jet)
    pt, y, phi = _pt_y_phi(p)
    energy = p[..., 0]
    delta_y = np.where(mask, y - y_jet[:, None], 0.0)
    delta_phi = np.where(mask, lorentz.wrap_angle(phi - phi_jet[:, None]), 0.0)
    if rotate:
        fractions = pt / pt.sum(axis=1, keepdims=True)
        theta = principal_axis_angle(delta_y, delta_phi, fractions)[:, None]
        cos, sin = np.cos(theta), np.sin(theta)
        delta_y, delta_phi = cos * delta_y + sin * delta_phi, -sin * delta_y + cos * delta_phi
        flip = np.where((fractions * delta_y**3).sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
        delta_y = flip * delta_y
    safe_pt, safe_e = np.where(mask, pt, 1.0), np.where(mask, energy, 1.0)  # log(1) = 0 on padding
    features = np.stack(
        [
            delta_y,
            delta_phi,
            np.log(safe_pt),
            np.log(safe_e),
            np.where(mask, np.log(safe_pt / pt_jet[:, None]), 0.0),
            np.where(mask, np.log(safe_e / jet[:, None, 0]), 0.0),
            np.hypot(delta_y, delta_phi),
        ],
        axis=-1,
    )
    return features
