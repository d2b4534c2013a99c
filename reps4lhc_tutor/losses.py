"""Likelihood losses for regression: a network is a fit, and its loss is a negative log-likelihood.

All losses take tensors whose shapes match the target, ``(events,)`` or ``(events, targets)``, and reduce
over every element with ``reduction="mean"`` (default), ``"sum"`` or ``"none"``.

- :func:`mse`: the Gaussian likelihood with one fixed, common sigma, up to constants.
- :func:`gaussian_nll`: the Gaussian likelihood with known per-event uncertainties (a weighted MSE).
- :func:`heteroscedastic_nll`: the network predicts the uncertainty too, as ``log sigma``.
- :func:`distribution_nll`: ``-log p(target)`` of any ``torch.distributions`` object, for models that
  return a distribution (see :mod:`reps4lhc_tutor.nn.regression`).

The constant ``0.5 * log(2 pi)`` per element does not change the minimum or the gradients; it is left out
unless ``full=True``, which makes the value a true negative log-density (comparable with ``log_prob``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.distributions import Distribution

__all__ = ["Reduction", "distribution_nll", "gaussian_nll", "heteroscedastic_nll", "mse"]

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
