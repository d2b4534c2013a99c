"""Regression networks that return a probability distribution instead of a number.

The forward pass gives a ``torch.distributions`` object, so the model states what it predicts (a mean *and*
an uncertainty) and the training loss is its negative log-likelihood::

    model = GaussianRegressor(in_features=2)
    loss = -model(x).log_prob(y).mean()  # reps4lhc_tutor.losses.distribution_nll(model(x), y)
    mean, sigma = model(x).mean, model(x).stddev

Both models use :class:`~reps4lhc_tutor.nn.mlp.MLP` as the backbone; its linear output layer holds the heads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.distributions import Categorical, MixtureSameFamily, Normal

from .mlp import MLP, _check_positive_int

__all__ = ["LOG_SIGMA_MAX", "LOG_SIGMA_MIN", "GaussianMixtureRegressor", "GaussianRegressor"]

# Range of the predicted log sigma, in units of the (standardised) target: sigma from 4.5e-5 to 2.2e4.
# The clamp keeps exp() finite and sigma positive early in training; a well-trained model never touches it.
LOG_SIGMA_MIN = -10.0
LOG_SIGMA_MAX = 10.0


def _sigma(log_sigma: torch.Tensor) -> torch.Tensor:
    """Map an unconstrained output to a standard deviation: ``exp`` of the clamped value."""
    return torch.exp(log_sigma.clamp(LOG_SIGMA_MIN, LOG_SIGMA_MAX))


class GaussianRegressor(nn.Module):
    """Heteroscedastic regression: ``x -> Normal(mean(x), sigma(x))`` for one scalar target per event.

    An :class:`MLP` with two outputs: the first is the mean, the second ``log sigma``; the shared hidden
    layers feed both heads. ``sigma = exp(clamp(log sigma, -10, 10))``: the exponential is the link that
    matches :func:`reps4lhc_tutor.losses.heteroscedastic_nll` (the loss is linear in ``log sigma``), and the
    clamp (documented in ``LOG_SIGMA_MIN``/``LOG_SIGMA_MAX``) only guards against overflow; inside it the
    gradient is untouched. Targets should be standardised so that sigma is of order 1 or below.

    Parameters
    ----------
    in_features
        Number of input features per event.
    hidden
        Widths of the hidden layers of the backbone.
    activation
        Module class placed after each hidden layer.

    Examples
    --------
    >>> model = GaussianRegressor(3, hidden=(16,))
    >>> dist = model(torch.zeros(5, 3))
    >>> dist.mean.shape, dist.stddev.shape
    (torch.Size([5]), torch.Size([5]))
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.backbone = MLP(in_features, 2, hidden=hidden, activation=activation)

    def forward(self, x: torch.Tensor) -> Normal:
        """Predict the distribution of the target.

        Parameters
        ----------
        x
            Inputs of shape ``(..., in_features)``, e.g. ``(events, in_features)``.

        Returns
        -------
        torch.distributions.Normal
            ``batch_shape`` ``x.shape[:-1]``, e.g. ``(events,)``; ``.mean`` and ``.stddev`` have that shape.
        """
        out = self.backbone(x)  # (..., 2)
        return Normal(out[..., 0], _sigma(out[..., 1]))


class GaussianMixtureRegressor(nn.Module):
    """Regression to a mixture of Gaussians, for targets whose conditional density is not one Gaussian.

    ``p(y | x) = sum_k w_k(x) Normal(y; mu_k(x), sigma_k(x))``. An :class:`MLP` with ``3 * n_components``
    outputs: mixture logits (softmax gives the weights), means, and ``log sigma`` (mapped to sigma as in
    :class:`GaussianRegressor`).

    Parameters
    ----------
    in_features
        Number of input features per event.
    n_components
        Number of Gaussians in the mixture.
    hidden
        Widths of the hidden layers of the backbone.
    activation
        Module class placed after each hidden layer.

    Examples
    --------
    >>> model = GaussianMixtureRegressor(3, n_components=2, hidden=(16,))
    >>> model(torch.zeros(5, 3)).log_prob(torch.zeros(5)).shape
    torch.Size([5])
    """

    def __init__(
        self,
        in_features: int,
        n_components: int,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.n_components = _check_positive_int(n_components, "n_components")
        self.backbone = MLP(in_features, 3 * self.n_components, hidden=hidden, activation=activation)

    def forward(self, x: torch.Tensor) -> MixtureSameFamily:
        """Predict the mixture density of the target.

        Parameters
        ----------
        x
            Inputs of shape ``(..., in_features)``, e.g. ``(events, in_features)``.

        Returns
        -------
        torch.distributions.MixtureSameFamily
            ``batch_shape`` ``x.shape[:-1]``; ``.mixture_distribution.probs`` and the component
            ``.loc``/``.scale`` have shape ``(..., n_components)``.
        """
        logits, loc, log_sigma = self.backbone(x).chunk(3, dim=-1)  # each (..., n_components)
        return MixtureSameFamily(Categorical(logits=logits), Normal(loc, _sigma(log_sigma)))
