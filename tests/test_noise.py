"""Tests of reps4lhc_tutor.physics.noise: statistical properties of the smearing, the window, errors."""

import numpy as np
import pytest

from reps4lhc_tutor.physics import lorentz, noise
from reps4lhc_tutor.physics import phasespace as ps

N = 200_000


@pytest.fixture
def amplitudes():
    """Positive values spread over six orders of magnitude, as squared amplitudes are."""
    return 10 ** np.random.default_rng(1).uniform(-3, 3, N)


@pytest.mark.parametrize("f_smear", [0.02, 0.1, 0.3])
def test_relative_spread_equals_f_smear(amplitudes, f_smear):
    smeared = noise.smear(amplitudes, f_smear, np.random.default_rng(2))
    relative = smeared / amplitudes - 1
    assert abs(relative.mean()) < 5 * f_smear / np.sqrt(N)  # unbiased
    assert relative.std() == pytest.approx(f_smear, rel=5 * np.sqrt(0.5 / N))  # std of a std estimate
    # relative, not absolute: the same width for small and large amplitudes
    small = amplitudes < 1
    assert relative[small].std() == pytest.approx(relative[~small].std(), rel=0.02)


def test_smear_is_seeded_and_zero_width_is_exact(amplitudes):
    first = noise.smear(amplitudes, 0.1, np.random.default_rng(5))
    np.testing.assert_array_equal(first, noise.smear(amplitudes, 0.1, np.random.default_rng(5)))
    assert not np.array_equal(first, noise.smear(amplitudes, 0.1, np.random.default_rng(6)))
    np.testing.assert_array_equal(noise.smear(amplitudes, 0.0, np.random.default_rng(5)), amplitudes)


def test_smear_returns_a_new_array(amplitudes):
    original = amplitudes.copy()
    noise.smear(amplitudes, 0.1, np.random.default_rng(0))
    np.testing.assert_array_equal(amplitudes, original)


def test_window_smears_inside_only(amplitudes):
    masses = np.random.default_rng(3).uniform(0, 1000, N)
    window = (300.0, 500.0)
    smeared = noise.smear_in_window(amplitudes, masses, window, 0.1, np.random.default_rng(4))
    inside = (masses > 300) & (masses < 500)
    np.testing.assert_array_equal(smeared[~inside], amplitudes[~inside])
    assert np.all(smeared[inside] != amplitudes[inside])
    assert (smeared[inside] / amplitudes[inside] - 1).std() == pytest.approx(0.1, rel=0.02)
    # inside the window the values are those of smear() with the same seed
    everywhere = noise.smear(amplitudes, 0.1, np.random.default_rng(4))
    np.testing.assert_array_equal(smeared[inside], everywhere[inside])


def test_window_is_open():
    values, masses = np.ones(3), np.array([100.0, 150.0, 200.0])
    smeared = noise.smear_in_window(values, masses, (100.0, 200.0), 0.5, np.random.default_rng(0))
    assert smeared[0] == 1 and smeared[2] == 1 and smeared[1] != 1


def test_gaussian_noise_model_on_events():
    rng = np.random.default_rng(7)
    momenta = ps.generate(3, 1000.0, 20_000, rng)
    values = np.ones(len(momenta))
    m23 = lorentz.invariant_mass(momenta[:, 2:4])
    window = (float(np.quantile(m23, 0.25)), float(np.quantile(m23, 0.5)))
    model = noise.GaussianNoise(0.2, window=window)
    smeared = model.apply(momenta, values, np.random.default_rng(8))
    inside = (m23 > window[0]) & (m23 < window[1])
    assert inside.mean() == pytest.approx(0.25, abs=0.01)
    np.testing.assert_array_equal(smeared[~inside], 1.0)
    assert (smeared[inside] - 1).std() == pytest.approx(0.2, rel=0.05)
    everywhere = noise.GaussianNoise(0.2).apply(momenta, values, np.random.default_rng(8))
    assert (everywhere != 1).all()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda a, m, r: noise.smear(a, -0.1, r), ValueError, "f_smear"),
        (lambda a, m, r: noise.smear(a, np.nan, r), ValueError, "f_smear"),
        (lambda a, m, r: noise.smear(a, 0.1, 42), TypeError, "numpy Generator"),
        (lambda a, m, r: noise.smear(a[:, None], 0.1, r), ValueError, r"shape \(events,\)"),
        (lambda a, m, r: noise.smear(np.append(a, np.nan), 0.1, r), ValueError, "NaN"),
        (lambda a, m, r: noise.smear(a.astype(complex), 0.1, r), TypeError, "real numbers"),
        (lambda a, m, r: noise.smear_in_window(a, m[:-1], (0, 1), 0.1, r), ValueError, "shape of amplitudes"),
        (lambda a, m, r: noise.smear_in_window(a, m, (2, 1), 0.1, r), ValueError, "lo < hi"),
        (lambda a, m, r: noise.GaussianNoise(0.1, window=(5.0, 5.0)), ValueError, "lo < hi"),
        (lambda a, m, r: noise.GaussianNoise(0.1, particles=(2,)), ValueError, "at least two"),
        (
            lambda a, m, r: noise.GaussianNoise(0.1, window=(0, 1), particles=(2, 9)).apply(
                np.zeros((10, 5, 4)), a[:10], r
            ),
            ValueError,
            "particles",
        ),
    ],
)
def test_bad_input(call, error, match):
    values, masses = np.ones(10), np.linspace(0, 1, 10)
    with pytest.raises(error, match=match):
        call(values, masses, np.random.default_rng(0))
