"""Tests of metrics.classifier_test, the classifier two-sample test of a generative network, on Gaussian toys
whose density ratio and optimal AUC are known."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from reps4lhc_tutor import metrics
from reps4lhc_tutor.metrics import classifier_test


@pytest.fixture(autouse=True)
def one_thread():
    """Fit the trees on one thread: these tests check statistics, not speed, and on a busy 2-core machine the
    OpenMP barriers of multi-threaded boosting cost ten times the work (same results either way)."""
    with threadpool_limits(limits=1):
        yield


def gaussians(n, dim, seed, shift=0.0):
    """Two samples of N(0, 1)^dim, shapes (n, dim); the second ('true') shifted by `shift` in feature 0."""
    rng = np.random.default_rng(seed)
    generated, true = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    true[:, 0] += shift
    return generated, true


def null_auc_std(n_generated, n_true):
    """Standard deviation of the AUC (Mann-Whitney U / (n_gen n_true)) of one distribution against itself."""
    return np.sqrt((n_generated + n_true + 1) / (12 * n_generated * n_true))


def hanley_mcneil_std(area, n_generated, n_true):
    """Hanley & McNeil (1982) standard error of an AUC from n_true positives and n_generated negatives."""
    q_true, q_generated = area / (2 - area), 2 * area**2 / (1 + area)
    variance = (
        area * (1 - area) + (n_true - 1) * (q_true - area**2) + (n_generated - 1) * (q_generated - area**2)
    )
    return np.sqrt(variance / (n_generated * n_true))


def shifted_normal_ratio(x, shift):
    """log p_true / p_gen for generated N(0, 1) and true N(shift, 1): linear in x."""
    return shift * x - shift**2 / 2


def one_dimensional(n_generated, n_true, seed, shift=0.5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_generated, 1)), rng.normal(shift, 1.0, size=(n_true, 1))


# --- statistics of the AUC ----------------------------------------------------------------------------------


def test_one_distribution_gives_half_with_the_stated_spread():
    generated, true = gaussians(3000, 5, seed=1)
    result = classifier_test(generated, true, np.random.default_rng(2))
    n_generated, n_true = result.generated_index.size, result.true_index.size
    assert n_generated == n_true == 1500 and result.n_train == 3000
    # the bootstrap spread is the Mann-Whitney spread of the null (its own precision is ~7 %)
    assert result.auc_std / null_auc_std(n_generated, n_true) == pytest.approx(1, abs=0.25)
    assert abs(result.auc - 0.5) < 3 * result.auc_std
    assert abs(result.significance) < 3


def test_stated_spread_matches_the_spread_of_repeated_tests():
    # Under the null, fresh samples and fresh trainings scatter the AUC by its statistical spread only.
    areas, spreads = [], []
    for seed in range(24):
        generated, true = gaussians(400, 5, seed=100 + seed)
        result = classifier_test(generated, true, np.random.default_rng(seed), n_resamples=30)
        areas.append(result.auc)
        spreads.append(result.auc_std)
    observed, stated = np.std(areas, ddof=1), np.mean(spreads)
    assert stated == pytest.approx(null_auc_std(200, 200), rel=0.15)
    assert 0.55 < observed / stated < 1.5  # a std from 24 values is known to ~15 %
    assert abs(np.mean(areas) - 0.5) < 3 * stated / np.sqrt(len(areas))


def test_a_small_shift_is_detected():
    shift = 0.3  # sigma, in one of five features
    generated, true = gaussians(5000, 5, seed=3, shift=shift)
    result = classifier_test(generated, true, np.random.default_rng(4))
    assert result.significance > 5  # 7 to 11 in six seeds
    assert result.auc < norm.cdf(shift / np.sqrt(2)) + 3 * result.auc_std  # the optimal AUC bounds it
    assert result.auc_std == pytest.approx(hanley_mcneil_std(result.auc, 2500, 2500), rel=0.25)


# --- weights: the density ratio -----------------------------------------------------------------------------


def check_density_ratio(result, generated, shift, *, bulk_rms, bin_tolerance):
    """log w of the held-out generated events against the exact log ratio, in the bulk |x| < 1.5."""
    x = generated[result.generated_index, 0]
    bulk = np.abs(x) < 1.5
    error = np.log(result.weights_generated[bulk]) - shifted_normal_ratio(x[bulk], shift)
    assert np.sqrt(np.mean(error**2)) < bulk_rms  # per event: the trees' steps and noise
    bins = np.digitize(x[bulk], np.linspace(-1.5, 1.5, 7))
    bin_means = np.array([error[bins == b].mean() for b in range(1, 7)])
    assert np.abs(bin_means).max() < bin_tolerance  # in six bins: no bias of log w anywhere in the bulk
    slope, intercept = np.polyfit(x[bulk], np.log(result.weights_generated[bulk]), 1)
    assert slope == pytest.approx(shift, abs=0.1)
    assert intercept == pytest.approx(-(shift**2) / 2, abs=0.06)


def test_weights_are_the_density_ratio():
    generated, true = one_dimensional(20_000, 20_000, seed=5)
    result = classifier_test(generated, true, np.random.default_rng(6))
    check_density_ratio(result, generated, 0.5, bulk_rms=0.2, bin_tolerance=0.12)
    # E_gen[w] = E_true[1 / w] = 1; w has a spread of sqrt(e^0.25 - 1) = 0.53 over generated events
    assert result.weights_generated.mean() == pytest.approx(1, abs=0.03)
    assert np.mean(1 / result.weights_true) == pytest.approx(1, abs=0.03)
    assert result.auc == pytest.approx(norm.cdf(0.5 / np.sqrt(2)), abs=4 * result.auc_std + 0.01)
    np.testing.assert_allclose(result.weights(generated[result.generated_index]), result.weights_generated)


@pytest.mark.parametrize(("n_generated", "n_true"), [(40_000, 10_000), (10_000, 40_000)])
def test_unequal_sample_sizes_keep_the_density_ratio(n_generated, n_true):
    # Without balanced class weights w would carry the factor n_true / n_gen (0.25 or 4).
    generated, true = one_dimensional(n_generated, n_true, seed=7)
    result = classifier_test(generated, true, np.random.default_rng(8))
    assert result.generated_index.size == n_generated // 2 and result.true_index.size == n_true // 2
    assert result.weights_generated.mean() == pytest.approx(1, abs=0.06)  # 0.99 to 1.03 in six seeds
    assert np.mean(1 / result.weights_true) == pytest.approx(1, abs=0.06)
    check_density_ratio(result, generated, 0.5, bulk_rms=0.25, bin_tolerance=0.15)


def test_logistic_regression_recovers_the_exact_linear_ratio():
    # For Gaussians of equal width log w is linear in x, so a logistic regression can be exact; its intercept
    # is -shift^2 / 2 only if the fit weights the classes equally, here with four times more generated events.
    generated, true = one_dimensional(40_000, 10_000, seed=9)
    classifier = LogisticRegression()
    result = classifier_test(generated, true, np.random.default_rng(10), classifier=classifier)
    assert result.classifier is classifier
    assert classifier.coef_[0, 0] == pytest.approx(0.5, abs=0.1)  # statistical spread ~0.03
    assert classifier.intercept_[0] == pytest.approx(-0.125, abs=0.05)  # unbalanced: -0.125 + log(1/4)
    x = generated[result.generated_index, 0]
    expected = np.exp(classifier.coef_[0, 0] * x + classifier.intercept_[0])
    np.testing.assert_allclose(result.weights_generated, expected, rtol=1e-9)


class StepClassifier:
    """A classifier without scikit-learn: D = 1 for x > 0 and D = 0 otherwise (no classes_ attribute)."""

    def fit(self, x, y, sample_weight=None):
        self.sample_weight = sample_weight
        return self

    def predict_proba(self, x):
        d = (x[:, 0] > 0).astype(float)
        return np.column_stack([1 - d, d])


def test_weights_are_clipped_and_the_fit_is_balanced():
    generated, true = one_dimensional(300, 100, seed=11)
    result = classifier_test(generated, true, np.random.default_rng(12), classifier=StepClassifier())
    assert np.isfinite(result.weights_generated).all() and np.isfinite(result.weights_true).all()
    x = generated[result.generated_index, 0]
    np.testing.assert_allclose(result.weights_generated[x > 0], (1 - 1e-6) / 1e-6)
    np.testing.assert_allclose(result.weights_generated[x <= 0], 1e-6 / (1 - 1e-6))
    # each class carries half of the total weight: 150 generated events of weight 2/3, 50 true of weight 2
    weight = result.classifier.sample_weight
    assert weight.sum() == pytest.approx(200) and sorted(set(weight.round(12))) == pytest.approx([2 / 3, 2])


def test_same_seed_same_result():
    generated, true = gaussians(1000, 3, seed=13, shift=0.2)
    first, second = (classifier_test(generated, true, np.random.default_rng(14)) for _ in range(2))
    assert first.auc == second.auc and first.auc_std == second.auc_std
    np.testing.assert_array_equal(first.weights_generated, second.weights_generated)
    np.testing.assert_array_equal(first.weights_true, second.weights_true)
    np.testing.assert_array_equal(first.generated_index, second.generated_index)
    np.testing.assert_array_equal(first.true_index, second.true_index)
    other = classifier_test(generated, true, np.random.default_rng(15))
    assert not np.array_equal(first.generated_index, other.generated_index)


def test_held_out_rows_are_sorted_distinct_and_sized():
    generated, true = gaussians(1001, 2, seed=16)
    result = classifier_test(generated, true, np.random.default_rng(17), test_fraction=0.3)
    for index, n in ((result.generated_index, 1001), (result.true_index, 1001)):
        assert index.dtype == np.int64 and index.size == round(0.3 * n)
        assert (np.diff(index) > 0).all() and index[0] >= 0 and index[-1] < n
    assert result.n_train == 2 * (1001 - round(0.3 * 1001))


# --- warnings and bad input -------------------------------------------------------------------------------


def test_a_classifier_that_learned_nothing_is_flagged():
    # 20 events per sample: too few for the default trees to split, so D is one constant
    generated, true = gaussians(20, 2, seed=18, shift=3.0)
    with pytest.warns(UserWarning, match="same output"):
        result = classifier_test(generated, true, np.random.default_rng(19))
    assert result.auc == 0.5 and result.auc_std == 0 and np.isnan(result.significance)


def test_an_undertrained_default_classifier_is_flagged(monkeypatch):
    default = metrics._default_classifier
    monkeypatch.setattr(
        metrics, "_default_classifier", lambda *a, **k: default(*a, **k).set_params(max_iter=3)
    )
    generated, true = gaussians(500, 2, seed=20, shift=2.0)
    with pytest.warns(UserWarning, match="without early stopping"):
        classifier_test(generated, true, np.random.default_rng(21))


def good_samples():
    return gaussians(100, 3, seed=22)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g, t: (np.where(np.arange(3) == 1, np.nan, g), t), "generated contains 100 NaN or infinite"),
        (lambda g, t: (g, np.where(t > 2.5, np.inf, t)), "true contains .* NaN or infinite"),
        (lambda g, t: (g[:, 0], t[:, 0]), r"2-d with shape \(events, features\).*x\[:, None\]"),
        (lambda g, t: (g, t[:, :2]), "true has 2 features but generated has 3"),
        (lambda g, t: (g[:15], t), "generated has 15 events.*at least 10.*pass more events"),
        (lambda g, t: (g, t[:19]), "true has 19 events.*at least 10"),
        (lambda g, t: (g[:0], t), "generated has 0 events"),
    ],
)
def test_bad_samples(change, message):
    generated, true = change(*good_samples())
    with pytest.raises(ValueError, match=message):
        classifier_test(generated, true, np.random.default_rng(0))


@pytest.mark.parametrize("test_fraction", [0, 1, 1.5, -0.2, True, "0.5", None])
def test_bad_test_fraction(test_fraction):
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\)"):
        classifier_test(*good_samples(), np.random.default_rng(0), test_fraction=test_fraction)


def test_bad_arguments():
    generated, true = good_samples()
    with pytest.raises(ValueError, match="leaves 5 to train"):
        classifier_test(generated, true, np.random.default_rng(0), test_fraction=0.95)
    with pytest.raises(ValueError, match="n_resamples must be an integer >= 2"):
        classifier_test(generated, true, np.random.default_rng(0), n_resamples=1)
    with pytest.raises(TypeError, match="default_rng"):
        classifier_test(generated, true, 0)
    with pytest.raises(TypeError, match="predict_proba"):
        classifier_test(generated, true, np.random.default_rng(0), classifier=object())


def test_bad_classifier_output():
    class OneColumn(StepClassifier):
        def predict_proba(self, x):
            return super().predict_proba(x)[:, 1]

    with pytest.raises(ValueError, match=r"must return shape \(n, 2\)"):
        classifier_test(*good_samples(), np.random.default_rng(0), classifier=OneColumn())


def test_weights_of_new_events_need_the_training_features():
    generated, true = gaussians(200, 3, seed=23)
    result = classifier_test(generated, true, np.random.default_rng(24))
    assert result.weights(generated).shape == (200,)
    with pytest.raises(ValueError, match="events has 2 features but the classifier's training data has 3"):
        result.weights(generated[:, :2])
