"""A simple parametric detector, applied to the stable hadron-level particles of one event before clustering.

What happens to each particle (a particle-flow-like picture, deliberately simple):

* **Charged particles** with ``|eta| < track_eta_max`` and ``pT > track_pt_min`` are reconstructed as tracks
  with probability ``track_efficiency``; the track's momentum is scaled (direction and mass kept) by
  ``1 + N(0, sigma)`` with ``sigma / pT = a (+) b pT`` (added in quadrature). Electrons are not tracked: they
  shower in the electromagnetic calorimeter. Muons without a track are lost.
* **Calorimeters**: photons and electrons deposit their energy in the electromagnetic (EM) calorimeter;
  neutral hadrons, and charged hadrons without a track, in the hadronic one. Each calorimeter is a grid of
  ``cell_size x cell_size`` cells in (eta, phi) up to ``|eta| < calo_eta_max``; deposits in one cell add up,
  the cell energy is smeared with ``sigma / E = s / sqrt(E) (+) c`` and kept if above the cell threshold.
  A cell becomes a massless four-vector pointing at the cell centre, labelled 22 (EM) or 130 (hadronic).
* Neutrinos must be removed before (they are invisible); the detector does not check for them.

The defaults are rough ATLAS/CMS-like numbers (see the comment on each field); the point is a visible,
controllable smearing for the unfolding and detector-effect tutorials, not a faithful simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EM_CELL_PID", "HADRON_CELL_PID", "DetectorConfig", "simulate_detector"]

EM_CELL_PID = 22
"""The pid given to an electromagnetic-calorimeter cell (photon-like)."""

HADRON_CELL_PID = 130
"""The pid given to a hadronic-calorimeter cell (neutral-hadron-like, as K_L)."""

_ELECTRON, _MUON, _PHOTON = 11, 13, 22


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of :func:`simulate_detector`; energies and momenta in GeV."""

    # Trackers cover |eta| < 2.5 in ATLAS (inner detector) and CMS (silicon tracker).
    track_eta_max: float = 2.5
    # Tracks below ~0.5 GeV curl up in the 2-4 T solenoids and are not used in jets.
    track_pt_min: float = 0.5
    # Charged-hadron tracking efficiency is ~85-95 % at both experiments; muons and pions alike here.
    track_efficiency: float = 0.9
    # Constant term of sigma_pT / pT: multiple scattering, ~0.5-1 % (CMS tracker, central region).
    track_resolution_a: float = 0.01
    # Linear term of sigma_pT / pT per GeV: curvature measurement, ~1.5e-4 / GeV (CMS ~1.5 % at 100 GeV).
    track_resolution_b: float = 1.5e-4
    # Calorimeters reach |eta| < 4.9 (ATLAS forward calorimeter); CMS HF reaches 5.2.
    calo_eta_max: float = 4.9
    # EM stochastic term ~10 %/sqrt(E) (ATLAS LAr; CMS crystals ~3 %/sqrt(E)).
    em_stochastic: float = 0.10
    # EM constant term ~0.7-1 % (ATLAS LAr).
    em_constant: float = 0.01
    # Hadronic stochastic term ~50 %/sqrt(E) (ATLAS tile calorimeter; CMS HCAL ~100 %/sqrt(E)).
    hadron_stochastic: float = 0.50
    # Hadronic constant term ~3 % (ATLAS tile calorimeter).
    hadron_constant: float = 0.03
    # EM cells: 0.025 x 0.025 in (eta, phi) for the ATLAS LAr middle layer, 0.0174 for CMS crystals.
    em_cell_size: float = 0.025
    # Hadronic cells: 0.1 x 0.1 in (eta, phi), ATLAS tile and CMS HCAL towers (0.087).
    hadron_cell_size: float = 0.1
    # Cell (cluster seed) thresholds of a few hundred MeV to ~1 GeV keep noise out.
    em_threshold: float = 0.2
    hadron_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.track_efficiency <= 1.0:
            raise ValueError(f"track_efficiency must lie in [0, 1], got {self.track_efficiency}.")
        for name in ("em_cell_size", "hadron_cell_size", "track_eta_max", "calo_eta_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}.")
        for name in (
            "track_pt_min",
            "track_resolution_a",
            "track_resolution_b",
            "em_stochastic",
            "em_constant",
            "hadron_stochastic",
            "hadron_constant",
            "em_threshold",
            "hadron_threshold",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}.")


def _pt_eta_phi(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    pt = np.hypot(p[:, 1], p[:, 2])
    # arcsinh(pz / pT) is eta; pT = 0 (along the beam) gives +-inf, outside every acceptance.
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(p[:, 3] / pt)
    return pt, eta, np.arctan2(p[:, 2], p[:, 1])


def _tracks(
    p: NDArray[np.float64], pt: NDArray[np.float64], rng: np.random.Generator, config: DetectorConfig
) -> NDArray[np.float64]:
    """Scale the three-momenta of ``p`` ``(tracks, 4)`` by the pT resolution; directions and masses stay."""
    sigma = np.hypot(config.track_resolution_a, config.track_resolution_b * pt)
    scale = np.maximum(1.0 + sigma * rng.standard_normal(len(p)), 0.0)
    mass2 = np.maximum(p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1), 0.0)
    three = p[:, 1:] * scale[:, None]
    energy = np.sqrt(np.sum(three**2, axis=1) + mass2)
    return np.column_stack([energy, three])


def _cells(
    energy: NDArray[np.float64],
    eta: NDArray[np.float64],
    phi: NDArray[np.float64],
    rng: np.random.Generator,
    *,
    size: float,
    stochastic: float,
    constant: float,
    threshold: float,
) -> NDArray[np.float64]:
    """Sum deposits per (eta, phi) cell, smear and threshold the sums: massless cells ``(cells, 4)``."""
    n_phi = max(round(2 * np.pi / size), 1)  # an integer number of cells around the ring
    phi_width = 2 * np.pi / n_phi
    i_eta = np.floor(eta / size).astype(np.int64)
    i_phi = np.floor((phi + np.pi) / phi_width).astype(np.int64) % n_phi
    keys, inverse = np.unique(np.column_stack([i_eta, i_phi]), axis=0, return_inverse=True)
    total = np.bincount(inverse.ravel(), weights=energy, minlength=len(keys))
    relative = np.hypot(stochastic / np.sqrt(np.maximum(total, 1e-12)), constant)
    measured = np.maximum(total * (1.0 + relative * rng.standard_normal(len(total))), 0.0)
    keep = measured > threshold
    cell_eta = (keys[keep, 0] + 0.5) * size
    cell_phi = (keys[keep, 1] + 0.5) * phi_width - np.pi
    e = measured[keep]
    pt = e / np.cosh(cell_eta)
    return np.column_stack([e, pt * np.cos(cell_phi), pt * np.sin(cell_phi), pt * np.sinh(cell_eta)])


def simulate_detector(
    momenta: ArrayLike,
    pid: ArrayLike,
    charge: ArrayLike,
    rng: np.random.Generator,
    config: DetectorConfig | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """Turn the visible stable particles of one event into detector objects: tracks and calorimeter cells.

    Parameters
    ----------
    momenta : array_like, shape (particles, 4)
        Four-vectors (E, px, py, pz) in GeV of the stable visible particles (no neutrinos).
    pid : array_like of int, shape (particles,)
        PDG ids.
    charge : array_like, shape (particles,)
        Electric charges (any non-zero value counts as charged).
    rng : numpy.random.Generator
        The source of randomness (efficiency and smearing): the same seed gives the same output.
    config : DetectorConfig, optional
        The detector parameters (default: ``DetectorConfig()``).

    Returns
    -------
    momenta : ndarray, shape (objects, 4)
        Tracks first (in input order), then EM cells, then hadronic cells.
    pid : ndarray of int32, shape (objects,)
        The tracks' PDG ids, :data:`EM_CELL_PID` or :data:`HADRON_CELL_PID` for cells.

    Raises
    ------
    ValueError
        On wrong shapes or non-finite momenta.
    """
    config = DetectorConfig() if config is None else config
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}.")
    p = np.asarray(momenta, dtype=np.float64)
    ids = np.asarray(pid)
    q = np.asarray(charge, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 4:
        raise ValueError(f"momenta must have shape (particles, 4) = (E, px, py, pz), got {p.shape}.")
    if ids.shape != (len(p),) or q.shape != (len(p),):
        raise ValueError(
            f"pid and charge must have shape ({len(p)},) like momenta, got {ids.shape} and {q.shape}."
        )
    if not np.all(np.isfinite(p)):
        raise ValueError("momenta contain NaN or infinite values; remove them before the detector.")
    abs_id = np.abs(ids)
    pt, eta, phi = _pt_eta_phi(p)
    trackable = (q != 0) & (abs_id != _ELECTRON) & (np.abs(eta) < config.track_eta_max)
    trackable &= pt > config.track_pt_min
    # One uniform draw per particle whatever its kind, so changing one particle does not shift the others.
    tracked = trackable & (rng.random(len(p)) < config.track_efficiency)
    tracks = _tracks(p[tracked], pt[tracked], rng, config)

    in_calo = np.abs(eta) < config.calo_eta_max
    em = in_calo & ((abs_id == _PHOTON) | (abs_id == _ELECTRON))
    # Hadrons without a track (neutral, untracked charged) shower in the hadronic calorimeter; muons pass it.
    hadronic = in_calo & ~tracked & ~em & (abs_id != _MUON)
    em_cells = _cells(
        p[em, 0],
        eta[em],
        phi[em],
        rng,
        size=config.em_cell_size,
        stochastic=config.em_stochastic,
        constant=config.em_constant,
        threshold=config.em_threshold,
    )
    hadron_cells = _cells(
        p[hadronic, 0],
        eta[hadronic],
        phi[hadronic],
        rng,
        size=config.hadron_cell_size,
        stochastic=config.hadron_stochastic,
        constant=config.hadron_constant,
        threshold=config.hadron_threshold,
    )
    out_pid = np.concatenate(
        [
            ids[tracked].astype(np.int32),
            np.full(len(em_cells), EM_CELL_PID, np.int32),
            np.full(len(hadron_cells), HADRON_CELL_PID, np.int32),
        ]
    )
    return np.concatenate([tracks, em_cells, hadron_cells]), out_pid
