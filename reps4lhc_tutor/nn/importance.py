r"""Neural importance sampling: a flow on the unit hypercube trained to sample like an integrand.

The integral ``I = int_{[0,1]^d} f(u) du`` of a non-negative ``f`` is estimated with points from a density
``q`` as the mean of the weights ``w = f / q``; its variance ``(int f^2 / q - I^2) / N`` vanishes for
``q = f / I``. A normalizing flow ``q_theta`` is trained towards that optimum (Müller et al.,
arXiv:1808.03856; Bothmann et al., arXiv:2001.05478; Gao et al., "i-flow", arXiv:2001.05486, and
arXiv:2001.10028; Heimel et al., "MadNIS", arXiv:2212.06172) with points it drew itself:

* ``variance_loss``: ``int f^2 / q_theta``, the second moment of the weights (minimising it minimises the
  variance, since ``I`` is fixed);
* ``kl_loss``: ``-int f log q_theta``, the KL divergence from ``f / I`` to ``q_theta`` up to a constant.

Both are expectations under any sampling density ``q_s``, written with the weights ``w_s = f / q_s`` of the
points where ``f`` was evaluated. So points stay useful after the flow has moved on: the trainer keeps the
latest ones in a buffer and takes extra gradient steps on them (MadNIS's buffered training), which saves
integrand calls, the expensive part for matrix elements.

Integrands are Python callables on NumPy arrays, ``f(u)`` with ``u`` of shape ``(batch, d)`` (float64) ->
``(batch,)``, finite and ``>= 0``; they need no gradient, so any matrix-element code works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import zuko
from numpy.typing import NDArray
from torch.distributions import AffineTransform
from tqdm.auto import tqdm

from ..integration import relative_std
from .flows import SPLINE_BOUND, SplineFlow
from .mlp import _check_positive_float, _check_positive_int

__all__ = [
    "ImportanceHistory",
    "UnitCubeFlow",
    "kl_loss",
    "sample_weights",
    "train_importance_sampler",
    "variance_loss",
]

# Scale of the last layer of every spline network at initialisation: splines start near the identity.
_INITIAL_SCALE = 1e-2

Integrand = Callable[[NDArray[np.float64]], NDArray[np.float64]]


class UnitCubeFlow(SplineFlow):
    """A spline coupling flow on the unit hypercube ``[0, 1]^features`` with a uniform base density.

    :class:`SplineFlow` with two changes, as in i-flow and MadNIS: the base density is uniform on
    ``[-5, 5]^features`` (the splines' domain) instead of a Gaussian, and an affine map takes the hypercube
    onto that box. The density is then non-zero exactly on the hypercube and bounded away from zero there
    (the splines' slopes are at least zuko's minimum), so the weights ``f / q`` stay finite wherever ``f``
    is. At initialisation the splines are close to the identity, so the flow starts close to uniform.

    Parameters are those of :class:`SplineFlow`; the default network is smaller, because importance
    sampling needs a density that is good where ``f`` is large rather than a precise one everywhere.

    Examples
    --------
    >>> flow = UnitCubeFlow(5, transforms=2, hidden=(16,))
    >>> u = flow.sample(4)
    >>> u.shape, bool(((u >= 0) & (u <= 1)).all())
    (torch.Size([4, 5]), True)
    """

    def __init__(
        self,
        features: int,
        context: int = 0,
        transforms: int = 4,
        hidden: Sequence[int] = (64, 64),
        bins: int = 16,
    ) -> None:
        super().__init__(features, context, transforms, hidden, bins)
        lower = torch.full((self.features,), -SPLINE_BOUND)
        to_box = zuko.flows.UnconditionalTransform(
            AffineTransform, lower, torch.full((self.features,), 2 * SPLINE_BOUND), event_dim=1, buffer=True
        )
        self.flow = zuko.flows.Flow(
            transform=[to_box, *self.flow.transform.transforms],
            base=zuko.flows.UnconditionalDistribution(
                zuko.distributions.BoxUniform, lower, -lower, buffer=True
            ),
        )
        # Start close to flat sampling: with a tiny last layer every spline is nearly the identity, so the
        # first points are nearly uniform and the first weights nearly those of RAMBO (no holes in q).
        for transform in self.flow.transform.transforms[1:]:
            last = transform.hyper[-1]
            with torch.no_grad():
                last.weight.mul_(_INITIAL_SCALE)
                last.bias.zero_()


def _importance_terms(
    log_q: torch.Tensor, f: torch.Tensor, log_q_sample: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``w_s = f / q_s`` of the sampled points (no gradient) and ``f / q_theta`` (with gradient)."""
    if not (log_q.shape == f.shape == log_q_sample.shape and log_q.ndim == 1):
        raise ValueError(
            f"log_q, f and log_q_sample must all have shape (batch,), got {tuple(log_q.shape)}, "
            f"{tuple(f.shape)} and {tuple(log_q_sample.shape)}."
        )
    f = f.to(torch.float64)
    sample_weight = f * torch.exp(-log_q_sample.detach().to(torch.float64))
    if not torch.isfinite(sample_weight).all() or (f < 0).any() or not (f > 0).any():
        raise ValueError("f must be finite, >= 0 and positive somewhere, and log_q_sample finite.")
    return sample_weight, f * torch.exp(-log_q.to(torch.float64))


def variance_loss(log_q: torch.Tensor, f: torch.Tensor, log_q_sample: torch.Tensor) -> torch.Tensor:
    r"""Second moment of the weights relative to the squared integral, ``int (f^2 / q) / I^2``.

    Estimated with points from ``q_s``: ``mean(w_s f / q) / mean(w_s)^2`` with ``w_s = f / q_s``. Its
    minimum, 1, is reached at ``q = f / I``; ``loss - 1`` is the squared relative standard deviation of
    the weights, ``(std(w) / <w>)^2``.

    Parameters
    ----------
    log_q : torch.Tensor, shape ``(batch,)``
        ``log q_theta`` at the points, with gradient.
    f : torch.Tensor, shape ``(batch,)``
        The integrand at the points (no gradient needed).
    log_q_sample : torch.Tensor, shape ``(batch,)``
        Log-density of the distribution the points were drawn from (detached).

    Returns
    -------
    torch.Tensor, scalar (float64)
    """
    sample_weight, weight = _importance_terms(log_q, f, log_q_sample)
    return (sample_weight * weight).mean() / sample_weight.mean() ** 2


def kl_loss(log_q: torch.Tensor, f: torch.Tensor, log_q_sample: torch.Tensor) -> torch.Tensor:
    r"""``-int (f / I) log q_theta``: the KL divergence ``KL(f / I || q_theta)`` up to a constant.

    Estimated as ``-mean(w_s log q) / mean(w_s)``; arguments and shapes as in :func:`variance_loss`. This is
    the negative log-likelihood of the flow on points weighted by ``f / q_s``, a weighted version of the
    loss of chapter 5a.
    """
    sample_weight, _ = _importance_terms(log_q, f, log_q_sample)
    return -(sample_weight * log_q.to(torch.float64)).mean() / sample_weight.mean()


_LOSSES = {"variance": variance_loss, "kl": kl_loss}


def _evaluate(integrand: Integrand, u: torch.Tensor) -> torch.Tensor:
    """Call the integrand on the points (as float64 NumPy) and check what it returns."""
    values = np.asarray(integrand(u.detach().cpu().to(torch.float64).numpy()), dtype=np.float64)
    if values.shape != (len(u),):
        raise ValueError(f"the integrand must return shape (batch,) = ({len(u)},), got {values.shape}.")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("the integrand returned NaN, inf or negative values; it must be finite and >= 0.")
    return torch.from_numpy(values).to(u.device)


@torch.no_grad()
def sample_weights(
    flow: UnitCubeFlow, integrand: Integrand, n: int, batch_size: int = 10_000, progress: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Draw ``n`` points from the flow and weight them with ``f / q``.

    Parameters
    ----------
    flow : UnitCubeFlow
    integrand : callable, ``(batch, d)`` float64 -> ``(batch,)``
    n : int
        Number of points, i.e. integrand calls.
    batch_size : int
    progress : bool
        Show a progress bar.

    Returns
    -------
    u : array, shape ``(n, d)``, float64
    weights : array, shape ``(n,)``, float64
        ``f(u) / q(u)``: their mean estimates ``int f du``.
    """
    n = _check_positive_int(n, "n")
    batch_size = _check_positive_int(batch_size, "batch_size")
    points, weights = [], []
    for start in tqdm(range(0, n, batch_size), desc="sampling", disable=not progress, unit="batch"):
        u, log_q = flow().rsample_and_log_prob((min(batch_size, n - start),))
        weights.append((_evaluate(integrand, u) * torch.exp(-log_q.to(torch.float64))).cpu().numpy())
        points.append(u.cpu().to(torch.float64).numpy())
    return np.concatenate(points), np.concatenate(weights)


@dataclass
class ImportanceHistory:
    """Per iteration of :func:`train_importance_sampler`, from the fresh points of that iteration."""

    integral: list[float] = field(default_factory=list)  # mean weight: an unbiased estimate of the integral
    relative_std: list[float] = field(default_factory=list)  # std(w) / mean(w) of the fresh points
    loss: list[float] = field(default_factory=list)  # loss on the fresh points before the update
    calls: list[int] = field(default_factory=list)  # integrand calls so far


def train_importance_sampler(
    flow: UnitCubeFlow,
    integrand: Integrand,
    iterations: int,
    batch_size: int = 1024,
    *,
    loss: str = "variance",
    buffer_steps: int = 0,
    buffer_size: int = 20_000,
    learning_rate: float = 1e-3,
    max_grad_norm: float | None = None,
    generator: torch.Generator | None = None,
    progress: bool = True,
) -> ImportanceHistory:
    """Train ``flow`` online on the integrand: each iteration draws fresh points, then updates the flow.

    Every iteration (1) draws ``batch_size`` points from the current flow and evaluates the integrand there,
    (2) takes one gradient step of ``loss`` on them, and (3) takes ``buffer_steps`` more steps on random
    batches of the last ``buffer_size`` points, reweighted with the density they were drawn from (no new
    integrand calls). A cosine schedule lowers the learning rate to zero over the iterations.

    Parameters
    ----------
    flow : UnitCubeFlow
        Trained in place, on the device of its parameters.
    integrand : callable, ``(batch, d)`` float64 -> ``(batch,)``
        Finite, ``>= 0``.
    iterations : int
        Online iterations; the integrand is called ``iterations * batch_size`` times in all.
    batch_size : int
    loss : {"variance", "kl"}
        :func:`variance_loss` or :func:`kl_loss`.
    buffer_steps : int
        Extra gradient steps on buffered points per iteration (0: purely online).
    buffer_size : int
        How many of the latest points the buffer keeps.
    learning_rate : float
        Adam's initial learning rate.
    max_grad_norm : float, optional
        Clip the gradient norm of every step to this value: a single point with a huge weight otherwise
        throws the flow far in one step. ``None``: no clipping.
    generator : torch.Generator, optional
        Draws the buffer batches (the flow's own sampling uses torch's global generator).
    progress : bool

    Returns
    -------
    ImportanceHistory
    """
    if not isinstance(flow, UnitCubeFlow):
        raise TypeError(f"flow must be a UnitCubeFlow, got {type(flow).__name__}.")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}.")
    loss_fn = _LOSSES[loss]
    iterations = _check_positive_int(iterations, "iterations")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if isinstance(buffer_steps, bool) or not isinstance(buffer_steps, int) or buffer_steps < 0:
        raise ValueError(f"buffer_steps must be an integer >= 0, got {buffer_steps!r}.")
    buffer_size = _check_positive_int(buffer_size, "buffer_size")
    optimizer = torch.optim.Adam(flow.parameters(), lr=_check_positive_float(learning_rate, "learning_rate"))
    if max_grad_norm is not None:
        max_grad_norm = _check_positive_float(max_grad_norm, "max_grad_norm")
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=iterations * (1 + buffer_steps))
    device = next(flow.parameters()).device
    buffer: list[torch.Tensor] = []  # u, f, log q_s of the latest points, concatenated

    def step(u: torch.Tensor, f: torch.Tensor, log_q_sample: torch.Tensor) -> float:
        value = loss_fn(flow.log_prob(u), f, log_q_sample)
        optimizer.zero_grad()
        value.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(flow.parameters(), max_grad_norm)
        optimizer.step()
        schedule.step()
        return value.item()

    history = ImportanceHistory()
    bar = tqdm(range(iterations), desc="training", disable=not progress, unit="it")
    for _ in bar:
        with torch.no_grad():
            u, log_q_sample = flow().rsample_and_log_prob((batch_size,))
        f = _evaluate(integrand, u)
        weights = (f * torch.exp(-log_q_sample.to(torch.float64))).cpu().numpy()
        history.integral.append(float(weights.mean()))
        history.relative_std.append(relative_std(weights))  # raises if no fresh point passed the cuts
        history.calls.append((len(history.calls) + 1) * batch_size)
        history.loss.append(step(u, f, log_q_sample))
        bar.set_postfix(rel_std=f"{history.relative_std[-1]:.3g}")
        if buffer_steps:
            fresh = [u, f, log_q_sample]
            if buffer:
                fresh = [torch.cat([b, x])[-buffer_size:] for b, x in zip(buffer, fresh, strict=True)]
            buffer = fresh
            for _ in range(buffer_steps):
                index = torch.randint(len(buffer[0]), (batch_size,), generator=generator).to(device)
                step(*(b[index] for b in buffer))
    return history
