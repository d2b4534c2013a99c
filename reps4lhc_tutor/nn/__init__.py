"""Torch modules of the course, one model family per file."""

from .autoencoder import Autoencoder, NormalizedAutoencoder, PersistentChains, langevin, nae_loss
from .autoregressive import AutoregressiveJets, autoregressive_loss, censored_loss
from .bayesian import BayesianRegressor, VariationalLinear, sample_predictions, split_uncertainty
from .cfm import MLPVelocity, TransformerVelocity, cfm_loss, cfm_sample, conditional_cfm_loss, sample_ode
from .deepsets import DeepSets
from .diffusion import DDPM, ddpm_loss
from .ensembles import EnsembleRegressor, GeneratorEnsemble, repulsive_ensemble_loss
from .evidential import EvidentialRegressor, NormalInverseGamma, evidential_loss
from .flows import SplineFlow, flow_loss
from .importance import UnitCubeFlow, kl_loss, sample_weights, train_importance_sampler, variance_loss
from .lgatr import LGATrRegressor
from .lloca import LLoCaRegressor
from .mlp import MLP
from .regression import GaussianMixtureRegressor, GaussianRegressor
from .sets import pool_particles
from .taggers import LGATrTagger
from .transformer import ParticleTransformer

__all__ = [
    "DDPM",
    "MLP",
    "Autoencoder",
    "AutoregressiveJets",
    "BayesianRegressor",
    "DeepSets",
    "EnsembleRegressor",
    "EvidentialRegressor",
    "GaussianMixtureRegressor",
    "GaussianRegressor",
    "GeneratorEnsemble",
    "LGATrRegressor",
    "LGATrTagger",
    "LLoCaRegressor",
    "MLPVelocity",
    "NormalInverseGamma",
    "NormalizedAutoencoder",
    "ParticleTransformer",
    "PersistentChains",
    "SplineFlow",
    "TransformerVelocity",
    "UnitCubeFlow",
    "VariationalLinear",
    "autoregressive_loss",
    "censored_loss",
    "cfm_loss",
    "cfm_sample",
    "conditional_cfm_loss",
    "ddpm_loss",
    "evidential_loss",
    "flow_loss",
    "kl_loss",
    "langevin",
    "nae_loss",
    "pool_particles",
    "repulsive_ensemble_loss",
    "sample_ode",
    "sample_predictions",
    "sample_weights",
    "split_uncertainty",
    "train_importance_sampler",
    "variance_loss",
]
