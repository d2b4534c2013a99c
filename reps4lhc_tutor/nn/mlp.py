"""A plain multilayer perceptron: the default function approximator of the course."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import nn

__all__ = ["MLP"]


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return value


def _check_positive_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
    return float(value)


def _check_widths(hidden: object) -> list[int]:
    """The hidden-layer widths as a list of positive integers; a bare int or non-sequence is a TypeError."""
    if isinstance(hidden, int) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of layer widths such as (64, 64), got {hidden!r}.")
    return [_check_positive_int(width, "every hidden width") for width in hidden]


class MLP(nn.Module):
    """Fully connected network ``in_features -> hidden[0] -> ... -> hidden[-1] -> out_features``.

    Each hidden layer is a linear map followed by the activation; the output layer is linear, so the
    network can return any real number (a regression target, a logit, a log-variance).

    Parameters
    ----------
    in_features
        Size of the last input dimension.
    out_features
        Size of the last output dimension.
    hidden
        Widths of the hidden layers; ``()`` gives a linear model.
    activation
        Module class (or any zero-argument callable returning a module) placed after each hidden layer.
        SiLU is smooth, which suits regression of smooth functions better than ReLU's kinks.

    Examples
    --------
    >>> model = MLP(2, 1, hidden=(32, 32))
    >>> model(torch.zeros(5, 2)).shape
    torch.Size([5, 1])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[], nn.Module] = nn.SiLU,
    ) -> None:
        super().__init__()
        self.in_features = _check_positive_int(in_features, "in_features")
        self.out_features = _check_positive_int(out_features, "out_features")
        widths = _check_widths(hidden)
        if not callable(activation):
            raise TypeError(f"activation must be a module class such as torch.nn.SiLU, got {activation!r}.")

        layers: list[nn.Module] = []
        sizes = [self.in_features, *widths]
        for size_in, size_out in pairwise(sizes):
            layers.append(nn.Linear(size_in, size_out))
            layer = activation()
            if not isinstance(layer, nn.Module):
                raise TypeError(f"activation() must return a torch.nn.Module, got {type(layer).__name__}.")
            layers.append(layer)
        layers.append(nn.Linear(sizes[-1], self.out_features))
        self.net = nn.Sequential(*layers)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"MLP expects inputs of shape (..., {self.in_features}), got {tuple(x.shape)}; "
                f"check the feature order or the model's in_features."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs of shape ``(..., in_features)`` to outputs of shape ``(..., out_features)``."""
        self._check_input(x)
        return self.net(x)

    def last_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The activations the output layer reads, ``(..., hidden[-1])`` (the input itself without hidden
        layers): the network's last latent representation, e.g. for PCA or a linear probe (chapter 7)."""
        self._check_input(x)
        return self.net[:-1](x)
