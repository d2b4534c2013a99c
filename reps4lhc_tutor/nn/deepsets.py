"""Deep sets: the simplest permutation-invariant network, ``f(x_1..x_n) = rho(sum_i phi(x_i))``.

Zaheer et al. (2017) show that every continuous permutation-invariant function of a set can be written
this way; in jet physics it is the particle-flow network of Komiske, Metodiev and Thaler (2019).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .mlp import MLP, _check_positive_int
from .sets import check_particles, check_pooling, pool_particles

__all__ = ["DeepSets"]


class DeepSets(nn.Module):
    """``rho(pool_i phi(x_i))`` with MLPs ``phi`` (per particle) and ``rho`` (per event).

    Parameters
    ----------
    in_features
        Features per particle.
    out_features
        Outputs per event.
    latent
        Width of the per-particle embedding ``phi(x_i)``, the size of the pooled representation.
    phi_hidden, rho_hidden
        Hidden widths of ``phi`` and ``rho``.
    pooling
        ``"sum"`` (counts particles: what a particle-flow network uses) or ``"mean"``.
    activation
        Module class placed after each hidden layer of both MLPs.

    Examples
    --------
    >>> model = DeepSets(4, 1)
    >>> model(torch.zeros(8, 5, 4)).shape
    torch.Size([8, 1])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        latent: int = 64,
        phi_hidden: Sequence[int] = (64, 64),
        rho_hidden: Sequence[int] = (64, 64),
        pooling: str = "sum",
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.pooling = check_pooling(pooling)
        latent = _check_positive_int(latent, "latent")
        self.phi = MLP(in_features, latent, phi_hidden, activation)
        self.rho = MLP(latent, out_features, rho_hidden, activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Map particles ``(batch, particles, in_features)`` (and a mask ``(batch, particles)``) to
        ``(batch, out_features)``."""
        mask = check_particles(x, mask, self.in_features, "DeepSets")
        return self.rho(pool_particles(self.phi(x), mask, self.pooling))

    def latent(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The event representation the output layer reads, ``(batch, rho_hidden[-1])``: ``rho``'s last
        hidden activations (the pooled ``phi`` without hidden layers). With a narrow last width this is a
        bottleneck whose dimensions can be studied (chapter 7)."""
        mask = check_particles(x, mask, self.in_features, "DeepSets")
        return self.rho.last_hidden(pool_particles(self.phi(x), mask, self.pooling))
