"""Denoising diffusion (DDPM, Ho et al. 2020) for events with a fixed number of features.

The forward process adds Gaussian noise in ``steps`` small steps, ``q(x_t | x_0) = N(sqrt(abar_t) x_0,
(1 - abar_t) 1)``, until nothing of the data is left; a network learns the noise ``eps`` that was added, and
the reverse Markov chain turns noise back into events. The chapter 5a notebook writes the loss and the
sampler by hand; this module is the tested version it then uses::

    ddpm = DDPM(features=10)
    history = fit(ddpm, ddpm_loss, train=(x,), epochs=20, batch_size=1024)
    samples = ddpm.sample(10_000)  # (10_000, 10), 1000 network passes
    fast = ddpm.sample(10_000, ddim_steps=50)  # deterministic DDIM, 50 passes

:func:`time_features` is also the time input of the flow-matching networks in :mod:`.cfm`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from .mlp import MLP, _check_positive_int

__all__ = ["DDPM", "SCHEDULES", "ddpm_loss", "noise_schedule", "time_features"]

SCHEDULES = ("cosine", "linear")

# Largest beta of the cosine schedule (Nichol & Dhariwal 2021): near t = T the formula gives beta -> 1,
# which would make the last reverse step divide by sqrt(1 - beta) = 0.
MAX_BETA = 0.999


def noise_schedule(steps: int, schedule: str = "cosine") -> torch.Tensor:
    """The variances ``beta_t`` of the forward steps, in float64, shape ``(steps,)``.

    ``"cosine"`` (Nichol & Dhariwal 2021): ``abar(t) = f(t) / f(0)`` with ``f(t) = cos^2((t/T + s) / (1 + s)
    pi / 2)``, ``s = 0.008``, and ``beta_t = 1 - abar(t) / abar(t - 1)`` clipped at 0.999; the signal decays
    evenly in log-SNR instead of being destroyed in the first third of the chain. ``"linear"`` (Ho et al.
    2020): beta from ``1e-4`` to ``0.02`` for ``T = 1000``; for other ``T`` the end points are scaled by
    ``1000 / T``, so that ``abar_T`` stays close to zero.
    """
    steps = _check_positive_int(steps, "steps")
    if schedule == "cosine":
        s = 0.008
        t = torch.arange(steps + 1, dtype=torch.float64) / steps
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=MAX_BETA)
    if schedule == "linear":
        scale = 1000 / steps
        return torch.linspace(scale * 1e-4, min(scale * 0.02, MAX_BETA), steps, dtype=torch.float64)
    raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")


def time_features(t: torch.Tensor, frequencies: int) -> torch.Tensor:
    """Embed times ``t`` in ``[0, 1]`` of shape ``(batch,)`` as ``(batch, 1 + 2 frequencies)``.

    ``[t, sin(pi 2^k t), cos(pi 2^k t)]`` for ``k = 0 .. frequencies - 1``: the raw time plus Fourier
    features of doubling frequency (as NeRF's positional encoding), so that a small MLP resolves changes in
    ``t`` down to ~``2^-frequencies`` without having to build oscillations from one input.
    """
    scales = math.pi * 2.0 ** torch.arange(frequencies, device=t.device, dtype=t.dtype)  # (frequencies,)
    angles = t.unsqueeze(-1) * scales  # (batch, frequencies)
    return torch.cat([t.unsqueeze(-1), angles.sin(), angles.cos()], dim=-1)


class DDPM(nn.Module):
    """Denoising diffusion probabilistic model with an MLP that predicts the added noise.

    Step ``t = 0 .. steps - 1`` of the chain (``t + 1`` in Ho et al.'s counting) has variance ``betas[t]``
    and ``alphas_cumprod[t] = prod_{s <= t} (1 - betas[s])``: ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t)
    eps``. The network ``eps_theta(x_t, t)`` is an :class:`~reps4lhc_tutor.nn.mlp.MLP` on the concatenation
    of ``x_t`` and :func:`time_features` of ``(t + 1) / steps`` with ``frequencies`` Fourier frequencies.
    The schedule is computed in float64 and stored as non-persistent buffers in the module's dtype (it is a
    function of the constructor's arguments, so a ``state_dict`` holds only the network).

    Data should be standardised: the chain ends at a standard normal, so features of order one keep the
    signal-to-noise ratio of the schedule meaningful.

    Parameters
    ----------
    features
        Dimension of the events.
    hidden
        Hidden widths of the noise-prediction MLP (SiLU activations).
    steps
        Number of diffusion steps ``T``.
    schedule
        ``"cosine"`` or ``"linear"``; see :func:`noise_schedule`.
    frequencies
        Fourier frequencies of the time embedding.

    Examples
    --------
    >>> ddpm = DDPM(2, hidden=(32,), steps=50)
    >>> ddpm.loss(torch.randn(8, 2)).shape, ddpm.sample(5).shape
    (torch.Size([]), torch.Size([5, 2]))
    """

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor

    def __init__(
        self,
        features: int,
        hidden: Sequence[int] = (256, 256, 256),
        steps: int = 1000,
        schedule: str = "cosine",
        frequencies: int = 6,
    ) -> None:
        super().__init__()
        self.features = _check_positive_int(features, "features")
        self.steps = _check_positive_int(steps, "steps")
        self.schedule = schedule
        self.frequencies = _check_positive_int(frequencies, "frequencies")
        betas = noise_schedule(self.steps, schedule)  # float64
        dtype = torch.get_default_dtype()
        self.register_buffer("betas", betas.to(dtype), persistent=False)
        self.register_buffer("alphas_cumprod", torch.cumprod(1 - betas, dim=0).to(dtype), persistent=False)
        self.net = MLP(self.features + 1 + 2 * self.frequencies, self.features, hidden, nn.SiLU)

    def _check_events(self, x: torch.Tensor) -> None:
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(
                f"DDPM expects events of shape (batch, {self.features}), got {tuple(x.shape)}; "
                f"check the feature order or the model's features."
            )

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predict the noise in ``x_t`` of shape ``(batch, features)`` at integer steps ``t`` ``(batch,)``."""
        self._check_events(x_t)
        if t.shape != x_t.shape[:1]:
            raise ValueError(f"t must have shape (batch,) = {tuple(x_t.shape[:1])}, got {tuple(t.shape)}.")
        tau = (t.to(x_t.dtype) + 1) / self.steps  # in (0, 1]
        return self.net(torch.cat([x_t, time_features(tau, self.frequencies)], dim=-1))

    def diffuse(
        self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``x_t ~ q(x_t | x_0)`` for events ``x0`` ``(batch, features)`` at steps ``t`` ``(batch,)``.

        Returns ``(x_t, noise)``, both ``(batch, features)``; ``noise`` is drawn if not given.
        """
        self._check_events(x0)
        if noise is None:
            noise = torch.randn_like(x0)
        abar = self.alphas_cumprod[t].unsqueeze(-1)  # (batch, 1)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise, noise

    def loss(self, x0: torch.Tensor) -> torch.Tensor:
        """Ho et al.'s simplified loss: mean squared error of the predicted noise, ``t`` uniform per event.

        ``x0`` has shape ``(batch, features)``; returns a scalar.
        """
        self._check_events(x0)
        t = torch.randint(0, self.steps, (len(x0),), device=x0.device)
        x_t, noise = self.diffuse(x0, t)
        return (self(x_t, t) - noise).pow(2).mean()

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, ddim_steps: int | None = None
    ) -> torch.Tensor:
        """Generate ``n`` events, shape ``(n, features)``, on the module's device and in its dtype.

        Without ``ddim_steps``: ancestral sampling (Ho et al., algorithm 2), ``steps`` network passes,
        ``x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(1 - beta_t) + sigma_t z`` with the
        posterior variance ``sigma_t^2 = beta_t (1 - abar_{t-1}) / (1 - abar_t)``. With ``ddim_steps = k``:
        the deterministic DDIM sampler (Song et al. 2021, eta = 0) on ``k`` steps evenly spaced from one
        spacing below the end of the chain down to the first step (at the very end the cosine schedule's
        ``abar ~ 2e-9`` would amplify the network's error a hundredfold); the same trained network,
        ``steps / k`` times faster, randomness only in the starting noise.

        ``generator`` (on the module's device) makes the draw reproducible.
        """
        n = _check_positive_int(n, "n")
        reference = self.betas
        x = torch.randn(n, self.features, generator=generator, device=reference.device, dtype=reference.dtype)
        if ddim_steps is not None:
            return self._ddim(x, _check_positive_int(ddim_steps, "ddim_steps"))
        abar = self.alphas_cumprod
        for t in range(self.steps - 1, -1, -1):
            eps = self(x, torch.full((n,), t, device=x.device))
            beta = self.betas[t]
            x = (x - beta / (1 - abar[t]).sqrt() * eps) / (1 - beta).sqrt()
            if t > 0:
                variance = beta * (1 - abar[t - 1]) / (1 - abar[t])
                x = x + variance.sqrt() * torch.randn(
                    x.shape, generator=generator, device=x.device, dtype=x.dtype
                )
        return x

    def _ddim(self, x: torch.Tensor, ddim_steps: int) -> torch.Tensor:
        """Deterministic DDIM from noise ``x`` ``(n, features)`` over ``ddim_steps`` steps."""
        if ddim_steps > self.steps:
            raise ValueError(f"ddim_steps={ddim_steps} cannot exceed the model's steps={self.steps}.")
        # k steps on the grid (T - 1) (1 - j / k), j = 1 .. k: the noise stands in for x at the first of
        # them, one grid spacing below the end of the chain. Starting at T - 1 itself fails: there the cosine
        # schedule has abar ~ 2e-9 and the x_0 estimate (x - sqrt(1 - abar) eps) / sqrt(abar) multiplies
        # the network's error in eps by sqrt(abar_next / abar) ~ 600 (k = 50). One spacing lower abar is
        # ~1e-3 (k = 50), so the signal the pure-noise start leaves out is ~3 % of the data's scale.
        times = torch.linspace(self.steps - 1, 0, ddim_steps + 1)[1:].round().long().tolist()
        one = torch.ones((), dtype=x.dtype, device=x.device)
        for i, t in enumerate(times):
            abar = self.alphas_cumprod[t]
            abar_next = self.alphas_cumprod[times[i + 1]] if i + 1 < len(times) else one  # x_0: abar = 1
            eps = self(x, torch.full((len(x),), t, device=x.device))
            x0 = (x - (1 - abar).sqrt() * eps) / abar.sqrt()
            x = abar_next.sqrt() * x0 + (1 - abar_next).sqrt() * eps
        return x


def ddpm_loss(model: DDPM, x0: torch.Tensor) -> torch.Tensor:
    """``model.loss(x0)`` as :func:`~reps4lhc_tutor.train.fit`'s ``loss_fn(model, *batch)``, ``train=(x,)``.

    ``x0`` has shape ``(batch, features)``; returns a scalar.
    """
    return model.loss(x0)
