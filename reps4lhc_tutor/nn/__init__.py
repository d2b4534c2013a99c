"""Torch modules of the course, one model family per file."""

from .bayesian import BayesianRegressor, VariationalLinear, sample_predictions, split_uncertainty
from .ensembles import EnsembleRegressor, repulsive_ensemble_loss
from .evidential import EvidentialRegressor, NormalInverseGamma, evidential_loss
from .mlp import MLP
from .regression import GaussianMixtureRegressor, GaussianRegressor

__all__ = [
    "MLP",
    "BayesianRegressor",
    "EnsembleRegressor",
    "EvidentialRegressor",
    "GaussianMixtureRegressor",
    "GaussianRegressor",
    "NormalInverseGamma",
    "VariationalLinear",
    "evidential_loss",
    "repulsive_ensemble_loss",
    "sample_predictions",
    "split_uncertainty",
]
