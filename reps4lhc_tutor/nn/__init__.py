"""Torch modules of the course, one model family per file."""

from .mlp import MLP
from .regression import GaussianMixtureRegressor, GaussianRegressor

__all__ = ["MLP", "GaussianMixtureRegressor", "GaussianRegressor"]
