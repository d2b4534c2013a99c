"""Preprocessing: exact round trips, statistics from training data only, sigma propagation, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reps4lhc_tutor.preprocessing import LogStandardScaler, StandardScaler


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def amplitudes(rng):
    # positive, spanning ~10 orders of magnitude like squared amplitudes
    return np.exp(rng.normal(-5.0, 4.0, size=1000))


def test_standard_scaler_standardises_each_feature(rng):
    x = rng.normal([1.0, -200.0, 5e3], [0.1, 30.0, 1e3], size=(500, 3))
    z = StandardScaler().fit_transform(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-12)


def test_standard_scaler_keeps_feature_axes(rng):
    momenta = rng.normal(size=(200, 5, 4)) * np.arange(1, 5)  # (events, particles, 4)
    scaler = StandardScaler().fit(momenta)
    assert scaler.mean_.shape == (5, 4)
    z = scaler.transform(momenta)
    np.testing.assert_allclose(z.std(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(z), momenta, rtol=0, atol=1e-12)


def test_standard_scaler_numpy_and_torch_agree(rng):
    x = rng.normal(3.0, 2.0, size=(100, 2))
    from_numpy = StandardScaler().fit(x)
    from_torch = StandardScaler().fit(torch.from_numpy(x))
    np.testing.assert_array_equal(from_numpy.mean_, from_torch.mean_)
    z = from_numpy.transform(torch.tensor(x, dtype=torch.float32))
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float32
    np.testing.assert_allclose(z.numpy(), from_numpy.transform(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("as_torch", [False, True])
def test_log_standard_scaler_exact_inverse(amplitudes, as_torch):
    x = torch.from_numpy(amplitudes) if as_torch else amplitudes
    scaler = LogStandardScaler().fit(x)
    z = scaler.transform(x)
    assert type(z) is type(x)
    z_np = z.numpy() if as_torch else z
    assert abs(z_np.mean()) < 1e-12 and z_np.std() == pytest.approx(1.0, rel=1e-12)
    back = scaler.inverse_transform(z)
    back_np = back.numpy() if as_torch else back
    np.testing.assert_allclose(back_np, amplitudes, rtol=1e-12, atol=0)


def test_log_standard_scaler_statistics_are_those_of_log(amplitudes):
    scaler = LogStandardScaler().fit(amplitudes)
    assert scaler.log_scaler.mean_ == pytest.approx(np.log(amplitudes).mean(), rel=1e-14)
    assert scaler.log_scaler.std_ == pytest.approx(np.log(amplitudes).std(), rel=1e-14)


def test_fit_uses_only_training_data(amplitudes, rng):
    train, test = amplitudes[:800], 1e3 * amplitudes[800:]  # a shifted test set must not move the stats
    scaler = LogStandardScaler().fit(train)
    z_test = scaler.transform(test)
    expected = (np.log(test) - np.log(train).mean()) / np.log(train).std()
    np.testing.assert_allclose(z_test, expected, rtol=1e-12)
    assert z_test.mean() > 1.0  # the test set is not re-standardised
    mean_before = scaler.log_scaler.mean_.copy()
    scaler.transform(test)
    np.testing.assert_array_equal(scaler.log_scaler.mean_, mean_before)


def test_standard_scaler_inverse_sigma_is_exact(rng):
    x = rng.normal(0.0, 7.0, size=(100, 2))
    scaler = StandardScaler().fit(x)
    z, sigma = rng.normal(size=(3, 2)), np.full((3, 2), 0.5)
    # the transform is linear: a shift by sigma in z is a shift by sigma_x in x
    shift = scaler.inverse_transform(z + sigma) - scaler.inverse_transform(z)
    np.testing.assert_allclose(scaler.inverse_transform_sigma(sigma), shift, rtol=1e-12)
    np.testing.assert_allclose(shift, 0.5 * np.broadcast_to(x.std(axis=0), (3, 2)), rtol=1e-12)


def test_inverse_transform_sigma_matches_lognormal_for_small_sigma(amplitudes):
    scaler = LogStandardScaler().fit(amplitudes)
    std = scaler.log_scaler.std_
    z = np.array([-1.0, 0.0, 2.0])
    sigma_log = np.array([0.01, 0.05, 0.1])
    sigma_z = sigma_log / std
    sigma_a = scaler.inverse_transform_sigma(z, sigma_z)
    median = scaler.inverse_transform(z)
    np.testing.assert_allclose(sigma_a / median, sigma_log, rtol=1e-12)  # relative sigma = sigma_log
    # exact standard deviation of a log-normal with this median and log-sigma
    exact = median * np.exp(sigma_log**2 / 2) * np.sqrt(np.expm1(sigma_log**2))
    # the linearisation underestimates by the documented factor 1 + 3 sigma_log^2 / 4
    np.testing.assert_allclose(exact / sigma_a - 1, 0.75 * sigma_log**2, rtol=0.05)


def test_inverse_transform_sigma_by_sampling(amplitudes):
    # Monte Carlo check of the propagation: sample in z, transform back, compare the spread of A.
    scaler = LogStandardScaler().fit(amplitudes)
    z, sigma_z = 0.3, 0.02
    samples = scaler.inverse_transform(np.random.default_rng(1).normal(z, sigma_z, size=(200_000,)))
    predicted = scaler.inverse_transform_sigma(np.array([z]), np.array([sigma_z]))[0]
    assert samples.std() == pytest.approx(predicted, rel=0.01)


def test_inverse_transform_sigma_torch(amplitudes):
    scaler = LogStandardScaler().fit(amplitudes)
    z, sigma = torch.zeros(4), torch.full((4,), 0.1)
    sigma_a = scaler.inverse_transform_sigma(z, sigma)
    assert isinstance(sigma_a, torch.Tensor) and sigma_a.shape == (4,)
    expected = np.exp(scaler.log_scaler.mean_) * scaler.log_scaler.std_ * 0.1
    np.testing.assert_allclose(sigma_a.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_targets_name_the_fix(amplitudes, bad):
    x = amplitudes.copy()
    x[3] = bad
    with pytest.raises(ValueError, match=r"strictly positive.*found 1 value.*drop those events"):
        LogStandardScaler().fit(x)
    scaler = LogStandardScaler().fit(amplitudes)
    with pytest.raises(ValueError, match="strictly positive"):
        scaler.transform(torch.from_numpy(x))


@pytest.mark.parametrize("scaler_class", [StandardScaler, LogStandardScaler])
def test_bad_inputs(scaler_class, amplitudes):
    scaler = scaler_class()
    with pytest.raises(RuntimeError, match="call fit"):
        scaler.transform(amplitudes)
    with pytest.raises(ValueError, match="NaN or infinite"):
        scaler.fit(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match="at least 2 events"):
        scaler.fit(np.array([1.0]))
    with pytest.raises(ValueError, match="constant"):
        scaler.fit(np.full(10, 3.0))
    scaler.fit(amplitudes)
    with pytest.raises(ValueError, match=r"fitted on shape \(events, \)"):
        scaler.transform(amplitudes.reshape(-1, 2))
    with pytest.raises(ValueError, match="NaN or infinite"):
        scaler.transform(torch.tensor([1.0, float("inf")]))
    with pytest.raises(ValueError, match="got a scalar"):
        scaler.transform(np.float64(2.0))


def test_negative_sigma_and_mismatched_shapes_are_errors(amplitudes):
    scaler = LogStandardScaler().fit(amplitudes)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        scaler.inverse_transform_sigma(np.zeros(2), np.array([0.1, -0.1]))
    with pytest.raises(ValueError, match="z has shape"):
        scaler.inverse_transform_sigma(np.zeros(2), np.zeros(3))
