"""Unfolding: from detector-level measurements back to the particle level.

Two methods, each the package version of what chapter 6 writes out in a few lines:

* :func:`ibu`, iterative Bayesian unfolding (D'Agostini 1995) of a binned measurement with a response
  matrix from :func:`response_matrix`. Each iteration applies Bayes' theorem with the previous result as the
  prior; it starts from a prior (usually the simulation's truth) and depends on it, less with each iteration.
* :func:`omnifold` (Andreassen et al., PRL 124 (2020) 182001): unbinned and in any number of observables.
  Simulated events come in pairs, ``(x_gen, x_det)``, particle and detector level. Each iteration has two
  classifier reweightings: step 1 reweights the simulation at detector level to the data, the *pull*
  ``omega``; step 2 turns those per-event weights into a function of the particle level, the *push* ``nu``,
  by learning the ratio of the ``omega``-weighted to the ``nu``-weighted simulation at particle level. The
  final ``nu`` reweights the simulated particle-level events to the unfolded distribution, for every
  observable at once.

A classifier ``D`` trained with balanced classes gives the density ratio ``w = D / (1 - D)`` (chapter 4);
here it is a gradient-boosted tree (the one of :func:`~reps4lhc_tutor.metrics.classifier_test`), fitted with
*cross-fitting*: the events are split into ``folds`` parts and each part's weights come from a classifier
that did not see it, so the weights do not inherit the classifier's overfitting.

Comparing an unfolded distribution with a truth: :func:`histogram` (normalised, with statistical errors of
weighted events), :func:`chi2_per_ndf`, and :func:`prior_fraction`, how much of the difference between the
simulation and the truth an unfolding left in its result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .config import check_rng
from .metrics import _default_classifier, _finite_float, _true_probability, _weighted_counts, _weights

__all__ = [
    "OmniFoldResult",
    "chi2_per_ndf",
    "histogram",
    "ibu",
    "omnifold",
    "prior_fraction",
    "response_matrix",
]


def response_matrix(
    truth: ArrayLike, measured: ArrayLike, bins_truth: ArrayLike, bins_measured: ArrayLike | None = None
) -> NDArray[np.float64]:
    """The migration probabilities ``R[j, i] = P(measured in bin j | true in bin i)`` from paired events.

    Parameters
    ----------
    truth, measured : array_like, shape (events,)
        One observable at particle and at detector level, event by event.
    bins_truth, bins_measured : array_like
        Bin edges; ``bins_measured`` defaults to ``bins_truth``.

    Returns
    -------
    ndarray, shape (measured bins, true bins)
        Column ``i`` sums to the efficiency of true bin ``i``: the fraction of its events measured in range.
        A true bin without events has a zero column.
    """
    truth, measured = _finite_float(truth, "truth"), _finite_float(measured, "measured")
    if truth.ndim != 1 or truth.shape != measured.shape or truth.size == 0:
        raise ValueError(
            f"truth and measured must be non-empty 1-d arrays of the same events, got {truth.shape} and "
            f"{measured.shape}."
        )
    bins_truth = np.asarray(bins_truth, np.float64)
    bins_measured = bins_truth if bins_measured is None else np.asarray(bins_measured, np.float64)
    joint = np.histogram2d(measured, truth, bins=(bins_measured, bins_truth))[0]  # (measured, true)
    per_true_bin = np.histogram(truth, bins_truth)[0]
    return np.divide(joint, per_true_bin, out=np.zeros_like(joint), where=per_true_bin > 0)


def ibu(response: ArrayLike, measured: ArrayLike, prior: ArrayLike, iterations: int) -> NDArray[np.float64]:
    """Iterative Bayesian unfolding: the particle-level histogram after each of ``iterations`` iterations.

    With the current estimate ``t`` (``prior`` at the start), Bayes' theorem gives the probability that an
    event measured in bin ``j`` came from true bin ``i``, ``P(i | j) = R[j, i] t_i / sum_k R[j, k] t_k``; the
    new estimate distributes the measurement accordingly and corrects for the efficiency ``eps_i = sum_j
    R[j, i]``: ``t_i <- sum_j P(i | j) m_j / eps_i``.

    Parameters
    ----------
    response : array_like, shape (measured bins, true bins)
        ``R`` as from :func:`response_matrix`.
    measured : array_like, shape (measured bins,)
        The measured histogram (counts, background subtracted).
    prior : array_like, shape (true bins,)
        The starting estimate, e.g. the simulation's particle-level histogram; only its shape matters.
    iterations
        Number of iterations, >= 1.

    Returns
    -------
    ndarray, shape (iterations, true bins)
        Row ``k`` is the estimate after ``k + 1`` iterations, in counts. True bins with zero efficiency stay
        at zero: nothing measured says anything about them.
    """
    response, measured = _finite_float(response, "response"), _finite_float(measured, "measured")
    prior = _finite_float(prior, "prior")
    if response.ndim != 2 or measured.shape != response.shape[:1] or prior.shape != response.shape[1:]:
        raise ValueError(
            f"response must be (measured bins, true bins) = {response.shape} with measured "
            f"{response.shape[:1]} and prior {response.shape[1:]}, got measured {measured.shape} and prior "
            f"{prior.shape}."
        )
    if (response < 0).any() or (measured < 0).any() or (prior < 0).any() or prior.sum() <= 0:
        raise ValueError("response, measured and prior must be non-negative, and the prior not all zero.")
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}.")
    efficiency = response.sum(axis=0)
    estimate, history = prior.copy(), []
    for _ in range(iterations):
        folded = response @ estimate  # (measured bins,): what the estimate would be measured as
        ratio = np.divide(measured, folded, out=np.zeros_like(measured), where=folded > 0)
        estimate = np.divide(
            estimate * (response.T @ ratio), efficiency, out=np.zeros_like(estimate), where=efficiency > 0
        )
        history.append(estimate)
    return np.stack(history)


@dataclass
class OmniFoldResult:
    """What :func:`omnifold` returns; ``sim`` are the simulated event pairs it was given."""

    step1_weights: NDArray[np.float64]  # (iterations, n_sim): omega_i, detector-level pull towards the data
    step2_weights: NDArray[np.float64]  # (iterations, n_sim): nu_i, the same as a function of particle level

    @property
    def weights(self) -> NDArray[np.float64]:
        """``(n_sim,)``: the final particle-level weights, mean 1; the unfolded distribution is the simulated
        particle level weighted by them (times ``n_data / n_sim`` for counts)."""
        return self.step2_weights[-1]


def _check_events(x: ArrayLike, name: str) -> NDArray[np.float64]:
    x = _finite_float(x, name)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(
            f"{name} must be a non-empty array of shape (events,) or (events, features), got {x.shape}."
        )
    return x


def _reweight(
    target: NDArray[np.float64],
    target_weights: NDArray[np.float64],
    source: NDArray[np.float64],
    source_weights: NDArray[np.float64],
    fold_of_target: NDArray[np.int64],
    fold_of_source: NDArray[np.int64],
    rng: np.random.Generator,
    make_classifier: Callable[[int, int], Any],
) -> NDArray[np.float64]:
    """``p_target / p_source`` at each ``source`` event (weighted densities), cross-fitted: the weights of
    the source events in fold ``k`` come from a classifier trained on the other folds of both samples."""
    ratio = np.empty(len(source))
    for fold in range(fold_of_source.max() + 1):
        train_source, train_target = fold_of_source != fold, fold_of_target != fold
        x = np.concatenate([target[train_target], source[train_source]])
        labels = np.concatenate([np.ones(train_target.sum()), np.zeros(train_source.sum())])
        weights = np.concatenate(
            [
                target_weights[train_target] / target_weights[train_target].sum(),  # balanced classes
                source_weights[train_source] / source_weights[train_source].sum(),
            ]
        )
        classifier = make_classifier(len(x), int(rng.integers(2**31)))
        classifier.fit(x, labels, sample_weight=weights * len(x) / 2)
        held_out = fold_of_source == fold
        ratio[held_out] = _weights(_true_probability(classifier, source[held_out]))
    return ratio


def omnifold(
    sim_gen: ArrayLike,
    sim_det: ArrayLike,
    data_det: ArrayLike,
    iterations: int,
    rng: np.random.Generator,
    *,
    folds: int = 2,
    classifier: Callable[[int, int], Any] | None = None,
    data_weights: ArrayLike | None = None,
) -> OmniFoldResult:
    """Unbinned unfolding of ``data_det`` with the simulated pairs ``(sim_gen, sim_det)`` (module docstring).

    Parameters
    ----------
    sim_gen : array_like, shape (n_sim,) or (n_sim, gen features)
        Simulated events at particle level.
    sim_det : array_like, shape (n_sim,) or (n_sim, det features)
        The same events at detector level (row by row).
    data_det : array_like, shape (n_data,) or (n_data, det features)
        The measured events.
    iterations
        OmniFold iterations, >= 1; each one fits ``2 * folds`` classifiers.
    rng
        Draws the folds and the classifiers' seeds.
    folds
        Cross-fitting parts, >= 2.
    classifier
        ``classifier(n_train, seed)`` returns an unfitted scikit-learn-style classifier with
        ``fit(x, y, sample_weight=)`` and ``predict_proba``; default: the gradient-boosted tree of
        :func:`~reps4lhc_tutor.metrics.classifier_test`.
    data_weights : array_like, shape (n_data,), optional
        Non-negative weights of the measured events, e.g. Poisson(1) draws for a bootstrap replica of the
        data (the statistical uncertainty of the unfolded result); default: all 1.

    Returns
    -------
    OmniFoldResult
        Step-1 and step-2 weights of every iteration, each normalised to mean 1.
    """
    sim_gen, sim_det = _check_events(sim_gen, "sim_gen"), _check_events(sim_det, "sim_det")
    data_det = _check_events(data_det, "data_det")
    if len(sim_gen) != len(sim_det):
        raise ValueError(
            f"sim_gen and sim_det must hold the same events (one row each), got {len(sim_gen)} and "
            f"{len(sim_det)} rows."
        )
    if data_det.shape[1] != sim_det.shape[1]:
        raise ValueError(
            f"data_det has {data_det.shape[1]} features but sim_det {sim_det.shape[1]}; pass the same "
            "detector-level observables for both."
        )
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1, got {iterations!r}.")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(
            f"folds must be an integer >= 2 (cross-fitting needs a held-out part), got {folds!r}."
        )
    rng = check_rng(rng)
    make_classifier = _default_classifier if classifier is None else classifier
    if data_weights is None:
        data_weights = np.ones(len(data_det))
    else:
        data_weights = _finite_float(data_weights, "data_weights")
        if data_weights.shape != (len(data_det),) or (data_weights < 0).any() or data_weights.sum() <= 0:
            raise ValueError(
                f"data_weights must be {len(data_det)} non-negative weights (one per measured event), not "
                f"all zero; got shape {data_weights.shape}."
            )
    push = np.ones(len(sim_gen))  # nu_0: the simulation as it is
    step1, step2 = [], []
    for _ in range(iterations):
        sim_folds, data_folds = rng.permutation(len(sim_gen)) % folds, rng.permutation(len(data_det)) % folds
        pull = push * _reweight(
            data_det, data_weights, sim_det, push, data_folds, sim_folds, rng, make_classifier
        )
        pull /= pull.mean()
        # step 2 compares the simulation with itself under two weights: one fold assignment for both, so no
        # event is held out on one side and trained on from the other
        push = push * _reweight(sim_gen, pull, sim_gen, push, sim_folds, sim_folds, rng, make_classifier)
        push /= push.mean()
        step1.append(pull)
        step2.append(push)
    return OmniFoldResult(np.stack(step1), np.stack(step2))


def histogram(
    x: ArrayLike, bins: ArrayLike, weights: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The fraction of (weighted) events in each bin and its statistical error.

    Parameters
    ----------
    x : array_like, shape (events,)
        One observable.
    bins : array_like, shape (bins + 1,)
        Bin edges; events outside them are not counted.
    weights : array_like, shape (events,), optional
        Event weights (e.g. OmniFold's), default 1.

    Returns
    -------
    (ndarray, ndarray), each of shape (bins,)
        ``h_i = W_i / W`` with ``W_i`` the sum of the weights in bin ``i`` and ``W`` the sum over all bins,
        and ``sqrt(sum_i w^2) / W``, the Poisson error of a weighted count (the uncertainty of the
        normalisation, of order ``1/sqrt(N)`` relative, is neglected).
    """
    x = _finite_float(x, "x")
    weights = np.ones_like(x) if weights is None else _finite_float(weights, "weights")
    if x.ndim != 1 or weights.shape != x.shape or x.size == 0:
        raise ValueError(
            f"x and weights must be non-empty 1-d arrays of the same events, got {x.shape} and "
            f"{weights.shape}."
        )
    sums, errors = _weighted_counts(x, bins, weights)
    total = sums.sum()
    if total <= 0:
        raise ValueError(
            "no weight falls inside the bins: check the bin edges against the observable's range."
        )
    return sums / total, errors / total


def chi2_per_ndf(h: ArrayLike, h_err: ArrayLike, reference: ArrayLike, reference_err: ArrayLike) -> float:
    """``chi^2 / ndf`` of two normalised histograms with independent errors (e.g. from :func:`histogram`).

    ``chi^2 = sum_i (h_i - r_i)^2 / (sigma_h,i^2 + sigma_r,i^2)`` over the bins with a non-zero error, and
    ``ndf`` is their number minus one: both histograms sum to one, which fixes one bin. Bin-to-bin
    correlations (which unfolding induces) are neglected. About 1 for compatible histograms.
    """
    h, h_err, reference, reference_err = (
        _finite_float(h, "h"),
        _finite_float(h_err, "h_err"),
        _finite_float(reference, "reference"),
        _finite_float(reference_err, "reference_err"),
    )
    shapes = [a.shape for a in (h, h_err, reference, reference_err)]
    if h.ndim != 1 or len(set(shapes)) > 1:
        raise ValueError(f"all four arrays must be 1-d of one shape, got {shapes}.")
    variance = h_err**2 + reference_err**2
    used = variance > 0
    if used.sum() < 2:
        raise ValueError("chi2_per_ndf needs at least two bins with a non-zero error.")
    return float(((h - reference)[used] ** 2 / variance[used]).sum() / (used.sum() - 1))


def prior_fraction(result: ArrayLike, truth: ArrayLike, prior: ArrayLike) -> float:
    """How far an unfolded histogram sits towards the prior: the projection of ``result - truth`` on
    ``prior - truth``, in units of the latter.

    0: the result is at the truth (along that direction); 1: it has not moved from the prior (the
    simulation it started from); between: the fraction of the prior's bias that is left. Arrays of one
    shape, e.g. normalised histograms; ``prior`` and ``truth`` must differ.
    """
    result, truth, prior = (
        _finite_float(a, n) for a, n in ((result, "result"), (truth, "truth"), (prior, "prior"))
    )
    if not result.shape == truth.shape == prior.shape:
        raise ValueError(
            f"result, truth and prior must have one shape, got {result.shape}, {truth.shape}, {prior.shape}."
        )
    bias = (prior - truth).ravel()
    if not (bias**2).sum() > 0:
        raise ValueError("prior and truth are equal: there is no prior dependence to measure.")
    return float((result - truth).ravel() @ bias / (bias @ bias))
