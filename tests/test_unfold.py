"""Unfolding: IBU on known responses, OmniFold on a Gaussian smearing toy with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.unfold import (
    OmniFoldResult,
    chi2_per_ndf,
    histogram,
    ibu,
    omnifold,
    prior_fraction,
    response_matrix,
)

BINS = np.linspace(-4.0, 4.0, 17)


def _smearing_response(width: float = 0.6) -> np.ndarray:
    """The exact response of Gaussian smearing for the bins BINS, from a large paired sample."""
    rng = np.random.default_rng(1)
    truth = rng.uniform(-4.0, 4.0, 400_000)
    return response_matrix(truth, truth + rng.normal(0.0, width, truth.size), BINS)


# --- response matrix ---------------------------------------------------------------------------------------


def test_response_matrix_by_hand():
    truth = np.array([0.5, 0.5, 1.5, 1.5, 1.5, 1.5])
    measured = np.array([0.5, 1.5, 1.5, 1.5, 0.5, 9.0])  # the last one is measured out of range
    response = response_matrix(truth, measured, [0.0, 1.0, 2.0])
    np.testing.assert_allclose(response, [[0.5, 0.25], [0.5, 0.5]])  # column sums: efficiencies 1 and 0.75


def test_response_matrix_columns_are_efficiencies():
    response = _smearing_response()
    efficiency = response.sum(axis=0)
    assert (efficiency <= 1 + 1e-12).all()
    assert efficiency[len(efficiency) // 2] > 0.99  # a central bin: nothing smeared out of range
    assert efficiency[0] < 0.8  # an edge bin loses events beyond the range


# --- IBU ---------------------------------------------------------------------------------------------------


def test_ibu_keeps_the_truth_when_the_prior_is_right():
    response = _smearing_response()
    truth = 1_000 * np.exp(-0.5 * (0.5 * (BINS[1:] + BINS[:-1]) - 0.3) ** 2)
    history = ibu(response, response @ truth, truth, iterations=5)
    assert history.shape == (5, len(truth))
    np.testing.assert_allclose(history, np.broadcast_to(truth, history.shape), rtol=1e-10)


def test_ibu_converges_towards_the_truth_from_a_wrong_prior():
    response = _smearing_response()
    centres = 0.5 * (BINS[1:] + BINS[:-1])
    truth = 1_000 * np.exp(-0.5 * ((centres - 0.5) / 1.1) ** 2)
    flat = np.ones_like(truth)
    history = ibu(response, response @ truth, flat, iterations=200)
    distance = np.abs(history - truth).sum(axis=1) / truth.sum()
    assert distance[0] > 0.05  # one iteration still remembers the flat prior
    assert (np.diff(distance[:10]) < 0).all()  # the first iterations move steadily towards the truth
    assert distance[-1] < 0.02 * distance[0]  # 1.3 % here: the edge bins, with little efficiency, are slow
    # the measured counts are reproduced: folding the unfolded result gives the measurement back
    folded = response @ truth
    np.testing.assert_allclose(response @ history[-1], folded, rtol=0, atol=1e-3 * folded.max())


def test_ibu_leaves_bins_without_efficiency_at_zero():
    response = np.array([[0.8, 0.0], [0.2, 0.0]])
    history = ibu(response, np.array([8.0, 2.0]), np.array([1.0, 1.0]), iterations=3)
    np.testing.assert_allclose(history[-1], [10.0, 0.0])


@pytest.mark.parametrize(
    ("response", "measured", "prior", "iterations", "message"),
    [
        (np.eye(2), [1.0, 2.0, 3.0], [1.0, 1.0], 1, "measured"),
        (np.eye(2), [1.0, 2.0], [1.0], 1, "prior"),
        (np.eye(2), [1.0, np.nan], [1.0, 1.0], 1, "NaN"),
        (np.eye(2), [1.0, -2.0], [1.0, 1.0], 1, "non-negative"),
        (np.eye(2), [1.0, 2.0], [0.0, 0.0], 1, "not all zero"),
        (np.eye(2), [1.0, 2.0], [1.0, 1.0], 0, "iterations"),
        (np.eye(2), [1.0, 2.0], [1.0, 1.0], 1.5, "iterations"),
    ],
)
def test_ibu_rejects_bad_inputs(response, measured, prior, iterations, message):
    with pytest.raises(ValueError, match=message):
        ibu(response, measured, prior, iterations)


# --- OmniFold ----------------------------------------------------------------------------------------------


def _gaussian_smearing_toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sim_gen, sim_det, data_gen, data_det) with n events a side (see gaussian_toy)."""
    rng = np.random.default_rng(seed)
    sim_gen = rng.normal(0.0, 1.3, n)
    data_gen = rng.normal(0.4, 1.1, n)
    return sim_gen, sim_gen + rng.normal(0.0, 0.5, n), data_gen, data_gen + rng.normal(0.0, 0.5, n)


@pytest.fixture(scope="module")
def gaussian_toy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Simulation N(0, 1.3) and data N(0.4, 1.1) at particle level, both smeared by N(0, 0.5).

    The simulation is the wider of the two, so it covers the data everywhere and the weights stay finite.
    """
    return _gaussian_smearing_toy(10_000, seed=0)


@pytest.fixture(scope="module")
def unfolded(gaussian_toy) -> OmniFoldResult:
    sim_gen, sim_det, _, data_det = gaussian_toy
    return omnifold(sim_gen, sim_det, data_det, 4, np.random.default_rng(1))


def _weighted_mean_and_width(x: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    mean = np.average(x, weights=weights)
    return float(mean), float(np.sqrt(np.average((x - mean) ** 2, weights=weights)))


def test_omnifold_recovers_the_true_mean_and_width(gaussian_toy, unfolded):
    sim_gen, _, data_gen, _ = gaussian_toy
    mean, width = _weighted_mean_and_width(sim_gen, unfolded.weights)
    true_mean, true_width = float(data_gen.mean()), float(data_gen.std())
    # statistical errors of the data's own mean and width (10k events), with room for the simulation's
    assert abs(mean - true_mean) < 4 * np.hypot(true_width / 100, 1.3 / 100), (mean, true_mean)
    assert abs(width - true_width) < 4 * np.hypot(true_width / 141, 1.3 / 141), (width, true_width)
    before = _weighted_mean_and_width(sim_gen, np.ones_like(sim_gen))
    assert abs(before[0] - true_mean) > 0.3 and abs(before[1] - true_width) > 0.15  # the prior is far off


def test_omnifold_step1_matches_the_data_at_detector_level(gaussian_toy, unfolded):
    _, sim_det, _, data_det = gaussian_toy
    mean, width = _weighted_mean_and_width(sim_det, unfolded.step1_weights[-1])
    assert abs(mean - data_det.mean()) < 0.05 and abs(width - data_det.std()) < 0.05


def test_omnifold_weights_are_positive_and_normalised(unfolded):
    assert unfolded.step1_weights.shape == unfolded.step2_weights.shape == (4, 10_000)
    for weights in (unfolded.step1_weights, unfolded.step2_weights):
        assert (weights > 0).all() and np.isfinite(weights).all()
        np.testing.assert_allclose(weights.mean(axis=1), 1.0)
    np.testing.assert_array_equal(unfolded.weights, unfolded.step2_weights[-1])


def test_omnifold_closure_leaves_the_simulation_unchanged(gaussian_toy):
    sim_gen, sim_det, _, _ = gaussian_toy
    half = len(sim_gen) // 2  # unfold one half of the simulation with the other half
    result = omnifold(sim_gen[:half], sim_det[:half], sim_det[half:], 2, np.random.default_rng(2))
    mean, width = _weighted_mean_and_width(sim_gen[:half], result.weights)
    assert abs(mean - sim_gen[half:].mean()) < 0.08 and abs(width - sim_gen[half:].std()) < 0.08
    assert np.percentile(np.abs(np.log(result.weights)), 90) < 0.5  # no structure to learn: weights near 1


def test_omnifold_accepts_several_observables():
    rng = np.random.default_rng(3)
    sim_gen = rng.normal(0.0, 1.0, (2_000, 3))
    data_gen = rng.normal(0.2, 1.0, (2_000, 3))
    result = omnifold(sim_gen, sim_gen + 0.3 * rng.normal(size=sim_gen.shape), data_gen, 1, rng)
    assert result.weights.shape == (2_000,)
    assert np.average(sim_gen[:, 0], weights=result.weights) > 0.05  # moved towards the data


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"sim_det": np.zeros(5)}, "same events"),
        ({"data_det": np.zeros((6, 2))}, "features"),
        ({"sim_gen": np.full(6, np.nan)}, "NaN"),
        ({"data_det": np.zeros(0)}, "non-empty"),
        ({"iterations": 0}, "iterations"),
        ({"folds": 1}, "folds"),
    ],
)
def test_omnifold_rejects_bad_inputs(arguments, message):
    defaults = {"sim_gen": np.zeros(6), "sim_det": np.zeros(6), "data_det": np.zeros(6), "iterations": 1}
    options = {"folds": arguments.pop("folds")} if "folds" in arguments else {}
    with pytest.raises(ValueError, match=message):
        omnifold(**(defaults | arguments), rng=np.random.default_rng(0), **options)


def test_omnifold_needs_a_numpy_generator():
    with pytest.raises(TypeError, match="default_rng"):
        omnifold(np.zeros(6), np.zeros(6), np.zeros(6), 1, rng=0)


@pytest.fixture(scope="module")
def small_toy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The toy of ``gaussian_toy`` with 1,500 events a side: one iteration takes well under a second."""
    return _gaussian_smearing_toy(1_500, seed=4)


@pytest.fixture(scope="module")
def small_unfolded(small_toy) -> OmniFoldResult:
    sim_gen, sim_det, _, data_det = small_toy
    return omnifold(sim_gen, sim_det, data_det, 1, np.random.default_rng(5))


def test_omnifold_unit_data_weights_change_nothing(small_toy, small_unfolded):
    # all-ones weights must take the same path as None: no extra draws from rng, no other normalisation
    sim_gen, sim_det, _, data_det = small_toy
    result = omnifold(
        sim_gen, sim_det, data_det, 1, np.random.default_rng(5), data_weights=np.ones(len(data_det))
    )
    np.testing.assert_array_equal(result.step1_weights, small_unfolded.step1_weights)
    np.testing.assert_array_equal(result.step2_weights, small_unfolded.step2_weights)


def test_omnifold_follows_the_data_weights(small_toy, small_unfolded):
    sim_gen, sim_det, _, data_det = small_toy
    data_weights = np.where(data_det > 0, 2.0, 1.0)  # doubling the upper half pulls the data's mean up
    result = omnifold(sim_gen, sim_det, data_det, 1, np.random.default_rng(5), data_weights=data_weights)
    # step 1 matches the weighted data (mean 0.69 against 0.42 unweighted); one iteration falls a few
    # hundredths short, with or without weights (0.05 and 0.06 here)
    weighted_mean = np.average(data_det, weights=data_weights)
    assert abs(np.average(sim_det, weights=result.step1_weights[-1]) - weighted_mean) < 0.1
    # the unfolded particle level moves up with it: by 0.28 here, 0.24 to 0.27 for other seeds of the toy
    before = np.average(sim_gen, weights=small_unfolded.weights)
    assert np.average(sim_gen, weights=result.weights) > before + 0.15


@pytest.mark.parametrize(
    ("data_weights", "message"),
    [
        (np.ones(5), "6 non-negative weights"),
        (np.ones((6, 1)), "6 non-negative weights"),
        (np.array([1.0, 1.0, -1.0, 1.0, 1.0, 1.0]), "non-negative"),
        (np.zeros(6), "not all zero"),
        (np.array([1.0, np.nan, 1.0, 1.0, 1.0, 1.0]), "data_weights contains 1 NaN"),  # from _finite_float
    ],
)
def test_omnifold_rejects_bad_data_weights(data_weights, message):
    with pytest.raises(ValueError, match=message):
        omnifold(
            np.zeros(6), np.zeros(6), np.zeros(6), 1, np.random.default_rng(0), data_weights=data_weights
        )


# --- histogram and chi2 ------------------------------------------------------------------------------------


def test_histogram_by_hand():
    x = np.array([-1.0, 0.2, 0.7, 1.5, 2.5, 3.5])  # the first and the last are out of range
    weights = np.array([5.0, 1.0, 2.0, 0.5, 4.0, 7.0])
    fractions, errors = histogram(x, [0.0, 1.0, 2.0, 3.0], weights)
    # in range: bin sums 3, 0.5 and 4 of a total 7.5; errors sqrt(1 + 4), 0.5 and 4 over the same total
    np.testing.assert_allclose(fractions, np.array([3.0, 0.5, 4.0]) / 7.5)
    np.testing.assert_allclose(errors, np.array([np.sqrt(5.0), 0.5, 4.0]) / 7.5)


def test_histogram_unweighted_errors_are_poisson():
    x = np.random.default_rng(6).normal(0.0, 2.0, 2_000)  # wider than BINS: some events fall outside
    counts = np.histogram(x, BINS)[0]
    assert counts.sum() < len(x)
    fractions, errors = histogram(x, BINS)
    # normalised to the N events in range, not to all of them
    np.testing.assert_allclose(fractions, counts / counts.sum())
    np.testing.assert_allclose(errors, np.sqrt(counts) / counts.sum())


@pytest.mark.parametrize(
    ("x", "weights", "message"),
    [
        ([0.5, np.nan], None, "NaN"),
        ([0.5, 1.5], [1.0], "same events"),
        ([[0.5, 1.5]], None, "1-d"),
        ([], None, "non-empty"),
        ([-2.0, 5.0], None, "no weight falls inside"),
        ([0.5, 5.0], [0.0, 1.0], "no weight falls inside"),  # the weight in range is zero
    ],
)
def test_histogram_rejects_bad_inputs(x, weights, message):
    with pytest.raises(ValueError, match=message):
        histogram(x, [0.0, 1.0, 2.0], weights)


def test_chi2_per_ndf_by_hand():
    h, h_err = [0.5, 0.25, 0.25], [0.1, 0.1, 0.05]
    reference, reference_err = [0.4, 0.4, 0.2], [0.1, 0.05, 0.0]
    # 0.01 / 0.02 + 0.0225 / 0.0125 + 0.0025 / 0.0025 = 3.3 over 3 - 1 degrees of freedom
    assert chi2_per_ndf(h, h_err, reference, reference_err) == pytest.approx(1.65)


def test_chi2_per_ndf_skips_bins_without_error():
    # an empty bin in both histograms (zero error, 0/0) neither adds to chi2 nor counts as a degree of freedom
    value = chi2_per_ndf(
        [0.5, 0.25, 0.25, 0.0], [0.1, 0.1, 0.05, 0.0], [0.4, 0.4, 0.2, 0.0], [0.1, 0.05, 0, 0]
    )
    assert value == pytest.approx(1.65)


def test_chi2_per_ndf_is_one_for_compatible_histograms():
    # two independent multinomial samples of one distribution. With 10 bins and 2,000 repetitions the mean
    # has a spread of sqrt(2 / 9) / sqrt(2000) = 0.0105 (0.0100 measured over 30 seeds, at most 0.031 from
    # 1); ndf = bins instead of bins - 1 would give 0.9 (0.875 to 0.928 measured) and dropping one of the
    # two error terms 2, both well outside the tolerance. With 20 bins the ndf slip would only be 0.05.
    rng = np.random.default_rng(7)
    bins = np.arange(11.0)
    values = []
    for _ in range(2_000):
        h, h_err = histogram(rng.integers(0, 10, 2_000), bins)  # 200 events a bin: the errors are good
        reference, reference_err = histogram(rng.integers(0, 10, 2_000), bins)
        values.append(chi2_per_ndf(h, h_err, reference, reference_err))
    assert abs(np.mean(values) - 1.0) < 0.05, np.mean(values)
    assert abs(np.std(values) - np.sqrt(2.0 / 9.0)) < 0.05  # the chi2 / ndf distribution's own width, 0.47


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (([0.5, 0.5], [0.1, 0.1], [0.5, 0.5], [0.1, 0.1, 0.1]), "one shape"),
        (([[0.5, 0.5]], [[0.1, 0.1]], [[0.5, 0.5]], [[0.1, 0.1]]), "1-d"),
        (([0.5, 0.5], [0.1, np.nan], [0.5, 0.5], [0.1, 0.1]), "NaN"),
        (([0.5, 0.5], [0.1, 0.0], [0.5, 0.5], [0.0, 0.0]), "at least two bins"),  # one bin with an error
    ],
)
def test_chi2_per_ndf_rejects_bad_inputs(arrays, message):
    with pytest.raises(ValueError, match=message):
        chi2_per_ndf(*arrays)


# --- prior dependence --------------------------------------------------------------------------------------


def _truth_and_prior() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(8)
    truth, prior = rng.uniform(0.5, 1.5, 6), rng.uniform(0.5, 1.5, 6)
    return truth / truth.sum(), prior / prior.sum()


def test_prior_fraction_ends():
    truth, prior = _truth_and_prior()
    assert prior_fraction(prior, truth, prior) == pytest.approx(1.0)  # the unfolding did not move
    assert prior_fraction(truth, truth, prior) == 0.0  # it reached the truth


@pytest.mark.parametrize("fraction", [-0.5, 0.3, 0.8, 1.7])
def test_prior_fraction_is_linear(fraction):
    # beyond the truth (< 0) and beyond the prior (> 1) too: no clipping, no absolute value
    truth, prior = _truth_and_prior()
    assert prior_fraction(truth + fraction * (prior - truth), truth, prior) == pytest.approx(fraction)


def test_prior_fraction_ignores_orthogonal_differences():
    truth, prior = _truth_and_prior()
    bias = prior - truth
    other = np.random.default_rng(9).normal(0.0, 0.1, truth.size)
    other -= other @ bias / (bias @ bias) * bias  # a difference that is not the prior's
    assert prior_fraction(truth + 0.3 * bias + other, truth, prior) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("result", "truth", "prior", "message"),
    [
        ([0.5, 0.5], [0.4, 0.6], [0.4, 0.6], "equal"),
        ([0.5, 0.5], [0.4, 0.6], [0.3, 0.3, 0.4], "one shape"),
        ([0.5, 0.5], [0.4, np.inf], [0.3, 0.7], "infinite"),
    ],
)
def test_prior_fraction_rejects_bad_inputs(result, truth, prior, message):
    with pytest.raises(ValueError, match=message):
        prior_fraction(result, truth, prior)
