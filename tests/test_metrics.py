"""Tests of reps4lhc_tutor.metrics against exact and analytic results."""

import numpy as np
import pytest
from scipy.stats import norm

from reps4lhc_tutor import metrics


def gaussian_quantiles(n, mean):
    """Deterministic 'sample' of N(mean, 1): the quantiles at (i + 1/2) / n, shape (n,)."""
    return mean + norm.ppf((np.arange(n) + 0.5) / n)


def two_gaussians(separation, n=100_000):
    scores = np.concatenate([gaussian_quantiles(n, 0.0), gaussian_quantiles(n, separation)])
    labels = np.concatenate([np.zeros(n), np.ones(n)])
    return labels, scores


def test_perfect_classifier():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert metrics.auc(labels, scores) == 1.0
    eff_bkg, eff_sig, thresholds = metrics.roc_curve(labels, scores)
    assert eff_bkg[0] == eff_sig[0] == 0 and eff_bkg[-1] == eff_sig[-1] == 1
    assert np.all(np.diff(thresholds) < 0)
    with pytest.raises(ValueError, match="no background event passes"):
        metrics.rejection_at(labels, scores, 0.5)


def test_random_scores_give_half():
    rng = np.random.default_rng(7)
    n = 10_000
    labels = np.repeat([0, 1], n)
    area = metrics.auc(labels, rng.random(2 * n))
    sigma = np.sqrt((2 * n + 1) / (12 * n * n))  # spread of the AUC (Mann-Whitney U) without separation
    assert abs(area - 0.5) < 5 * sigma


@pytest.mark.parametrize("separation", [0.5, 1.5, 2.5])
def test_two_gaussians_analytic(separation):
    labels, scores = two_gaussians(separation)
    # P(signal score > background score) with a difference ~ N(d, 2)
    assert metrics.auc(labels, scores) == pytest.approx(norm.cdf(separation / np.sqrt(2)), abs=1e-4)
    # the cut keeping eps_S of N(d, 1) sits at d + Phi^-1(1 - eps_S); eps_B is the N(0, 1) tail above it
    eps_s = 0.3
    eps_b = norm.sf(separation + norm.ppf(1 - eps_s))
    assert metrics.rejection_at(labels, scores, eps_s) == pytest.approx(1 / eps_b, rel=1e-2)


def test_inverted_scores_give_one_minus_auc():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 2000)
    scores = rng.normal(size=2000) + 0.8 * labels
    assert metrics.auc(labels, -scores) == pytest.approx(1 - metrics.auc(labels, scores), abs=1e-12)


def test_rejection_interpolates_between_cuts():
    # ROC points (eps_B, eps_S): (0, 0), (0, 1/2), (1/2, 1), (1, 1); the tie at 0.6 makes a diagonal segment
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.6, 0.6, 0.1])
    assert metrics.rejection_at(labels, scores, 0.75) == pytest.approx(4.0)
    assert metrics.rejection_at(labels, scores, 1.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no background event passes"):
        metrics.rejection_at(labels, scores, 0.5)


def test_tied_efficiencies_take_the_lowest_background():
    # ROC points (eps_B, eps_S): ..., (1/4, 1/2), (1/2, 1/2), ...: at eps_S = 1/2 the better cut counts
    labels = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    scores = np.array([0.9, 0.85, 0.8, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert metrics.rejection_at(labels, scores, 0.5) == pytest.approx(4.0)
    assert metrics.rejection_at(labels, scores, 0.625) == pytest.approx(2.0)


def test_weights_act_like_repeated_events():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 500)
    scores = rng.normal(size=500) + labels
    weights = rng.integers(1, 4, 500)
    repeated = np.repeat(np.arange(500), weights)
    assert metrics.auc(labels, scores, weights) == pytest.approx(
        metrics.auc(labels[repeated], scores[repeated])
    )
    assert metrics.rejection_at(labels, scores, 0.5, sample_weight=weights) == pytest.approx(
        metrics.rejection_at(labels[repeated], scores[repeated], 0.5)
    )
    assert metrics.auc(labels, scores, weights) != pytest.approx(metrics.auc(labels, scores), abs=1e-6)


def test_pulls():
    pred, truth = np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 5.0])
    np.testing.assert_array_equal(metrics.pulls(pred, truth, [0.5, 1.0, 4.0]), [2.0, 0.0, -0.5])
    np.testing.assert_array_equal(metrics.pulls(pred, truth, 2.0), [0.5, 0.0, -1.0])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1, 2], [0.1, 0.2, 0.3]), r"0 \(background\) or 1 \(signal\)"),
        (([0, 1, 1], [0.1, np.nan, 0.3]), "1 NaN or infinite"),
        (([1, 1, 1], [0.1, 0.2, 0.3]), "both signal and background"),
        (([0, 1, 1], [0.1, 0.2]), "one entry per event"),
        (([0, 1], [[0.1, 0.9], [0.8, 0.2]]), "one entry per event"),
    ],
)
def test_bad_classifier_inputs(args, message):
    for function in (metrics.auc, metrics.roc_curve, metrics.rejection_at):
        with pytest.raises(ValueError, match=message):
            function(*args)


def test_bad_weights_and_working_points():
    labels, scores = [0, 1, 0, 1], [0.1, 0.7, 0.4, 0.9]
    with pytest.raises(ValueError, match=">= 0"):
        metrics.auc(labels, scores, [1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        metrics.auc(labels, scores, [1.0, 1.0])
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match=r"signal_efficiency must be in \(0, 1\]"):
            metrics.rejection_at(labels, scores, bad)


def test_bad_pull_inputs():
    with pytest.raises(ValueError, match=r"\(n,\) vs \(n, 1\)"):
        metrics.pulls(np.zeros(3), np.zeros((3, 1)), 1.0)
    with pytest.raises(ValueError, match="positive"):
        metrics.pulls(np.zeros(3), np.zeros(3), [1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        metrics.pulls([np.nan], [0.0], 1.0)


# --- calibration (reliability diagram) ----------------------------------------------------------------------


def calibrated_sample(n=100_000, seed=12):
    """A calibrated classifier: p ~ U(0, 1) and each event is signal with probability p."""
    rng = np.random.default_rng(seed)
    probabilities = rng.random(n)
    return (rng.random(n) < probabilities).astype(int), probabilities


def calibration_pulls(labels, probabilities, n_bins=10):
    """(signal fraction - mean probability) / binomial error, per non-empty bin."""
    mean, fraction, counts = metrics.calibration(labels, probabilities, n_bins)
    return (fraction - mean) / np.sqrt(mean * (1 - mean) / counts)


def test_calibration_of_a_small_sample_by_hand():
    labels = [0, 0, 1, 1, 1, 0, 1]
    probabilities = [0.05, 0.15, 0.12, 0.95, 1.0, 0.55, 0.0]
    mean, fraction, counts = metrics.calibration(labels, probabilities)
    # bins [0, 0.1): 0.05, 0.0; [0.1, 0.2): 0.15, 0.12; [0.5, 0.6): 0.55; [0.9, 1]: 0.95, 1.0
    np.testing.assert_allclose(mean, [0.025, 0.135, 0.55, 0.975])
    np.testing.assert_allclose(fraction, [0.5, 0.5, 0.0, 1.0])
    np.testing.assert_array_equal(counts, [2, 2, 1, 2])
    assert counts.dtype == np.int64


def test_calibration_bins_are_closed_on_the_left_and_one_joins_the_last_bin():
    labels = [0, 1, 0, 1, 1]
    _, _, counts = metrics.calibration(labels, [0.0, 0.25, 0.5, 0.75, 1.0], n_bins=4)
    np.testing.assert_array_equal(counts, [1, 1, 1, 2])  # 0.25 opens bin 2; 1.0 shares bin 4 with 0.75
    mean, fraction, counts = metrics.calibration([1, 0], [1.0, 1.0], n_bins=10)
    np.testing.assert_array_equal(mean, [1.0])
    np.testing.assert_array_equal(fraction, [0.5])
    np.testing.assert_array_equal(counts, [2])


def test_calibration_leaves_out_empty_bins_and_counts_every_event():
    labels, probabilities = calibrated_sample(5000)
    probabilities = np.where(probabilities < 0.5, probabilities / 5, probabilities)  # empties [0.1, 0.5)
    mean, fraction, counts = metrics.calibration(labels, probabilities, n_bins=10)
    assert len(mean) == len(fraction) == len(counts) == 6
    assert (counts > 0).all() and counts.sum() == labels.size
    assert not ((mean >= 0.1) & (mean < 0.5)).any()
    mean, _, counts = metrics.calibration(labels, probabilities, n_bins=1)  # one bin: the whole sample
    assert counts.tolist() == [labels.size] and mean[0] == pytest.approx(probabilities.mean())


@pytest.mark.parametrize("n_bins", [5, 10, 20])
def test_calibrated_classifier_lies_on_the_diagonal(n_bins):
    labels, probabilities = calibrated_sample()
    mean, _, counts = metrics.calibration(labels, probabilities, n_bins)
    assert len(mean) == n_bins and counts.sum() == labels.size
    lower = np.arange(n_bins) / n_bins
    assert ((mean >= lower) & (mean < lower + 1 / n_bins)).all()  # each mean inside its bin
    np.testing.assert_allclose(mean, lower + 0.5 / n_bins, atol=0.01)  # p is uniform within each bin
    pulls = calibration_pulls(labels, probabilities, n_bins)
    assert np.abs(pulls).max() < 4  # binomial scatter only
    assert np.sum(pulls**2) < n_bins + 5 * np.sqrt(2 * n_bins)  # chi^2 with n_bins degrees of freedom


def test_overconfident_classifier_is_detected():
    labels, probabilities = calibrated_sample()
    cube = probabilities**3
    overconfident = cube / (cube + (1 - probabilities) ** 3)  # pushed towards 0 and 1, same ordering
    assert metrics.auc(labels, overconfident) == pytest.approx(metrics.auc(labels, probabilities))
    mean, fraction, _ = metrics.calibration(labels, overconfident)
    pulls = calibration_pulls(labels, overconfident)
    assert np.abs(pulls).max() > 10
    high, low = mean > 0.6, mean < 0.4
    assert (fraction[high] < mean[high]).all() and (fraction[low] > mean[low]).all()  # an S-shaped curve


@pytest.mark.parametrize("bad", [-0.01, 1.01, 3.0])
def test_calibration_needs_probabilities(bad):
    labels, probabilities = [0, 1, 0, 1], [0.2, 0.7, 0.4, bad]
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\].*torch\.sigmoid"):
        metrics.calibration(labels, probabilities)


def test_calibration_says_to_take_the_sigmoid_of_logits():
    rng = np.random.default_rng(13)
    logits = rng.normal(size=100)
    with pytest.raises(ValueError, match="sigmoid"):
        metrics.calibration(np.repeat([0, 1], 50), logits)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "10", None])
def test_calibration_bad_n_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        metrics.calibration([0, 1], [0.2, 0.8], n_bins)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1, 1], [0.1, np.nan, 0.3]), "NaN or infinite"),
        (([0, 1, 1], [0.1, np.inf, 0.3]), "NaN or infinite"),
        (([0, 1, 1], [0.1, 0.2]), "one entry per event"),
        (([0, 1], [[0.1, 0.9], [0.8, 0.2]]), "one entry per event"),
        (([[0, 1]], [[0.1, 0.9]]), "one entry per event"),
        (([0, 1, 2], [0.1, 0.2, 0.3]), r"0 \(background\) or 1 \(signal\)"),
    ],
)
def test_calibration_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        metrics.calibration(*args)


@pytest.mark.parametrize("label", [0, 1], ids=["background only", "signal only"])
def test_calibration_of_a_single_class_sample(label):
    # A reliability diagram needs no second class: on a pure sample (a control region, one class of a
    # test set) the signal fraction is 0 or 1 in every bin.
    mean, fraction, counts = metrics.calibration([label] * 3, [0.2, 0.5, 0.9], n_bins=2)
    np.testing.assert_allclose(mean, [0.2, 0.7])
    np.testing.assert_array_equal(fraction, [label, label])
    np.testing.assert_array_equal(counts, [1, 2])


# --- quantile MSE and the equivalent sample size ---------------------------------------------------------


def test_quantile_mse_by_hand():
    # truth 0 ... 99 in 4 bins: inner edges at the quartiles 24.75, 49.5, 74.25, 25 truth events per bin.
    truth = np.arange(100.0)
    sample = np.array([10, 10, 30, 60, 60, 60, 80, 90, 95, 99])  # 2, 1, 3, 4 events per bin
    # fractions 0.2, 0.1, 0.3, 0.4 against 0.25 each: (0.05^2 + 0.15^2 + 0.05^2 + 0.15^2) / 4
    assert metrics.quantile_mse(sample, truth, n_bins=4) == pytest.approx(0.0125, rel=1e-12)
    assert metrics.quantile_mse(sample + 1000.0, truth, n_bins=4) == pytest.approx(0.1875)  # all in the last
    assert metrics.quantile_mse(sample - 1000.0, truth, n_bins=4) == pytest.approx(0.1875)  # outer bins open


def test_quantile_mse_per_feature():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(400, 2))
    sample = np.column_stack([truth[:300, 0], rng.normal(1.0, 1.0, 300)])  # the first: part of the truth
    mse = metrics.quantile_mse(sample, truth, n_bins=5)
    assert isinstance(mse, np.ndarray) and mse.shape == (2,)
    assert mse[0] == metrics.quantile_mse(truth[:300, 0], truth[:, 0], n_bins=5) and mse[1] > 0.01
    one = metrics.quantile_mse(sample[:, 1], truth[:, 1], n_bins=5)
    assert isinstance(one, float) and one == mse[1]
    assert metrics.quantile_mse(truth, truth).tolist() == [0.0, 0.0]  # the truth itself


@pytest.mark.parametrize("n_bins", [4, 20])
def test_quantile_mse_of_samples_of_the_truth_matches_its_expectation(n_bins):
    # 4000 independent trials side by side as features, each with its own truth of 2000 events and sample of
    # 1000. The MSE of one trial spreads by ~sqrt(2 / (M - 1)) of its mean, so the mean of 4000 by 1.25 %
    # (M = 4) or 0.5 % (M = 20) of it: within 4 standard errors, dropping the 1/n_truth term (-33 %) or
    # taking 1/M for (M - 1)/M^2 (+33 % at M = 4, +5.3 % at M = 20) would fail.
    rng = np.random.default_rng(42)
    trials, n, n_truth = 4000, 1000, 2000
    mse = metrics.quantile_mse(rng.normal(size=(n, trials)), rng.normal(size=(n_truth, trials)), n_bins)
    expected = metrics.expected_quantile_mse(n, n_bins, n_truth)
    error = mse.std(ddof=1) / np.sqrt(trials)
    assert 4 * error < 0.06 * expected  # the power the comment claims
    assert abs(mse.mean() - expected) < 4 * error  # measured: -1.4 and -0.4 standard errors


def test_expected_quantile_mse_by_hand():
    expected = metrics.expected_quantile_mse(np.array([[100, 400]]), n_bins=4, n_truth=1000)
    assert expected.shape == (1, 2)
    np.testing.assert_allclose(expected, [[3 / 16 * (0.01 + 0.001), 3 / 16 * (0.0025 + 0.001)]], rtol=1e-12)
    assert metrics.expected_quantile_mse(50, n_bins=20) == pytest.approx(19 / 400 / 50, rel=1e-12)


def test_equivalent_sample_size_inverts_the_expectation():
    n = np.array([10.0, 1e3, 5e4, 1e6])
    for n_truth in (np.inf, 1e7):
        mse = metrics.expected_quantile_mse(n, 20, n_truth)
        np.testing.assert_allclose(metrics.equivalent_sample_size(mse, 20, n_truth), n, rtol=1e-6)
    assert metrics.equivalent_sample_size(0.0) == np.inf  # the exact quantiles resolve any sample
    # At or below the resolution of the truth sample, (M - 1) / M^2 / n_truth = 1/16 for M = 2, n_truth = 4:
    np.testing.assert_array_equal(
        metrics.equivalent_sample_size([0.0, 0.03, 1 / 16, 1 / 8], n_bins=2, n_truth=4), [np.inf] * 3 + [4.0]
    )


@pytest.mark.parametrize("n_bins", [1, 0, 2.5, True, "4"])
def test_quantile_mse_functions_reject_bad_n_bins(n_bins):
    for call in (
        lambda: metrics.quantile_mse(np.zeros(10), np.zeros(10), n_bins),
        lambda: metrics.expected_quantile_mse(10, n_bins),
        lambda: metrics.equivalent_sample_size(0.1, n_bins),
    ):
        with pytest.raises(ValueError, match="n_bins must be an integer >= 2"):
            call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: metrics.quantile_mse([1.0, np.nan], np.arange(10.0)), "sample contains 1 NaN"),
        (lambda: metrics.quantile_mse(np.arange(5.0), [np.inf, *range(9)]), "truth contains 1 NaN"),
        (lambda: metrics.quantile_mse(np.zeros((5, 2)), np.zeros((30, 3))), "the same features"),
        (lambda: metrics.quantile_mse(np.zeros((5, 2)), np.zeros(30)), "the same features"),
        (lambda: metrics.quantile_mse(np.zeros(0), np.zeros(30)), "need events in sample"),
        (lambda: metrics.quantile_mse(np.zeros(5), np.zeros(19)), "at least n_bins=20 in truth"),
        (lambda: metrics.expected_quantile_mse([10, 0]), "sample sizes must be positive"),
        (lambda: metrics.expected_quantile_mse(10, n_truth=0), "sample sizes must be positive"),
        (lambda: metrics.equivalent_sample_size([0.1, -1e-6]), "mse must be >= 0"),
        (lambda: metrics.equivalent_sample_size(0.1, n_truth=-5), "n_truth > 0"),
        (lambda: metrics.equivalent_sample_size(np.nan), "mse contains 1 NaN"),
    ],
)
def test_quantile_mse_functions_reject_bad_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_expected_quantile_mse_rejects_nan_sizes():
    with pytest.raises(ValueError, match="NaN"):
        metrics.expected_quantile_mse([np.nan, 10.0])


# --- linear probe -------------------------------------------------------------------------------------------


def gaussian_classes(n_train, n_test, separation, seed, dim=8):
    """Train and test events of two classes per size: background N(0, 1) and signal N(separation * u, 1) in
    ``dim`` features, with ``u`` one random unit direction; the ``dim - 1`` orthogonal directions are noise.
    Returns ``x_train (2 n_train, dim), y_train, x_test (2 n_test, dim), y_test``."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    sets = []
    for n in (n_train, n_test):
        labels = np.repeat([0, 1], n)
        sets += [rng.normal(size=(2 * n, dim)) + separation * labels[:, None] * direction, labels]
    return tuple(sets)


def auc_std_two_gaussians(separation, n_background, n_signal):
    """Exact standard deviation of the AUC (Mann-Whitney) of the score x ~ N(0, 1) vs N(separation, 1).

    Var = [A (1 - A) + (n_s - 1)(Q_s - A^2) + (n_b - 1)(Q_b - A^2)] / (n_s n_b), with Q_s = P(X1 > Y, X2 > Y)
    for two signal and one background event, Q_b = P(X > Y1, X > Y2); for equal widths both are the
    probability that two N(0, 1) of correlation 1/2 both lie below separation / sqrt(2).
    """
    from scipy.stats import multivariate_normal

    a = norm.cdf(separation / np.sqrt(2))
    q = multivariate_normal(mean=[0, 0], cov=[[1, 0.5], [0.5, 1]]).cdf([separation / np.sqrt(2)] * 2)
    variance = (a * (1 - a) + (n_signal + n_background - 2) * (q - a**2)) / (n_signal * n_background)
    return float(np.sqrt(variance))


@pytest.mark.parametrize("separation", [0.5, 1.5])
def test_linear_probe_reaches_the_analytic_auc(separation):
    # The optimal score is the projection on u, with AUC Phi(d / sqrt 2). On 20000 test events per class the
    # AUC spreads by 0.0027 (d = 0.5) and 0.0018 (d = 1.5); the probe's direction, fitted on 5000 events per
    # class, misses u in the 7 noise directions by an angle^2 ~ 7 / (n_train p(1-p) d^2) and so loses
    # ~1e-3 (d = 0.5) and 1e-4 (d = 1.5) of AUC: the tolerance 4 sigma holds both (measured: +0.3 and -0.3
    # sigma). A sign flip (1 - AUC) or an unfitted probe (0.5) is far outside it.
    x_train, y_train, x_test, y_test = gaussian_classes(5000, 20_000, separation, seed=int(10 * separation))
    sigma = auc_std_two_gaussians(separation, 20_000, 20_000)
    assert 0.0015 < sigma < 0.003
    area = metrics.linear_probe(x_train, y_train, x_test, y_test)
    assert area == pytest.approx(norm.cdf(separation / np.sqrt(2)), abs=4 * sigma)


def test_linear_probe_scores_are_the_logits_of_the_standardised_logistic_regression():
    # The scores are the logit of a StandardScaler + LogisticRegression pipeline on the test events, one per
    # event, and linear_probe is their AUC; the test labels are not needed to score.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train, x_test, y_test = gaussian_classes(300, 1000, 1.0, seed=8)
    scores = metrics.linear_probe_scores(x_train, y_train, x_test)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(x_train, y_train)
    assert scores.shape == (len(x_test),)
    np.testing.assert_allclose(scores, pipeline.decision_function(x_test), atol=1e-6)
    assert metrics.linear_probe(x_train, y_train, x_test, y_test) == metrics.auc(y_test, scores)
    assert metrics.rejection_at(y_test, scores, 0.5) > 1


def test_linear_probe_ignores_the_units_of_features():
    x_train, y_train, x_test, y_test = gaussian_classes(1000, 2000, 1.0, seed=1)
    rng = np.random.default_rng(2)
    scale = 10 ** rng.uniform(-4, 4, size=8)  # one unit per feature, from 1e-4 to 1e4
    shift = rng.normal(0, 1e3, size=8)
    reference = metrics.linear_probe(x_train, y_train, x_test, y_test)
    rescaled = metrics.linear_probe(scale * x_train + shift, y_train, scale * x_test + shift, y_test)
    assert rescaled == pytest.approx(reference, abs=1e-9)


def test_linear_probe_standardises_with_the_training_statistics():
    # Test events in other units than the training events (feature 0 x 3, feature 1 x 0.1): the probe must
    # apply the training shift and scale, as a StandardScaler fitted on the training events does;
    # standardising the test events with their own statistics would give another AUC.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x_train, y_train, x_test, y_test = gaussian_classes(300, 2000, 1.0, seed=3)
    x_test = x_test * np.array([3.0, 0.1, 1, 1, 1, 1, 1, 1])
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0)).fit(x_train, y_train)
    expected = metrics.auc(y_test, pipeline.decision_function(x_test))
    own_statistics = pipeline[-1].decision_function(StandardScaler().fit_transform(x_test))
    assert abs(metrics.auc(y_test, own_statistics) - expected) > 1e-3  # the check can tell the two apart
    assert metrics.linear_probe(x_train, y_train, x_test, y_test) == pytest.approx(expected, abs=1e-9)


def test_linear_probe_of_random_labels_gives_half():
    # 50 noise features and 200 training events: the probe overfits, so its AUC on its own training events
    # is far above 0.5, while on held-out events it spreads around 0.5 as the Mann-Whitney statistic without
    # separation does, by sqrt((n_b + n_s + 1) / (12 n_b n_s)) = 0.0091 for 4000 test events.
    rng = np.random.default_rng(5)
    x_train, y_train = rng.normal(size=(200, 50)), rng.integers(0, 2, 200)
    x_test, y_test = rng.normal(size=(4000, 50)), rng.integers(0, 2, 4000)
    n_signal = np.count_nonzero(y_test)
    sigma = np.sqrt((4000 + 1) / (12 * n_signal * (4000 - n_signal)))
    assert abs(metrics.linear_probe(x_train, y_train, x_test, y_test) - 0.5) < 4 * sigma
    assert metrics.linear_probe(x_train, y_train, x_train, y_train) > 0.75


def test_linear_probe_weights_act_like_repeated_events():
    x_train, y_train, x_test, y_test = gaussian_classes(100, 1000, 1.0, seed=6)
    weights = np.random.default_rng(7).integers(1, 5, len(y_train))
    weights[:10] = 0  # events that take no part, neither in the standardisation nor in the fit
    repeated = np.repeat(np.arange(len(y_train)), weights)
    weighted = metrics.linear_probe(x_train, y_train, x_test, y_test, sample_weight=weights)
    expected = metrics.linear_probe(x_train[repeated], y_train[repeated], x_test, y_test)
    assert weighted == pytest.approx(expected, abs=1e-9)
    assert abs(weighted - metrics.linear_probe(x_train, y_train, x_test, y_test)) > 1e-4  # weights count


def test_linear_probe_of_a_dead_unit_is_unchanged():
    # a feature constant on the training events (a dead ReLU unit) gets weight 0: whatever it does on the test
    # events, the AUC is that of the other features
    x_train, y_train, x_test, y_test = gaussian_classes(500, 1000, 1.0, seed=8)
    dead_train = np.column_stack([x_train, np.full(len(x_train), 0.7)])
    dead_test = np.column_stack([x_test, np.random.default_rng(9).normal(size=len(x_test))])
    assert metrics.linear_probe(dead_train, y_train, dead_test, y_test) == pytest.approx(
        metrics.linear_probe(x_train, y_train, x_test, y_test), abs=1e-9
    )


def probe_inputs(**changes):
    """Valid inputs of the linear probe (4 training and 4 test events, 2 features), with some replaced."""
    inputs = {
        "train_features": [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]],
        "train_labels": [0, 0, 1, 1],
        "test_features": [[0.5, 1.0], [1.5, 0.0], [2.5, 1.0], [3.5, 2.0]],
        "test_labels": [0, 1, 0, 1],
    }
    return {**inputs, **changes}


def test_linear_probe_accepts_the_valid_inputs():
    assert 0 <= metrics.linear_probe(**probe_inputs()) <= 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train_labels": [0, 1, 1]}, r"train_labels must have shape \(4,\), one label per row"),
        ({"test_labels": [0, 1, 0, 1, 1]}, r"test_labels must have shape \(4,\)"),
        ({"test_features": [[0.0], [1.0], [2.0], [3.0]]}, "test_features has 1 features but train_features"),
        ({"train_features": [0.0, 1.0, 2.0, 3.0]}, "must be 2-d"),
        ({"train_labels": [0, 1, 2, 1]}, r"train_labels must be 0 \(background\) or 1"),
        ({"test_labels": [0.0, 0.5, 1.0, 1.0]}, r"test_labels must be 0 \(background\) or 1"),
        ({"test_labels": ["b", "s", "b", "s"]}, r"test_labels must be 0 \(background\) or 1"),
        ({"train_labels": [1, 1, 1, 1]}, "train_labels needs both signal and background"),
        ({"test_labels": [0, 0, 0, 0]}, "test_labels needs both signal and background"),
        (
            {"train_features": [[0.0, 1.0], [np.nan, 0.0], [2.0, 1.0], [3.0, 2.0]]},
            "train_features contains 1 NaN",
        ),
        (
            {"test_features": [[0.0, np.inf], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0]]},
            "test_features contains 1 NaN",
        ),
        ({"sample_weight": [1.0, 1.0, 1.0]}, r"sample_weight must have shape \(4,\)"),
        ({"sample_weight": [1.0, -1.0, 1.0, 1.0]}, "sample_weight must be >= 0"),
        ({"sample_weight": [1.0, 1.0, 0.0, 0.0]}, "each class needs a positive total weight"),
        ({"sample_weight": [1.0, np.nan, 1.0, 1.0]}, "sample_weight contains 1 NaN"),
        ({"max_iter": 0}, "max_iter must be a positive integer"),
        ({"max_iter": True}, "max_iter must be a positive integer"),
    ],
)
def test_linear_probe_bad_inputs(changes, message):
    with pytest.raises(ValueError, match=message):
        metrics.linear_probe(**probe_inputs(**changes))
