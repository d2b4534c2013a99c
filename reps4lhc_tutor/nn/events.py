"""Input plumbing shared by the Lorentz-equivariant wrappers (L-GATr, LLoCa): checks of the events they take,
momenta ``(batch, particles, 4)`` and per-particle scalars."""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["check_event_options", "check_momenta", "scalars_with_constant"]


def check_event_options(n_scalars: object, momentum_scale: object) -> tuple[int, float]:
    """Check the constructor arguments every wrapper shares; return them as ``(int, float)``."""
    if isinstance(n_scalars, bool) or not isinstance(n_scalars, int) or n_scalars < 0:
        raise ValueError(f"n_scalars must be an integer >= 0, got {n_scalars!r}.")
    real = isinstance(momentum_scale, numbers.Real) and not isinstance(momentum_scale, bool)
    if not (real and math.isfinite(momentum_scale) and momentum_scale > 0):
        raise ValueError(f"momentum_scale must be a positive energy in GeV, got {momentum_scale!r}.")
    return n_scalars, float(momentum_scale)


def check_momenta(momenta: torch.Tensor, model: str) -> None:
    """Raise a ValueError unless ``momenta`` has shape ``(batch, particles, 4)``."""
    if momenta.ndim != 3 or momenta.shape[-1] != 4:
        raise ValueError(
            f"{model} expects momenta of shape (batch, particles, 4), got {tuple(momenta.shape)}."
        )


def scalars_with_constant(
    momenta: torch.Tensor, scalars: torch.Tensor | None, n_scalars: int, model: str
) -> torch.Tensor:
    """A constant channel followed by ``scalars``: shape ``(batch, particles, 1 + n_scalars)``.

    ``scalars`` must have shape ``(batch, particles, n_scalars)``, or be None when ``n_scalars`` is 0.
    """
    ones = momenta.new_ones((*momenta.shape[:2], 1))
    if n_scalars:
        if scalars is None or scalars.shape != (*momenta.shape[:2], n_scalars):
            got = None if scalars is None else tuple(scalars.shape)
            raise ValueError(
                f"{model}(n_scalars={n_scalars}) expects scalars of shape {(*momenta.shape[:2], n_scalars)}, "
                f"got {got}."
            )
        return torch.cat([ones, scalars.to(momenta.dtype)], dim=-1)
    if scalars is not None:
        raise ValueError("this model was built with n_scalars=0; pass scalars=None or rebuild it.")
    return ones
