"""Tests of the Monte Carlo estimates and unweighting of weighted events."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.integration import (
    estimate,
    reduced_maximum,
    relative_std,
    unweight,
    unweighting_efficiency,
)


def test_estimate_of_a_known_integral():
    """int_0^1 3 x^2 dx = 1 with uniform points; the error is std / sqrt(N) and covers the truth."""
    x = np.random.default_rng(0).random(100_000)
    result = estimate(3 * x**2)
    assert result.error == pytest.approx(np.std(3 * x**2, ddof=1) / np.sqrt(len(x)))
    assert abs(result.value - 1) < 4 * result.error
    # Var(3 x^2) = 9/5 - 1 = 4/5
    assert relative_std(3 * x**2) == pytest.approx(np.sqrt(0.8), rel=0.01)
    assert "+-" in str(result)


def test_importance_sampling_lowers_the_variance():
    """The same integral with points drawn from q(x) = 2x (x = sqrt(r)): weights 3x/2, variance 1/8."""
    x = np.sqrt(np.random.default_rng(1).random(100_000))
    weights = 3 * x**2 / (2 * x)
    assert abs(estimate(weights).value - 1) < 4 * estimate(weights).error
    assert relative_std(weights) == pytest.approx(np.sqrt(1 / 8), rel=0.01)


def test_unweighting_efficiency_and_flat_weights():
    assert unweighting_efficiency(np.array([1.0, 2.0, 3.0, 0.0])) == pytest.approx(1.5 / 3)
    assert unweighting_efficiency(np.full(10, 7.0)) == 1.0
    assert relative_std(np.full(10, 7.0)) == 0.0


def test_unweighted_events_follow_the_weighted_distribution():
    """Uniform x with weights 2x: the kept points are distributed as 2x (mean 2/3), and the kept fraction
    is the unweighting efficiency 1/2."""
    rng = np.random.default_rng(2)
    x = rng.random(200_000)
    keep = unweight(2 * x, rng)
    assert keep.dtype == bool
    assert keep.mean() == pytest.approx(unweighting_efficiency(2 * x), abs=0.005)
    kept = x[keep]
    assert abs(kept.mean() - 2 / 3) < 5 * kept.std() / np.sqrt(len(kept))


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.array([1.0, np.nan]), "NaN"),
        (np.array([1.0, -1.0]), ">= 0"),
        (np.zeros(5), "all weights are zero"),
        (np.ones((2, 2)), "shape"),
        (np.ones(1), "at least 2"),
    ],
)
def test_bad_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        estimate(weights)


def test_unweight_needs_a_generator():
    with pytest.raises(TypeError, match="default_rng"):
        unweight(np.ones(3), rng=0)


def test_reduced_maximum_leaves_the_requested_overweight():
    weights = np.array([10.0, 5.0, 3.0, 1.0, 1.0])  # sum 20
    assert reduced_maximum(weights, 0.0) == 10.0
    # w_max = 5 leaves 10 - 5 = 5 = 25 % above it; w_max = 3 leaves 7 + 2 = 9 = 45 %; w_max = 6 leaves 20 %
    assert reduced_maximum(weights, 0.25) == pytest.approx(5.0)
    assert reduced_maximum(weights, 0.45) == pytest.approx(3.0)
    assert reduced_maximum(weights, 0.2) == pytest.approx(6.0)
    assert unweighting_efficiency(weights, 0.25) == pytest.approx(4.0 / 5.0)


def test_reduced_maximum_on_a_heavy_tail():
    """Pareto weights: the reduced maximum leaves exactly the allowed overweight, never exceeds max(w), and
    shrinks as more overweight is allowed."""
    w = np.random.default_rng(3).pareto(1.5, 20_000) + 1
    maxima = [reduced_maximum(w, fraction) for fraction in (0.0, 1e-4, 1e-3, 1e-2)]
    assert maxima[0] == w.max()
    assert maxima == sorted(maxima, reverse=True) and len(set(maxima)) == 4
    for fraction, w_max in zip((1e-4, 1e-3, 1e-2), maxima[1:], strict=True):
        assert np.maximum(w - w_max, 0).sum() == pytest.approx(fraction * w.sum())


def test_bad_overweight():
    with pytest.raises(ValueError, match="overweight"):
        reduced_maximum(np.ones(3), 1.0)
