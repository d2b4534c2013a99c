"""Torch modules of the course, one model family per file."""

from .mlp import MLP

__all__ = ["MLP"]
