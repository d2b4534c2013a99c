"""Network ensembles, trained jointly, with an optional repulsive force between the members.

:class:`EnsembleRegressor` holds ``n_members`` heteroscedastic networks whose weights are stacked along a
leading member axis, so one batched matrix product evaluates all of them: the forward pass returns a
``Normal`` with ``batch_shape`` ``(members, events)``.

:func:`repulsive_ensemble_loss` is the loss whose gradient is the repulsive-ensemble update (D'Angelo and
Fortuin 2021). For member ``i`` with weights ``theta_i`` and the training set ``T`` of ``N`` events::

    theta_i <- theta_i + lr * [ grad log p(theta_i | T)
                                - sum_j grad_i k(f_i, f_j) / sum_j k(f_i, f_j) ]

The first term is an ordinary likelihood fit (``N`` times the per-event mean); the second, from a kernel
density estimate of the members' distribution, pushes members apart so that their spread samples the
posterior instead of collapsing onto one mode. The kernel acts in function space: it compares the members'
predicted means ``f_i`` on the events of the batch.

:class:`GeneratorEnsemble` holds generative networks trained independently on the same events (a deep
ensemble of densities): each member's samples give a histogram, and the spread of the histograms per bin is
the uncertainty of the learned density.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn
from torch.distributions import Normal

from .mlp import _check_positive_int, _check_widths
from .regression import _sigma

__all__ = [
    "EnsembleLinear",
    "EnsembleRegressor",
    "GeneratorEnsemble",
    "rbf_kernel",
    "repulsive_ensemble_loss",
]


class EnsembleLinear(nn.Module):
    """``n_members`` independent linear layers evaluated in one batched product.

    ``weight`` has shape ``(members, in_features, out_features)`` and ``bias`` ``(members, 1,
    out_features)``; each member is initialised like its own ``torch.nn.Linear``.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_members = _check_positive_int(n_members, "n_members")
        self.in_features = _check_positive_int(in_features, "in_features")
        _check_positive_int(out_features, "out_features")
        bound = 1 / math.sqrt(in_features)  # torch.nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(n_members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(members, events, in_features)`` to ``(members, events, out_features)``."""
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleRegressor(nn.Module):
    """``n_members`` heteroscedastic networks ``x -> Normal(mean_i(x), sigma_i(x))``, evaluated together.

    Every member is an MLP with the given hidden widths and two outputs, the mean and ``log sigma``, as in
    :class:`~reps4lhc_tutor.nn.regression.GaussianRegressor`; the members share nothing but the input.

    Parameters
    ----------
    n_members
        Number of networks, >= 2.
    in_features
        Number of input features per event.
    hidden
        Widths of the hidden layers of every member.
    activation
        Module class placed after each hidden layer.

    Examples
    --------
    >>> ensemble = EnsembleRegressor(4, 3, hidden=(16,))
    >>> ensemble(torch.zeros(5, 3)).mean.shape
    torch.Size([4, 5])
    """

    def __init__(
        self,
        n_members: int,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        if _check_positive_int(n_members, "n_members") < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {n_members}.")
        self.n_members = n_members
        self.in_features = _check_positive_int(in_features, "in_features")
        sizes = [in_features, *_check_widths(hidden), 2]
        self.layers = nn.ModuleList(EnsembleLinear(n_members, a, b) for a, b in pairwise(sizes))
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> Normal:
        """Predict every member's distribution for inputs ``(events, in_features)``.

        Returns
        -------
        torch.distributions.Normal
            ``batch_shape`` ``(members, events)``.
        """
        if x.ndim != 2 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"EnsembleRegressor expects inputs of shape (events, {self.in_features}), "
                f"got {tuple(x.shape)}."
            )
        h = x.expand(self.n_members, *x.shape)  # (members, events, in_features), no copy
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        out = self.layers[-1](h)  # (members, events, 2)
        return Normal(out[..., 0], _sigma(out[..., 1]))


class GeneratorEnsemble(nn.Module):
    """Independently trained generators of one density, sampled and evaluated together.

    Each member needs ``member.sample(n)`` -> ``(n, features)`` and ``member.log_prob(x)`` ``(events,
    features)`` -> ``(events,)``, as :class:`~reps4lhc_tutor.nn.flows.SplineFlow` has. The members differ
    by their initialisation and the order of their training batches; train each one on its own (e.g. with
    :func:`~reps4lhc_tutor.train.fit`). A ``state_dict`` saves all of them; load it into an ensemble built
    from the same member architecture.

    Parameters
    ----------
    members
        At least two generators with the same ``features``.

    Examples
    --------
    >>> from reps4lhc_tutor.nn import SplineFlow
    >>> ensemble = GeneratorEnsemble([SplineFlow(3, transforms=2, hidden=(16,)) for _ in range(4)])
    >>> ensemble.sample(100).shape, ensemble.log_prob(torch.zeros(5, 3)).shape
    (torch.Size([4, 100, 3]), torch.Size([4, 5]))
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}.")
        for member in members:
            if not (
                callable(getattr(member, "sample", None)) and callable(getattr(member, "log_prob", None))
            ):
                raise TypeError(
                    f"every member needs sample(n) and log_prob(x) methods; {member!r} lacks one."
                )
        self.members = nn.ModuleList(members)

    def __len__(self) -> int:
        return len(self.members)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's log-density of events ``(events, features)``: shape ``(members, events)``."""
        return torch.stack([member.log_prob(x) for member in self.members])

    @torch.no_grad()
    def sample(self, n: int, *, batch_size: int = 50_000) -> torch.Tensor:
        """``n`` events from every member: shape ``(members, n, features)``.

        Members sample ``batch_size`` events at a time: inverting a spline flow holds several intermediate
        tensors per event, gigabytes for a few hundred thousand events at once.
        """
        _check_positive_int(n, "n")
        chunks = [batch_size] * (n // _check_positive_int(batch_size, "batch_size"))
        chunks += [n % batch_size] if n % batch_size else []
        return torch.stack([torch.cat([member.sample(k) for k in chunks]) for member in self.members])


def rbf_kernel(f: torch.Tensor, reference: torch.Tensor, bandwidth: float | None = None) -> torch.Tensor:
    """Gaussian kernel ``k_ij = exp(-|f_i - reference_j|^2 / h)`` between ensemble members.

    Parameters
    ----------
    f, reference
        ``(members, features)`` each: one row per member (e.g. its predictions on a batch). Pass
        ``reference=f.detach()`` to differentiate with respect to the first argument only.
    bandwidth
        ``h``; ``None`` uses the median heuristic, ``h = median_(i != j) |f_i - reference_j|^2`` over
        ``log(members)``,
        computed without gradient, which keeps the kernel scale-free as the members converge.

    Returns
    -------
    torch.Tensor
        ``(members, members)``.
    """
    if f.ndim != 2 or len(f) < 2 or f.shape != reference.shape:
        raise ValueError(
            f"f and reference need the same shape (members >= 2, features), got {tuple(f.shape)} and "
            f"{tuple(reference.shape)}."
        )
    # Squared differences rather than cdist: cdist has no finite gradient at zero distance.
    squared = (f.unsqueeze(1) - reference.unsqueeze(0)).pow(2).sum(-1)
    if bandwidth is None:
        off_diagonal = squared.detach()[~torch.eye(len(f), dtype=torch.bool, device=f.device)]
        # The floor keeps h > 0 when all members agree exactly (then every kernel value is 1).
        bandwidth = off_diagonal.median().clamp_min(1e-12) / math.log(len(f))
    elif not bandwidth > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}.")
    return torch.exp(-squared / bandwidth)


def repulsive_ensemble_loss(
    prediction: Normal, target: torch.Tensor, n_train: int, repulsion: bool = True
) -> torch.Tensor:
    """Joint loss of an ensemble; its gradient is the (repulsive) ensemble update divided by ``n_train``.

    ``sum_i [ NLL_i + log sum_j k(f_i, stop_grad(f_j)) / n_train ]`` with ``NLL_i`` member ``i``'s mean
    negative log-likelihood on the batch and ``f_i`` its predicted means on the batch. Differentiating
    ``log sum_j k(f_i, f_j)`` with respect to member ``i`` only (the other members enter as constants) gives
    exactly the kernel term of the update. ``1 / n_train`` sets the balance: the likelihood of the whole
    training set is ``n_train`` times the per-event mean, so the repulsion weakens as the data grow, just as
    the posterior narrows.

    Parameters
    ----------
    prediction
        ``Normal`` with ``batch_shape`` ``(members, events)`` from :class:`EnsembleRegressor`.
    target
        ``(events,)``.
    n_train
        Number of training events.
    repulsion
        ``False`` drops the kernel term: an ordinary ensemble of independent fits.

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    if prediction.batch_shape[1:] != target.shape or target.ndim != 1:
        raise ValueError(
            f"prediction has batch_shape {tuple(prediction.batch_shape)}; target must have shape (events,) "
            f"matching its last dimension, got {tuple(target.shape)}."
        )
    n_train = _check_positive_int(n_train, "n_train")
    loss = -prediction.log_prob(target).mean(-1).sum()
    if not repulsion:
        return loss
    f = prediction.mean  # (members, events)
    kernel = rbf_kernel(f, f.detach())  # k(f_i, f_j) with f_j held fixed
    return loss + torch.log(kernel.sum(-1)).sum() / n_train
