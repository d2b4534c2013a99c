"""Conditional flow matching (Lipman et al. 2023; Liu et al. 2023; Tong et al. 2023) on straight paths.

A velocity field ``v(x, t)`` transports a standard normal at ``t = 0`` into the data at ``t = 1`` along the
ODE ``dx/dt = v(x, t)``. Training regresses ``v`` on the velocity of straight lines between a noise draw
``x0`` and an event ``x1``: ``x_t = (1 - t) x0 + t x1``, ``u_t = x1 - x0``; the minimiser is the conditional
mean ``E[x1 - x0 | x_t]``, whose flow has the data as its end point. Sampling integrates the ODE with a
fixed-step solver. The chapter 5a notebook writes the loss by hand; this module is the tested version::

    velocity = MLPVelocity(features=10)
    history = fit(velocity, cfm_loss, train=(x,), epochs=20, batch_size=1024)  # cfm_loss(model, x)
    samples = cfm_sample(velocity, (10_000, 10))

    # variable multiplicity: tokens (muon 1, muon 2, jet 1, jet 2, jet 3) with a mask, True = real token
    velocity = TransformerVelocity(token_features=4, max_tokens=5)
    history = fit(velocity, cfm_loss, train=(tokens, mask), epochs=20, batch_size=512)  # (model, x, mask)
    samples = cfm_sample(velocity, tokens.shape, mask=mask)  # the multiplicities are given, not generated

    # conditional: p(x_part | x_det), trained on simulated pairs, sampled for each measured event
    velocity = MLPVelocity(features=6, context=6)
    history = fit(velocity, conditional_cfm_loss, train=(x_part, x_det), epochs=20, batch_size=1024)
    unfolded = cfm_sample(velocity, (len(data_det), 6), context=data_det)

A velocity network is called as ``velocity(x, t)`` on ``(batch, features)`` events, or ``velocity(x, t,
mask)`` on ``(batch, tokens, features)`` token sets, with ``t`` of shape ``(batch,)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

from .diffusion import time_features
from .mlp import MLP, _check_positive_int
from .sets import check_particles
from .transformer import encoder_blocks

__all__ = [
    "ODE_METHODS",
    "MLPVelocity",
    "TransformerVelocity",
    "cfm_loss",
    "cfm_sample",
    "conditional_cfm_loss",
    "sample_ode",
]

ODE_METHODS = ("euler", "midpoint", "rk4")

Velocity = Callable[..., torch.Tensor]


def _mask_tokens(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``x`` ``(batch, tokens, features)`` with the tokens where ``mask`` ``(batch, tokens)`` off zeroed."""
    return x if mask is None else x * mask.unsqueeze(-1).to(x.dtype)


def _call(velocity: Velocity, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return velocity(x, t) if mask is None else velocity(x, t, mask)


def _check_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | None:
    if mask is None:
        return None
    if x.ndim != 3 or mask.shape != x.shape[:2]:
        raise ValueError(
            f"a mask needs tokens of shape (batch, tokens, features) and shape (batch, tokens); got x "
            f"{tuple(x.shape)} and mask {tuple(mask.shape)}."
        )
    return mask.bool()


def cfm_loss(
    velocity: Velocity, x1: torch.Tensor, mask: torch.Tensor | None = None, *, sigma_min: float = 0.0
) -> torch.Tensor:
    """Conditional flow-matching loss on straight paths from a standard normal to the data.

    For each event ``t ~ U(0, 1)`` and ``x0 ~ N(0, 1)``; ``x_t = (1 - (1 - sigma_min) t) x0 + t x1`` and the
    target velocity is ``x1 - (1 - sigma_min) x0`` (Lipman et al.'s optimal-transport path). With the
    default ``sigma_min = 0`` the path ends exactly at the event, as in rectified flow; a small positive
    value leaves a Gaussian of width ``sigma_min`` around each event at ``t = 1``.

    Parameters
    ----------
    velocity
        ``velocity(x_t, t)`` (or ``velocity(x_t, t, mask)``) returning the shape of ``x1``.
    x1
        Events ``(batch, features)``, or token sets ``(batch, tokens, features)`` with ``mask``.
    mask
        ``(batch, tokens)``, True for real tokens. Padded tokens of ``x_t`` are zero, the network sees the
        mask, and the squared error is averaged over the real tokens' features only.
    sigma_min
        Width of the path at ``t = 1``, in ``[0, 1)``.

    Returns
    -------
    torch.Tensor
        Scalar: mean squared error per (real) feature.
    """
    if not 0.0 <= sigma_min < 1.0:
        raise ValueError(f"sigma_min must be in [0, 1), got {sigma_min!r}.")
    mask = _check_mask(x1, mask)
    t = torch.rand(len(x1), device=x1.device, dtype=x1.dtype)  # (batch,)
    t_ = t.view(-1, *[1] * (x1.ndim - 1))  # broadcasts over the event's dimensions
    x0 = _mask_tokens(torch.randn_like(x1), mask)
    x1 = _mask_tokens(x1, mask)
    x_t = (1 - (1 - sigma_min) * t_) * x0 + t_ * x1
    squared = (_call(velocity, x_t, t, mask) - (x1 - (1 - sigma_min) * x0)).pow(2)
    if mask is None:
        return squared.mean()
    real = mask.unsqueeze(-1).to(squared.dtype)  # (batch, tokens, 1)
    return (squared * real).sum() / (real.sum() * x1.shape[-1])


def conditional_cfm_loss(
    velocity: Velocity, x1: torch.Tensor, context: torch.Tensor, *, sigma_min: float = 0.0
) -> torch.Tensor:
    """:func:`cfm_loss` for a conditional velocity ``velocity(x, t, context=c)``: it learns ``p(x1 | c)``.

    ``x1`` ``(batch, features)`` and ``context`` ``(batch, context features)`` are paired event by event
    (e.g. particle and detector level of the same simulated events), so a batch of ``tutor.fit`` is
    ``(x1, context)``.
    """
    if len(context) != len(x1):
        raise ValueError(
            f"x1 and context must pair events one to one, got {len(x1)} and {len(context)} rows."
        )
    return cfm_loss(partial(velocity, context=context), x1, sigma_min=sigma_min)


@torch.no_grad()
def sample_ode(
    velocity: Velocity,
    x0: torch.Tensor,
    *,
    steps: int = 50,
    method: str = "midpoint",
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Integrate ``dx/dt = velocity(x, t)`` from ``t = 0`` to ``t = 1`` with ``steps`` fixed steps.

    ``"euler"`` (first order, one velocity call per step), ``"midpoint"`` (second order, two calls), or
    ``"rk4"`` (classical Runge-Kutta, fourth order, four calls). The global error falls as
    ``steps^-order``; for the nearly straight paths of a trained CFM model midpoint with 25-50 steps is
    usually indistinguishable from rk4 at the same number of calls.

    Parameters
    ----------
    velocity
        ``velocity(x, t)`` (or ``velocity(x, t, mask)``) with ``t`` of shape ``(batch,)``.
    x0
        Starting points ``(batch, features)``, or ``(batch, tokens, features)`` with ``mask``.
    mask
        ``(batch, tokens)``, True for real tokens; padded tokens start and stay at zero.

    Returns
    -------
    torch.Tensor
        The end points at ``t = 1``, the shape of ``x0``.
    """
    steps = _check_positive_int(steps, "steps")
    if method not in ODE_METHODS:
        raise ValueError(f"method must be one of {ODE_METHODS}, got {method!r}.")
    mask = _check_mask(x0, mask)
    h = 1.0 / steps
    x = _mask_tokens(x0, mask)

    def v(x: torch.Tensor, t: float) -> torch.Tensor:
        time = torch.full((len(x),), t, device=x.device, dtype=x.dtype)
        return _mask_tokens(_call(velocity, x, time, mask), mask)

    for i in range(steps):
        t = i * h
        if method == "euler":
            x = x + h * v(x, t)
        elif method == "midpoint":
            x = x + h * v(x + h / 2 * v(x, t), t + h / 2)
        else:
            k1 = v(x, t)
            k2 = v(x + h / 2 * k1, t + h / 2)
            k3 = v(x + h / 2 * k2, t + h / 2)
            k4 = v(x + h * k3, t + h)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def cfm_sample(
    velocity: nn.Module,
    shape: Sequence[int],
    *,
    mask: torch.Tensor | None = None,
    steps: int = 50,
    method: str = "midpoint",
    generator: torch.Generator | None = None,
    context: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generate events: standard normal noise of ``shape`` pushed through :func:`sample_ode`.

    Parameters
    ----------
    velocity
        A trained velocity network; the noise is drawn on the device and in the dtype of its parameters.
    shape
        ``(n, features)``, or ``(n, tokens, features)`` with ``mask``.
    mask
        ``(n, tokens)``, True for real tokens: the multiplicity of each generated event (e.g. drawn from the
        training data's multiplicities). Padded tokens are zero.
    steps, method
        As in :func:`sample_ode`.
    generator
        Makes the noise reproducible; it must live on the network's device.
    context
        For a conditional velocity: the condition of each event, ``(n, context features)``.

    Returns
    -------
    torch.Tensor
        Events of ``shape``.
    """
    parameter = next(velocity.parameters(), None)
    if parameter is None:
        raise TypeError("cfm_sample needs a velocity network with parameters; use sample_ode for a function.")
    x0 = torch.randn(tuple(shape), generator=generator, device=parameter.device, dtype=parameter.dtype)
    if context is not None:
        if len(context) != len(x0):
            raise ValueError(
                f"context must hold one condition per event ({len(x0)}), got {len(context)} rows."
            )
        velocity = partial(velocity, context=context)
    return sample_ode(velocity, x0, steps=steps, method=method, mask=mask)


class MLPVelocity(nn.Module):
    """Velocity field ``v(x, t)`` for events with a fixed number of features: an MLP on ``(x, t)``.

    The time enters as :func:`~reps4lhc_tutor.nn.diffusion.time_features` (``t`` and ``frequencies`` pairs
    of Fourier features), concatenated to ``x``. With ``context=k`` the velocity is conditional,
    ``v(x, t | c)`` with ``c`` of ``k`` features concatenated as well; trained with
    :func:`conditional_cfm_loss` it generates from ``p(x | c)``, e.g. particle-level events given the
    detector-level ones (generative unfolding, chapter 6).

    Parameters
    ----------
    features
        Dimension of the events.
    hidden
        Hidden widths of the :class:`~reps4lhc_tutor.nn.mlp.MLP` (SiLU activations: the velocity, and so the
        ODE's right-hand side, is smooth).
    frequencies
        Fourier frequencies of the time embedding.
    context
        Features of the condition ``c``; 0 (the default) for an unconditional velocity.

    Examples
    --------
    >>> velocity = MLPVelocity(3, hidden=(32,))
    >>> velocity(torch.zeros(5, 3), torch.rand(5)).shape
    torch.Size([5, 3])
    >>> conditional = MLPVelocity(3, hidden=(32,), context=2)
    >>> conditional(torch.zeros(5, 3), torch.rand(5), context=torch.zeros(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self, features: int, hidden: Sequence[int] = (256, 256, 256), frequencies: int = 4, context: int = 0
    ) -> None:
        super().__init__()
        self.features = _check_positive_int(features, "features")
        self.frequencies = _check_positive_int(frequencies, "frequencies")
        if isinstance(context, bool) or not isinstance(context, int) or context < 0:
            raise ValueError(f"context must be a number of features >= 0, got {context!r}.")
        self.context = context
        self.net = MLP(self.features + 1 + 2 * self.frequencies + context, self.features, hidden, nn.SiLU)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity ``(batch, features)`` at ``x`` ``(batch, features)``, times ``t`` ``(batch,)`` and, for a
        conditional velocity, the condition ``context`` ``(batch, context)``."""
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(
                f"MLPVelocity expects x of shape (batch, {self.features}), got {tuple(x.shape)}; "
                f"check the feature order or the model's features."
            )
        if t.shape != x.shape[:1]:
            raise ValueError(f"t must have shape (batch,) = {tuple(x.shape[:1])}, got {tuple(t.shape)}.")
        inputs = [x, time_features(t, self.frequencies)]
        if self.context:
            if context is None or context.shape != (len(x), self.context):
                got = None if context is None else tuple(context.shape)
                raise ValueError(
                    f"this MLPVelocity is conditional: pass context of shape (batch, {self.context}) = "
                    f"{(len(x), self.context)}, got {got}."
                )
            inputs.append(context)
        elif context is not None:
            raise ValueError("this MLPVelocity has context=0: build it with MLPVelocity(..., context=k).")
        return self.net(torch.cat(inputs, dim=-1))


class TransformerVelocity(nn.Module):
    """Velocity field on token sets: pre-norm ``nn.TransformerEncoder`` blocks over the real tokens.

    Each token's representation is the sum of a linear embedding of its features, a learned embedding of
    its slot (position ``0 .. max_tokens - 1``: muon 1, muon 2, jet 1, ... keep their identity, so the
    network is deliberately *not* permutation equivariant) and an embedding of the time (an MLP on
    :func:`~reps4lhc_tutor.nn.diffusion.time_features`), shared by all tokens of an event. Attention ignores
    padded tokens (``src_key_padding_mask = ~mask``), so real tokens' velocities do not depend on what the
    padding holds, and the output is zero at padded tokens.

    Parameters
    ----------
    token_features
        Features per token.
    max_tokens
        Number of token slots; inputs may have up to this many tokens.
    d_model
        Width of the token representation.
    num_heads
        Attention heads; must divide ``d_model``.
    num_layers
        Transformer blocks.
    mlp_ratio
        Width of the blocks' feed-forward network in units of ``d_model``.
    frequencies
        Fourier frequencies of the time embedding.

    Examples
    --------
    >>> velocity = TransformerVelocity(4, max_tokens=5, d_model=16, num_heads=2, num_layers=1)
    >>> mask = torch.tensor([[True, True, True, False, False]])
    >>> velocity(torch.zeros(1, 5, 4), torch.rand(1), mask).shape
    torch.Size([1, 5, 4])
    """

    def __init__(
        self,
        token_features: int,
        max_tokens: int,
        *,
        d_model: int = 64,
        num_heads: int = 4,
        num_layers: int = 4,
        mlp_ratio: int = 4,
        frequencies: int = 4,
    ) -> None:
        super().__init__()
        self.token_features = _check_positive_int(token_features, "token_features")
        self.max_tokens = _check_positive_int(max_tokens, "max_tokens")
        d_model = _check_positive_int(d_model, "d_model")
        num_heads = _check_positive_int(num_heads, "num_heads")
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}.")
        self.frequencies = _check_positive_int(frequencies, "frequencies")
        self.embed = nn.Linear(self.token_features, d_model)
        self.slot = nn.Embedding(self.max_tokens, d_model)
        self.time = MLP(1 + 2 * self.frequencies, d_model, (d_model,), nn.SiLU)
        self.blocks = encoder_blocks(d_model, num_heads, num_layers, mlp_ratio, dropout=0.0)  # no dropout:
        # a regression target, every event counts
        self.head = nn.Linear(d_model, self.token_features)

    def forward(self, x: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity of tokens ``x`` ``(batch, tokens, token_features)`` at times ``t`` ``(batch,)``.

        ``mask`` ``(batch, tokens)`` is True for real tokens (None: all real). Returns ``(batch, tokens,
        token_features)``, zero at padded tokens.
        """
        mask = check_particles(x, mask, self.token_features, "TransformerVelocity")
        tokens = x.shape[1]
        if tokens > self.max_tokens:
            raise ValueError(f"got {tokens} tokens but max_tokens={self.max_tokens}: build a larger model.")
        if t.shape != x.shape[:1]:
            raise ValueError(f"t must have shape (batch,) = {tuple(x.shape[:1])}, got {tuple(t.shape)}.")
        slots = self.slot(torch.arange(tokens, device=x.device))  # (tokens, d_model)
        time = self.time(time_features(t.to(x.dtype), self.frequencies)).unsqueeze(1)  # (batch, 1, d_model)
        h = self.embed(x) + slots + time  # (batch, tokens, d_model)
        padding = None if mask is None else ~mask  # torch's convention: True where a key is ignored
        out = self.head(self.blocks(h, src_key_padding_mask=padding))  # (batch, tokens, token_features)
        return _mask_tokens(out, mask)
