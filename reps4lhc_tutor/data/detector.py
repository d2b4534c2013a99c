"""A fast detector after the Delphes ATLAS card, the one behind the top-tagging reference dataset.

The official top-tagging jets (Kasieczka et al., SciPost Phys. 7 (2019) 014) were simulated with Delphes 3
(de Favereau et al., JHEP 02 (2014) 057) and its card ``cards/delphes_card_ATLAS.tcl``; their constituents are
Delphes energy-flow objects. :func:`simulate_detector` follows that chain, and every default of
:class:`DetectorConfig` names the card line it comes from (line numbers of the card at delphes/delphes commit
``0ee14ba7``, unchanged since 2017; the module behaviour is that of Delphes 3.4, the version of the dataset's
time). Per event:

1. **Propagation** (``ParticlePropagator``): every particle travels from the origin to the surface of the
   tracker volume, a cylinder of radius ``field_radius`` and half-length ``field_half_length``; charged
   particles on a helix in the solenoid field ``bz``. Efficiencies, resolutions and calorimeter cells use the
   (eta, phi) of the point where it leaves; a track keeps its direction at the origin.
2. **Tracks** (``Efficiency``, ``MomentumSmearing``): charged particles are kept with a probability that
   depends on kind (hadron, electron, muon), pT and |eta|, and their pT is smeared log-normally with a
   relative width ``sigma(pT)/pT = sqrt(a^2 + (b pT)^2)`` (capped at 1) per |eta| region. As in Delphes 3.4
   the smeared track is massless.
3. **Calorimeters** (two ``SimpleCalorimeter`` modules): each particle puts the fraction of its energy that
   the card gives its kind (photons and electrons into the ECal, hadrons into the HCal, K0S and Lambda split,
   muons and neutrinos nowhere) into the tower its exit point falls in, tracked or not. A tower's summed
   energy is smeared log-normally with an absolute width ``sigma(E) = sqrt((c E)^2 + s^2 E + n^2)`` per |eta|
   region and set to zero below ``energy_min`` or below ``significance_min`` standard deviations.
4. **Energy flow** (``SimpleCalorimeter`` e-flow): tracks are matched to the towers of the calorimeter that
   absorbs them (electrons: ECal, charged hadrons: HCal; muons pass both). If the tower energy exceeds the
   matched track energy by more than ``energy_min`` and by more than ``significance_min`` combined standard
   deviations, the excess becomes a massless neutral object (a photon from the ECal, a neutral hadron from the
   HCal) at a point drawn uniformly in the tower, and the tracks stay as they are; otherwise the tracks are
   rescaled to the resolution-weighted mean of track and tower energy. The outputs are the tracks, the
   e-flow photons and the e-flow neutral hadrons: the constituents the reference jets are clustered from.

Simplifications, each one stated where it is made: all particles start at the origin (no displaced decays,
no pile-up, as in the reference set); the tower grids are stored as mirrored segments of equal width that
reproduce the card's edge lists; Delphes labels e-flow neutral hadrons 0, here they get the PDG id of a K0L
(:data:`HADRON_CELL_PID`) so that every constituent has a valid id.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DETECTOR_VERSION",
    "EM_CELL_PID",
    "HADRON_CELL_PID",
    "DetectorConfig",
    "calorimeter_resolution",
    "propagate",
    "simulate_detector",
    "tower_edges",
    "track_resolution",
    "tracking_efficiency",
]

DETECTOR_VERSION = 2
"""Bump it whenever a change alters the detector's output; cache keys of detector-level files include it."""

EM_CELL_PID = 22
"""The pid of an e-flow photon: the neutral excess of an electromagnetic-calorimeter tower."""

HADRON_CELL_PID = 130
"""The pid of an e-flow neutral hadron: the neutral excess of a hadronic-calorimeter tower (Delphes: 0)."""

_ELECTRON, _MUON = 11, 13
_RESOLUTION_PT_MIN = 0.1  # GeV: the (pt > 0.1) factor of the card's resolution formulas, lines 150-183

EfficiencyTable = tuple[tuple[float, tuple[tuple[float, float], ...]], ...]
"""Rows ``(abs_eta_max, ((pt_min, efficiency), ...))``: in the first row whose ``abs_eta_max`` is not below
|eta|, the efficiency of the last ``pt_min`` below pT (zero below the first and beyond the last row)."""

TrackResolutionTable = tuple[tuple[float, float, float], ...]
"""Rows ``(abs_eta_max, a, b)``: ``sigma(pT) / pT = sqrt(a^2 + (b pT)^2)``, pT in GeV."""

CaloResolutionTable = tuple[tuple[float, float, float, float], ...]
"""Rows ``(abs_eta_max, c, s, n)``: ``sigma(E) = sqrt((c E)^2 + s^2 E + n^2)`` in GeV."""

TowerSegments = tuple[tuple[float, float, int], ...]
"""Segments ``(abs_eta_max, eta_width, phi_cells)`` from eta = 0 outwards, mirrored to negative eta."""

EnergyFractions = tuple[tuple[int, float], ...]
"""``(|pid|, fraction)`` pairs that override a calorimeter's default fraction."""


@dataclass(frozen=True)
class DetectorConfig:
    """Parameters of :func:`simulate_detector`; GeV, metres, tesla. Defaults: ``delphes_card_ATLAS.tcl``."""

    # ParticlePropagator, card lines 72, 74 and 77: the tracker volume and the solenoid field.
    field_radius: float = 1.15
    field_half_length: float = 3.51
    bz: float = 2.0
    # ChargedHadronTrackingEfficiency, card lines 91-96 (zero for pT <= 0.1 GeV and |eta| > 2.5).
    hadron_efficiency: EfficiencyTable = (
        (1.5, ((0.1, 0.70), (1.0, 0.95))),
        (2.5, ((0.1, 0.60), (1.0, 0.85))),
    )
    # ElectronTrackingEfficiency, card lines 110-117.
    electron_efficiency: EfficiencyTable = (
        (1.5, ((0.1, 0.73), (1.0, 0.95), (100.0, 0.99))),
        (2.5, ((0.1, 0.50), (1.0, 0.83), (100.0, 0.90))),
    )
    # MuonTrackingEfficiency, card lines 131-136.
    muon_efficiency: EfficiencyTable = (
        (1.5, ((0.1, 0.75), (1.0, 0.99))),
        (2.5, ((0.1, 0.70), (1.0, 0.98))),
    )
    # ChargedHadronMomentumSmearing, card lines 150-152 (relative: MomentumSmearing.cc multiplies it by pT).
    hadron_resolution: TrackResolutionTable = ((0.5, 0.06, 1.3e-3), (1.5, 0.10, 1.7e-3), (2.5, 0.25, 3.1e-3))
    # ElectronMomentumSmearing, card lines 166-168.
    electron_resolution: TrackResolutionTable = (
        (0.5, 0.03, 1.3e-3),
        (1.5, 0.05, 1.7e-3),
        (2.5, 0.15, 3.1e-3),
    )
    # MuonMomentumSmearing, card lines 181-183.
    muon_resolution: TrackResolutionTable = ((0.5, 0.01, 1.0e-4), (1.5, 0.015, 1.5e-4), (2.5, 0.025, 3.5e-4))
    # ECal ResolutionFormula, card lines 292-293 (an absolute width in GeV).
    ecal_resolution: CaloResolutionTable = ((3.2, 0.0017, 0.101, 0.0), (4.9, 0.0350, 0.285, 0.0))
    # HCal ResolutionFormula, card lines 366-368 (1.59 GeV: the noise term of the central region).
    hcal_resolution: CaloResolutionTable = (
        (1.7, 0.0302, 0.5205, 1.59),
        (3.2, 0.0500, 0.706, 0.0),
        (4.9, 0.0942, 1.00, 0.0),
    )
    # ECal EtaPhiBins, card lines 224-264: 0.0174 x 1 degree up to |eta| = 2.958, then 10-degree towers to 5.
    ecal_towers: TowerSegments = ((2.958, 0.0174, 360), (3.125, 0.167, 36), (4.7, 0.175, 36), (5.0, 0.3, 36))
    # HCal EtaPhiBins, card lines 325-341: 0.1 x 10 degrees up to |eta| = 2.6, then mostly 0.2 x 20 degrees.
    hcal_towers: TowerSegments = ((2.6, 0.1, 36), (3.2, 0.2, 18), (3.3, 0.1, 36), (4.9, 0.2, 18))
    # ECal EnergyFraction, card lines 267-284 (default 0): e, gamma, pi0 all; K0S and Lambda 30 %.
    ecal_fractions: EnergyFractions = ((11, 1.0), (22, 1.0), (111, 1.0), (310, 0.3), (3122, 0.3))
    # HCal EnergyFraction, card lines 343-361 (default 1): none for e, gamma, pi0, muons, neutrinos.
    hcal_fractions: EnergyFractions = (
        (11, 0.0),
        (22, 0.0),
        (111, 0.0),
        (12, 0.0),
        (13, 0.0),
        (14, 0.0),
        (16, 0.0),
        (310, 0.7),
        (3122, 0.7),
    )
    # EnergyMin and EnergySignificanceMin, card lines 213-214 (ECal) and 314-315 (HCal).
    ecal_energy_min: float = 0.5
    hcal_energy_min: float = 1.0
    significance_min: float = 2.0
    # SmearTowerCenter, card lines 216 and 317: neutral objects sit at a uniform point of their tower.
    smear_tower_center: bool = True

    def __post_init__(self) -> None:
        for name in ("field_radius", "field_half_length", "ecal_energy_min", "hcal_energy_min"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}.")
        if not self.significance_min >= 0:
            raise ValueError(f"significance_min must be >= 0, got {self.significance_min}.")
        for name in ("hadron_efficiency", "electron_efficiency", "muon_efficiency"):
            for _, steps in getattr(self, name):
                if not all(0.0 <= eff <= 1.0 for _, eff in steps):
                    raise ValueError(f"{name}: efficiencies must lie in [0, 1], got {steps}.")
        for name in ("ecal_towers", "hcal_towers"):
            segments = getattr(self, name)
            edges = [0.0] + [edge for edge, _, _ in segments]
            if any(high <= low for low, high in itertools.pairwise(edges)) or any(
                width <= 0 or cells < 1 for _, width, cells in segments
            ):
                raise ValueError(f"{name}: segments need growing |eta| edges, widths > 0, phi cells >= 1.")


def _region(table: tuple[tuple[float, ...], ...], abs_eta: NDArray[np.float64]) -> NDArray[np.int64]:
    """The row of ``table`` whose |eta| region holds each point: the first with ``abs_eta <= abs_eta_max``
    (the card's ``abs(eta) <= edge`` terms); ``len(table)`` beyond the last edge."""
    return np.searchsorted([row[0] for row in table], abs_eta, side="left")


def _coefficients(table: tuple[tuple[float, ...], ...], abs_eta: NDArray[np.float64]) -> NDArray[np.float64]:
    """The coefficients (a row without its edge) of each point's region, ``(columns, points...)``; zeros
    beyond the last edge, where the card's formulas are zero too."""
    rows = np.array([row[1:] for row in table] + [(0.0,) * (len(table[0]) - 1)])
    return np.moveaxis(rows[_region(table, abs_eta)], -1, 0)


def tracking_efficiency(table: EfficiencyTable, pt: ArrayLike, abs_eta: ArrayLike) -> NDArray[np.float64]:
    """The probability to reconstruct a track, ``(particles,)``, from a card efficiency table."""
    pt, abs_eta = np.broadcast_arrays(np.asarray(pt, np.float64), np.asarray(abs_eta, np.float64))
    region = _region(table, abs_eta)
    efficiency = np.zeros(pt.shape)
    for k, (_, steps) in enumerate(table):
        for pt_min, value in steps:  # the card's terms are (pt > pt_min && pt <= the next pt_min)
            efficiency[(region == k) & (pt > pt_min)] = value
    return efficiency


def track_resolution(table: TrackResolutionTable, pt: ArrayLike, abs_eta: ArrayLike) -> NDArray[np.float64]:
    """The relative pT resolution ``sigma(pT) / pT``, ``(particles,)``; zero outside the table's |eta| and for
    pT <= 0.1 GeV, as in the card (no track is made there anyway)."""
    pt, abs_eta = np.broadcast_arrays(np.asarray(pt, np.float64), np.asarray(abs_eta, np.float64))
    a, b = _coefficients(table, abs_eta)
    return np.where(pt > _RESOLUTION_PT_MIN, np.hypot(a, b * pt), 0.0)


def calorimeter_resolution(
    table: CaloResolutionTable, energy: ArrayLike, abs_eta: ArrayLike
) -> NDArray[np.float64]:
    """The absolute energy resolution ``sigma(E)`` in GeV, ``(towers,)``; zero outside the table's |eta|."""
    energy, abs_eta = np.broadcast_arrays(np.asarray(energy, np.float64), np.asarray(abs_eta, np.float64))
    c, s, n = _coefficients(table, abs_eta)
    return np.sqrt((c * energy) ** 2 + s**2 * np.maximum(energy, 0.0) + n**2)


@lru_cache(maxsize=8)  # called twice per calorimeter and event with the same few grids
def tower_edges(segments: TowerSegments) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The eta edges ``(rings + 1,)`` of a calorimeter and the phi cells of each eta ring ``(rings,)``.

    The arrays are cached and shared: do not modify them.
    """
    positive, cells = [0.0], []
    for eta_max, width, phi_cells in segments:
        n = max(round((eta_max - positive[-1]) / width), 1)
        positive.extend(np.linspace(positive[-1], eta_max, n + 1)[1:])
        cells.extend([phi_cells] * n)
    positive_edges = np.array(positive)
    edges = np.concatenate([-positive_edges[:0:-1], positive_edges])
    return edges, np.concatenate([cells[::-1], cells]).astype(np.int64)


def propagate(
    pt: NDArray[np.float64],
    eta: NDArray[np.float64],
    phi: NDArray[np.float64],
    charge: NDArray[np.float64],
    config: DetectorConfig,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Where particles from the origin leave the tracker: ``(eta, phi, reached)``, ``(particles,)`` each.

    A charged particle moves on a helix of transverse radius ``r = pT / (0.3 |q| B)`` (metres, GeV, tesla);
    after a transverse arc length ``s`` it sits at distance ``2 r sin(s / 2r)`` from the beam, at azimuth
    ``phi - q s / 2r`` and at ``z = s sinh(eta)``. It leaves through the barrel (``s`` where that distance is
    the radius) or an end cap (``|z|`` the half-length), whichever comes first. One that curls up at eta = 0
    never leaves: ``reached`` is False.
    """
    radius, half_length = config.field_radius, config.field_half_length
    sinh_eta = np.sinh(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_cap = np.where(sinh_eta != 0, half_length / np.abs(sinh_eta), np.inf)
        curvature_radius = np.where(charge != 0, pt / (0.3 * np.abs(charge) * config.bz), np.inf)
        ratio = radius / (2 * curvature_radius)
        s_barrel = np.where(ratio <= 1, 2 * curvature_radius * np.arcsin(np.minimum(ratio, 1.0)), np.inf)
        straight = ~np.isfinite(curvature_radius)
        s_barrel = np.where(straight, radius, s_barrel)
        s = np.minimum(s_barrel, s_cap)
        turn = np.where(straight, 0.0, s / (2 * curvature_radius))
        # The chord from the origin: negative after more than half a turn, i.e. pointing the other way.
        chord = np.where(straight, s, 2 * curvature_radius * np.sin(turn))
        rho = np.abs(chord)
        reached = np.isfinite(s) & np.isfinite(eta) & (rho > 0)
        azimuth = phi - np.sign(charge) * turn
        exit_phi = np.arctan2(chord * np.sin(azimuth), chord * np.cos(azimuth))
        exit_eta = np.arcsinh(s * sinh_eta / rho)
    return np.where(reached, exit_eta, np.inf), np.where(reached, exit_phi, 0.0), reached


def _log_normal(mean: NDArray[np.float64], sigma: NDArray[np.float64], rng: np.random.Generator) -> NDArray:
    """Positive draws with the given means and standard deviations, as Delphes smears (zero mean: zero)."""
    positive = mean > 0
    safe_mean = np.where(positive, mean, 1.0)
    b = np.sqrt(np.log1p((sigma / safe_mean) ** 2))
    a = np.log(safe_mean) - 0.5 * b**2
    return np.where(positive, np.exp(a + b * rng.standard_normal(mean.shape)), 0.0)


def _fractions(abs_pid: NDArray[np.int64], overrides: EnergyFractions, default: float) -> NDArray[np.float64]:
    fractions = np.full(abs_pid.shape, default)
    for code, value in overrides:
        fractions[abs_pid == code] = value
    return fractions


@dataclass(frozen=True)
class _Calorimeter:
    """One calorimeter's settings, as :func:`_energy_flow` needs them."""

    segments: TowerSegments
    resolution: CaloResolutionTable
    energy_min: float
    neutral_pid: int


def _tower_index(
    eta: NDArray[np.float64], phi: NDArray[np.float64], segments: TowerSegments
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """The (eta ring, phi cell) of each point and whether it is inside the calorimeter; ``(points,)`` each."""
    edges, cells = tower_edges(segments)
    ring = np.searchsorted(edges, eta, side="left") - 1  # Delphes: lower_bound on the edges
    inside = (ring >= 0) & (ring < len(cells))
    ring = np.clip(ring, 0, len(cells) - 1)
    cell = np.floor((phi + np.pi) / (2 * np.pi) * cells[ring]).astype(np.int64) % cells[ring]
    return ring, cell, inside


def _energy_flow(
    calo: _Calorimeter,
    deposits: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    tracks: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]],
    rng: np.random.Generator,
    config: DetectorConfig,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One calorimeter's e-flow neutrals ``(neutrals, 4)`` and the scale factors of its tracks ``(tracks,)``.

    ``deposits`` = (energy, exit eta, exit phi) of the particles' shares of energy in this calorimeter;
    ``tracks`` = (energy share, relative resolution, exit eta, exit phi) of the tracks it absorbs. The track
    variance is ``(resolution x share)^2``: Delphes's choice between share and full energy (its
    ``SimpleCalorimeter.cc``) gives the same for the card's fractions, which are 0 or 1 for charged particles.
    """
    energy, eta, phi = deposits
    track_energy, track_sigma, track_eta, track_phi = tracks
    ring, cell, inside = _tower_index(
        np.concatenate([eta, track_eta]), np.concatenate([phi, track_phi]), calo.segments
    )
    n_dep = len(energy)
    keys, tower = np.unique(np.column_stack([ring, cell]), axis=0, return_inverse=True)
    tower = tower.ravel()
    weights_dep = np.concatenate([energy * inside[:n_dep], np.zeros(len(track_energy))])
    true_energy = np.bincount(tower, weights=weights_dep, minlength=len(keys))
    track_in = inside[n_dep:]
    track_tower = tower[n_dep:]
    matched_energy = np.bincount(track_tower, weights=track_energy * track_in, minlength=len(keys))
    track_variance = np.bincount(
        track_tower, weights=(track_sigma * track_energy) ** 2 * track_in, minlength=len(keys)
    )

    edges, cells = tower_edges(calo.segments)
    low, high = edges[keys[:, 0]], edges[keys[:, 0] + 1]
    abs_centre = np.abs(0.5 * (low + high))
    sigma = calorimeter_resolution(calo.resolution, true_energy, abs_centre)
    measured = _log_normal(true_energy, sigma, rng)
    # SimpleCalorimeter.cc evaluates the width again at the smeared energy, for the thresholds and after.
    sigma = calorimeter_resolution(calo.resolution, measured, abs_centre)
    measured = np.where(
        (measured < calo.energy_min) | (measured < config.significance_min * sigma), 0.0, measured
    )

    neutral_energy = np.maximum(measured - matched_energy, 0.0)
    combined = np.sqrt(track_variance + sigma**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        significance = np.where(combined > 0, neutral_energy / combined, np.inf)
        neutral = (neutral_energy > calo.energy_min) & (significance > config.significance_min)
        # Not significant: the tracks take the resolution-weighted mean of track and tower energy.
        w_track = np.where(track_variance > 0, 1.0 / track_variance, 0.0)
        w_calo = np.where(sigma > 0, 1.0 / sigma**2, 0.0)
        best = (w_track * matched_energy + w_calo * measured) / (w_track + w_calo)
        scale = np.where(~neutral & (matched_energy > 0) & (w_track + w_calo > 0), best / matched_energy, 1.0)

    width = 2 * np.pi / cells[keys[:, 0]]
    if config.smear_tower_center:
        tower_eta = rng.uniform(low, high)
        tower_phi = -np.pi + width * (keys[:, 1] + rng.random(len(keys)))
    else:
        tower_eta, tower_phi = 0.5 * (low + high), -np.pi + width * (keys[:, 1] + 0.5)
    e = neutral_energy[neutral]
    pt = e / np.cosh(tower_eta[neutral])
    neutrals = np.column_stack(
        [
            e,
            pt * np.cos(tower_phi[neutral]),
            pt * np.sin(tower_phi[neutral]),
            pt * np.sinh(tower_eta[neutral]),
        ]
    )
    track_scale = np.where(track_in, scale[track_tower], 1.0)
    return neutrals, track_scale


def simulate_detector(
    momenta: ArrayLike,
    pid: ArrayLike,
    charge: ArrayLike,
    rng: np.random.Generator,
    config: DetectorConfig | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """Turn the stable particles of one event into energy-flow objects: tracks, photons, neutral hadrons.

    Parameters
    ----------
    momenta : array_like, shape (particles, 4)
        Four-vectors (E, px, py, pz) in GeV of the stable particles, produced at the origin. Neutrinos may
        be included (they deposit nothing).
    pid : array_like of int, shape (particles,)
        PDG ids.
    charge : array_like, shape (particles,)
        Electric charges in units of e.
    rng : numpy.random.Generator
        The source of randomness (efficiency, smearing, positions in towers): the same seed, the same output.
    config : DetectorConfig, optional
        The detector parameters (default: ``DetectorConfig()``, the Delphes ATLAS card).

    Returns
    -------
    momenta : ndarray, shape (objects, 4)
        Tracks first (massless, in input order), then e-flow photons, then e-flow neutral hadrons.
    pid : ndarray of int32, shape (objects,)
        The tracks' PDG ids, :data:`EM_CELL_PID` or :data:`HADRON_CELL_PID` for the neutral objects.

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
    abs_id = np.abs(ids).astype(np.int64)
    pt = np.hypot(p[:, 1], p[:, 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(p[:, 3] / np.where(pt > 0, pt, 1.0)), np.inf)
    phi = np.arctan2(p[:, 2], p[:, 1])
    exit_eta, exit_phi, reached = propagate(pt, eta, phi, q, config)
    abs_exit_eta = np.abs(exit_eta)

    # Tracks: one uniform draw per particle whatever its kind, so one particle's kind shifts no other draw.
    electron, muon = abs_id == _ELECTRON, abs_id == _MUON
    kinds = ((~electron & ~muon, "hadron"), (electron, "electron"), (muon, "muon"))
    efficiency, resolution = np.zeros(len(p)), np.zeros(len(p))
    for mask, kind in kinds:
        efficiency[mask] = tracking_efficiency(
            getattr(config, f"{kind}_efficiency"), pt[mask], abs_exit_eta[mask]
        )
        resolution[mask] = track_resolution(
            getattr(config, f"{kind}_resolution"), pt[mask], abs_exit_eta[mask]
        )
    tracked = (q != 0) & reached & (rng.random(len(p)) < efficiency)
    relative = np.minimum(resolution[tracked], 1.0)  # MomentumSmearing.cc caps the width at 100 %
    track_pt = _log_normal(pt[tracked], relative * pt[tracked], rng)
    track_eta, track_phi = eta[tracked], phi[tracked]
    tracks = np.column_stack(
        [
            track_pt * np.cosh(track_eta),
            track_pt * np.cos(track_phi),
            track_pt * np.sin(track_phi),
            track_pt * np.sinh(track_eta),
        ]
    )

    calorimeters = (
        (
            _Calorimeter(config.ecal_towers, config.ecal_resolution, config.ecal_energy_min, EM_CELL_PID),
            _fractions(abs_id, config.ecal_fractions, 0.0),
        ),
        (
            _Calorimeter(config.hcal_towers, config.hcal_resolution, config.hcal_energy_min, HADRON_CELL_PID),
            _fractions(abs_id, config.hcal_fractions, 1.0),
        ),
    )
    neutrals, neutral_pid = [], []
    scale = np.ones(len(tracks))
    for calo, fraction in calorimeters:
        deposits = reached & (fraction > 1e-9)
        share = fraction[tracked]
        absorbed = share > 1e-9  # the tracks matched to this calorimeter's towers; the others pass through
        flow, track_scale = _energy_flow(
            calo,
            (p[deposits, 0] * fraction[deposits], exit_eta[deposits], exit_phi[deposits]),
            (
                tracks[absorbed, 0] * share[absorbed],
                relative[absorbed],
                exit_eta[tracked][absorbed],
                exit_phi[tracked][absorbed],
            ),
            rng,
            config,
        )
        scale[absorbed] *= track_scale
        neutrals.append(flow)
        neutral_pid.append(np.full(len(flow), calo.neutral_pid, np.int32))
    out_pid = np.concatenate([ids[tracked].astype(np.int32), *neutral_pid])
    return np.concatenate([tracks * scale[:, None], *neutrals]), out_pid
