"""The parametric detector: track resolution and efficiency, calorimeter cells, thresholds, seeding."""

import dataclasses

import numpy as np
import pytest

from reps4lhc_tutor.data.detector import (
    EM_CELL_PID,
    HADRON_CELL_PID,
    DetectorConfig,
    simulate_detector,
)

PERFECT_CALO = {"em_stochastic": 0.0, "em_constant": 0.0, "hadron_stochastic": 0.0, "hadron_constant": 0.0}


def massless(pt, eta, phi):
    pt, eta, phi = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (pt, eta, phi)))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def pions(n, pt=100.0, eta=0.3):
    """``n`` charged pions spread in phi, far apart so nothing merges."""
    p = massless(np.full(n, pt), np.full(n, eta), np.linspace(-3.0, 3.0, n))
    return p, np.full(n, 211), np.ones(n)


def test_track_resolution_matches_the_configured_width():
    config = DetectorConfig(track_efficiency=1.0, track_resolution_a=0.01, track_resolution_b=2e-4)
    p, pid, q = pions(20_000, pt=100.0)
    out, out_pid = simulate_detector(p, pid, q, np.random.default_rng(1), config)
    assert len(out) == 20_000 and np.all(out_pid == 211)
    ratio = np.hypot(out[:, 1], out[:, 2]) / 100.0
    expected = np.hypot(0.01, 2e-4 * 100.0)  # 2.2 %
    assert np.mean(ratio) == pytest.approx(1.0, abs=3 * expected / np.sqrt(20_000))
    assert np.std(ratio) == pytest.approx(expected, rel=0.03)
    # Directions are kept.
    np.testing.assert_allclose(np.arctan2(out[:, 2], out[:, 1]), np.linspace(-3.0, 3.0, 20_000), atol=1e-12)


def test_track_efficiency_and_lost_tracks_go_to_the_hadronic_calorimeter():
    config = DetectorConfig(track_efficiency=0.8, **PERFECT_CALO)
    p, pid, q = pions(5_000)
    out, out_pid = simulate_detector(p, pid, q, np.random.default_rng(2), config)
    n_tracks = np.sum(out_pid == 211)
    assert n_tracks / 5_000 == pytest.approx(0.8, abs=4 * np.sqrt(0.16 / 5_000))
    # Every untracked pion deposits its energy in the (here perfect) hadronic calorimeter.
    hadronic = out[out_pid == HADRON_CELL_PID, 0].sum()
    assert hadronic == pytest.approx((5_000 - n_tracks) * p[0, 0], rel=1e-9)
    np.testing.assert_allclose(out[:, 0].sum(), p[:, 0].sum(), rtol=0.02)  # track smearing only


def test_thresholds_and_acceptance():
    config = DetectorConfig(track_efficiency=1.0, **PERFECT_CALO)
    p = massless(
        [0.3, 2.0, 50.0, 50.0, 0.1, 0.6, 30.0], [0.0, 0.0, 3.0, 5.5, 1.0, -1.0, 0.5], [0, 1, 2, 3, -1, -2, -3]
    )
    pid = np.array([211, 211, 211, 211, 22, 130, 13])
    charge = np.array([1, -1, 1, 1, 0, 0, -1])
    out, out_pid = simulate_detector(p, pid, charge, np.random.default_rng(3), config)
    # pT 0.3 pion: below the track threshold, so it goes to the calorimeter, where 0.3 GeV < 0.5 GeV.
    # eta 3 pion: outside the tracker, a hadronic cell. eta 5.5: outside everything. 0.1 GeV photon: below
    # the EM threshold. 0.6 GeV neutral hadron (E = 0.93): a cell. The muon: a track.
    assert sorted(out_pid.tolist()) == sorted([211, 13, HADRON_CELL_PID, HADRON_CELL_PID])
    assert np.sum(out_pid == EM_CELL_PID) == 0
    np.testing.assert_allclose(sorted(out[out_pid == HADRON_CELL_PID, 0]), sorted([p[5, 0], p[2, 0]]))


def test_cells_merge_deposits_and_conserve_energy():
    config = DetectorConfig(**PERFECT_CALO)
    # Three photons in one EM cell (0.025 wide), one far away; two neutral hadrons in one hadronic cell.
    p = massless(
        [10.0, 5.0, 2.0, 7.0, 20.0, 4.0],
        [0.3101, 0.3105, 0.3110, -1.0, 1.02, 1.08],
        [0.5005, 0.5010, 0.5020, 2.0, -1.00, -1.03],
    )
    pid = np.array([22, 22, 22, 22, 130, 2112])
    out, out_pid = simulate_detector(p, pid, np.zeros(6), np.random.default_rng(4), config)
    em = np.sort(out[out_pid == EM_CELL_PID, 0])
    np.testing.assert_allclose(em, np.sort([p[:3, 0].sum(), p[3, 0]]))
    np.testing.assert_allclose(out[out_pid == HADRON_CELL_PID, 0], [p[4:, 0].sum()])
    # A cell is massless and points at its centre.
    cell = out[out_pid == HADRON_CELL_PID][0]
    assert cell[0] ** 2 - np.sum(cell[1:] ** 2) == pytest.approx(0.0, abs=1e-9 * cell[0] ** 2)
    assert np.arcsinh(cell[3] / np.hypot(cell[1], cell[2])) == pytest.approx(1.05)


def test_calorimeter_resolution_matches_stochastic_and_constant_terms():
    config = DetectorConfig(em_stochastic=0.1, em_constant=0.02)
    width = 2 * np.pi / 251  # 0.025-wide cells: 251 around the ring
    eta, phi = np.meshgrid(0.025 * (np.arange(40) + 0.5), width * (np.arange(251) + 0.5) - np.pi)
    p = massless(50.0 / np.cosh(eta.ravel()), eta.ravel(), phi.ravel())  # E = 50, one photon per cell
    n = len(p)
    out, _ = simulate_detector(p, np.full(n, 22), np.zeros(n), np.random.default_rng(5), config)
    assert len(out) == n
    expected = np.hypot(0.1 / np.sqrt(50.0), 0.02)
    assert np.std(out[:, 0] / 50.0) == pytest.approx(expected, rel=0.05)


def test_same_seed_same_output_and_different_seed_different_output():
    p, pid, q = pions(200)
    pid[::3], q[::3] = 130, 0
    first = simulate_detector(p, pid, q, np.random.default_rng(7))
    second = simulate_detector(p, pid, q, np.random.default_rng(7))
    other = simulate_detector(p, pid, q, np.random.default_rng(8))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0][:50], other[0][:50])


def test_bad_input_is_named():
    p, pid, q = pions(3)
    with pytest.raises(ValueError, match=r"shape \(particles, 4\)"):
        simulate_detector(p[:, :3], pid, q, np.random.default_rng(0))
    with pytest.raises(ValueError, match="pid and charge"):
        simulate_detector(p, pid[:2], q, np.random.default_rng(0))
    bad = p.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        simulate_detector(bad, pid, q, np.random.default_rng(0))
    with pytest.raises(TypeError, match="default_rng"):
        simulate_detector(p, pid, q, 0)
    with pytest.raises(ValueError, match="track_efficiency"):
        DetectorConfig(track_efficiency=1.5)
    with pytest.raises(ValueError, match="em_cell_size"):
        dataclasses.replace(DetectorConfig(), em_cell_size=0.0)
