"""Torch modules of the course, one model family per file."""

from .bayesian import BayesianRegressor, VariationalLinear, sample_predictions, split_uncertainty
from .deepsets import DeepSets
from .ensembles import EnsembleRegressor, repulsive_ensemble_loss
from .evidential import EvidentialRegressor, NormalInverseGamma, evidential_loss
from .lgatr import LGATrRegressor
from .lloca import LLoCaRegressor
from .mlp import MLP
from .regression import GaussianMixtureRegressor, GaussianRegressor
from .sets import pool_particles
from .taggers import LGATrTagger
from .transformer import ParticleTransformer

__all__ = [
    "MLP",
    "BayesianRegressor",
    "DeepSets",
    "EnsembleRegressor",
    "EvidentialRegressor",
    "GaussianMixtureRegressor",
    "GaussianRegressor",
    "LGATrRegressor",
    "LGATrTagger",
    "LLoCaRegressor",
    "NormalInverseGamma",
    "ParticleTransformer",
    "VariationalLinear",
    "evidential_loss",
    "pool_particles",
    "repulsive_ensemble_loss",
    "sample_predictions",
    "split_uncertainty",
]
