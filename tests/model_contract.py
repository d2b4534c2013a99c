"""Checks shared by the models' contract tests: every parameter gets a gradient, weights survive a save, the
devices to move a model to."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]
"""Devices for ``@pytest.mark.parametrize("device", DEVICES)``; those this machine lacks are skipped."""


def assert_every_parameter_has_gradient(model: nn.Module) -> None:
    """After ``backward()``, every parameter holds a non-zero gradient."""
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def saved_and_loaded(model: nn.Module, fresh: nn.Module) -> nn.Module:
    """``fresh`` after loading ``model``'s state dict through an in-memory ``torch.save`` / ``torch.load``."""

    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    return fresh
