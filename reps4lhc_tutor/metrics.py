"""Figures of merit for classifiers and regressors: ROC curves, AUC, background rejection, calibration,
bootstrap uncertainties, pulls.

Classifier conventions: label 1 is signal, 0 is background, and a larger score means more signal-like.
A cut ``score > t`` keeps a fraction ``eps_S`` of the signal (signal efficiency, true-positive rate) and a
fraction ``eps_B`` of the background (background efficiency, false-positive rate); the background
rejection is ``1 / eps_B``. The curves come from scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import metrics as _sk

from .config import check_rng

__all__ = ["auc", "bootstrap", "calibration", "pulls", "rejection_at", "roc_curve"]


def _finite_float(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(
            f"{name} contains {arr.size - int(np.count_nonzero(finite))} NaN or infinite values; "
            f"find them with np.isfinite (a diverged training often produces them)."
        )
    return arr


def _check_classification(
    labels: ArrayLike,
    scores: ArrayLike,
    sample_weight: ArrayLike | None,
    *,
    name: str = "scores",
    both_classes: bool = True,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Check ``(n,)`` labels in {0, 1}, finite ``(n,)`` scores (called ``name`` in messages) and optional
    non-negative ``(n,)`` weights; with ``both_classes``, also that signal and background are present."""
    labels, scores = np.asarray(labels), _finite_float(scores, name)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(
            f"labels and {name} must be 1-d with one entry per event, got shapes {labels.shape} and "
            f"{scores.shape}; flatten with .ravel() or select the signal column of a (n, 2) output."
        )
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        found = np.unique(labels)[:6]
        raise ValueError(f"labels must be 0 (background) or 1 (signal), found values {found}.")
    n_signal = int(np.count_nonzero(labels == 1))
    if both_classes and n_signal in (0, labels.size):
        raise ValueError(
            f"need both signal and background events, got {n_signal} signal of {labels.size}: "
            f"efficiencies are undefined for a missing class."
        )
    if sample_weight is not None:
        sample_weight = _finite_float(sample_weight, "sample_weight")
        if sample_weight.shape != labels.shape:
            raise ValueError(f"sample_weight must have shape {labels.shape}, got {sample_weight.shape}.")
        if (sample_weight < 0).any():
            raise ValueError(
                "sample_weight must be >= 0: with negative weights the ROC curve is not monotonic."
            )
    return labels.astype(np.int64), scores, sample_weight


def roc_curve(
    labels: ArrayLike, scores: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Background and signal efficiency for every cut on the score.

    Parameters
    ----------
    labels : array, shape ``(n,)``
        1 for signal, 0 for background.
    scores : array, shape ``(n,)``
        Classifier outputs, larger meaning more signal-like.
    sample_weight : array, shape ``(n,)``, optional
        Non-negative event weights.

    Returns
    -------
    eff_bkg, eff_sig : arrays, shape ``(k,)``
        ``eps_B`` and ``eps_S`` for the cuts ``score >= thresholds``, both non-decreasing from 0 to 1.
    thresholds : array, shape ``(k,)``
        Decreasing; the first is ``inf`` (nothing passes).
    """
    labels, scores, sample_weight = _check_classification(labels, scores, sample_weight)
    eff_bkg, eff_sig, thresholds = _sk.roc_curve(labels, scores, sample_weight=sample_weight)
    return eff_bkg, eff_sig, thresholds


def auc(labels: ArrayLike, scores: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve: the probability that a random signal event outscores a random background one.

    1 for perfect separation, 0.5 for guessing; reversing the scores turns ``AUC`` into ``1 - AUC``.
    Arguments as in :func:`roc_curve`.
    """
    labels, scores, sample_weight = _check_classification(labels, scores, sample_weight)
    return float(_sk.roc_auc_score(labels, scores, sample_weight=sample_weight))


def rejection_at(
    labels: ArrayLike,
    scores: ArrayLike,
    signal_efficiency: float = 0.3,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Background rejection ``1 / eps_B`` at a fixed signal efficiency ``eps_S``.

    ``eps_B`` is read off the ROC curve by linear interpolation between the two neighbouring cuts; where
    several cuts reach exactly ``eps_S`` the one with the lowest ``eps_B`` is used. Arguments as in
    :func:`roc_curve`.

    Parameters
    ----------
    signal_efficiency : float
        The working point ``eps_S`` in ``(0, 1]``; 0.3 is the usual choice for top tagging.

    Raises
    ------
    ValueError
        If no background event survives the cut (``eps_B = 0``): the rejection is then only known to exceed
        the number of background events, so use a larger background sample or a higher ``eps_S``.
    """
    if not 0 < signal_efficiency <= 1:
        raise ValueError(f"signal_efficiency must be in (0, 1], got {signal_efficiency}.")
    eff_bkg, eff_sig, _ = roc_curve(labels, scores, sample_weight)
    upper = int(np.searchsorted(eff_sig, signal_efficiency, side="left"))  # first cut with eps_S >= target
    lower = upper - 1  # eff_sig[0] = 0 < target, so lower >= 0
    fraction = (signal_efficiency - eff_sig[lower]) / (eff_sig[upper] - eff_sig[lower])
    background = eff_bkg[lower] + fraction * (eff_bkg[upper] - eff_bkg[lower])
    if background <= 0:
        n_background = int(np.count_nonzero(np.asarray(labels) == 0))
        raise ValueError(
            f"no background event passes the cut at eps_S = {signal_efficiency}, so 1/eps_B is only known to "
            f"exceed the {n_background} background events; use more background or a higher signal efficiency."
        )
    return float(1 / background)


def calibration(
    labels: ArrayLike, probabilities: ArrayLike, n_bins: int = 10
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Reliability diagram: the fraction of signal among events binned in the predicted signal probability.

    A classifier is calibrated when, among events with output ``D``, a fraction ``D`` is signal; its points
    then lie on the diagonal. This holds for a perfectly trained cross-entropy classifier on the class
    mixture it was trained on; on a test set with other class fractions the diagonal moves. One class alone
    is allowed (a control region of background only has a signal fraction of 0 in every bin).

    Parameters
    ----------
    labels : array, shape ``(n,)``
        1 for signal, 0 for background.
    probabilities : array, shape ``(n,)``
        Predicted signal probabilities in ``[0, 1]`` (e.g. ``torch.sigmoid`` of a logit).
    n_bins : int
        Equal-width bins on ``[0, 1]``; empty bins are left out.

    Returns
    -------
    mean_probability, signal_fraction : arrays, shape ``(k,)``
        Per non-empty bin: the mean prediction and the fraction of signal events.
    counts : array, shape ``(k,)``
        Events per bin; the binomial error of ``signal_fraction`` is ``sqrt(f (1 - f) / counts)``.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    labels, probabilities, _ = _check_classification(
        labels, probabilities, None, name="probabilities", both_classes=False
    )
    if probabilities.min() < 0 or probabilities.max() > 1:
        raise ValueError(
            f"probabilities must lie in [0, 1], got values in [{probabilities.min():.3g}, "
            f"{probabilities.max():.3g}]; pass torch.sigmoid(logits) rather than logits."
        )
    bins = np.minimum((probabilities * n_bins).astype(np.int64), n_bins - 1)  # p = 1 joins the last bin
    counts = np.bincount(bins, minlength=n_bins)
    filled = counts > 0
    mean_probability = np.bincount(bins, weights=probabilities, minlength=n_bins)[filled] / counts[filled]
    signal_fraction = np.bincount(bins, weights=labels, minlength=n_bins)[filled] / counts[filled]
    return mean_probability, signal_fraction, counts[filled]


def bootstrap(
    metric: Callable[..., float],
    labels: ArrayLike,
    scores: ArrayLike,
    rng: np.random.Generator,
    *,
    n_resamples: int = 100,
    sample_weight: ArrayLike | None = None,
) -> tuple[float, float]:
    """A classifier metric on the full sample and its bootstrap standard deviation.

    The events are resampled with replacement ``n_resamples`` times, signal and background separately
    (stratified), so that every resample has the class sizes of the sample; the spread of the metric over the
    resamples estimates its statistical uncertainty from the finite test set. It says nothing about the
    spread between trainings: for that, train with several seeds.

    Parameters
    ----------
    metric : callable
        ``metric(labels, scores, sample_weight=...) -> float``, e.g. :func:`auc` or
        ``functools.partial(rejection_at, signal_efficiency=0.3)``.
    labels, scores, sample_weight : arrays, shape ``(n,)``
        As in :func:`roc_curve`.
    rng : numpy.random.Generator
        E.g. ``np.random.default_rng(0)``.
    n_resamples : int
        At least 2; 100 gives the standard deviation to about 7 %.

    Returns
    -------
    (float, float)
        The metric on the full sample and the standard deviation over the resamples.
    """
    check_rng(rng)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer >= 2, got {n_resamples!r}.")
    labels, scores, sample_weight = _check_classification(labels, scores, sample_weight)
    classes = [np.flatnonzero(labels == c) for c in (0, 1)]
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        index = np.concatenate([rng.choice(members, size=members.size) for members in classes])
        weights = None if sample_weight is None else sample_weight[index]
        values[k] = metric(labels[index], scores[index], sample_weight=weights)
    return float(metric(labels, scores, sample_weight=sample_weight)), float(values.std(ddof=1))


def pulls(pred: ArrayLike, truth: ArrayLike, sigma: ArrayLike) -> NDArray[np.float64]:
    """Pulls ``(pred - truth) / sigma``: a calibrated uncertainty gives a unit Gaussian.

    Parameters
    ----------
    pred, truth : arrays, shape ``(...)``
        Predictions and true values, with equal shapes (no broadcasting, which would hide a ``(n,)`` vs
        ``(n, 1)`` mismatch).
    sigma : float or array, shape ``(...)``
        Predicted uncertainties, all positive; a scalar applies to every entry.

    Returns
    -------
    array, shape ``(...)``
    """
    pred, truth, sigma = (
        _finite_float(a, n) for a, n in ((pred, "pred"), (truth, "truth"), (sigma, "sigma"))
    )
    if pred.shape != truth.shape or sigma.shape not in ((), pred.shape):
        raise ValueError(
            f"pred and truth need equal shapes and sigma the same shape or a scalar, got {pred.shape}, "
            f"{truth.shape} and {sigma.shape}; check for (n,) vs (n, 1) (use .squeeze(-1))."
        )
    if (sigma <= 0).any():
        raise ValueError(f"sigma must be positive, found {int(np.count_nonzero(sigma <= 0))} values <= 0.")
    return (pred - truth) / sigma
