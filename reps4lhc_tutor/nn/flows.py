"""Normalizing flows: a thin layer over ``zuko``'s neural spline flow.

A normalizing flow maps the data ``x`` through an invertible transform ``z = f(x)`` onto a standard normal
``z``; the density follows from the change of variables ``log p(x) = log N(f(x); 0, 1) + log |det df/dx|``,
so the training loss is the negative log-likelihood and sampling is ``x = f^{-1}(z)``. The chapter 5a
notebook builds a coupling flow by hand; this module is the tested version it then uses::

    flow = SplineFlow(features=10)
    history = fit(flow, flow_loss, train=(x,), epochs=20, batch_size=1024)
    samples = flow.sample(10_000)  # (10_000, 10)
    log_p = flow.log_prob(x)  # (events,)

Inputs must be standardised (zero mean, unit variance per feature): zuko's splines act on ``[-5, 5]`` and
are the identity outside, so a feature in GeV would see no transform at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import zuko
from torch import nn
from torch.distributions import Distribution

from .mlp import _check_positive_int, _check_widths

__all__ = ["SPLINE_BOUND", "SplineFlow", "flow_loss"]

# Half-width of the interval on which zuko's rational-quadratic splines act (zuko's default); outside it
# every spline is the identity, so standardised features (|x| < 5 for all but 6e-7 of a Gaussian) are needed.
SPLINE_BOUND = 5.0


class SplineFlow(nn.Module):
    """Neural spline flow (Durkan et al. 2019) from ``zuko.flows.NSF``, with coupling transforms.

    ``transforms`` monotonic rational-quadratic spline transforms with ``bins`` bins each; the spline
    parameters of every feature come from a masked MLP of the features before it. zuko's NSF is masked
    autoregressive by default (each feature conditioned on all earlier ones), which makes the density one
    network pass per transform but sampling ``features`` sequential passes. Here ``passes=2`` turns each
    transform into a coupling layer: the features split into two halves; the first half goes through
    elementwise splines whose parameters depend only on the context (learned constants without one), the
    second half through splines conditioned on the first half and the context. Sampling then needs two
    network passes per transform (zuko inverts a coupling like a two-pass autoregressive transform), about
    twice the cost of the density, independent of ``features``. Between transforms the halves swap; with
    more than two features each transform also draws a random feature order (zuko's ``randperm``), so
    that features of the same half end up conditioned on each other. The orders live in the masks, which
    are buffers: a saved ``state_dict`` restores them.

    The base distribution is a standard normal. The splines act on ``[-SPLINE_BOUND, SPLINE_BOUND]`` =
    ``[-5, 5]`` and are the identity outside, so standardise the inputs first.

    Parameters
    ----------
    features
        Dimension of the data ``x``.
    context
        Dimension of the conditioning variables ``c`` (0: an unconditional density ``p(x)``).
    transforms
        Number of spline coupling transforms.
    hidden
        Hidden widths of each transform's MLP (zuko's default ReLU activations).
    bins
        Spline bins per feature and transform.

    Examples
    --------
    >>> flow = SplineFlow(3, transforms=2, hidden=(16,))
    >>> flow.log_prob(torch.zeros(5, 3)).shape, flow.sample(7).shape
    (torch.Size([5]), torch.Size([7, 3]))
    """

    def __init__(
        self,
        features: int,
        context: int = 0,
        transforms: int = 6,
        hidden: Sequence[int] = (128, 128),
        bins: int = 8,
    ) -> None:
        super().__init__()
        self.features = _check_positive_int(features, "features")
        if isinstance(context, bool) or not isinstance(context, int) or context < 0:
            raise ValueError(f"context must be a non-negative integer (0: no context), got {context!r}.")
        self.context = context
        if _check_positive_int(bins, "bins") < 2:
            raise ValueError(f"bins must be at least 2 (a spline needs interior knots), got {bins}.")
        self.flow = zuko.flows.NSF(
            features=self.features,
            context=self.context,
            bins=bins,
            transforms=_check_positive_int(transforms, "transforms"),
            passes=2,  # coupling: sampling costs two passes per transform, not `features`
            randperm=self.features > 2,  # with two features, the fixed alternating order is already best
            hidden_features=_check_widths(hidden),
        )

    def _check_context(self, context: torch.Tensor | None) -> None:
        if self.context == 0:
            if context is not None:
                raise ValueError("this SplineFlow has context=0: build it with SplineFlow(..., context=k).")
            return
        if context is None:
            raise ValueError(
                f"this SplineFlow is conditional: pass a context of shape (..., {self.context})."
            )
        if context.shape[-1:] != (self.context,):
            raise ValueError(
                f"SplineFlow expects a context of shape (..., {self.context}), got {tuple(context.shape)}."
            )

    def forward(self, context: torch.Tensor | None = None) -> Distribution:
        """The flow's distribution ``p(x | context)``, a ``torch.distributions.Distribution`` from zuko.

        Parameters
        ----------
        context
            ``None`` for an unconditional flow, else shape ``(..., context)``; the distribution then has
            ``batch_shape`` ``context.shape[:-1]``.

        Returns
        -------
        zuko.distributions.NormalizingFlow
            ``event_shape`` ``(features,)``; its ``.transform`` maps data to the latent space (``x -> z``),
            ``.transform.inv`` back; ``.log_prob``, ``.sample`` and ``.rsample`` as for any distribution.
        """
        self._check_context(context)
        return self.flow(context)

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Log-density of ``x``: shape ``(..., features)`` -> ``(...)``, e.g. ``(batch,)``.

        ``context`` has shape ``(..., context)`` broadcastable against ``x``'s leading dimensions.
        """
        if x.shape[-1:] != (self.features,):
            raise ValueError(
                f"SplineFlow expects x of shape (..., {self.features}), got {tuple(x.shape)}; "
                f"check the feature order or the flow's features."
            )
        # One host synchronisation per call: cheap next to a flow's forward pass, and a NaN here would
        # otherwise surface only as a NaN loss.
        if torch.isnan(x).any():
            raise ValueError("SplineFlow got NaN inputs: remove or impute them before training.")
        return self(context).log_prob(x)

    def sample(self, n: int, context: torch.Tensor | None = None) -> torch.Tensor:
        """Draw ``n`` samples (without gradients; use ``self(context).rsample`` for reparametrised ones).

        Parameters
        ----------
        n
            Samples per context.
        context
            ``None`` (unconditional), shape ``(context,)`` for one condition, or ``(batch, context)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n, features)``, or ``(n, batch, features)`` for a batch of contexts.
        """
        return self(context).sample((_check_positive_int(n, "n"),))


def flow_loss(flow: SplineFlow, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """Mean negative log-likelihood of ``x`` of shape ``(batch, features)`` (and a ``(batch, context)``).

    The loss :func:`~reps4lhc_tutor.train.fit` minimises as ``loss_fn(model, *batch)``: pass
    ``train=(x,)`` for an unconditional flow, ``train=(x, c)`` for a conditional one.
    """
    return -flow.log_prob(x, context).mean()
