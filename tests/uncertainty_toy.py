"""The calibration toy shared by the uncertainty-model tests: a 1-d fit with known heteroscedastic noise.

``y = sin(3x) + noise`` of width ``0.1 + 0.1 |x|`` on ``x ~ U(-1, 1)``. A model with calibrated uncertainties
gives pulls ``(y - mean) / sigma_total`` of unit width on fresh events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

import reps4lhc_tutor as tutor


@contextmanager
def one_thread() -> Iterator[None]:
    """Tiny networks gain nothing from intra-op threads and lose a lot when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def toy(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of shapes ``(n, 1)`` and ``(n,)``."""
    x = 2 * torch.rand(n, 1, generator=generator) - 1
    width = 0.1 + 0.1 * x[:, 0].abs()
    return x, torch.sin(3 * x[:, 0]) + width * torch.randn(n, generator=generator)


def fit_toy(
    model: nn.Module, loss_fn: Callable[..., torch.Tensor], n_train: int, epochs: int, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train ``model`` on ``n_train`` toy events (Adam, lr 1e-2, cosine), return 4000 fresh test events."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x, y = toy(n_train, generator)
    test = toy(4000, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    with one_thread():
        tutor.fit(
            model,
            loss_fn,
            (x, y),
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            scheduler=scheduler,
            progress=False,
            device="cpu",
        )
    return test


def assert_unit_pulls(y: torch.Tensor, mean: torch.Tensor, sigma: torch.Tensor) -> None:
    """Pulls ``(y - mean) / sigma`` have width within 10 % of 1 and mean within 0.1 of 0."""
    pulls = (y - mean) / sigma
    assert 0.9 < pulls.std() < 1.1, f"pull width {pulls.std():.3f}"
    assert abs(pulls.mean()) < 0.1, f"pull mean {pulls.mean():.3f}"
