"""Tests of reps4lhc_tutor.physics.phasespace: RAMBO against analytic phase-space results, cuts, errors.

The statistical tests use fixed seeds, so they are deterministic; their thresholds (p > 1e-3, 5 standard
deviations) would still hold for almost every other seed.
"""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from reps4lhc_tutor.physics import lorentz
from reps4lhc_tutor.physics import phasespace as ps

SQRT_S = 1000.0


@pytest.fixture
def rng():
    return np.random.default_rng(31415)


def energy_fractions(momenta):
    """x_i = 2 E_i / sqrt(s) of the final state, shape (events, n_final)."""
    sqrt_s = momenta[:, 0, 0] + momenta[:, 1, 0]
    return 2 * momenta[:, 2:, 0] / sqrt_s[:, None]


# ---------------------------------------------------------------------------------------------------------
# Kinematics of every event
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_final", [2, 3, 4, 5, 6])
def test_momentum_conservation_and_masslessness(rng, n_final):
    sqrt_s = rng.uniform(50, 5000, 2000)
    p = ps.rambo(n_final, sqrt_s, 2000, rng)
    assert p.shape == (2000, 2 + n_final, 4) and p.dtype == np.float64
    scale = sqrt_s[:, None]
    imbalance = p[:, 0] + p[:, 1] - p[:, 2:].sum(axis=1)
    assert np.abs(imbalance / scale).max() < 1e-10
    assert np.abs(lorentz.mass_squared(p) / scale**2).max() < 1e-10
    assert (p[..., 0] > 0).all()


def test_precision_holds_for_nearly_collinear_rambo_seeds():
    """Among 10^6 two-body events some start from nearly collinear q_i and need boosts with gamma ~ 10^3;
    E^2 - |p|^2 in the boost would lose ~1e-9 there, the stable invariants of rambo keep ~1e-13."""
    p = ps.rambo(2, SQRT_S, 1_000_000, np.random.default_rng(2024))
    assert np.abs(p[:, 0] + p[:, 1] - p[:, 2:].sum(axis=1)).max() / SQRT_S < 1e-12
    assert np.abs(lorentz.mass_squared(p[:, 2:])).max() / SQRT_S**2 < 1e-12


def test_beams_along_z(rng):
    p = ps.rambo(3, SQRT_S, 10, rng)
    np.testing.assert_array_equal(p[:, 0], np.tile([SQRT_S / 2, 0, 0, SQRT_S / 2], (10, 1)))
    np.testing.assert_array_equal(p[:, 1], np.tile([SQRT_S / 2, 0, 0, -SQRT_S / 2], (10, 1)))


def test_same_seed_same_events_other_seed_other_events():
    first = ps.rambo(4, SQRT_S, 100, np.random.default_rng(7))
    np.testing.assert_array_equal(first, ps.rambo(4, SQRT_S, 100, np.random.default_rng(7)))
    assert not np.allclose(first[:, 2:], ps.rambo(4, SQRT_S, 100, np.random.default_rng(8))[:, 2:])


def test_no_events(rng):
    assert ps.rambo(3, SQRT_S, 0, rng).shape == (0, 5, 4)
    assert ps.generate(3, SQRT_S, 0, rng).shape == (0, 5, 4)


# ---------------------------------------------------------------------------------------------------------
# Flatness: RAMBO against analytic massless phase space
# ---------------------------------------------------------------------------------------------------------


def test_weight_known_values():
    assert ps.rambo_weight(2, SQRT_S) == pytest.approx(1 / (8 * np.pi), rel=1e-14)
    assert ps.rambo_weight(3, SQRT_S) == pytest.approx(SQRT_S**2 / (256 * np.pi**3), rel=1e-14)
    np.testing.assert_allclose(
        ps.rambo_weight(4, [10.0, 20.0]), ps.rambo_weight(4, 10.0) * np.array([1, 2**4])
    )


@pytest.mark.parametrize("n_final", [4, 5, 6])
def test_weight_matches_the_recursion_over_the_recoil_mass(n_final):
    """Phi_n(s) = int_0^s dM^2 / (2 pi) Phi_2(s; M^2, 0) Phi_{n-1}(M^2), Phi_2 = (1 - M^2 / s) / (8 pi)."""
    s = SQRT_S**2

    def integrand(m2):
        return (1 - m2 / s) / (8 * np.pi) * float(ps.rambo_weight(n_final - 1, np.sqrt(m2))) / (2 * np.pi)

    volume, _ = integrate.quad(integrand, 0, s, epsrel=1e-12)
    assert float(ps.rambo_weight(n_final, SQRT_S)) == pytest.approx(volume, rel=1e-9)


@pytest.mark.parametrize("n_final", [3, 4, 5])
def test_energy_fractions_follow_flat_phase_space(rng, n_final):
    """Flat massless n-body phase space: x = 2E / sqrt(s) has density ~ x (1 - x)^(n - 3), Beta(2, n - 2)."""
    x = energy_fractions(ps.rambo(n_final, SQRT_S, 20_000, rng))
    assert stats.kstest(x[:, 0], stats.beta(2, n_final - 2).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, -1], stats.beta(2, n_final - 2).cdf).pvalue > 1e-3
    # the same test tells RAMBO apart from a wrong energy spectrum, e.g. Beta(2, n - 1)
    assert stats.kstest(x[:, 0], stats.beta(2, n_final - 1).cdf).pvalue < 1e-6


def test_two_body_energies_are_fixed(rng):
    np.testing.assert_allclose(energy_fractions(ps.rambo(2, SQRT_S, 100, rng)), 1.0, rtol=1e-13)


def test_three_body_is_uniform_on_the_dalitz_triangle(rng):
    """(x1, x2) is uniform on x1, x2 <= 1 <= x1 + x2: x1 has density 2 x1, and given x1, x2 is uniform."""
    x = energy_fractions(ps.rambo(3, SQRT_S, 20_000, rng))
    np.testing.assert_allclose(x.sum(axis=1), 2.0, rtol=1e-12)
    assert (x <= 1 + 1e-12).all()
    x1, x2 = x[:, 0], x[:, 1]
    assert stats.kstest(x1, lambda t: t**2).pvalue > 1e-3
    position = (x2 - (1 - x1)) / x1  # where x2 lies within its allowed interval [1 - x1, 1]
    assert stats.kstest(position, "uniform").pvalue > 1e-3
    # and independently of x1: the upper and lower halves in x1 give the same position distribution
    assert stats.ks_2samp(position[x1 < np.median(x1)], position[x1 >= np.median(x1)]).pvalue > 1e-3


@pytest.mark.parametrize("n_final", [2, 4])
def test_final_state_is_isotropic(rng, n_final):
    p = ps.rambo(n_final, SQRT_S, 20_000, rng)[:, 2:]
    cos_theta = p[..., 3] / p[..., 0]
    for i in range(n_final):
        assert stats.kstest(cos_theta[:, i], stats.uniform(-1, 2).cdf).pvalue > 1e-3
        assert stats.kstest(lorentz.phi(p[:, i]), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3
    direction = p[..., 1:] / p[..., :1]
    standard_error = np.sqrt(1 / 3 / len(p))  # each component of a random unit vector has variance 1/3
    assert np.abs(direction.mean(axis=0)).max() < 5 * standard_error


# ---------------------------------------------------------------------------------------------------------
# Luminosity
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 1.0, 3.0])
def test_power_law_luminosity_matches_its_cdf(rng, power):
    lumi = ps.PowerLawLuminosity(lo=200.0, hi=3000.0, power=power)
    sqrt_s = ps.sample_sqrt_s(lumi, 20_000, rng)
    assert sqrt_s.shape == (20_000,) and (sqrt_s >= 200).all() and (sqrt_s <= 3000).all()
    grid = np.linspace(200, 3000, 20_001)
    cdf = integrate.cumulative_trapezoid(grid ** (-power), grid, initial=0)
    assert stats.kstest(sqrt_s, lambda t: np.interp(t, grid, cdf / cdf[-1])).pvalue > 1e-3


def test_generate_with_a_luminosity(rng):
    lumi = ps.PowerLawLuminosity(lo=300.0, hi=900.0)
    p = ps.generate(3, lumi, 500, rng)
    sqrt_s = p[:, 0, 0] + p[:, 1, 0]
    assert (sqrt_s >= 300).all() and (sqrt_s <= 900).all() and np.ptp(sqrt_s) > 300
    imbalance = p[:, 0] + p[:, 1] - p[:, 2:].sum(axis=1)
    assert np.abs(imbalance / sqrt_s[:, None]).max() < 1e-10


# ---------------------------------------------------------------------------------------------------------
# Cuts
# ---------------------------------------------------------------------------------------------------------


def final_state(*pt_eta_phi):
    """One event (1, 2 + n, 4) with massless final-state partons at the given (pt, eta, phi)."""
    rows = np.array([[pt, eta, phi, 0.0] for pt, eta, phi in pt_eta_phi])
    beams = np.array([[1.0, 0, 0, 1.0], [1.0, 0, 0, -1.0]])
    return np.concatenate([beams, lorentz.from_ptetaphim(rows)])[None]


def test_cut_boundaries():
    assert ps.apply_cuts(final_state((30, 0, 0), (30, 0, 0.41), (30, 2, 2)))[0]
    assert not ps.apply_cuts(final_state((30, 0, 0), (30, 0, 0.39), (30, 2, 2)))[0]
    assert not ps.apply_cuts(final_state((30, 0, 0), (19, 1, 1), (30, 2, 2)))[0]
    assert ps.apply_cuts(final_state((30, 0, 0), (19, 1, 1), (30, 2, 2)), pt_min=15.0)[0]
    assert ps.apply_cuts(final_state((30, 0, 0), (30, 0, 0.39), (30, 2, 2)), delta_r_min=0.0)[0]
    # the cut is on Delta R, not Delta phi alone: the pair at Delta phi = 0.3 is 0.5 apart
    assert ps.apply_cuts(final_state((30, 0, 0), (30, 0.4, 0.3)))[0]


def test_two_body_pt_cut_efficiency_is_analytic(rng):
    """Back to back with |p| = sqrt(s)/2 and uniform cos(theta): P(pt > c) = sqrt(1 - (2 c / sqrt(s))^2)."""
    pt_min, n = 300.0, 40_000
    passed = ps.apply_cuts(ps.rambo(2, SQRT_S, n, rng), pt_min=pt_min)
    expected = np.sqrt(1 - (2 * pt_min / SQRT_S) ** 2)
    assert abs(passed.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / n)


def test_generate_returns_exactly_n_passing_events(rng):
    p, efficiency = ps.generate_with_efficiency(5, SQRT_S, 3000, rng)
    assert p.shape == (3000, 7, 4)
    assert ps.apply_cuts(p).all()
    assert 0.5 < efficiency < 0.95  # measured: 0.73 at sqrt(s) = 1 TeV with the default cuts
    tighter = ps.generate_with_efficiency(5, SQRT_S, 3000, rng, ps.Cuts(pt_min=60.0, delta_r_min=0.7))[1]
    assert tighter < efficiency - 0.2


def test_generate_is_reproducible_and_without_cuts_is_rambo():
    a = ps.generate(4, SQRT_S, 1000, np.random.default_rng(3))
    np.testing.assert_array_equal(a, ps.generate(4, SQRT_S, 1000, np.random.default_rng(3)))
    uncut = ps.generate(4, SQRT_S, 1000, np.random.default_rng(3), cuts=None)
    np.testing.assert_array_equal(uncut, ps.rambo(4, SQRT_S, 1000, np.random.default_rng(3)))
    assert not ps.apply_cuts(uncut).all()


def test_hopeless_cuts_raise(rng):
    with pytest.raises(ValueError, match="loosen the cuts or raise sqrt_s"):
        ps.generate(2, SQRT_S, 10, rng, ps.Cuts(pt_min=600.0))  # pt <= sqrt(s) / 2 = 500
    with pytest.raises(ValueError, match="efficiency"):
        ps.generate(3, SQRT_S, 10, rng, ps.Cuts(pt_min=300.0), min_efficiency=0.5)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_final": 1}, ValueError, "n_final must be >= 2"),
        ({"n_final": 3.0}, TypeError, "n_final must be an integer"),
        ({"n_final": True}, TypeError, "n_final must be an integer"),
        ({"sqrt_s": 0.0}, ValueError, "sqrt_s must be finite and > 0"),
        ({"sqrt_s": -5.0}, ValueError, "sqrt_s must be finite and > 0"),
        ({"sqrt_s": math.nan}, ValueError, "sqrt_s must be finite and > 0"),
        ({"sqrt_s": np.ones(3)}, ValueError, r"shape \(n_events,\)"),
        ({"sqrt_s": "1 TeV"}, TypeError, "sqrt_s must be a real number"),
        ({"n_events": -1}, ValueError, "n_events must be >= 0"),
        ({"rng": 0}, TypeError, "np.random.default_rng"),
        ({"rng": np.random.RandomState(0)}, TypeError, "numpy Generator"),
    ],
)
def test_rambo_bad_input(kwargs, error, match):
    arguments = {"n_final": 3, "sqrt_s": SQRT_S, "n_events": 10, "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(error, match=match):
        ps.rambo(**arguments)


def test_other_bad_input(rng):
    with pytest.raises(ValueError, match=r"shape \(events, 2 \+ n_final, 4\)"):
        ps.apply_cuts(np.zeros((10, 4)))
    with pytest.raises(ValueError, match="pt_min must be a finite number >= 0"):
        ps.Cuts(pt_min=-1.0)
    with pytest.raises(TypeError, match="cuts must be a Cuts"):
        ps.generate(3, SQRT_S, 10, rng, cuts={"pt_min": 20.0})
    with pytest.raises(ValueError, match="PowerLawLuminosity"):
        ps.generate(3, np.full(10, SQRT_S), 10, rng)
    with pytest.raises(ValueError, match="0 < lo < hi"):
        ps.PowerLawLuminosity(lo=100.0, hi=50.0)
    with pytest.raises(TypeError, match="luminosity must be a PowerLawLuminosity"):
        ps.sample_sqrt_s(SQRT_S, 10, rng)
    with pytest.raises(ValueError, match="n_final must be >= 2"):
        ps.rambo_weight(1, SQRT_S)
