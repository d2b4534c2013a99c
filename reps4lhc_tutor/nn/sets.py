"""Plumbing shared by the networks on sets of particles: checking ``(batch, particles, features)`` inputs
with an optional mask, and pooling over particles.

A mask has shape ``(batch, particles)`` and is True for real particles and False for zero padding, the
layout of jets with different multiplicities. Padding must be finite (zeros): it is multiplied by zero, so a
NaN there would still reach the output. Inputs are not scanned for NaN on every call (that would stall a GPU);
:func:`~reps4lhc_tutor.train.fit` names NaN losses with their epoch and batch.
"""

from __future__ import annotations

import torch

__all__ = ["POOLINGS", "check_particles", "check_pooling", "pool_particles"]

POOLINGS = ("sum", "mean")


def check_pooling(pooling: str) -> str:
    """Return ``pooling`` if it is one of :data:`POOLINGS`, else raise a ValueError naming them."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    return pooling


def check_particles(
    x: torch.Tensor, mask: torch.Tensor | None, in_features: int, model: str
) -> torch.Tensor | None:
    """Check ``x`` of shape ``(batch, particles, in_features)`` and ``mask`` of shape ``(batch, particles)``.

    Returns the mask as a bool tensor (or None).
    """
    if x.ndim != 3 or x.shape[-1] != in_features:
        raise ValueError(
            f"{model} expects inputs of shape (batch, particles, {in_features}), got {tuple(x.shape)}; "
            f"check the feature order or the model's in_features."
        )
    if mask is None:
        return None
    if mask.shape != x.shape[:2]:
        raise ValueError(
            f"{model}: mask must have shape (batch, particles) = {tuple(x.shape[:2])}, "
            f"got {tuple(mask.shape)}."
        )
    mask = mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError(f"{model}: every event needs at least one particle with mask True.")
    return mask


def pool_particles(h: torch.Tensor, mask: torch.Tensor | None, pooling: str) -> torch.Tensor:
    """Sum or average ``h`` of shape ``(batch, particles, features)`` over the real particles.

    Returns
    -------
    torch.Tensor, shape ``(batch, features)``
        Invariant under any permutation of the particles (and of the padding).
    """
    check_pooling(pooling)
    if mask is None:
        return h.sum(dim=1) if pooling == "sum" else h.mean(dim=1)
    weights = mask.to(h.dtype).unsqueeze(-1)  # (batch, particles, 1)
    total = (h * weights).sum(dim=1)
    return total if pooling == "sum" else total / weights.sum(dim=1)
