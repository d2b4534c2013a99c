"""Coordinates of Z -> mu mu + jets events in which a generative network can learn the physics.

An event is two muons and ``k`` jets, four-vectors ``(E, px, py, pz)``. :func:`event_features` maps it to
``5 + 4 k`` real numbers and :func:`event_momenta` maps them back, exactly (up to floating-point rounding):

=============================  ==========================================================================
muon 1 (leading)               ``log pT``, ``eta``; its azimuth is dropped: the events are symmetric under a
                               common rotation about the beam, so it is uniform and drawn anew on the way back
muon 2                         ``eta``, ``dphi``, and ``log m_mumu`` (``dimuon_mass=True``) or ``log pT``
jet ``i``                      ``log pT``, ``eta``, ``dphi``, ``log(m + 1 GeV)``
=============================  ==========================================================================

``dphi`` is the azimuth relative to muon 1 in ``[0, 2 pi)``: the two muons and the jets are roughly back to
back, so the distributions peak near ``pi``, away from the wrap-around. With ``dimuon_mass=True`` the
dimuon mass is a coordinate of its own, so the narrow Z peak (width 2.5 GeV on 91 GeV) is one sharp
one-dimensional feature instead of a thin curved ridge in the muon momenta; the second muon's pT follows from
``m^2 = 2 pT1 pT2 (cosh(eta1 - eta2) - cos(dphi))``. Muons are taken as massless in these coordinates (the
muon mass changes ``m_mumu`` by less than 1e-6 relative), jets keep their mass. Logarithms make the falling
pT spectra and jet masses broad and smooth; ``+ 1 GeV`` keeps single-particle jets of mass ~0 finite.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import lorentz

__all__ = ["JET_MASS_OFFSET", "event_features", "event_momenta", "feature_names", "jet_features"]

JET_MASS_OFFSET = 1.0
"""GeV added to a jet mass before its logarithm is taken."""

_TWO_PI = 2.0 * np.pi


def feature_names(n_jets: int, *, dimuon_mass: bool = True) -> list[str]:
    """The names of the ``5 + 4 n_jets`` columns of :func:`event_features`, in order."""
    second = "log_m_mumu" if dimuon_mass else "log_pt_mu2"
    names = ["log_pt_mu1", "eta_mu1", "eta_mu2", "dphi_mu2", second]
    for i in range(1, n_jets + 1):
        names += [f"log_pt_j{i}", f"eta_j{i}", f"dphi_j{i}", f"log_m_j{i}"]
    return names


def _check(muons: NDArray[np.float64], jets: NDArray[np.float64]) -> None:
    if muons.ndim != 3 or muons.shape[1:] != (2, 4):
        raise ValueError(f"muons must have shape (events, 2, 4) (E, px, py, pz), got {muons.shape}.")
    if jets.ndim != 3 or jets.shape[2] != 4 or len(jets) != len(muons):
        raise ValueError(
            f"jets must have shape (events, jets, 4) with the events of muons {muons.shape}, "
            f"got {jets.shape}; "
            "select events of one jet multiplicity first and keep that many jets."
        )
    for name, array in (("muons", muons), ("jets", jets)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinite values; drop those events first.")
    if (lorentz.pt(jets) <= 0).any() or (lorentz.pt(muons) <= 0).any():
        raise ValueError(
            "every muon and jet needs pT > 0 (is a padding row of zeros included?); keep only the jets an "
            "event has, e.g. events with exactly k jets and jets[:, :k]."
        )


def event_features(muons: ArrayLike, jets: ArrayLike, *, dimuon_mass: bool = True) -> NDArray[np.float64]:
    """The coordinates of the module docstring.

    Parameters
    ----------
    muons : array_like, shape (events, 2, 4)
        (E, px, py, pz) in GeV, leading pT first.
    jets : array_like, shape (events, k, 4)
        The ``k`` jets of each event, pT-ordered; no padding rows.
    dimuon_mass : bool
        Describe muon 2 by the dimuon mass (True) or by its own pT.

    Returns
    -------
    ndarray, shape (events, 5 + 4 k)
        Columns named by :func:`feature_names`.
    """
    muons, jets = np.asarray(muons, np.float64), np.asarray(jets, np.float64)
    _check(muons, jets)
    pt, eta, phi = lorentz.pt(muons), lorentz.eta(muons), lorentz.phi(muons)  # (events, 2) each
    dphi2 = np.mod(phi[:, 1] - phi[:, 0], _TWO_PI)
    columns = [np.log(pt[:, 0]), eta[:, 0], eta[:, 1], dphi2]
    if dimuon_mass:  # the massless m^2 of the module docstring, which event_momenta inverts
        m2 = 2 * pt[:, 0] * pt[:, 1] * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(dphi2))
        columns.append(0.5 * np.log(m2))
    else:
        columns.append(np.log(pt[:, 1]))
    for i in range(jets.shape[1]):
        columns += _jet_columns(jets[:, i], phi[:, 0])
    return np.stack(columns, axis=-1)


def _jet_columns(jet: NDArray[np.float64], phi1: NDArray[np.float64]) -> list[NDArray[np.float64]]:
    """``log pT``, ``eta``, ``dphi`` to muon 1 (azimuth ``phi1``), ``log(m + 1 GeV)`` of jets ``(n, 4)``."""
    return [
        np.log(lorentz.pt(jet)),
        lorentz.eta(jet),
        np.mod(lorentz.phi(jet) - phi1, _TWO_PI),
        np.log(np.sqrt(np.maximum(lorentz.mass_squared(jet), 0.0)) + JET_MASS_OFFSET),
    ]


def jet_features(muons: ArrayLike, jets: ArrayLike, n_jets: ArrayLike) -> NDArray[np.float64]:
    """The jet coordinates of :func:`event_features` for events of any multiplicity, zero-padded.

    Parameters
    ----------
    muons : array_like, shape (events, 2, 4)
        (E, px, py, pz) in GeV, leading pT first (muon 1 sets the azimuth origin).
    jets : array_like, shape (events, slots, 4)
        pT-ordered jets, zero-padded, as the ``zmumu`` data store them.
    n_jets : array_like, shape (events,)
        The jets each event has; rows at and beyond ``min(n_jets, slots)`` are padding.

    Returns
    -------
    ndarray, shape (events, slots, 4)
        ``log pT``, ``eta``, ``dphi``, ``log(m + 1 GeV)`` per jet; zero in padded rows.
    """
    muons, jets = np.asarray(muons, np.float64), np.asarray(jets, np.float64)
    n_jets = np.asarray(n_jets)
    if jets.ndim != 3 or jets.shape[2] != 4 or n_jets.shape != (len(jets),) or len(muons) != len(jets):
        raise ValueError(
            f"jets must be (events, slots, 4) and n_jets (events,) for the events of muons {muons.shape}, "
            f"got {jets.shape} and {n_jets.shape}."
        )
    real = np.arange(jets.shape[1])[None, :] < n_jets[:, None]  # (events, slots)
    _check(muons, np.zeros((len(jets), 0, 4)))  # the muons, and one muon pair per event of jets
    if not np.isfinite(jets).all():
        raise ValueError("jets contains NaN or infinite values; drop those events first.")
    if (lorentz.pt(jets[real]) <= 0).any():
        raise ValueError("a jet within n_jets has pT = 0: n_jets does not match the padded jets.")
    phi1 = np.broadcast_to(lorentz.phi(muons[:, 0])[:, None], real.shape)[real]
    features = np.zeros(jets.shape)
    features[real] = np.stack(_jet_columns(jets[real], phi1), axis=-1)
    return features


def event_momenta(
    features: ArrayLike, rng: np.random.Generator, *, dimuon_mass: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Invert :func:`event_features`: four-vectors from coordinates, with a random common azimuth.

    Parameters
    ----------
    features : array_like, shape (events, 5 + 4 k)
        Coordinates as :func:`event_features` returns them (e.g. generated ones).
    rng : numpy.random.Generator
        Draws the azimuth of muon 1, uniform in ``[0, 2 pi)``; the other azimuths are relative to it.
    dimuon_mass : bool
        As in :func:`event_features`.

    Returns
    -------
    muons : ndarray, shape (events, 2, 4)
        Massless muons (E, px, py, pz) in GeV, in the order of the coordinates (muon 1 first).
    jets : ndarray, shape (events, k, 4)

    Raises
    ------
    ValueError
        On a wrong number of columns or NaN/inf coordinates.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[1] < 5 or (x.shape[1] - 5) % 4:
        raise ValueError(f"features must have shape (events, 5 + 4 k), got {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(
            "features contain NaN or infinite values (a diverged generator?); drop those events."
        )
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}.")
    phi1 = rng.uniform(0.0, _TWO_PI, len(x))
    pt1, eta1, eta2, dphi2 = np.exp(x[:, 0]), x[:, 1], x[:, 2], x[:, 3]
    if dimuon_mass:  # m^2 = 2 pT1 pT2 (cosh(d eta) - cos(d phi)) for massless muons
        pt2 = np.exp(2 * x[:, 4]) / (2 * pt1 * (np.cosh(eta1 - eta2) - np.cos(dphi2)))
    else:
        pt2 = np.exp(x[:, 4])
    zeros = np.zeros(len(x))
    muons = np.stack(
        [
            np.stack([pt1, eta1, lorentz.wrap_angle(phi1), zeros], axis=-1),
            np.stack([pt2, eta2, lorentz.wrap_angle(phi1 + dphi2), zeros], axis=-1),
        ],
        axis=1,
    )
    jets = x[:, 5:].reshape(len(x), -1, 4)
    jets = np.stack(
        [
            np.exp(jets[..., 0]),
            jets[..., 1],
            lorentz.wrap_angle(phi1[:, None] + jets[..., 2]),
            np.exp(jets[..., 3]) - JET_MASS_OFFSET,
        ],
        axis=-1,
    )
    return lorentz.from_ptetaphim(muons), lorentz.from_ptetaphim(jets)
