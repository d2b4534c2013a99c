"""Bayesian neural networks: weights as distributions, trained with the variational approximation.

Every weight ``w`` has a Gaussian ``q(w) = N(mu, sigma^2)`` instead of one value, and the loss is the
negative log-likelihood of the data averaged over ``q`` plus the KL divergence of ``q`` to a Gaussian prior
``N(0, prior_sigma^2)`` (Blundell et al. 2015)::

    model = BayesianRegressor(in_features=12, hidden=(64, 64))
    prediction = model(x)  # Normal for one weight sample per event
    loss = -prediction.log_prob(z).mean() + model.kl_divergence() / n_train

:class:`VariationalLinear` samples pre-activations instead of weights (the local reparametrisation trick,
Kingma, Salimans and Welling 2015): for an input ``x`` the output of a linear layer with Gaussian weights is
Gaussian with mean ``x @ mu.T`` and variance ``x^2 @ sigma^2.T``, so one draw per event gives the same
per-event distribution as a draw of the weights, with less gradient noise.

:func:`sample_predictions` evaluates a trained model several times and :func:`split_uncertainty` turns the
draws into the mean, ``sigma_stat`` (spread of the means: vanishes for perfect training) and ``sigma_syst``
(average learned width: vanishes for perfect data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn
from torch.distributions import Normal

from .mlp import _check_positive_float, _check_positive_int, _check_widths
from .regression import _sigma

__all__ = ["BayesianRegressor", "VariationalLinear", "sample_predictions", "split_uncertainty"]


class VariationalLinear(nn.Module):
    """Linear layer with a factorised Gaussian posterior over its weights and biases.

    Parameters ``weight_mu``, ``bias_mu`` (the means) and ``weight_log_sigma``, ``bias_log_sigma`` (log
    standard deviations, unconstrained). In training mode every call draws one output per event with the
    local reparametrisation trick; in eval mode as well, unless ``sample=False`` is passed, which uses the
    mean weights (the deterministic limit).

    Parameters
    ----------
    in_features, out_features
        Sizes of the last input and output dimensions.
    prior_sigma
        Width of the Gaussian prior ``N(0, prior_sigma^2)`` of every weight and bias.
    init_sigma
        Initial posterior width. Small, so that training starts close to a deterministic network and the
        widths grow only where the data allow it.

    Examples
    --------
    >>> layer = VariationalLinear(3, 2)
    >>> layer(torch.zeros(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self, in_features: int, out_features: int, prior_sigma: float = 1.0, init_sigma: float = 1e-3
    ) -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        self.prior_sigma = _check_positive_float(prior_sigma, "prior_sigma")
        init_log_sigma = math.log(_check_positive_float(init_sigma, "init_sigma"))
        # Means initialised like torch.nn.Linear, so the network starts where a deterministic one would.
        reference = nn.Linear(in_features, out_features)
        self.weight_mu = nn.Parameter(reference.weight.detach().clone())
        self.bias_mu = nn.Parameter(reference.bias.detach().clone())
        self.weight_log_sigma = nn.Parameter(torch.full((out_features, in_features), init_log_sigma))
        self.bias_log_sigma = nn.Parameter(torch.full((out_features,), init_log_sigma))

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        """Map ``(..., in_features)`` to ``(..., out_features)``: one draw per event, or the mean."""
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"VariationalLinear expects inputs of shape (..., {self.in_features}), got {tuple(x.shape)}."
            )
        mean = nn.functional.linear(x, self.weight_mu, self.bias_mu)
        if not sample:
            return mean
        variance = nn.functional.linear(
            x**2, torch.exp(2 * self.weight_log_sigma), torch.exp(2 * self.bias_log_sigma)
        )
        return mean + variance.sqrt() * torch.randn_like(mean)

    def kl_divergence(self) -> torch.Tensor:
        """``KL[q || prior]`` summed over all weights and biases, a scalar.

        Per parameter, for ``q = N(mu, sigma^2)`` and the prior ``N(0, s^2)``:
        ``log(s / sigma) + (sigma^2 + mu^2) / (2 s^2) - 1/2``.
        """
        s = self.prior_sigma
        kl = lambda mu, log_sigma: (  # noqa: E731
            math.log(s) - log_sigma + (torch.exp(2 * log_sigma) + mu**2) / (2 * s**2) - 0.5
        ).sum()
        return kl(self.weight_mu, self.weight_log_sigma) + kl(self.bias_mu, self.bias_log_sigma)


class BayesianRegressor(nn.Module):
    """Heteroscedastic Bayesian network: ``x -> Normal(mean(x), sigma(x))`` for one draw of the weights.

    The Bayesian counterpart of :class:`~reps4lhc_tutor.nn.regression.GaussianRegressor`: every linear
    layer is a :class:`VariationalLinear`; the two outputs are the mean and ``log sigma`` (the learned
    noise of the data, mapped to sigma as there). Each call draws new weights (per event), so repeated calls
    differ; :func:`sample_predictions` collects the draws.

    Parameters
    ----------
    in_features
        Number of input features per event.
    hidden
        Widths of the hidden layers.
    prior_sigma, init_sigma
        Prior and initial posterior width of every parameter (see :class:`VariationalLinear`).
    activation
        Module class placed after each hidden layer.

    Examples
    --------
    >>> model = BayesianRegressor(3, hidden=(16,))
    >>> model(torch.zeros(5, 3)).mean.shape
    torch.Size([5])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        prior_sigma: float = 1.0,
        init_sigma: float = 1e-3,
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        sizes = [_check_positive_int(in_features, "in_features"), *_check_widths(hidden), 2]
        self.layers = nn.ModuleList(
            VariationalLinear(size_in, size_out, prior_sigma, init_sigma)
            for size_in, size_out in pairwise(sizes)
        )
        self.activation = activation()

    def forward(self, x: torch.Tensor, sample: bool = True) -> Normal:
        """Predict a ``Normal`` with ``batch_shape`` ``x.shape[:-1]`` for inputs ``(..., in_features)``.

        ``sample=False`` uses the mean of every weight instead of a draw.
        """
        for layer in self.layers[:-1]:
            x = self.activation(layer(x, sample))
        out = self.layers[-1](x, sample)  # (..., 2)
        return Normal(out[..., 0], _sigma(out[..., 1]))

    def kl_divergence(self) -> torch.Tensor:
        """``KL[q || prior]`` of all layers, a scalar; divide by the training-set size in a per-event loss."""
        return torch.stack([layer.kl_divergence() for layer in self.layers]).sum()


@torch.no_grad()
def sample_predictions(
    model: nn.Module, x: torch.Tensor, n_samples: int, batch_size: int = 65_536
) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluate a stochastic model ``n_samples`` times on ``x`` in eval mode, then restore its mode.

    Parameters
    ----------
    model
        Returns a distribution with ``.mean`` and ``.stddev`` and draws new weights on every call, such as
        :class:`BayesianRegressor`.
    x
        Inputs ``(events, in_features)``.
    n_samples
        Number of weight draws, >= 2.
    batch_size
        Events per forward pass, to bound memory.

    Returns
    -------
    means, sigmas
        Each ``(n_samples, events)``: the predicted mean and learned width of every draw.
    """
    if _check_positive_int(n_samples, "n_samples") < 2:
        raise ValueError(f"n_samples must be at least 2 to measure a spread, got {n_samples}.")
    batch_size = _check_positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    means, sigmas = [], []
    for _ in range(n_samples):
        draws = [model(chunk) for chunk in x.split(batch_size)]
        means.append(torch.cat([draw.mean for draw in draws]))
        sigmas.append(torch.cat([draw.stddev for draw in draws]))
    model.train(was_training)
    return torch.stack(means), torch.stack(sigmas)


def split_uncertainty(
    means: torch.Tensor, sigmas: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictive mean and the two uncertainties from draws of a Bayesian network or an ensemble.

    With ``A(theta)`` and ``sigma(theta)`` the mean and width of draw ``theta``::

        <A>           = average of A(theta)
        sigma_stat^2  = average of (A(theta) - <A>)^2      (the spread of the draws)
        sigma_syst^2  = average of sigma(theta)^2          (the learned noise)

    and the total predictive variance is ``sigma_stat^2 + sigma_syst^2``.

    Parameters
    ----------
    means, sigmas
        Shape ``(draws, events)``, from :func:`sample_predictions` or the members of an ensemble.

    Returns
    -------
    mean, sigma_stat, sigma_syst
        Each ``(events,)``.
    """
    if means.shape != sigmas.shape or means.ndim != 2 or len(means) < 2:
        raise ValueError(
            f"means and sigmas need the same shape (draws >= 2, events), got {tuple(means.shape)} and "
            f"{tuple(sigmas.shape)}."
        )
    mean = means.mean(0)
    sigma_stat = means.var(0, correction=0).sqrt()
    sigma_syst = (sigmas**2).mean(0).sqrt()
    return mean, sigma_stat, sigma_syst
