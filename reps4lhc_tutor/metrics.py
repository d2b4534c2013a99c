"""Figures of merit for classifiers and regressors: ROC curves, AUC, background rejection, calibration,
bootstrap uncertainties, pulls, the classifier two-sample test of a generative network, the quantile
MSE that measures how many events a generated sample is worth, and the linear probe of a learned
representation.

Classifier conventions: label 1 is signal, 0 is background, and a larger score means more signal-like.
A cut ``score > t`` keeps a fraction ``eps_S`` of the signal (signal efficiency, true-positive rate) and a
fraction ``eps_B`` of the background (background efficiency, false-positive rate); the background
rejection is ``1 / eps_B``. The curves come from scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn import metrics as _sk

from .config import check_rng

__all__ = [
    "ClassifierTest",
    "auc",
    "bootstrap",
    "calibration",
    "classifier_test",
    "equivalent_sample_size",
    "expected_quantile_mse",
    "linear_probe",
    "pulls",
    "quantile_mse",
    "rejection_at",
    "roc_curve",
]


def _finite_float(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        raise ValueError(
            f"{name} contains {arr.size - int(np.count_nonzero(finite))} NaN or infinite values; "
            f"find them with np.isfinite (a diverged training often produces them)."
        )
    return arr


def _weighted_counts(
    values: NDArray[np.float64], edges: ArrayLike, weights: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sum of the (unit) weights per bin and its Poisson error ``sqrt(sum w^2)``, both ``(bins,)``;
    the one histogram with errors of plotting and unfolding."""
    counts = np.histogram(values, bins=edges, weights=weights)[0].astype(float)
    sum_w2 = np.histogram(values, bins=edges, weights=None if weights is None else weights**2)[0]
    return counts, np.sqrt(sum_w2)


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
    _check_resamples(n_resamples)
    labels, scores, sample_weight = _check_classification(labels, scores, sample_weight)
    classes = [np.flatnonzero(labels == c) for c in (0, 1)]
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        index = np.concatenate([rng.choice(members, size=members.size) for members in classes])
        weights = None if sample_weight is None else sample_weight[index]
        values[k] = metric(labels[index], scores[index], sample_weight=weights)
    return float(metric(labels, scores, sample_weight=sample_weight)), float(values.std(ddof=1))


def _check_resamples(n_resamples: object) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
        raise ValueError(f"n_resamples must be an integer >= 2, got {n_resamples!r}.")


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


# --- classifier two-sample test of a generative network -----------------------------------------------------

_MIN_EVENTS = 10  # fewest events of each sample in its training and in its test part
_CLIP = 1e-6  # D is clipped to [_CLIP, 1 - _CLIP], so 1e-6 <= w <= 1e6 (about)


@dataclass(frozen=True, eq=False)  # eq=False: == on array fields would be ambiguous
class ClassifierTest:
    """Result of :func:`classifier_test`. Label 1 is the true sample, 0 the generated one.

    ``w(x) = D(x) / (1 - D(x))`` estimates the density ratio ``p_true(x) / p_gen(x)``; ``D`` is clipped to
    ``[1e-6, 1 - 1e-6]`` first. A histogram of ``weights_generated`` (log-scaled ``w``) is the per-event
    diagnostic: narrow around 1 for a good generator, with tails where it misses phase space; histogramming
    an observable of ``generated[generated_index]`` with and without ``weights_generated`` shows where.
    """

    auc: float  # AUC of D on the held-out events: 0.5 when D cannot tell the samples apart
    auc_std: float  # its stratified bootstrap spread over the held-out events (test statistics only)
    weights_generated: NDArray[np.float64]  # (n_test_gen,) w on the held-out generated events
    weights_true: NDArray[np.float64]  # (n_test_true,) w on the held-out true events
    generated_index: NDArray[np.int64]  # (n_test_gen,) their rows in `generated`, increasing
    true_index: NDArray[np.int64]  # (n_test_true,) their rows in `true`, increasing
    n_train: int  # events the classifier was fitted on, both samples (incl. its own validation split)
    classifier: Any  # the fitted classifier, e.g. for `weights` on events it has not seen

    @property
    def significance(self) -> float:
        """``(auc - 0.5) / auc_std``: how many bootstrap standard deviations the AUC lies above 0.5."""
        return (self.auc - 0.5) / self.auc_std if self.auc_std > 0 else float("nan")

    def weights(self, events: ArrayLike) -> NDArray[np.float64]:
        """``w = D / (1 - D)`` (``D`` clipped as above) of the fitted classifier on ``events``.

        Parameters
        ----------
        events : array, shape ``(n, features)``
            Events with the features the classifier was trained on. Weights of events that were in the
            training part are biased towards the training sample (overfitting); use the held-out ones to judge
            the generator.

        Returns
        -------
        array, shape ``(n,)``
        """
        n_features = getattr(self.classifier, "n_features_in_", None)
        events = _check_events(events, "events", n_features, "the classifier's training data")
        return _weights(_true_probability(self.classifier, events))


def _check_events(
    events: ArrayLike, name: str, n_features: int | None = None, reference: str = ""
) -> NDArray[np.float64]:
    """Finite ``(n, features)`` events, with ``n_features`` features (as ``reference`` has) if given."""
    arr = np.asarray(events, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-d with shape (events, features), got shape {arr.shape}; "
            f"a single observable x becomes x[:, None], several go side by side with np.column_stack."
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features but {reference} has {n_features}: "
            f"pass the same observables, in the same order, for both samples."
        )
    return _finite_float(arr, name)


def _split(n: int, test_fraction: float, name: str, rng: np.random.Generator) -> tuple[NDArray, NDArray]:
    """Random (train, test) rows of a sample of ``n`` events, each sorted."""
    n_test = round(test_fraction * n)
    if min(n_test, n - n_test) < _MIN_EVENTS:
        raise ValueError(
            f"{name} has {n} events: with test_fraction={test_fraction} that leaves {n - n_test} to train "
            f"on and {n_test} to test, and each part needs at least {_MIN_EVENTS}; pass more events (a "
            f"useful test needs thousands) or move test_fraction towards 0.5."
        )
    order = rng.permutation(n)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def _default_classifier(n_train: int, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=0.05,  # a slightly more accurate log w than 0.1 in the toys, for twice the trees
        max_iter=500,  # a bound: early stopping ends at ~20 trees with nothing to learn, ~200 in 10D toys
        max_leaf_nodes=15,  # shallow trees: smoother log w in 1D and 10D toys than 31 leaves, as good an AUC
        min_samples_leaf=min(100, max(20, n_train // 100)),  # no leaf fitted to a handful of events
        l2_regularization=1.0,  # mild shrinkage of leaf values
        early_stopping=True,  # on the log loss of an internal validation split: D stays a probability
        validation_fraction=0.2,  # stratified by sklearn
        n_iter_no_change=20,  # patience in trees
        random_state=seed,  # the validation split follows the caller's rng
    )


def _true_probability(classifier: Any, events: NDArray[np.float64]) -> NDArray[np.float64]:
    """``D``, the classifier's probability of label 1 (true), shape ``(n,)``."""
    probabilities = np.asarray(classifier.predict_proba(events), dtype=np.float64)
    classes = list(getattr(classifier, "classes_", [0, 1]))
    if probabilities.shape != (len(events), 2) or sorted(classes) != [0, 1]:
        raise ValueError(
            f"classifier.predict_proba must return shape (n, 2) for the classes 0 (generated) and 1 (true), "
            f"got shape {probabilities.shape} for classes {classes}."
        )
    return _finite_float(probabilities[:, classes.index(1)], "classifier.predict_proba")


def _weights(probability: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(probability, _CLIP, 1 - _CLIP)
    return clipped / (1 - clipped)


def classifier_test(
    generated: ArrayLike,
    true: ArrayLike,
    rng: np.random.Generator,
    *,
    test_fraction: float = 0.5,
    classifier: Any = None,
    n_resamples: int = 100,
) -> ClassifierTest:
    """Classifier two-sample test of a generative network (Das et al. 2023, arXiv:2305.16774).

    A classifier ``D(x)`` learns to tell true events (label 1) from generated ones (label 0). Each sample is
    split at random into a training and a test part; ``D`` is fitted on the training parts and judged on the
    test parts only, so its AUC is 0.5 in expectation when the two samples come from one distribution, however
    much ``D`` overfits. An AUC above 0.5 by many ``auc_std`` means the generator is distinguishable from
    truth. An imperfect classifier only finds part of the difference: the AUC is a lower bound on what an
    optimal one would reach.

    The classes are weighted to equal total weight in the fit (balanced), so ``D`` is trained for equal priors
    and, if optimal, is ``D = p_true / (p_true + p_gen)``; then ``w = D / (1 - D) = p_true(x) / p_gen(x)``,
    the density ratio itself, whatever the sample sizes (without balancing it would carry an extra factor
    ``n_true / n_gen``). ``D`` is clipped to ``[1e-6, 1 - 1e-6]`` before ``w`` is formed, so ``w`` stays
    finite (``1e-6 <= w <= 1e6``); an infinite weight is useless in a histogram. The mean of ``w`` over
    generated events estimates the integral of ``p_true``, 1: a check of the calibration of ``D``. And ``w``
    reweights generated events to the true distribution.

    Parameters
    ----------
    generated : array, shape ``(n_gen, features)``
        Events from the generative network; finite.
    true : array, shape ``(n_true, features)``
        Events from the reference (simulation or data), with the same features in the same order; finite.
        The sizes may differ.
    rng : numpy.random.Generator
        Draws the train/test split, the default classifier's seed and the bootstrap resamples: one seed
        reproduces the result.
    test_fraction : float
        Fraction of each sample held out, in ``(0, 1)``; each part of each sample needs at least 10 events.
    classifier : estimator, optional
        Any object with ``fit(X, y, sample_weight=...)`` and ``predict_proba(X) -> (n, 2)``, columns in the
        order of its ``classes_`` (0, 1 without one): scikit-learn style. It is fitted in place, and its own
        seed, not ``rng``, governs its randomness. Default: scikit-learn's
        ``HistGradientBoostingClassifier`` with 15-leaf trees, learning rate 0.05, at most 500 trees with
        early stopping (patience 20) on the log loss of a 20 % validation split, ``min_samples_leaf`` 1 % of
        the training events clipped to [20, 100], L2 regularization 1, and a seed drawn from ``rng``; it fits
        2 x 20k training events of 10 features in a few seconds on 2 CPU cores.
    n_resamples : int
        Bootstrap resamples of the held-out events for ``auc_std`` (see :func:`bootstrap`); at least 2.

    Returns
    -------
    ClassifierTest
        ``auc``, ``auc_std``, the weights on the held-out events of each sample and their row indices, the
        number of training events and the fitted classifier. ``auc_std`` is the statistical spread from the
        finite test set; a refit with another seed varies the AUC further when the samples differ.

    Examples
    --------
    >>> result = classifier_test(generated, true, np.random.default_rng(0))
    >>> print(f"AUC = {result.auc:.3f} +- {result.auc_std:.3f}")
    >>> plt.hist(np.log10(result.weights_generated), bins=50)  # narrow around 0 for a good generator
    """
    check_rng(rng)
    _check_resamples(n_resamples)
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, int | float)
        or not 0 < test_fraction < 1
    ):
        raise ValueError(f"test_fraction must be a number in (0, 1), e.g. 0.5, got {test_fraction!r}.")
    if classifier is not None and not (hasattr(classifier, "fit") and hasattr(classifier, "predict_proba")):
        raise TypeError(
            f"classifier must have fit(X, y, sample_weight=...) and predict_proba(X) like a scikit-learn "
            f"classifier, got {type(classifier).__name__}."
        )
    generated = _check_events(generated, "generated")
    true = _check_events(true, "true", generated.shape[1], "generated")

    generated_train, generated_index = _split(len(generated), test_fraction, "generated", rng)
    true_train, true_index = _split(len(true), test_fraction, "true", rng)
    n_train = generated_train.size + true_train.size
    x_train = np.concatenate([generated[generated_train], true[true_train]])  # (n_train, features)
    y_train = np.concatenate([np.zeros(generated_train.size), np.ones(true_train.size)]).astype(np.int64)
    # balanced: each class carries total weight n_train / 2, so D is trained for equal priors
    sample_weight = np.where(
        y_train == 1, n_train / (2 * true_train.size), n_train / (2 * generated_train.size)
    )

    if classifier is None:
        classifier = _default_classifier(n_train, seed=int(rng.integers(2**31 - 1)))
        classifier.fit(x_train, y_train, sample_weight=sample_weight)
        if classifier.n_iter_ >= classifier.max_iter:
            warnings.warn(
                f"the classifier used all {classifier.max_iter} trees without early stopping: it may be "
                f"undertrained, so the AUC may understate the difference; pass a classifier with more trees.",
                stacklevel=2,
            )
    else:
        classifier.fit(x_train, y_train, sample_weight=sample_weight)

    d_generated = _true_probability(classifier, generated[generated_index])  # (n_test_gen,)
    d_true = _true_probability(classifier, true[true_index])  # (n_test_true,)
    scores = np.concatenate([d_generated, d_true])
    if np.ptp(scores) == 0:
        warnings.warn(
            "the classifier gives every held-out event the same output, so the test has no power (AUC 0.5 "
            "with zero spread); it learned nothing, usually from too few training events.",
            stacklevel=2,
        )
    labels = np.concatenate([np.zeros(d_generated.size), np.ones(d_true.size)])
    area, area_std = bootstrap(auc, labels, scores, rng, n_resamples=n_resamples)
    return ClassifierTest(
        auc=area,
        auc_std=area_std,
        weights_generated=_weights(d_generated),
        weights_true=_weights(d_true),
        generated_index=generated_index.astype(np.int64),
        true_index=true_index.astype(np.int64),
        n_train=n_train,
        classifier=classifier,
    )


def quantile_mse(sample: ArrayLike, truth: ArrayLike, n_bins: int = 20) -> float | NDArray[np.float64]:
    """Mean squared difference of bin fractions in ``n_bins`` bins of equal probability under ``truth``.

    Per feature, the bin edges are the quantiles ``j / M`` of ``truth`` (``M = n_bins``; the outer bins are
    open), and ``MSE = (1/M) sum_j (f_j - t_j)^2`` with the fractions ``f_j`` of ``sample`` and ``t_j``
    (``= 1/M`` up to ties) of ``truth`` in bin ``j``. Equal-probability bins weigh every region by what the
    truth puts there, tails included, and make the expectation for a sample drawn from the truth itself
    independent of the density (:func:`expected_quantile_mse`).

    Parameters
    ----------
    sample : array, shape ``(n,)`` or ``(n, features)``
        Events to judge (generated, or a training sample).
    truth : array, shape ``(n_truth,)`` or ``(n_truth, features)``
        A large independent sample of the true density.
    n_bins
        ``M >= 2``.

    Returns
    -------
    float for 1-d inputs, else array of shape ``(features,)``.
    """
    sample, truth = _finite_float(sample, "sample"), _finite_float(truth, "truth")
    one_dimensional = sample.ndim == 1
    if one_dimensional:
        sample, truth = sample[:, None], truth[:, None] if truth.ndim == 1 else truth
    if sample.ndim != 2 or truth.ndim != 2 or sample.shape[1] != truth.shape[1]:
        raise ValueError(
            f"sample and truth must be (n,) or (n, features) with the same features, got {sample.shape} "
            f"and {truth.shape}."
        )
    _check_bins(n_bins)
    if len(sample) == 0 or len(truth) < n_bins:
        raise ValueError(
            f"need events in sample and at least n_bins={n_bins} in truth, got {len(sample)} "
            f"and {len(truth)}."
        )
    mse = np.empty(sample.shape[1])
    for k in range(sample.shape[1]):
        edges = np.quantile(truth[:, k], np.linspace(0, 1, n_bins + 1)[1:-1])  # (M - 1,) inner edges
        fractions = [
            np.bincount(np.searchsorted(edges, x, side="right"), minlength=n_bins) / len(x)
            for x in (sample[:, k], truth[:, k])
        ]
        mse[k] = np.mean((fractions[0] - fractions[1]) ** 2)
    return float(mse[0]) if one_dimensional else mse


def expected_quantile_mse(n: ArrayLike, n_bins: int = 20, n_truth: float = np.inf) -> NDArray[np.float64]:
    """Expected :func:`quantile_mse` of ``n`` events drawn from the truth itself.

    Bin ``j`` holds a fraction ``p = 1/M`` of the truth; the fraction of ``n`` independent events in it
    varies binomially by ``p (1 - p) / n``, and the true probability between quantiles estimated from
    ``n_truth`` events by about ``p (1 - p) / n_truth``: ``E[MSE] = (M - 1) / M^2 * (1/n + 1/n_truth)``.

    Parameters
    ----------
    n : array_like
        Sample sizes (any shape).
    n_bins
        ``M``, as in :func:`quantile_mse`.
    n_truth
        Size of the truth sample (``inf``: the exact quantiles).

    Returns
    -------
    array of the shape of ``n``.
    """
    _check_bins(n_bins)
    n = _finite_float(n, "n")
    if (n <= 0).any() or not n_truth > 0:
        raise ValueError(f"sample sizes must be positive, got n={n} and n_truth={n_truth}.")
    return (n_bins - 1) / n_bins**2 * (1 / n + 1 / n_truth)


def equivalent_sample_size(mse: ArrayLike, n_bins: int = 20, n_truth: float = np.inf) -> NDArray[np.float64]:
    """The number of truth events whose expected :func:`quantile_mse` equals ``mse``.

    Inverts :func:`expected_quantile_mse`: ``n_eq = 1 / (M^2 / (M - 1) * mse - 1 / n_truth)``. For a
    generated sample this is its gen-equivalent size; divided by the generator's training size it is the
    amplification factor. ``inf`` where ``mse`` is at or below what the truth sample itself can resolve.

    Returns
    -------
    array of the shape of ``mse``.
    """
    _check_bins(n_bins)
    mse = _finite_float(mse, "mse")
    if (mse < 0).any() or not n_truth > 0:
        raise ValueError(f"mse must be >= 0 and n_truth > 0, got mse={mse} and n_truth={n_truth}.")
    excess = n_bins**2 / (n_bins - 1) * mse - 1 / n_truth
    with np.errstate(divide="ignore"):  # excess <= 0 is replaced by inf below
        return np.where(excess > 0, 1 / excess, np.inf)


def _check_bins(n_bins: object) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}.")


# --- linear probe of a representation -----------------------------------------------------------------------


def _check_labels(labels: ArrayLike, n_events: int, name: str, features: str) -> NDArray[np.int64]:
    """``(n_events,)`` labels in {0, 1} with both classes present."""
    labels = np.asarray(labels)
    if labels.shape != (n_events,):
        raise ValueError(
            f"{name} must have shape ({n_events},), one label per row of {features}, "
            f"got shape {labels.shape}."
        )
    if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"{name} must be 0 (background) or 1 (signal), found values {np.unique(labels)[:6]}."
        )
    n_signal = int(np.count_nonzero(labels == 1))
    if n_signal in (0, n_events):
        raise ValueError(
            f"{name} needs both signal and background events, got {n_signal} signal of {n_events}: a probe "
            f"cannot be fitted or judged on one class (split the events stratified by label)."
        )
    return labels.astype(np.int64)


def linear_probe_scores(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    test_features: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    max_iter: int = 1000,
) -> NDArray[np.float64]:
    """Test-event logits of a logistic regression on frozen features: the linear probe of a representation.

    The standard judge of a self-supervised representation (e.g. JetCLR embeddings, top against QCD): the
    encoder is frozen and only a linear classifier is trained on its outputs. Steps:

    1. standardise every feature with the mean and standard deviation of the *training* events (weighted by
       ``sample_weight`` if given), and apply the same shift and scale to the test events; a feature that is
       constant on the training events (a dead unit) is only shifted, to 0, and so gets weight 0;
    2. fit scikit-learn's ``LogisticRegression`` (L-BFGS) to the training events;
    3. return its logit on the test events (:func:`linear_probe` turns them into the AUC, and
       :func:`rejection_at` into a background rejection).

    Regularisation: an L2 penalty ``||w||^2 / 2`` on the weights (not the intercept) added to the summed
    training log-loss (``C = 1``, the scikit-learn default). Against the mean log-loss that is a penalty of
    strength ``1 / (2 n_train)`` on standardised features: with thousands of training events it barely moves
    the fit, yet it keeps the optimum finite when the training events are linearly separable and when there
    are more features than events. Standardisation makes the penalty, and so the result, independent of the
    units of each feature: rescaling a feature leaves the AUC unchanged. A ``ConvergenceWarning`` from
    scikit-learn means ``max_iter`` was too small.

    Parameters
    ----------
    train_features : array, shape ``(n_train, features)``
        Frozen representations of the training events (``.detach().cpu().numpy()`` for torch tensors).
    train_labels : array, shape ``(n_train,)``
        1 for signal, 0 for background; both classes present.
    test_features : array, shape ``(n_test, features)``
        Representations of held-out events, the same features in the same order.
    sample_weight : array, shape ``(n_train,)``, optional
        Non-negative weights of the training events, in the standardisation and in the fit (integer weights
        act as repeated events); each class needs a positive total. The test AUC is unweighted.
    max_iter : int
        Most L-BFGS iterations.

    Returns
    -------
    array, shape ``(n_test,)``
        The probe's logit ``w . f + b`` for every test event (larger: more signal-like).
    """
    from sklearn.linear_model import LogisticRegression

    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}.")
    train_features = _check_events(train_features, "train_features")
    test_features = _check_events(test_features, "test_features", train_features.shape[1], "train_features")
    train_labels = _check_labels(train_labels, len(train_features), "train_labels", "train_features")
    if sample_weight is not None:
        sample_weight = _finite_float(sample_weight, "sample_weight")
        if sample_weight.shape != train_labels.shape:
            raise ValueError(
                f"sample_weight must have shape {train_labels.shape}, one weight per training event, got "
                f"{sample_weight.shape}; the test AUC is unweighted."
            )
        if (sample_weight < 0).any():
            raise ValueError("sample_weight must be >= 0.")
        class_totals = [float(sample_weight[train_labels == c].sum()) for c in (0, 1)]
        if min(class_totals) <= 0:
            raise ValueError(
                f"each class needs a positive total weight, got {class_totals[0]:.3g} for background and "
                f"{class_totals[1]:.3g} for signal."
            )

    # 1. standardise with the training statistics only: the test events must not inform the probe
    mean = np.average(train_features, axis=0, weights=sample_weight)  # (features,)
    std = np.sqrt(np.average((train_features - mean) ** 2, axis=0, weights=sample_weight))  # (features,)
    # A feature constant on the training events carries nothing: shift it to exactly 0 there, do not scale it
    # (its computed mean and std can be off by round-off, and 1 / std would blow that up).
    used = train_features if sample_weight is None else train_features[sample_weight > 0]
    constant = np.ptp(used, axis=0) == 0
    mean[constant], std[constant] = used[0, constant], 1.0
    # 2. fit the linear classifier
    probe = LogisticRegression(C=1.0, max_iter=max_iter)  # L2 penalty ||w||^2 / 2, lbfgs
    probe.fit((train_features - mean) / std, train_labels, sample_weight=sample_weight)
    # 3. score the held-out events
    return probe.decision_function((test_features - mean) / std)


def linear_probe(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    test_features: ArrayLike,
    test_labels: ArrayLike,
    *,
    sample_weight: ArrayLike | None = None,
    max_iter: int = 1000,
) -> float:
    """Test AUC of :func:`linear_probe_scores`: how linearly a representation separates the classes.

    Arguments as in :func:`linear_probe_scores`; ``test_labels``, shape ``(n_test,)``, as ``train_labels``
    for the test events. Returns the unweighted test AUC: 0.5 for features that carry
    no linear information on the label.
    """
    scores = linear_probe_scores(
        train_features, train_labels, test_features, sample_weight=sample_weight, max_iter=max_iter
    )
    test_labels = _check_labels(test_labels, len(scores), "test_labels", "test_features")
    return auc(test_labels, scores)
