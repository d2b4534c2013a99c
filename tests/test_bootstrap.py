"""Tests of the bootstrap uncertainty of classifier metrics."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from reps4lhc_tutor.metrics import auc, bootstrap, rejection_at


def _gaussian_scores(rng: np.random.Generator, n: int, separation: float = 1.0):
    """Half signal N(separation, 1), half background N(0, 1): the AUC is Phi(separation / sqrt(2))."""
    labels = np.repeat([0, 1], n // 2)
    return labels, rng.normal(separation * labels, 1.0)


def test_value_is_the_metric_on_the_full_sample():
    labels, scores = _gaussian_scores(np.random.default_rng(0), 1000)
    value, _ = bootstrap(auc, labels, scores, np.random.default_rng(1), n_resamples=20)
    assert value == auc(labels, scores)


@pytest.mark.parametrize(
    "metric", [auc, partial(rejection_at, signal_efficiency=0.5)], ids=["auc", "rejection at 0.5"]
)
def test_spread_matches_independent_test_sets(metric):
    # The bootstrap spread on one test set estimates the spread of the metric over independent test sets.
    rng = np.random.default_rng(2)
    independent = [metric(*_gaussian_scores(rng, 2000)) for _ in range(300)]
    _, spread = bootstrap(metric, *_gaussian_scores(rng, 2000), np.random.default_rng(3), n_resamples=300)
    assert spread == pytest.approx(np.std(independent, ddof=1), rel=0.2)


def test_spread_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(4)
    small = bootstrap(auc, *_gaussian_scores(rng, 1000), np.random.default_rng(5), n_resamples=200)[1]
    large = bootstrap(auc, *_gaussian_scores(rng, 16000), np.random.default_rng(5), n_resamples=200)[1]
    assert small / large == pytest.approx(4.0, rel=0.25)


def test_resamples_keep_the_class_sizes():
    labels, scores = _gaussian_scores(np.random.default_rng(6), 40)
    labels, scores = labels[:25], scores[:25]  # 20 background, 5 signal
    seen = []

    def record(resampled_labels, resampled_scores, sample_weight=None):
        seen.append(int(resampled_labels.sum()))
        return auc(resampled_labels, resampled_scores, sample_weight)

    bootstrap(record, labels, scores, np.random.default_rng(7), n_resamples=50)
    assert set(seen) == {5}


def test_reproducible_and_weights_pass_through():
    labels, scores = _gaussian_scores(np.random.default_rng(8), 500)
    weights = np.random.default_rng(9).uniform(0.5, 1.5, labels.size)
    first = bootstrap(auc, labels, scores, np.random.default_rng(10), sample_weight=weights)
    again = bootstrap(auc, labels, scores, np.random.default_rng(10), sample_weight=weights)
    assert first == again
    assert first[0] == auc(labels, scores, weights) != auc(labels, scores)


@pytest.mark.parametrize("n_resamples", [1, 0, 2.5, True])
def test_bad_resample_count_raises(n_resamples):
    labels, scores = _gaussian_scores(np.random.default_rng(11), 100)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap(auc, labels, scores, np.random.default_rng(0), n_resamples=n_resamples)


def test_bad_rng_and_labels_raise():
    labels, scores = _gaussian_scores(np.random.default_rng(12), 100)
    with pytest.raises(TypeError):
        bootstrap(auc, labels, scores, 0)
    with pytest.raises(ValueError, match="both signal and background"):
        bootstrap(auc, np.ones(100, dtype=int), scores, np.random.default_rng(0))
