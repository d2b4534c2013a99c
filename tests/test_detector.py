"""The Delphes-ATLAS detector: card formulas, tower grids, propagation in the field, towers and energy flow.

References: ``cards/delphes_card_ATLAS.tcl`` at delphes/delphes commit 0ee14ba7 (line numbers below) and the
modules of Delphes 3.4.1 (commit 181c0614). Statistical checks run at a fixed seed; their tolerances are four
standard errors, so that a change of the random stream fails one of them with a probability below 1e-4.
"""

import bisect
import dataclasses
import math
import re

import numpy as np
import pytest

from reps4lhc_tutor.data.detector import (
    EM_CELL_PID,
    HADRON_CELL_PID,
    DetectorConfig,
    calorimeter_resolution,
    propagate,
    simulate_detector,
    tower_edges,
    track_resolution,
    tracking_efficiency,
)

# ------------------------------------------------------------------------------------------------------------
# The card's formulas, verbatim (the text between the braces of each `set ...Formula {...}`).
# ------------------------------------------------------------------------------------------------------------

# ChargedHadronTrackingEfficiency, delphes_card_ATLAS.tcl lines 91-96 at delphes/delphes 0ee14ba7.
HADRON_EFFICIENCY = """\
                                                    (pt <= 0.1)   * (0.00) +
                                           (abs(eta) <= 1.5) * (pt > 0.1   && pt <= 1.0)   * (0.70) +
                                           (abs(eta) <= 1.5) * (pt > 1.0)                  * (0.95) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1   && pt <= 1.0)   * (0.60) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 1.0)                  * (0.85) +
                         (abs(eta) > 2.5)                                                  * (0.00)"""

# ElectronTrackingEfficiency, delphes_card_ATLAS.tcl lines 110-117 at delphes/delphes 0ee14ba7.
ELECTRON_EFFICIENCY = """\
                                                    (pt <= 0.1)   * (0.00) +
                                           (abs(eta) <= 1.5) * (pt > 0.1   && pt <= 1.0)   * (0.73) +
                                           (abs(eta) <= 1.5) * (pt > 1.0   && pt <= 1.0e2) * (0.95) +
                                           (abs(eta) <= 1.5) * (pt > 1.0e2)                * (0.99) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1   && pt <= 1.0)   * (0.50) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 1.0   && pt <= 1.0e2) * (0.83) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 1.0e2)                * (0.90) +
                         (abs(eta) > 2.5)                                                  * (0.00)"""

# MuonTrackingEfficiency, delphes_card_ATLAS.tcl lines 131-136 at delphes/delphes 0ee14ba7.
MUON_EFFICIENCY = """\
                                                    (pt <= 0.1)   * (0.00) +
                                           (abs(eta) <= 1.5) * (pt > 0.1   && pt <= 1.0)   * (0.75) +
                                           (abs(eta) <= 1.5) * (pt > 1.0)                  * (0.99) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1   && pt <= 1.0)   * (0.70) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 1.0)                  * (0.98) +
                         (abs(eta) > 2.5)                                                  * (0.00)"""

# ChargedHadronMomentumSmearing, delphes_card_ATLAS.tcl lines 150-152 at delphes/delphes 0ee14ba7.
HADRON_RESOLUTION = """\
                  (abs(eta) <= 0.5) * (pt > 0.1) * sqrt(0.06^2 + pt^2*1.3e-3^2) +
                         (abs(eta) > 0.5 && abs(eta) <= 1.5) * (pt > 0.1) * sqrt(0.10^2 + pt^2*1.7e-3^2) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1) * sqrt(0.25^2 + pt^2*3.1e-3^2)"""

# ElectronMomentumSmearing, delphes_card_ATLAS.tcl lines 166-168 at delphes/delphes 0ee14ba7.
ELECTRON_RESOLUTION = """\
                  (abs(eta) <= 0.5) * (pt > 0.1) * sqrt(0.03^2 + pt^2*1.3e-3^2) +
                         (abs(eta) > 0.5 && abs(eta) <= 1.5) * (pt > 0.1) * sqrt(0.05^2 + pt^2*1.7e-3^2) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1) * sqrt(0.15^2 + pt^2*3.1e-3^2)"""

# MuonMomentumSmearing, delphes_card_ATLAS.tcl lines 181-183 at delphes/delphes 0ee14ba7.
MUON_RESOLUTION = """\
                  (abs(eta) <= 0.5) * (pt > 0.1) * sqrt(0.01^2 + pt^2*1.0e-4^2) +
                         (abs(eta) > 0.5 && abs(eta) <= 1.5) * (pt > 0.1) * sqrt(0.015^2 + pt^2*1.5e-4^2) +
                         (abs(eta) > 1.5 && abs(eta) <= 2.5) * (pt > 0.1) * sqrt(0.025^2 + pt^2*3.5e-4^2)"""

# ECal ResolutionFormula, delphes_card_ATLAS.tcl lines 292-293 at delphes/delphes 0ee14ba7.
ECAL_RESOLUTION = """\
                      (abs(eta) <= 3.2) * sqrt(energy^2*0.0017^2 + energy*0.101^2) +
                             (abs(eta) > 3.2 && abs(eta) <= 4.9) * sqrt(energy^2*0.0350^2 + energy*0.285^2)"""

# HCal ResolutionFormula, delphes_card_ATLAS.tcl lines 366-368 at delphes/delphes 0ee14ba7.
HCAL_RESOLUTION = """\
                      (abs(eta) <= 1.7) * sqrt(energy^2*0.0302^2 + energy*0.5205^2 + 1.59^2) +
                             (abs(eta) > 1.7 && abs(eta) <= 3.2) * sqrt(energy^2*0.0500^2 + energy*0.706^2) +
                             (abs(eta) > 3.2 && abs(eta) <= 4.9) * sqrt(energy^2*0.09420^2 + energy*1.00^2)"""

_COMPARISON = re.compile(r"(abs\(eta\)|\bpt\b|\beta\b|\benergy\b)\s*(<=|>=|<|>)\s*([0-9.]+(?:e[-+]?[0-9]+)?)")


def card_formula(formula, **variables):
    """Evaluate a card (ROOT TFormula) string on numpy arrays ``pt``, ``eta``, ``energy``.

    Each comparison is put in parentheses (Python's ``&`` binds tighter than ``<``), so that the booleans
    multiply as in TFormula; ``^`` is the power, ``&&`` the logical and.
    """
    expression = _COMPARISON.sub(r"(\1 \2 \3)", " ".join(formula.split()))
    expression = expression.replace("^", "**").replace("&&", "&")
    expression = expression.replace("abs(", "np.abs(").replace("sqrt(", "np.sqrt(")
    namespace = {"np": np, **{name: np.asarray(value, np.float64) for name, value in variables.items()}}
    return np.asarray(eval(expression, {"__builtins__": {}}, namespace), np.float64)


def around(*edges):
    """Each edge and the floats just below and just above it."""
    return [x for edge in edges for x in (np.nextafter(edge, -np.inf), edge, np.nextafter(edge, np.inf))]


PT_GRID = np.unique(np.concatenate([np.geomspace(0.05, 2000.0, 400), around(0.1, 1.0, 100.0)]))
ABS_ETA_GRID = np.unique(np.concatenate([np.linspace(0.0, 5.5, 551), around(0.5, 1.5, 1.7, 2.5, 3.2, 4.9)]))
SIGNED_ETA_GRID = np.concatenate([-ABS_ETA_GRID[::-1], ABS_ETA_GRID])  # the card takes abs(eta) itself
ENERGY_GRID = np.geomspace(0.1, 5000.0, 400)

# In Delphes, eta in these formulas is the eta of the exit point from the tracker (Efficiency.cc and
# MomentumSmearing.cc line 105) or of the tower centre (SimpleCalorimeter.cc line 423); the functions take it.
# rtol 1e-12: the module computes the same numbers in another order (hypot, (c E)^2), a few ulp apart.


@pytest.mark.parametrize(
    ("formula", "table"),
    [
        (HADRON_EFFICIENCY, "hadron_efficiency"),
        (ELECTRON_EFFICIENCY, "electron_efficiency"),
        (MUON_EFFICIENCY, "muon_efficiency"),
    ],
    ids=["hadron", "electron", "muon"],
)
def test_tracking_efficiency_is_the_card_formula(formula, table):
    """tracking_efficiency equals the card's EfficiencyFormula on a (pT, eta) grid with its step edges."""
    pt, eta = np.meshgrid(PT_GRID, SIGNED_ETA_GRID)
    expected = card_formula(formula, pt=pt, eta=eta)
    got = tracking_efficiency(getattr(DetectorConfig(), table), pt, np.abs(eta))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize(
    ("formula", "table"),
    [
        (HADRON_RESOLUTION, "hadron_resolution"),
        (ELECTRON_RESOLUTION, "electron_resolution"),
        (MUON_RESOLUTION, "muon_resolution"),
    ],
    ids=["hadron", "electron", "muon"],
)
def test_track_resolution_is_the_card_formula(formula, table):
    """track_resolution equals the card's relative ResolutionFormula, the (pt > 0.1) factor included."""
    pt, eta = np.meshgrid(PT_GRID, SIGNED_ETA_GRID)
    expected = card_formula(formula, pt=pt, eta=eta)
    got = track_resolution(getattr(DetectorConfig(), table), pt, np.abs(eta))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize(
    ("formula", "table"),
    [(ECAL_RESOLUTION, "ecal_resolution"), (HCAL_RESOLUTION, "hcal_resolution")],
    ids=["ecal", "hcal"],
)
def test_calorimeter_resolution_is_the_card_formula(formula, table):
    """calorimeter_resolution equals the card's absolute ResolutionFormula on an (energy, eta) grid."""
    energy, eta = np.meshgrid(ENERGY_GRID, SIGNED_ETA_GRID)
    expected = card_formula(formula, energy=energy, eta=eta)
    got = calorimeter_resolution(getattr(DetectorConfig(), table), energy, np.abs(eta))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0.0)


# ------------------------------------------------------------------------------------------------------------
# Tower grids: the card's EtaPhiBins loops, replayed.
# ------------------------------------------------------------------------------------------------------------


def _add(bins, eta, phi_bins):
    """`add EtaPhiBins $eta $PhiBins`; SimpleCalorimeter.cc (3.4.1 lines 89-123) merges phi edges per eta."""
    bins.setdefault(float(eta), set()).update(phi_bins)


# The `foreach eta {...}` lists of the card, verbatim: ECal line 262, HCal lines 330 and 339.
ECAL_10_DEGREE_EDGES = (
    "-5 -4.7 -4.525 -4.35 -4.175 -4 -3.825 -3.65 -3.475 -3.3 -3.125 -2.958 "
    "3.125 3.3 3.475 3.65 3.825 4 4.175 4.35 4.525 4.7 5"
)
HCAL_10_DEGREE_EDGES = (
    "-3.2 -2.5 -2.4 -2.3 -2.2 -2.1 -2 -1.9 -1.8 -1.7 -1.6 -1.5 -1.4 -1.3 -1.2 -1.1 -1 -0.9 -0.8 -0.7 -0.6 "
    "-0.5 -0.4 -0.3 -0.2 -0.1 0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1 1.1 1.2 1.3 1.4 1.5 1.6 1.7 1.8 1.9 2 "
    "2.1 2.2 2.3 2.4 2.5 2.6 3.3"
)
HCAL_20_DEGREE_EDGES = (
    "-4.9 -4.7 -4.5 -4.3 -4.1 -3.9 -3.7 -3.5 -3.3 -3 -2.8 -2.6 2.8 3 3.2 3.5 3.7 3.9 4.1 4.3 4.5 4.7 4.9"
)


def ecal_card_bins():
    """The ECal EtaPhiBins, card lines 224-264: ``{eta edge: phi edges}``."""
    bins = {}
    phi_bins = [i * math.pi / 180.0 for i in range(-180, 181)]  # for {set i -180} {$i <= 180}
    for i in range(-85, 87):  # for {set i -85} {$i <= 86}: eta = $i * 0.0174
        _add(bins, i * 0.0174, phi_bins)
    for i in range(1, 85):  # for {set i 1} {$i <= 84}: eta = -2.958 + $i * 0.0174
        _add(bins, -2.958 + i * 0.0174, phi_bins)
    for i in range(1, 85):  # eta = 1.4964 + $i * 0.0174
        _add(bins, 1.4964 + i * 0.0174, phi_bins)
    phi_bins = [i * math.pi / 18.0 for i in range(-18, 19)]  # for {set i -18} {$i <= 18}
    for eta in ECAL_10_DEGREE_EDGES.split():
        _add(bins, eta, phi_bins)
    return bins


def hcal_card_bins():
    """The HCal EtaPhiBins, card lines 325-341: ``{eta edge: phi edges}``."""
    bins = {}
    phi_bins = [i * math.pi / 18.0 for i in range(-18, 19)]  # 10 degrees: for {set i -18} {$i <= 18}
    for eta in HCAL_10_DEGREE_EDGES.split():
        _add(bins, eta, phi_bins)
    phi_bins = [i * math.pi / 9.0 for i in range(-9, 10)]  # 20 degrees: for {set i -9} {$i <= 9}
    for eta in HCAL_20_DEGREE_EDGES.split():
        _add(bins, eta, phi_bins)
    return bins


ECAL_BINS, HCAL_BINS = ecal_card_bins(), hcal_card_bins()


def card_rings(bins):
    """Sorted eta edges and, per ring (lower, upper], the phi cells of its upper edge.

    SimpleCalorimeter.cc (3.4.1 lines 232 and 237) finds a ring with lower_bound on the eta edges and takes
    the phi edges stored with the upper one; an edge added by two lists would hold the union (the card has
    none).
    """
    edges = sorted(bins)
    return np.array(edges), np.array([len(bins[upper]) - 1 for upper in edges[1:]])


def card_tower_centre(bins, eta, phi):
    """Centre (eta, phi) of the card tower that holds a point, found as SimpleCalorimeter.cc does."""
    edges = sorted(bins)
    ring = bisect.bisect_left(edges, eta)  # lower_bound, line 232
    phi_edges = sorted(bins[edges[ring]])  # the upper edge's phi edges, line 237
    cell = bisect.bisect_left(phi_edges, phi)  # line 240
    return 0.5 * (edges[ring - 1] + edges[ring]), 0.5 * (phi_edges[cell - 1] + phi_edges[cell])


@pytest.mark.parametrize(
    ("segments", "bins", "rings"),
    [("ecal_towers", ECAL_BINS, 362), ("hcal_towers", HCAL_BINS, 76)],
    ids=["ecal", "hcal"],
)
def test_tower_grid_is_the_card_grid(segments, bins, rings):
    """tower_edges gives the card's eta edges and, per ring, the phi cells of the card's upper edge."""
    edges, cells = tower_edges(getattr(DetectorConfig(), segments))
    card_edges, card_cells = card_rings(bins)
    assert len(cells) == rings
    # atol 1e-9: the module spaces edges evenly (linspace), the card adds multiples of 0.0174; ~1e-15 apart.
    np.testing.assert_allclose(edges, card_edges, rtol=0.0, atol=1e-9)
    np.testing.assert_array_equal(cells, card_cells)


# ------------------------------------------------------------------------------------------------------------
# Propagation to the surface of the tracker (ParticlePropagator).
# ------------------------------------------------------------------------------------------------------------

CARD = DetectorConfig()
BENDING = 0.3 * CARD.bz * CARD.field_radius / 2  # 0.345 GeV: below this pT a track never reaches the barrel


def propagate_one(pt, eta, phi, charge, config=CARD):
    """propagate() for one particle: ``(exit eta, exit phi, reached)`` as Python scalars."""
    columns = (np.array([value], np.float64) for value in (pt, eta, phi, charge))
    exit_eta, exit_phi, reached = propagate(*columns, config)
    return float(exit_eta[0]), float(exit_phi[0]), bool(reached[0])


def wrapped(angle):
    """An angle difference in (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(angle)))


def helix_exit(pt, eta, phi, charge, config=CARD):
    """The exit (eta, phi) of a helix from the origin, written as Delphes writes it.

    ParticlePropagator.cc (3.4.1 lines 265-271 and 345-347): signed radius ``r = pT / (0.3 q B)``, axis at
    ``(r sin phi, -r cos phi)``, position ``(x_c + r sin(s/r - phi), y_c + r cos(s/r - phi), s sinh eta)``
    after a transverse arc length ``s``, the first of the barrel crossing and the end cap.
    """
    r = pt / (0.3 * charge * config.bz)
    x_c, y_c = r * math.sin(phi), -r * math.cos(phi)
    s_cap = config.field_half_length / abs(math.sinh(eta))
    ratio = config.field_radius / (2 * abs(r))
    s_barrel = 2 * abs(r) * math.asin(ratio) if ratio <= 1 else math.inf
    s = min(s_cap, s_barrel)
    x, y, z = x_c + r * math.sin(s / r - phi), y_c + r * math.cos(s / r - phi), s * math.sinh(eta)
    return math.asinh(z / math.hypot(x, y)), math.atan2(y, x)


def test_neutral_particles_leave_at_their_own_direction():
    """A neutral particle flies straight: it leaves at its own eta and phi, barrel or end cap."""
    eta = np.array([-4.0, -2.5, -1.0, 0.0, 0.3, 1.2, 2.5, 4.5])
    phi = np.linspace(-3.0, 3.0, len(eta))
    exit_eta, exit_phi, reached = propagate(np.full(len(eta), 0.2), eta, phi, np.zeros(len(eta)), CARD)
    assert np.all(reached)
    np.testing.assert_allclose(exit_eta, eta, rtol=0.0, atol=1e-12)  # exact up to rounding of asinh(sinh)
    np.testing.assert_allclose(exit_phi, phi, rtol=0.0, atol=1e-12)


@pytest.mark.parametrize("pt", [2.0, 5.0, 50.0])
def test_charged_exit_azimuth_in_the_barrel(pt):
    """At eta = 0.3 the barrel exit azimuth turns by asin(0.3 B R / 2 pT): clockwise for q > 0 (Delphes)."""
    shift = math.asin(0.3 * CARD.bz * CARD.field_radius / (2 * pt))
    for charge in (1.0, -1.0):
        exit_eta, exit_phi, reached = propagate_one(pt, 0.3, 0.4, charge)
        assert reached and exit_eta > 0.3  # the arc is longer than the radius: it leaves further forward
        # Sign: a positive charge's helix axis is at (r sin phi, -r cos phi), ParticlePropagator.cc 270-271.
        assert wrapped(exit_phi - 0.4) == pytest.approx(-charge * shift, abs=1e-12)


def test_stiff_tracks_are_not_bent():
    """The exit azimuth shift falls like 1/pT and vanishes at high pT."""
    shifts = [abs(wrapped(propagate_one(pt, 0.3, 1.0, 1.0)[1] - 1.0)) for pt in (10.0, 100.0, 1e4)]
    assert shifts[0] > shifts[1] > shifts[2]
    assert shifts[2] == pytest.approx(BENDING / 1e4, rel=1e-6)  # asin(x) = x (1 + x^2/6), x = 3.5e-5


HELIX_CASES = {
    "barrel-2GeV+": (2.0, 0.3, 0.4, 1.0),
    "barrel-2GeV-": (2.0, 0.3, 0.4, -1.0),
    "barrel-5GeV": (5.0, -0.3, -2.0, 1.0),
    "barrel-50GeV": (50.0, 0.3, 3.0, -1.0),
    "endcap-1GeV": (1.0, 2.0, 1.0, 1.0),
    "endcap-10GeV": (10.0, -2.4, -3.0, -1.0),
    "curler-half-turn": (0.3, 1.0, -1.0, -1.0),  # turns by 5.97 rad before the end cap
    "curler-three-turns+": (0.2, 0.5, 0.0, 1.0),  # turns by 20.2 rad
    "curler-three-turns-": (0.2, -0.5, 2.0, -1.0),
}


@pytest.mark.parametrize(("pt", "eta", "phi", "charge"), HELIX_CASES.values(), ids=HELIX_CASES.keys())
def test_charged_exit_point_is_on_the_delphes_helix(pt, eta, phi, charge):
    """propagate() puts a charged particle where Delphes's helix meets the barrel or the end cap."""
    expected_eta, expected_phi = helix_exit(pt, eta, phi, charge)
    exit_eta, exit_phi, reached = propagate_one(pt, eta, phi, charge)
    assert reached
    assert exit_eta == pytest.approx(expected_eta, abs=1e-9)  # two closed forms of one point: rounding only
    assert wrapped(exit_phi - expected_phi) == pytest.approx(0.0, abs=1e-9)


def test_forward_particles_leave_through_the_end_cap():
    """At eta = 2.5 particles leave through the end cap, |z| = 3.51 m, at a radius below 1.15 m."""
    assert propagate_one(50.0, 2.5, 0.7, 0.0)[0] == pytest.approx(2.5, abs=1e-12)
    assert propagate_one(50.0, -2.5, 0.7, 0.0)[0] == pytest.approx(-2.5, abs=1e-12)
    r = 1.0 / (0.3 * CARD.bz)  # a 1 GeV track
    s = CARD.field_half_length / math.sinh(2.5)
    chord = 2 * r * math.sin(s / (2 * r))  # distance from the beam after the arc s to |z| = 3.51 m
    exit_eta, _, reached = propagate_one(1.0, 2.5, 0.7, 1.0)
    assert reached and chord < CARD.field_radius
    # The exit point at |z| = half-length: its radius is half-length / sinh(exit eta).
    assert CARD.field_half_length / math.sinh(exit_eta) == pytest.approx(chord, rel=1e-12)


def test_curlers_at_eta_zero_never_leave():
    """Below pT = 0.3 B R / 2 = 0.345 GeV a track at eta = 0 circles inside the tracker for ever."""
    assert BENDING == pytest.approx(0.345)
    assert not propagate_one(0.2, 0.0, 0.3, 1.0)[2]
    assert not propagate_one(0.99 * BENDING, 0.0, 0.3, -1.0)[2]
    assert propagate_one(1.01 * BENDING, 0.0, 0.3, 1.0)[2]


@pytest.mark.parametrize("eta", [0.05, -0.05])
def test_curlers_at_small_eta_leave_through_the_end_cap(eta):
    """A 0.3 GeV curler at small |eta| drifts to the end cap and leaves at |eta| >= asinh(3.51 m / 2r)."""
    exit_eta, _, reached = propagate_one(0.3, eta, 0.3, 1.0)
    r = 0.3 / (0.3 * CARD.bz)  # its circle stays within 2r = 1 m of the beam
    assert reached
    assert np.sign(exit_eta) == np.sign(eta)
    assert abs(exit_eta) >= math.asinh(CARD.field_half_length / (2 * r))


# ------------------------------------------------------------------------------------------------------------
# simulate_detector: towers, tracks and energy flow on hand-made events.
# ------------------------------------------------------------------------------------------------------------

# sigma(E) ~ 1e-6 sqrt(E) GeV: a perfect calorimeter that still counts in the e-flow mean (a width of exactly
# zero gets weight 0, SimpleCalorimeter.cc line 501); likewise sigma(pT)/pT = 1e-6 for a perfect tracker.
TINY_CALO = ((5.0, 1e-6, 1e-6, 0.0),)
TINY_TRACK = ((2.5, 1e-6, 0.0),)
ALWAYS = ((2.5, ((0.1, 1.0),)),)  # every track above 0.1 GeV found
PERFECT = dataclasses.replace(
    CARD,
    ecal_resolution=TINY_CALO,
    hcal_resolution=TINY_CALO,
    hadron_resolution=TINY_TRACK,
    electron_resolution=TINY_TRACK,
    muon_resolution=TINY_TRACK,
)
# The perfect detector's energies are exact to sigma/E ~ 1e-6; comparisons use rtol 1e-5 (10 sigma).
EXACT = 1e-5

HCAL_RING_CENTRES = 0.05 + 0.1 * np.arange(26)  # the 0.1-wide HCal rings up to |eta| = 2.6
HCAL_PHI_CENTRES = -np.pi + (np.arange(36) + 0.5) * np.pi / 18  # the 10-degree HCal cells


def massless(pt, eta, phi):
    """Four-vectors (E, px, py, pz), ``(n, 4)``, of massless particles."""
    pt, eta, phi = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (pt, eta, phi)))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def with_mass(p, mass):
    """The same momenta with energy sqrt(|p|^2 + m^2)."""
    p = p.copy()
    p[:, 0] = np.sqrt(np.sum(p[:, 1:] ** 2, axis=1) + mass**2)
    return p


def direction(p):
    """``(pt, eta, phi)`` of four-vectors ``(n, 4)``."""
    pt = np.hypot(p[:, 1], p[:, 2])
    return pt, np.arcsinh(p[:, 3] / pt), np.arctan2(p[:, 2], p[:, 1])


def nearest(eta, phi, ref_eta, ref_phi):
    """For each point the index of the nearest reference point and ``(d_eta, d_phi)`` to it."""
    d_eta = eta[:, None] - ref_eta[None, :]
    d_phi = wrapped(phi[:, None] - ref_phi[None, :])
    index = np.argmin(d_eta**2 + d_phi**2, axis=1)
    rows = np.arange(len(eta))
    return index, d_eta[rows, index], d_phi[rows, index]


def hcal_tower_grid(rings):
    """(eta, phi) of the centres of the HCal towers in the given rings, on both sides: ``(n,)`` each."""
    centres = HCAL_RING_CENTRES[rings]
    eta, phi = np.meshgrid(np.concatenate([-centres, centres]), HCAL_PHI_CENTRES, indexing="ij")
    return eta.ravel(), phi.ravel()


def simulate_events(momenta, pid, charge, n_events, config=CARD, seed=0):
    """The same event through the detector ``n_events`` times with one generator: a list of outputs."""
    rng = np.random.default_rng(seed)
    pid, charge = np.asarray(pid), np.asarray(charge, np.float64)
    return [simulate_detector(momenta, pid, charge, rng, config) for _ in range(n_events)]


def binomial_tolerance(p, n):
    """Four standard errors of a fraction p measured from n trials."""
    return 4 * math.sqrt(p * (1 - p) / n)


def test_isolated_photon_gives_one_smeared_em_object():
    """A 50 GeV photon: one EM object, no track, unbiased, with the card's ECal width, inside its tower."""
    eta, phi = np.meshgrid(np.arange(-1.2, 1.2, 0.1), np.arange(-3.0, 3.05, 0.1), indexing="ij")
    eta, phi = eta.ravel(), phi.ravel()  # 0.1 apart: every photon in a tower of its own
    energy = 50.0
    photons = massless(energy / np.cosh(eta), eta, phi)
    measured = []
    for out, out_pid in simulate_events(photons, np.full(len(eta), 22), np.zeros(len(eta)), n_events=4):
        assert len(out) == len(eta) and np.all(out_pid == EM_CELL_PID)
        _, out_eta, out_phi = direction(out)
        owner, d_eta, d_phi = nearest(out_eta, out_phi, eta, phi)
        assert np.array_equal(np.sort(owner), np.arange(len(eta)))
        # SmearTowerCenter: uniform in the photon's 0.0174 x 1 degree tower (1e-12: rounding of the edges).
        assert np.all(np.abs(d_eta) <= 0.0174 + 1e-12)
        assert np.all(np.abs(d_phi) <= 2 * np.pi / 360 + 1e-12)
        measured.append(out[:, 0])
    measured = np.concatenate(measured)
    n, sigma = len(measured), float(card_formula(ECAL_RESOLUTION, energy=energy, eta=0.0))  # 0.72 GeV
    assert measured.mean() == pytest.approx(energy, abs=4 * sigma / math.sqrt(n))  # log-normal: mean kept
    assert measured.std() == pytest.approx(sigma, rel=4 / math.sqrt(2 * n))  # std error of a std: 1/sqrt(2n)


@pytest.mark.parametrize(
    ("pid", "rings"),
    [(2112, slice(0, 17)), (130, slice(17, 26))],
    ids=["neutron-barrel", "k0l-forward"],
)
def test_neutral_hadron_gives_one_smeared_hadronic_object(pid, rings):
    """A 20 GeV neutral hadron: one hadronic object, unbiased, with the card's HCal width for its |eta|.

    The barrel (|eta| < 1.7) width includes the 1.59 GeV noise term (2.88 GeV instead of 2.40 GeV). At
    20 GeV the mean also tells the log-normal of Delphes (mean kept) from exp(ln E + b N) (0.2 GeV high).
    """
    eta, phi = hcal_tower_grid(rings)  # one hadron at the centre of each 0.1 x 10 degree tower
    energy = 20.0
    hadrons = massless(energy / np.cosh(eta), eta, phi)
    measured = []
    for out, out_pid in simulate_events(hadrons, np.full(len(eta), pid), np.zeros(len(eta)), n_events=8):
        assert len(out) == len(eta) and np.all(out_pid == HADRON_CELL_PID)
        _, out_eta, out_phi = direction(out)
        owner, d_eta, d_phi = nearest(out_eta, out_phi, eta, phi)
        assert np.array_equal(np.sort(owner), np.arange(len(eta)))
        assert np.all(np.abs(d_eta) <= 0.05 + 1e-12)  # within its tower: half a width from the centre
        assert np.all(np.abs(d_phi) <= np.pi / 36 + 1e-12)
        measured.append(out[:, 0])
    measured = np.concatenate(measured)
    n, sigma = len(measured), float(card_formula(HCAL_RESOLUTION, energy=energy, eta=abs(eta[0])))
    assert measured.mean() == pytest.approx(energy, abs=4 * sigma / math.sqrt(n))
    assert measured.std() == pytest.approx(sigma, rel=4 / math.sqrt(2 * n))


@pytest.mark.parametrize(
    ("pid", "energy", "expected"),
    [(22, 0.45, 0), (22, 0.55, 1), (2112, 0.9, 0), (2112, 1.1, 1)],
    ids=["photon-below", "photon-above", "neutron-below", "neutron-above"],
)
def test_energy_thresholds(pid, energy, expected):
    """With perfect calorimeters a tower counts from EnergyMin: 0.5 GeV (ECal), 1.0 GeV (HCal)."""
    out, out_pid = simulate_events(massless([energy / np.cosh(0.3)], [0.3], [0.2]), [pid], [0.0], 1, PERFECT)[
        0
    ]
    assert len(out) == expected
    if expected:
        assert out_pid[0] == (EM_CELL_PID if pid == 22 else HADRON_CELL_PID)
        assert out[0, 0] == pytest.approx(energy, rel=EXACT)


def test_significance_threshold_uses_the_smeared_energy():
    """A 0.8 GeV neutron makes an object only if its smeared energy E passes E > 2 sigma(E) (and 1 GeV).

    SimpleCalorimeter.cc (lines 423-431) smears with sigma(true E) and cuts with sigma(smeared E); the
    fraction kept is the log-normal tail above the E that solves E = 2 sigma(E), 3.78 GeV: 3.2 % (4.1 % if
    the cut used sigma(0.8 GeV)).
    """
    eta, phi = hcal_tower_grid(slice(0, 17))
    energy = 0.8
    neutrons = massless(energy / np.cosh(eta), eta, phi)
    outputs = simulate_events(neutrons, np.full(len(eta), 2112), np.zeros(len(eta)), n_events=16)
    n_objects = sum(len(out) for out, _ in outputs)
    assert all(np.all(out_pid == HADRON_CELL_PID) for _, out_pid in outputs)

    def sigma(e):
        return float(card_formula(HCAL_RESOLUTION, energy=e, eta=0.0))

    low, high = CARD.hcal_energy_min, 50.0  # E - 2 sigma(E) < 0 at 1 GeV and > 0 at 50 GeV: bisect
    for _ in range(100):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if middle < CARD.significance_min * sigma(middle) else (low, middle)
    b = math.sqrt(math.log1p((sigma(energy) / energy) ** 2))  # the log-normal of SimpleCalorimeter.cc 523-538
    a = math.log(energy) - 0.5 * b**2
    expected = 0.5 * math.erfc((math.log(high) - a) / (b * math.sqrt(2)))
    n = 16 * len(eta)
    assert n_objects / n == pytest.approx(expected, abs=binomial_tolerance(expected, n))


@pytest.mark.parametrize(("eta", "efficiency"), [(0.3, 0.99), (2.0, 0.98)], ids=["barrel", "endcap"])
def test_muon_gives_a_massless_track_only(eta, efficiency):
    """A 50 GeV muon: a track (no calorimeter object) found with the card's efficiency, smeared with the
    card's muon resolution, massless and along the muon's direction at the vertex, in input order."""
    n = 20_000
    phi = -np.pi + (np.arange(n) + 0.5) * 2 * np.pi / n
    pid = np.where(np.arange(n) % 2 == 0, 13, -13)
    muons = with_mass(massless(np.full(n, 50.0), np.full(n, eta), phi), 0.10566)
    out, out_pid = simulate_events(muons, pid, -np.sign(pid), 1)[0]
    assert len(out) / n == pytest.approx(efficiency, abs=binomial_tolerance(efficiency, n))
    out_pt, out_eta, out_phi = direction(out)
    index = np.rint((out_phi + np.pi) / (2 * np.pi / n) - 0.5).astype(int)
    assert np.all(np.diff(index) > 0)  # input order
    np.testing.assert_array_equal(out_pid, pid[index])  # tracks only, with the muons' ids
    np.testing.assert_allclose(
        out_phi, phi[index], rtol=0.0, atol=1e-12
    )  # the vertex direction, not the exit
    np.testing.assert_allclose(out_eta, eta, rtol=0.0, atol=1e-12)
    # Massless as in Delphes 3.4 (MomentumSmearing.cc line 124): E = |p|; the muon mass would give 2e-6.
    np.testing.assert_allclose(out[:, 0], np.linalg.norm(out[:, 1:], axis=1), rtol=1e-12)
    resolution = float(card_formula(MUON_RESOLUTION, pt=50.0, eta=eta))  # 1.1 % (barrel), 2.5 % (end cap)
    ratio = out_pt / 50.0
    assert ratio.mean() == pytest.approx(1.0, abs=4 * resolution / math.sqrt(len(ratio)))
    assert ratio.std() == pytest.approx(resolution, rel=4 / math.sqrt(2 * len(ratio)))


@pytest.mark.parametrize(
    ("rings", "efficiency", "n_events"),
    [(slice(0, 15), 0.95, 5), (slice(15, 25), 0.85, 7)],
    ids=["barrel", "endcap"],
)
def test_charged_pion_tracking_efficiency_and_lost_tracks(rings, efficiency, n_events):
    """20 GeV pions are tracked with the card's efficiency; a lost one becomes a neutral hadron of its energy.

    Perfect resolutions: a tracked pion's tower has no excess, an untracked one's holds the pion's energy.
    """
    eta, phi = hcal_tower_grid(rings)  # tower centres; a 20 GeV track bends by 0.017 rad, within its cell
    pid = np.where(np.arange(len(eta)) % 2 == 0, 211, -211)
    pions = massless(np.full(len(eta), 20.0), eta, phi)
    outputs = simulate_events(pions, pid, np.sign(pid), n_events, PERFECT)
    n_tracks = 0
    for out, out_pid in outputs:
        tracks, neutrals = np.abs(out_pid) == 211, out_pid == HADRON_CELL_PID
        assert np.all(tracks | neutrals)
        assert np.sum(neutrals) == len(eta) - np.sum(tracks)
        _, out_eta, out_phi = direction(out[neutrals])
        owner, _, _ = nearest(out_eta, out_phi, eta, phi)
        np.testing.assert_allclose(out[neutrals, 0], pions[owner, 0], rtol=EXACT)
        n_tracks += np.sum(tracks)
    n = n_events * len(eta)
    assert n_tracks / n == pytest.approx(efficiency, abs=binomial_tolerance(efficiency, n))


def test_tracking_efficiency_uses_the_exit_eta():
    """A 0.5 GeV pion at eta 1.45 bends out to |eta| = 1.52 at the barrel: efficiency 0.60, not 0.70."""
    assert helix_exit(0.5, 1.45, 0.0, 1.0)[0] > 1.5
    n = 10_000
    pions = massless(np.full(n, 0.5), np.full(n, 1.45), np.linspace(-np.pi, np.pi, n, endpoint=False))
    _, out_pid = simulate_events(pions, np.full(n, 211), np.ones(n), 1)[0]
    assert np.sum(out_pid == 211) / n == pytest.approx(0.60, abs=binomial_tolerance(0.60, n))


def hcal_pions(config, seed=0):
    """20 GeV pions, all tracked, one at the centre of each barrel HCal tower: ``(pions, out, out_pid)``."""
    eta, phi = hcal_tower_grid(slice(0, 17))
    pions = massless(20.0 / np.cosh(eta), eta, phi)
    tracked = dataclasses.replace(config, hadron_efficiency=ALWAYS)
    out, out_pid = simulate_events(pions, np.full(len(eta), 211), np.ones(len(eta)), 1, tracked, seed)[0]
    assert np.array_equal(out_pid[: len(eta)], np.full(len(eta), 211))
    assert np.all(out_pid[len(eta) :] == HADRON_CELL_PID)
    return pions, out, out_pid


def test_tracked_pion_rarely_leaves_a_neutral():
    """A tracked 20 GeV pion's tower seldom holds a significant excess (2 combined sigma, ~3 % of towers)."""
    pions, out, _ = hcal_pions(CARD)
    assert len(out) - len(pions) < 0.1 * len(pions)  # without the significance test: ~45 %


def test_track_takes_the_calorimeter_energy_when_the_calorimeter_is_precise():
    """Weighted mean, calorimeter 1e-6 precise: a track without a neutral carries the pion's energy; with a
    neutral the track stays as it was and the neutral takes the rest of the tower's energy."""
    pions, out, _ = hcal_pions(dataclasses.replace(CARD, hcal_resolution=TINY_CALO))
    n = len(pions)
    track_energy, neutral = out[:n, 0].copy(), out[n:]
    assert 0 < len(neutral) < 0.1 * n  # only tracks 2 sigma low leave a neutral (~30 of 1224)
    _, neutral_eta, neutral_phi = direction(neutral)
    owner, _, _ = nearest(neutral_eta, neutral_phi, *direction(pions)[1:])
    assert len(np.unique(owner)) == len(owner)
    has_neutral = np.zeros(n, bool)
    has_neutral[owner] = True
    track_energy[owner] += neutral[:, 0]
    np.testing.assert_allclose(track_energy, pions[:, 0], rtol=EXACT)
    assert np.all(np.abs(out[:n, 0][has_neutral] / pions[has_neutral, 0] - 1) > 0.05)  # kept as smeared


def test_precise_track_is_kept():
    """Weighted mean, track 1e-6 precise: the track keeps the pion's energy whatever the calorimeter says."""
    pions, out, _ = hcal_pions(dataclasses.replace(CARD, hadron_resolution=TINY_TRACK))
    np.testing.assert_allclose(out[: len(pions), 0], pions[:, 0], rtol=EXACT)


def test_neutral_hadron_next_to_a_pion_is_the_tower_excess():
    """A 20 GeV pion and a 40 GeV neutron in one HCal tower: the track, and a neutral of the neutron's E."""
    # Both in the tower (0.2, 0.3] x [0, 10 degrees); the pion bends by 0.017 rad.
    particles = massless([20.0, 40.0 / np.cosh(0.27)], [0.25, 0.27], [0.10, 0.12])
    out, out_pid = simulate_events(particles, [211, 2112], [1.0, 0.0], 1, PERFECT)[0]
    np.testing.assert_array_equal(out_pid, [211, HADRON_CELL_PID])
    np.testing.assert_allclose(out[:, 0], [particles[0, 0], 40.0], rtol=EXACT)
    _, neutral_eta, neutral_phi = direction(out[1:])
    assert 0.2 < neutral_eta[0] < 0.3 and 0.0 < neutral_phi[0] < np.pi / 18


def test_electrons_are_tracked_and_matched_to_the_ecal():
    """50 GeV electrons: tracked with 0.95; a tracked one's ECal energy is matched (no photon), a lost one's
    becomes a photon of its energy; nothing reaches the HCal."""
    eta, phi = np.meshgrid(np.arange(-1.2, 1.2, 0.1), np.arange(-3.0, 3.05, 0.1), indexing="ij")
    eta, phi = eta.ravel(), phi.ravel()  # each in its own ECal tower (the tracks bend by <= 0.013 rad)
    pid = np.where(np.arange(len(eta)) % 2 == 0, 11, -11)
    electrons = massless(50.0 / np.cosh(eta), eta, phi)
    n_tracks = 0
    for out, out_pid in simulate_events(electrons, pid, -np.sign(pid), 4, PERFECT):
        tracks, photons = np.abs(out_pid) == 11, out_pid == EM_CELL_PID
        assert np.all(tracks | photons)
        assert np.sum(photons) == len(eta) - np.sum(tracks)
        np.testing.assert_allclose(out[:, 0], 50.0, rtol=EXACT)
        n_tracks += np.sum(tracks)
    n = 4 * len(eta)
    assert n_tracks / n == pytest.approx(0.95, abs=binomial_tolerance(0.95, n))


@pytest.mark.parametrize(("pid", "mass"), [(310, 0.497611), (3122, 1.115683)], ids=["K0S", "Lambda"])
def test_k0s_and_lambda_split_between_the_calorimeters(pid, mass):
    """K0S and Lambda put 30 % of their energy (E, not |p|) into the ECal and 70 % into the HCal."""
    particle = with_mass(massless([5.0], [0.3], [0.2]), mass)
    out, out_pid = simulate_events(particle, [pid], [0.0], 1, PERFECT)[0]
    np.testing.assert_array_equal(out_pid, [EM_CELL_PID, HADRON_CELL_PID])
    np.testing.assert_allclose(out[:, 0], [0.3 * particle[0, 0], 0.7 * particle[0, 0]], rtol=EXACT)


def test_neutrinos_leave_nothing():
    """Neutrinos deposit nothing and give no object: empty arrays of the right shapes and types."""
    neutrinos = massless([50.0, 50.0, 50.0], [0.0, 1.0, -2.0], [0.0, 2.0, -2.0])
    out, out_pid = simulate_events(neutrinos, [12, -14, 16], [0.0, 0.0, 0.0], 1)[0]
    assert out.shape == (0, 4) and out.dtype == np.float64
    assert out_pid.shape == (0,) and out_pid.dtype == np.int32


@pytest.mark.parametrize(("pid", "eta"), [(22, 5.2), (2112, 4.95)], ids=["ecal", "hcal"])
def test_particles_beyond_the_calorimeters_leave_nothing(pid, eta):
    """The ECal ends at |eta| = 5.0 and the HCal at 4.9 (card lines 262 and 339)."""
    out, _ = simulate_events(massless([5.0], [eta], [0.0]), [pid], [0.0], 1, PERFECT)[0]
    assert len(out) == 0


@pytest.mark.parametrize(("pid", "bins"), [(22, ECAL_BINS), (2112, HCAL_BINS)], ids=["ecal", "hcal"])
def test_neutral_object_sits_at_the_centre_of_the_card_tower(pid, bins):
    """Without SmearTowerCenter a neutral object sits at the centre of the card's tower that holds the
    particle: random points, and points next to the changes of granularity (2.6, 2.958, 3.125, 3.2, 3.3)."""
    rng = np.random.default_rng(3)
    special = np.array([2.55, 2.65, 2.95, 2.97, 3.1, 3.15, 3.21, 3.29, 3.31, 4.75])
    eta = np.concatenate([rng.uniform(-4.85, 4.85, 150), special, -special])
    phi = rng.uniform(-np.pi, np.pi, len(eta))
    config = dataclasses.replace(PERFECT, smear_tower_center=False)
    for one_eta, one_phi in zip(eta, phi, strict=True):
        particle = massless([20.0 / np.cosh(one_eta)], [one_eta], [one_phi])
        out, _ = simulate_events(particle, [pid], [0.0], 1, config)[0]
        assert len(out) == 1
        _, out_eta, out_phi = direction(out)
        centre_eta, centre_phi = card_tower_centre(bins, one_eta, one_phi)
        assert out_eta[0] == pytest.approx(centre_eta, abs=1e-9)  # edges agree to 1e-9 (grid test)
        assert wrapped(out_phi[0] - centre_phi) == pytest.approx(0.0, abs=1e-9)


def mixed_event():
    """A photon, pi+, K0L, e-, mu+, neutron and pi-, 20 GeV each and far apart: ``(momenta, pid, charge)``."""
    eta = [-1.0, 0.5, 1.0, -0.5, 0.0, -1.5, 1.5]
    phi = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.0]
    pid = [22, 211, 130, 11, -13, 2112, -211]
    charge = [0.0, 1.0, 0.0, -1.0, 1.0, 0.0, -1.0]
    return massless(np.full(7, 20.0), eta, phi), pid, charge


def test_output_order_shapes_and_types():
    """Tracks first in input order, then e-flow photons, then e-flow neutral hadrons; float64 and int32."""
    config = dataclasses.replace(
        PERFECT, hadron_efficiency=ALWAYS, electron_efficiency=ALWAYS, muon_efficiency=ALWAYS
    )
    momenta, pid, charge = mixed_event()
    out, out_pid = simulate_events(momenta, pid, charge, 1, config)[0]
    assert out.shape == (7, 4) and out.dtype == np.float64
    assert out_pid.shape == (7,) and out_pid.dtype == np.int32
    np.testing.assert_array_equal(
        out_pid, [211, 11, -13, -211, EM_CELL_PID, HADRON_CELL_PID, HADRON_CELL_PID]
    )
    np.testing.assert_allclose(direction(out[:4])[2], [-1.5, 0.5, 1.5, 3.0], atol=1e-12)


def test_same_seed_same_output_other_seed_other_output():
    """The generator is the only source of randomness: the same seed repeats the event, another changes it."""
    momenta, pid, charge = mixed_event()
    first, again, other = (simulate_events(momenta, pid, charge, 1, seed=seed)[0] for seed in (5, 5, 6))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0].shape != other[0].shape or not np.array_equal(first[0], other[0])


# ------------------------------------------------------------------------------------------------------------
# Input validation.
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("momenta", "pid", "charge", "match"),
    [
        (np.ones(4), [22], [0.0], r"shape \(particles, 4\)"),
        (np.ones((2, 3)), [22, 22], [0.0, 0.0], r"shape \(particles, 4\)"),
        (massless([5.0, 5.0], [0.0, 1.0], [0.0, 1.0]), [22], [0.0, 0.0], "pid and charge"),
        (massless([5.0, 5.0], [0.0, 1.0], [0.0, 1.0]), [22, 22], [0.0], "pid and charge"),
        (np.array([[np.nan, 1.0, 0.0, 0.0]]), [22], [0.0], "NaN or infinite"),
        (np.array([[np.inf, 1.0, 0.0, 0.0]]), [22], [0.0], "NaN or infinite"),
    ],
    ids=["1d", "three-columns", "short-pid", "short-charge", "nan", "inf"],
)
def test_bad_events_are_rejected(momenta, pid, charge, match):
    """Wrong shapes and non-finite momenta raise ValueError with a message that names the problem."""
    with pytest.raises(ValueError, match=match):
        simulate_detector(momenta, pid, charge, np.random.default_rng(0))


@pytest.mark.parametrize("rng", [0, np.random.RandomState(0)], ids=["int", "RandomState"])
def test_rng_must_be_a_generator(rng):
    """Only a numpy Generator is accepted, with a hint how to make one."""
    with pytest.raises(TypeError, match=r"numpy.random.Generator \(np.random.default_rng"):
        simulate_detector(massless([5.0], [0.0], [0.0]), [22], [0.0], rng)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            {"hadron_efficiency": ((2.5, ((0.1, 1.2),)),)},
            r"hadron_efficiency: efficiencies must lie in \[0, 1\]",
        ),
        (
            {"muon_efficiency": ((2.5, ((0.1, -0.1),)),)},
            r"muon_efficiency: efficiencies must lie in \[0, 1\]",
        ),
        ({"ecal_towers": ((1.0, 0.1, 36), (0.5, 0.1, 36))}, "ecal_towers: segments need growing"),
        ({"hcal_towers": ((1.0, 0.0, 36),)}, "hcal_towers: segments need .* widths > 0"),
        ({"hcal_towers": ((1.0, 0.1, 0),)}, "hcal_towers: segments need .* phi cells >= 1"),
        ({"ecal_energy_min": 0.0}, "ecal_energy_min must be > 0"),
        ({"hcal_energy_min": float("nan")}, "hcal_energy_min must be > 0"),
        ({"field_radius": -1.0}, "field_radius must be > 0"),
        ({"significance_min": -1.0}, "significance_min must be >= 0"),
    ],
    ids=[
        "efficiency>1",
        "efficiency<0",
        "edges",
        "width",
        "cells",
        "ecal-min",
        "hcal-min-nan",
        "radius",
        "signif",
    ],
)
def test_detector_config_rejects_bad_values(change, match):
    """DetectorConfig checks its values when it is made, and says which field is wrong."""
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(CARD, **change)
