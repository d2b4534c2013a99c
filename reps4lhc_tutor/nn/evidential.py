"""Evidential regression: a network predicts a prior over the Gaussian's mean and variance, no sampling.

The network outputs the four parameters ``(gamma, nu, alpha, beta)`` of a normal-inverse-gamma (NIG)
distribution over the mean ``mu`` and variance ``sigma^2`` of a Gaussian likelihood (Amini et al. 2020)::

    sigma^2 ~ InvGamma(alpha, beta),   mu | sigma^2 ~ N(gamma, sigma^2 / nu).

Integrating out ``(mu, sigma^2)`` gives a Student-t for the target,
``St(gamma, scale^2 = beta (1 + nu) / (nu alpha), dof = 2 alpha)``, whose negative log-likelihood is the
loss. The moments of the NIG give, in one forward pass::

    prediction   = E[mu]               = gamma
    sigma_syst^2 = E[sigma^2]          = beta / (alpha - 1)
    sigma_stat^2 = Var[mu]             = beta / (nu (alpha - 1))

Known pitfalls (Meinert et al. 2023): only the Student-t's scale and shape are fixed by the data, so
``nu`` and hence ``sigma_stat`` are not identified by the likelihood alone; a regulariser and a trained
eye are part of the method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import StudentT

from .mlp import MLP

__all__ = ["EvidentialRegressor", "NormalInverseGamma", "evidential_loss"]


@dataclass(frozen=True)
class NormalInverseGamma:
    """Predicted NIG parameters of shape ``(...)``, e.g. ``(events,)``: ``nu, beta > 0``, ``alpha > 1``."""

    gamma: torch.Tensor
    nu: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor

    @property
    def mean(self) -> torch.Tensor:
        """The prediction ``gamma``."""
        return self.gamma

    @property
    def sigma_syst(self) -> torch.Tensor:
        """``sqrt(beta / (alpha - 1))``: the expected noise width (aleatoric)."""
        return torch.sqrt(self.beta / (self.alpha - 1))

    @property
    def sigma_stat(self) -> torch.Tensor:
        """``sqrt(beta / (nu (alpha - 1)))``: the spread of the mean (epistemic)."""
        return self.sigma_syst / torch.sqrt(self.nu)

    def predictive(self) -> StudentT:
        """The marginal distribution of the target, ``St(gamma, beta (1 + nu) / (nu alpha), 2 alpha)``."""
        scale = torch.sqrt(self.beta * (1 + self.nu) / (self.nu * self.alpha))
        return StudentT(df=2 * self.alpha, loc=self.gamma, scale=scale)


class EvidentialRegressor(nn.Module):
    """``x -> NormalInverseGamma(gamma, nu, alpha, beta)`` for one scalar target per event.

    An :class:`~reps4lhc_tutor.nn.mlp.MLP` with four outputs; ``nu = softplus``, ``alpha = 1 + softplus`` and
    ``beta = softplus`` of the raw outputs (plus ``1e-6``), which keeps every moment finite.

    Parameters
    ----------
    in_features
        Number of input features per event.
    hidden
        Widths of the hidden layers.
    activation
        Module class placed after each hidden layer.

    Examples
    --------
    >>> model = EvidentialRegressor(3, hidden=(16,))
    >>> model(torch.zeros(5, 3)).sigma_syst.shape
    torch.Size([5])
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.backbone = MLP(in_features, 4, hidden=hidden, activation=activation)

    def forward(self, x: torch.Tensor) -> NormalInverseGamma:
        """NIG parameters, each ``x.shape[:-1]``, for inputs ``(..., in_features)``."""
        gamma, nu, alpha, beta = self.backbone(x).unbind(-1)
        positive = lambda raw: nn.functional.softplus(raw) + 1e-6  # noqa: E731
        return NormalInverseGamma(gamma, positive(nu), 1 + positive(alpha), positive(beta))


def evidential_loss(
    prediction: NormalInverseGamma, target: torch.Tensor, regularization: float = 0.01
) -> torch.Tensor:
    """Mean of ``-log St(target) + regularization * |target - gamma| * (2 nu + alpha)`` over the events.

    The Student-t negative log-likelihood, with ``Omega = 2 beta (1 + nu)``::

        0.5 log(pi / nu) - alpha log Omega + (alpha + 1/2) log(nu (target - gamma)^2 + Omega)
        + log Gamma(alpha) - log Gamma(alpha + 1/2)

    The regulariser (Amini et al. 2020) lowers the evidence ``2 nu + alpha`` on events the network gets
    wrong, so that a poor fit is reported as uncertain instead of hidden in an overconfident Student-t.

    Parameters
    ----------
    prediction
        From :class:`EvidentialRegressor`, shape ``(events,)``.
    target
        ``(events,)``.
    regularization
        Weight of the evidence regulariser, >= 0.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    if prediction.gamma.shape != target.shape:
        raise ValueError(
            f"prediction has shape {tuple(prediction.gamma.shape)} but target has shape "
            f"{tuple(target.shape)}; "
            "they must match exactly (use .squeeze(-1))."
        )
    if not (math.isfinite(regularization) and regularization >= 0):
        raise ValueError(f"regularization must be finite and >= 0, got {regularization}.")
    gamma, nu, alpha, beta = prediction.gamma, prediction.nu, prediction.alpha, prediction.beta
    omega = 2 * beta * (1 + nu)
    nll = (
        0.5 * torch.log(math.pi / nu)
        - alpha * torch.log(omega)
        + (alpha + 0.5) * torch.log(nu * (target - gamma) ** 2 + omega)
        + torch.lgamma(alpha)
        - torch.lgamma(alpha + 0.5)
    )
    evidence = 2 * nu + alpha
    return (nll + regularization * (target - gamma).abs() * evidence).mean()
