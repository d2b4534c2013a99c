"""Losses: likelihood losses for regression, and the contrastive loss and its diagnostics for representations.

Regression: a network is a fit, and its loss is a negative log-likelihood.

All losses take tensors whose shapes match the target, ``(events,)`` or ``(events, targets)``, and reduce
over every element with ``reduction="mean"`` (default), ``"sum"`` or ``"none"``.

- :func:`mse`: the Gaussian likelihood with one fixed, common sigma, up to constants.
- :func:`gaussian_nll`: the Gaussian likelihood with known per-event uncertainties (a weighted MSE).
- :func:`heteroscedastic_nll`: the network predicts the uncertainty too, as ``log sigma``.
- :func:`distribution_nll`: ``-log p(target)`` of any ``torch.distributions`` object, for models that
  return a distribution (see :mod:`reps4lhc_tutor.nn.regression`).

The constant ``0.5 * log(2 pi)`` per element does not change the minimum or the gradients; it is left out
unless ``full=True``, which makes the value a true negative log-density (comparable with ``log_prob``).

Representations (contrastive learning, SimCLR/JetCLR): embeddings of shape ``(batch, dim)``, L2-normalised
inside each function, so that only directions on the unit hypersphere count.

- :func:`contrastive_loss`: the NT-Xent loss of a batch of positive pairs (two augmented views of each jet).
- :func:`alignment`, :func:`uniformity`: the two halves of what NT-Xent optimises (Wang & Isola 2020): close
  positive pairs, and embeddings spread evenly over the sphere.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.distributions import Distribution

__all__ = [
    "Reduction",
    "alignment",
    "contrastive_loss",
    "distribution_nll",
    "gaussian_nll",
    "heteroscedastic_nll",
    "mse",
    "uniformity",
]

Reduction = Literal["mean", "sum", "none"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _reduce(loss: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def _check_finite(tensor: torch.Tensor, name: str) -> None:
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(
            f"{name} contains {bad} NaN or infinite values; check the inputs and targets (a diverged "
            "training, an unpreprocessed target or a log of a non-positive value often produces them)."
        )


def _check_pair(prediction: torch.Tensor, target: torch.Tensor, name: str) -> None:
    # An exact match is required: (events, 1) against (events,) would broadcast to (events, events).
    if prediction.shape != target.shape:
        raise ValueError(
            f"{name} has shape {tuple(prediction.shape)} but target has shape {tuple(target.shape)}; "
            "they must match exactly (use .squeeze(-1) or .unsqueeze(-1) to align them)."
        )
    _check_finite(prediction, name)
    _check_finite(target, "target")


def _check_scale(scale: torch.Tensor, target: torch.Tensor, name: str) -> None:
    # The uncertainty may be a scalar or broadcast against the target, but must not enlarge it.
    try:
        shape = torch.broadcast_shapes(scale.shape, target.shape)
    except RuntimeError:
        shape = None
    if shape != target.shape:
        raise ValueError(
            f"{name} has shape {tuple(scale.shape)}, which does not broadcast to the target shape "
            f"{tuple(target.shape)}; give one value per target element or a scalar."
        )
    _check_finite(scale, name)


def mse(prediction: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean") -> torch.Tensor:
    """Mean squared error ``(prediction - target)^2``.

    Up to a factor and a constant it is the Gaussian negative log-likelihood with one common, fixed sigma.

    Parameters
    ----------
    prediction, target
        Tensors of the same shape, e.g. ``(events,)``.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"`` (per-element losses, same shape as ``target``).

    Returns
    -------
    torch.Tensor
        Scalar, or the shape of ``target`` for ``reduction="none"``.
    """
    _check_pair(prediction, target, "prediction")
    return _reduce((prediction - target) ** 2, reduction)


def heteroscedastic_nll(
    mean: torch.Tensor,
    log_sigma: torch.Tensor,
    target: torch.Tensor,
    *,
    full: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Gaussian negative log-likelihood with a predicted uncertainty, parametrised by ``log sigma``.

    Per element::

        0.5 * ((target - mean) / sigma)^2 + log sigma  [+ 0.5 * log(2 pi) if full]

    computed as ``0.5 * ((target - mean) * exp(-log_sigma))^2 + log_sigma``.

    Why ``log sigma``: it is unconstrained, so a network's linear output can be used as it is, with no
    positivity constraint; ``exp(-log_sigma)`` multiplies the residual instead of dividing by a sigma that
    may reach zero, and the penalty term is linear in the parameter, so its gradient is 1 everywhere. The
    log-variance is equivalent up to a factor 2; ``log sigma`` is in the units one plots and compares
    (sigma / A against the injected noise). In float32 the value overflows only once
    ``|target - mean| / sigma`` exceeds about ``1e19``.

    Parameters
    ----------
    mean, target
        Tensors of the same shape, e.g. ``(events,)``.
    log_sigma
        Natural log of the standard deviation; the shape of ``target`` or any shape that broadcasts to it
        (a scalar for one common sigma).
    full
        Add the constant ``0.5 * log(2 pi)``, making the value the negative log-density.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``.

    Returns
    -------
    torch.Tensor
        Scalar, or the shape of ``target`` for ``reduction="none"``.
    """
    _check_pair(mean, target, "mean")
    _check_scale(log_sigma, target, "log_sigma")
    pull = (target - mean) * torch.exp(-log_sigma)
    loss = 0.5 * pull**2 + log_sigma
    if full:
        loss = loss + _HALF_LOG_2PI
    return _reduce(loss, reduction)


def gaussian_nll(
    mean: torch.Tensor,
    sigma: torch.Tensor,
    target: torch.Tensor,
    *,
    full: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Gaussian negative log-likelihood with known uncertainties ``sigma`` (a weighted MSE).

    Per element ``0.5 * ((target - mean) / sigma)^2 + log sigma`` (``+ 0.5 * log(2 pi)`` if ``full``). With
    fixed ``sigma`` the log term is a constant and the loss is the MSE weighted by ``1 / sigma^2``. It
    equals :func:`heteroscedastic_nll` with ``log_sigma = log(sigma)``; use that one when a network predicts
    the uncertainty. It also equals ``torch.nn.GaussianNLLLoss`` with ``var = sigma^2`` (which clamps the
    variance at ``eps`` instead of raising).

    Parameters
    ----------
    mean, target
        Tensors of the same shape, e.g. ``(events,)``.
    sigma
        Standard deviations, > 0; the shape of ``target`` or broadcastable to it.
    full
        Add the constant ``0.5 * log(2 pi)``.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"``.

    Returns
    -------
    torch.Tensor
        Scalar, or the shape of ``target`` for ``reduction="none"``.
    """
    _check_scale(sigma, target, "sigma")
    if not (sigma > 0).all():
        raise ValueError(
            f"sigma must be positive, found {int((sigma <= 0).sum())} values <= 0; pass standard deviations "
            "(not variances or log-sigmas), or use heteroscedastic_nll for a predicted log sigma."
        )
    return heteroscedastic_nll(mean, torch.log(sigma), target, full=full, reduction=reduction)


def distribution_nll(
    distribution: Distribution, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Negative log-likelihood ``-distribution.log_prob(target)`` of a predicted distribution.

    For a :class:`torch.distributions.Normal` this is :func:`heteroscedastic_nll` with ``full=True``; it works
    unchanged for mixtures and any other distribution a model returns.

    Parameters
    ----------
    distribution
        A ``torch.distributions`` object with ``batch_shape`` (and ``event_shape``) matching ``target``.
    target
        Shape ``batch_shape + event_shape``, e.g. ``(events,)`` for a scalar target per event.
    reduction
        ``"mean"``, ``"sum"`` or ``"none"`` (shape ``batch_shape``).

    Returns
    -------
    torch.Tensor
        Scalar, or ``batch_shape`` for ``reduction="none"``.
    """
    if not isinstance(distribution, Distribution):
        raise TypeError(
            f"distribution must be a torch.distributions.Distribution, got {type(distribution).__name__}; "
            "a model returning tensors needs heteroscedastic_nll or mse instead."
        )
    expected = distribution.batch_shape + distribution.event_shape
    if target.shape != expected:
        raise ValueError(
            f"target has shape {tuple(target.shape)} but the distribution expects {tuple(expected)} "
            f"(batch_shape {tuple(distribution.batch_shape)} + event_shape "
            f"{tuple(distribution.event_shape)}); use .squeeze(-1) or .unsqueeze(-1) to align them."
        )
    _check_finite(target, "target")
    return _reduce(-distribution.log_prob(target), reduction)


# --- contrastive learning of representations ----------------------------------------------------------------


def _check_positive_number(value: object, name: str, hint: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}; {hint}")
    return float(value)


def _check_embeddings(z: torch.Tensor, name: str, min_rows: int) -> None:
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, dim), got {type(z).__name__}.")
    if z.ndim != 2 or not z.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor of shape (batch, dim), got shape {tuple(z.shape)} and "
            f"dtype {z.dtype}; a single embedding z becomes z[None, :], a batch of sets must be pooled first."
        )
    if len(z) < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} embeddings (rows), got {len(z)}.")
    _check_finite(z, name)


def _normalise(z: torch.Tensor, name: str) -> torch.Tensor:
    """Rows of ``z`` scaled to unit L2 norm; a zero row has no direction and is an error."""
    norm = torch.linalg.vector_norm(z, dim=-1, keepdim=True)  # (batch, 1)
    if not (norm > 0).all():
        raise ValueError(
            f"{name} has {int((norm == 0).sum())} rows of zeros, which have no direction on the sphere; "
            "an encoder whose last layer is a ReLU can produce them (leave the output layer linear)."
        )
    return z / norm


def _check_pairs(z1: torch.Tensor, z2: torch.Tensor, min_rows: int) -> None:
    _check_embeddings(z1, "z1", min_rows)
    _check_embeddings(z2, "z2", min_rows)
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 has shape {tuple(z1.shape)} but z2 has shape {tuple(z2.shape)}; row i of each must embed "
            "the two views of the same event, so the shapes must match."
        )


def contrastive_loss(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """NT-Xent, the normalised temperature-scaled cross-entropy loss of SimCLR (Chen et al. 2020).

    Reference: T. Chen, S. Kornblith, M. Norouzi, G. Hinton, arXiv:2002.05709.

    The batch holds ``N`` positive pairs ``(z1[i], z2[i])``, the embeddings of two augmented views of event
    ``i`` (for JetCLR: rotated, translated, soft-smeared copies of one jet). Stacking them gives ``2N`` views
    ``v`` (the rows of ``z1``, then those of ``z2``), each L2-normalised, with cosine similarities
    ``s_ik = v_i . v_k``. For view ``i`` with partner ``p(i)`` (``i + N`` modulo ``2N``)::

        l_i = -log[ exp(s_{i p(i)} / T) / sum_{k != i} exp(s_ik / T) ]

    a ``(2N - 1)``-way classification of the partner among all other views: the other ``2N - 2`` views,
    from both ``z1`` and ``z2``, are the negatives. The loss is the mean of ``l_i`` over all ``2N`` views, so
    it is symmetric in ``z1`` and ``z2``. It is computed with ``logsumexp`` and stays finite in float32 down
    to small temperatures.

    Reference points: ``log(2N - 1)`` when all similarities are equal (an encoder that has learned nothing);
    ``-log(e^(1/T) / (e^(1/T) + 2N - 2))`` for identical views of ``N`` orthogonal embeddings.

    Parameters
    ----------
    z1, z2
        Embeddings of the first and second views, both of shape ``(batch, dim)`` with ``batch = N >= 2``
        (one pair has no negatives). Any non-zero length: only the direction counts.
    temperature
        ``T > 0``. A small ``T`` sharpens the softmax and weights the hardest negatives most; typical values
        lie between 0.05 and 0.5.
    reduction
        ``"mean"`` (over the ``2N`` views), ``"sum"`` or ``"none"`` (shape ``(2N,)``: the views of ``z1``,
        then those of ``z2``).

    Returns
    -------
    torch.Tensor
        Scalar, or shape ``(2N,)`` for ``reduction="none"``.
    """
    _check_pairs(z1, z2, min_rows=2)
    temperature = _check_positive_number(temperature, "temperature", "typical values are 0.05 to 0.5.")
    n = len(z1)
    views = torch.cat([_normalise(z1, "z1"), _normalise(z2, "z2")])  # (2N, dim), unit rows
    logits = views @ views.T / temperature  # (2N, 2N) cosine similarities / T
    # a view is never its own negative: exp(-inf) = 0 removes the diagonal from the denominator
    self_pair = torch.eye(2 * n, dtype=torch.bool, device=views.device)
    logits = logits.masked_fill(self_pair, -math.inf)
    partner = torch.arange(2 * n, device=views.device).roll(n)  # (2N,) p(i) = i + N mod 2N
    positive = logits[torch.arange(2 * n, device=views.device), partner]  # (2N,)
    loss = torch.logsumexp(logits, dim=1) - positive  # (2N,)
    return _reduce(loss, reduction)


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Alignment of positive pairs, ``mean_i ||f(x_i) - f(x_i+)||^alpha`` (Wang & Isola 2020).

    Reference: T. Wang, P. Isola, ICML 2020, arXiv:2005.10242.

    The mean distance between the L2-normalised embeddings of the two views of each event: 0 when the
    encoder maps both views to one point (it is invariant to the augmentation), at most ``2^alpha``
    (antipodal views). Lower is better, but alignment alone is minimised by a collapsed encoder that maps
    everything to one point; read it together with :func:`uniformity`.

    Parameters
    ----------
    z1, z2
        Embeddings of the two views, both of shape ``(batch, dim)``, ``batch >= 1``; row ``i`` of each
        belongs to event ``i``.
    alpha
        Power of the distance, ``> 0``; Wang & Isola use 2 (the squared distance, smooth everywhere).

    Returns
    -------
    torch.Tensor
        Scalar; differentiable, so it can serve as a loss term.
    """
    _check_pairs(z1, z2, min_rows=1)
    alpha = _check_positive_number(alpha, "alpha", "Wang & Isola use 2.")
    difference = _normalise(z1, "z1") - _normalise(z2, "z2")  # (batch, dim)
    return torch.linalg.vector_norm(difference, dim=-1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Uniformity on the hypersphere, ``log mean_{i<j} exp(-t ||z_i - z_j||^2)`` (Wang & Isola 2020).

    The log of the mean Gaussian potential between all pairs of the L2-normalised embeddings: 0 when they all
    coincide (collapse), lower the more evenly they cover the sphere, and ``-4t`` at the least (two antipodal
    points). For points uniform on the 2-sphere (``dim = 3``) it tends to ``log[(1 - e^(-4t)) / (4t)]``.
    Computed with ``||z_i - z_j||^2 = 2 - 2 z_i . z_j`` and ``logsumexp``.

    Parameters
    ----------
    z
        Embeddings of shape ``(batch, dim)``, ``batch >= 2``; in Wang & Isola, one view of each event (they
        average the values of the two views).
    t
        Scale of the potential, ``> 0``; Wang & Isola use 2.

    Returns
    -------
    torch.Tensor
        Scalar; differentiable, so it can serve as a loss term.
    """
    _check_embeddings(z, "z", min_rows=2)
    t = _check_positive_number(t, "t", "Wang & Isola use 2.")
    unit = _normalise(z, "z")
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)  # each pair i < j once
    squared_distance = 2 - 2 * (unit @ unit.T)[i, j]  # (batch (batch - 1) / 2,)
    return torch.logsumexp(-t * squared_distance, dim=0) - math.log(i.numel())
