"""Physics checks of the leading-order e+e- -> mu+mu- calculation against independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from reps4lhc_tutor.physics import electroweak as ew

PARAMS = ew.ElectroweakParameters()
ALPHA, M_Z, GAMMA_Z, SW2 = PARAMS.alpha, PARAMS.m_z, PARAMS.width_z, PARAMS.sin2_theta_w
KAPPA = 1 / (4 * SW2 * (1 - SW2))  # Z-to-photon coupling ratio, 1 / (4 s_W^2 c_W^2)
V_LEP, A_LEP = -0.5 + 2 * SW2, -0.5  # charged-lepton Z couplings, written out independently


def qed_differential(sqrt_s: float, cos_theta: np.ndarray) -> np.ndarray:
    """Photon exchange only: pi alpha^2 / (2 s) (1 + cos^2), in pb."""
    return math.pi * ALPHA**2 / (2 * sqrt_s**2) * (1 + cos_theta**2) * 0.3893794e9


def qed_total(sqrt_s: float) -> float:
    """Photon exchange only: 4 pi alpha^2 / (3 s), in pb."""
    return 4 * math.pi * ALPHA**2 / (3 * sqrt_s**2) * 0.3893794e9


def partial_width(vector: float, axial: float) -> float:
    """Gamma(Z -> l+ l-) = alpha M_Z (v^2 + a^2) / (3 * 4 s_W^2 c_W^2) in GeV."""
    return ALPHA * M_Z * (vector**2 + axial**2) / (3 * 4 * SW2 * (1 - SW2))


def test_unit_conversion_is_hbar_c_squared():
    assert ew.GEV2_TO_PB == pytest.approx(0.3894e9, rel=1e-4)


def test_couplings():
    v, a = ew.lepton_couplings(PARAMS)
    assert v == pytest.approx(-0.0376, abs=1e-12)
    assert a == -0.5


@pytest.mark.parametrize("sqrt_s", [10.0, 60.0, 84.0, 88.0, 90.5, 91.1876, 92.0, 98.0, 150.0])
def test_agrees_with_helicity_amplitudes(sqrt_s):
    # Independent route: for massless fermions only four helicity amplitudes survive,
    # A_ij = Q_e Q_mu + g_i g_j chi with g_L = v + a and g_R = v - a; LL and RR go with (1 + cos)^2,
    # LR and RL with (1 - cos)^2, and the spin average brings 1/4.
    s = sqrt_s**2
    chi = KAPPA * s / (s - M_Z**2 + 1j * M_Z * GAMMA_Z)
    g_left, g_right = V_LEP + A_LEP, V_LEP - A_LEP
    same = abs(1 + g_left**2 * chi) ** 2 + abs(1 + g_right**2 * chi) ** 2
    opposite = 2 * abs(1 + g_left * g_right * chi) ** 2
    cos_theta = np.linspace(-1, 1, 11)
    expected = (same * (1 + cos_theta) ** 2 + opposite * (1 - cos_theta) ** 2) / 4
    expected *= math.pi * ALPHA**2 / (2 * s) * 0.3893794e9
    np.testing.assert_allclose(ew.differential_cross_section(sqrt_s, cos_theta, PARAMS), expected, rtol=1e-12)


def test_qed_limit_at_10_gev():
    sqrt_s = 10.0
    # Z contamination at this energy: |chi| ~ kappa s / M_Z^2. The forward-backward term 4 a^2 Re(chi) cos
    # shifts dsigma/dcos by up to |Re chi| / 2 relative (at |cos| = 1); the total cross section only sees
    # 2 v^2 Re(chi) + (v^2 + a^2)^2 |chi|^2, which is ~1e-4 smaller because v_lepton ~ -0.04.
    chi = KAPPA * sqrt_s**2 / (M_Z**2 - sqrt_s**2)
    total_bound = 2 * V_LEP**2 * chi + (V_LEP**2 + A_LEP**2) ** 2 * chi**2
    differential_bound = 4 * A_LEP**2 * chi / 2 + total_bound
    assert total_bound < 1e-4 and 5e-3 < differential_bound < 1e-2

    cos_theta = np.linspace(-1, 1, 41)
    ratio = ew.differential_cross_section(sqrt_s, cos_theta, PARAMS) / qed_differential(sqrt_s, cos_theta)
    assert np.max(np.abs(ratio - 1)) < 1.1 * differential_bound
    # the leftover is the gamma-Z interference: it is odd in cos and makes the forward region smaller
    assert np.max(np.abs(ratio - 1)) > 0.8 * differential_bound
    assert ratio[-1] < 1 < ratio[0]

    total = ew.total_cross_section(sqrt_s, PARAMS)
    assert total / qed_total(sqrt_s) - 1 == pytest.approx(0, abs=min(1e-3, 2 * total_bound))


def test_qed_limit_deep_below_the_pole():
    # at 1 GeV the Z shifts the angular distribution by ~1e-4: QED to 1e-3 everywhere
    cos_theta = np.linspace(-1, 1, 21)
    ratio = ew.differential_cross_section(1.0, cos_theta, PARAMS) / qed_differential(1.0, cos_theta)
    np.testing.assert_allclose(ratio, 1, rtol=1e-3)


@pytest.mark.parametrize("sqrt_s", [10.0, 60.0, 88.0, 91.1876, 93.0, 120.0, 200.0])
def test_numeric_integral_matches_total_and_asymmetry(sqrt_s):
    def dsigma(cos_theta: float) -> float:
        return float(ew.differential_cross_section(sqrt_s, cos_theta, PARAMS))

    forward, _ = integrate.quad(dsigma, 0, 1, epsabs=0, epsrel=1e-12)
    backward, _ = integrate.quad(dsigma, -1, 0, epsabs=0, epsrel=1e-12)
    total = forward + backward
    assert ew.total_cross_section(sqrt_s, PARAMS) == pytest.approx(total, rel=1e-10)
    assert ew.forward_backward_asymmetry(sqrt_s, PARAMS) == pytest.approx(
        (forward - backward) / total, rel=1e-9, abs=1e-12
    )


def test_bin_average_matches_numeric_integral():
    low, high = np.array([-1.0, -0.3, 0.2]), np.array([-0.9, 0.4, 1.0])
    sqrt_s = np.array([[89.0], [95.0]])
    averaged = ew.bin_averaged_cross_section(sqrt_s, low, high, PARAMS)
    assert averaged.shape == (2, 3)
    for i, energy in enumerate(sqrt_s[:, 0]):
        for j in range(3):
            value, _ = integrate.quad(
                lambda c, e=energy: float(ew.differential_cross_section(e, c, PARAMS)), low[j], high[j]
            )
            assert averaged[i, j] == pytest.approx(value / (high[j] - low[j]), rel=1e-12)


def test_asymmetry_at_the_pole():
    # At s = M_Z^2 Re(chi) = 0 exactly, so only the photon term dilutes the pure-Z asymmetry:
    # A_FB = (3/4) A_e A_mu * sigma_Z / (sigma_Z + sigma_QED).
    a_lepton = 2 * V_LEP * A_LEP / (V_LEP**2 + A_LEP**2)
    pure_z = 0.75 * a_lepton**2
    photon_fraction = qed_total(M_Z) / float(ew.total_cross_section(M_Z, PARAMS))
    assert 1e-3 < photon_fraction < 1e-2  # the "small photon piece": 0.6 %
    afb = float(ew.forward_backward_asymmetry(M_Z, PARAMS))
    assert abs(afb - pure_z) <= pure_z * photon_fraction * (1 + 1e-9)
    assert afb == pytest.approx(pure_z * (1 - photon_fraction), rel=1e-9)
    assert afb == pytest.approx(0.01668, abs=1e-5)


def test_peak_cross_section_from_partial_widths():
    # Breit-Wigner peak of the pure Z: 12 pi Gamma_ee Gamma_mumu / (M_Z^2 Gamma_Z^2); the gamma-Z
    # interference vanishes at s = M_Z^2, so the full result is that plus the QED cross section.
    gamma_ll = partial_width(V_LEP, A_LEP)
    assert gamma_ll == pytest.approx(0.0833, abs=5e-4)  # ~84 MeV measured; LO with running alpha
    peak_z = 12 * math.pi * gamma_ll**2 / (M_Z**2 * GAMMA_Z**2) * 0.3893794e9
    total = float(ew.total_cross_section(M_Z, PARAMS))
    assert total == pytest.approx(peak_z + qed_total(M_Z), rel=1e-10)
    assert total == pytest.approx(1982, rel=1e-3)  # ~2 nb Born peak
    # and the peak is where it should be: the maximum of sigma lies within a fraction of the width of M_Z
    result = optimize.minimize_scalar(
        lambda e: -float(ew.total_cross_section(e, PARAMS)), bounds=(89, 93), method="bounded"
    )
    assert abs(result.x - M_Z) < 0.05 * GAMMA_Z


def test_asymmetry_changes_sign_just_below_the_pole():
    # A1 = 0 where 4 a^2 Re(chi) = -8 v^2 a^2 |chi|^2, i.e. (s - M^2) / (kappa s) = -2 v^2, independent of
    # the width: s0 = M_Z^2 / (1 + 2 kappa v^2). Since v_lepton is small this is only ~0.18 GeV below M_Z.
    expected = M_Z / math.sqrt(1 + 2 * KAPPA * V_LEP**2)
    zero = optimize.brentq(lambda e: float(ew.forward_backward_asymmetry(e, PARAMS)), 85.0, 95.0, xtol=1e-12)
    assert zero == pytest.approx(expected, abs=1e-8)
    assert 90.9 < zero < 91.1
    energies = np.array([30.0, 60.0, 84.0, 88.0, 90.0, 90.9])
    assert (ew.forward_backward_asymmetry(energies, PARAMS) < 0).all()
    assert (ew.forward_backward_asymmetry(np.array([91.1, 92.0, 98.0, 120.0]), PARAMS) > 0).all()


def test_broadcasting():
    sqrt_s = np.array([80.0, 91.0, 100.0])[:, None]
    cos_theta = np.linspace(-1, 1, 5)[None, :]
    result = ew.differential_cross_section(sqrt_s, cos_theta, PARAMS)
    assert result.shape == (3, 5)
    assert result[1, 2] == pytest.approx(float(ew.differential_cross_section(91.0, 0.0, PARAMS)))
    assert ew.total_cross_section(sqrt_s, PARAMS).shape == (3, 1)


def test_parameters_enter():
    # the pure-Z peak height 4 pi alpha^2 (v^2 + a^2)^2 kappa^2 / (3 Gamma_Z^2) does not depend on M_Z
    shifted = ew.ElectroweakParameters(m_z=92.0)
    assert float(ew.total_cross_section(92.0, shifted)) - qed_total(92.0) == pytest.approx(
        float(ew.total_cross_section(M_Z, PARAMS)) - qed_total(M_Z), rel=1e-10
    )
    wider = ew.ElectroweakParameters(width_z=2 * GAMMA_Z)
    assert ew.total_cross_section(M_Z, wider) == pytest.approx(
        (float(ew.total_cross_section(M_Z, PARAMS)) - qed_total(M_Z)) / 4 + qed_total(M_Z), rel=1e-10
    )
    # with sin^2(theta_W) = 1/4 the lepton vector coupling vanishes, and with it A_FB at the pole
    assert ew.forward_backward_asymmetry(M_Z, ew.ElectroweakParameters(sin2_theta_w=0.25)) == pytest.approx(
        0, abs=1e-12
    )


@pytest.mark.parametrize(
    ("sqrt_s", "cos_theta", "match"),
    [
        (np.nan, 0.0, "NaN"),
        (-91.0, 0.0, "positive"),
        (0.0, 0.0, "positive"),
        (91.0, 1.5, r"\[-1, 1\]"),
        (91.0, np.nan, "NaN"),
    ],
)
def test_bad_inputs_raise(sqrt_s, cos_theta, match):
    with pytest.raises(ValueError, match=match):
        ew.differential_cross_section(sqrt_s, cos_theta, PARAMS)


@pytest.mark.parametrize(
    "kwargs", [{"m_z": -1.0}, {"width_z": 0.0}, {"sin2_theta_w": 1.2}, {"alpha": float("nan")}]
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError, match="ElectroweakParameters"):
        ew.ElectroweakParameters(**kwargs)


def test_pseudodata_shapes_and_errors():
    rng = np.random.default_rng(1)
    energies = np.array([88.0, 91.0, 94.0])
    data = ew.sample_pseudodata(rng, energies, 8, 50.0, PARAMS)
    for array in data:
        assert array.shape == (3, 8)
    np.testing.assert_allclose(data.sqrt_s[:, 0], energies)
    np.testing.assert_allclose(data.cos_theta[0], np.linspace(-0.875, 0.875, 8))
    counts = data.dsigma * 50.0 * 0.25
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # integer event counts
    np.testing.assert_allclose(data.error, np.sqrt(counts) / (50.0 * 0.25))


def test_pseudodata_mean_converges_to_exact_integral():
    rng = np.random.default_rng(2)
    energies, n_bins, luminosity, n_samples = np.array([86.0, 91.2, 97.0]), 5, 10.0, 4000
    edges = np.linspace(-1, 1, n_bins + 1)
    exact = ew.bin_averaged_cross_section(energies[:, None], edges[:-1], edges[1:], PARAMS)
    samples = np.stack(
        [ew.sample_pseudodata(rng, energies, n_bins, luminosity, PARAMS).dsigma for _ in range(n_samples)]
    )
    # Poisson: the mean of n_samples measurements has standard error sqrt(N_expected / n) / (L width)
    expected_counts = exact * luminosity * (2 / n_bins)
    standard_error = np.sqrt(expected_counts / n_samples) / (luminosity * 2 / n_bins)
    pulls = (samples.mean(axis=0) - exact) / standard_error
    assert np.all(np.abs(pulls) < 4.5)  # 15 bins: a 4.5 sigma fluctuation has probability ~1e-4
    # the spread matches Poisson too (variance = mean), to the 1/sqrt(2 n) precision of a variance
    variance_ratio = samples.var(axis=0) / (standard_error**2 * n_samples)
    assert np.all(np.abs(variance_ratio - 1) < 5 * math.sqrt(2 / n_samples))


def test_pseudodata_warns_on_small_counts_and_validates():
    with pytest.warns(UserWarning, match="luminosity_pb"):
        ew.sample_pseudodata(np.random.default_rng(0), [120.0], 10, 0.5, PARAMS)
    with pytest.raises(ValueError, match="luminosity_pb"):
        ew.sample_pseudodata(np.random.default_rng(0), [91.0], 10, -1.0, PARAMS)
    with pytest.raises(ValueError, match="n_cos_bins"):
        ew.sample_pseudodata(np.random.default_rng(0), [91.0], 0, 10.0, PARAMS)
    with pytest.raises(ValueError, match="1D"):
        ew.sample_pseudodata(np.random.default_rng(0), [[91.0]], 4, 10.0, PARAMS)
    with pytest.raises(TypeError, match="Generator"):
        ew.sample_pseudodata(0, [91.0], 4, 10.0, PARAMS)
