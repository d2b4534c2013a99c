"""Tests of ParticleTransformer: contract, permutation equivariance and invariance, masks, modes, errors."""

from __future__ import annotations

import pytest
import torch
from model_contract import assert_every_parameter_has_gradient
from symmetry_tolerances import (
    BROKEN_SYMMETRY_MIN,
    FLOAT64_INVARIANCE_RTOL,
    invariance_error,
    max_relative_difference,
    rambo_events,
    with_padding,
)

from reps4lhc_tutor.nn import ParticleTransformer
from reps4lhc_tutor.nn.sets import POOLINGS

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


def _model(pooling: str = "mean", out_features: int = 3, **kwargs) -> ParticleTransformer:
    arguments = {"d_model": 16, "num_heads": 2, "num_layers": 2, "head_hidden": (16,)} | kwargs
    return ParticleTransformer(4, out_features, pooling=pooling, **arguments)


# --- contract ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("out_features", [1, 3])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_output_shape(out_features, pooling):
    model = _model(pooling, out_features)
    assert model(torch.randn(7, 5, 4)).shape == (7, out_features)
    assert model(*with_padding(torch.randn(7, 5, 4), 2)).shape == (7, out_features)
    assert model(torch.randn(2, 1, 4)).shape == (2, out_features)  # a single particle is a set too


def test_layout_follows_arguments():
    model = ParticleTransformer(3, 2, d_model=12, num_heads=3, num_layers=5, mlp_ratio=2, head_hidden=(7,))
    assert (model.embed.in_features, model.embed.out_features) == (3, 12)
    assert len(model.blocks.layers) == 5
    block = model.blocks.layers[0]
    assert block.self_attn.num_heads == 3 and block.norm_first
    assert block.linear1.out_features == 24
    linears = [
        (m.in_features, m.out_features) for m in model.head.modules() if isinstance(m, torch.nn.Linear)
    ]
    assert linears == [(12, 7), (7, 2)]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradients_reach_every_parameter(pooling):
    torch.manual_seed(0)
    model = _model(pooling)
    model(*with_padding(torch.randn(16, 5, 4), 2)).pow(2).sum().backward()
    assert_every_parameter_has_gradient(model)


def test_float64():
    torch.manual_seed(0)
    model = ParticleTransformer(
        4, 1, d_model=4, num_heads=2, num_layers=1, mlp_ratio=1, head_hidden=()
    ).double()
    x = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    assert model(x).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda inputs: model(inputs), (x,))


@pytest.mark.parametrize("grad", [True, False])
def test_training_and_evaluation_modes_agree(grad):
    torch.manual_seed(0)
    model = _model().double()  # dropout = 0 by default
    x, mask = with_padding(torch.randn(4, 5, 4, dtype=torch.float64), 2)
    with torch.set_grad_enabled(grad):  # without gradients, eval mode may take torch's fast path
        training = model.train()(x, mask)
        evaluation = model.eval()(x, mask)
    assert max_relative_difference(evaluation, training) < FLOAT64_INVARIANCE_RTOL


def test_dropout_is_off_by_default_and_on_when_asked():
    torch.manual_seed(0)
    x = torch.randn(4, 5, 4)
    model = _model(dropout=0.5).train()
    assert not torch.allclose(model(x), model(x))  # dropout draws new masks each call
    model.eval()
    torch.testing.assert_close(model(x), model(x))


# --- permutations ----------------------------------------------------------------------------------------


def test_blocks_are_permutation_equivariant():
    torch.manual_seed(0)
    model = _model().double()
    x = torch.randn(6, 7, 4, dtype=torch.float64)
    perm = torch.randperm(7)
    h = model.blocks(model.embed(x))  # (batch, particles, d_model)
    h_permuted = model.blocks(model.embed(x[:, perm]))
    assert max_relative_difference(h_permuted, h[:, perm]) < FLOAT64_INVARIANCE_RTOL
    assert max_relative_difference(h_permuted, h) > 1e-2  # equivariant, not invariant


# --- masks -------------------------------------------------------------------------------------------------


# --- the invariance check sees a model that is not invariant ----------------------------------------------


@pytest.mark.parametrize("kind", ["lorentz", "beam_boost", "beam_rotation"])
def test_plain_transformer_on_momenta_is_not_lorentz_invariant(kind):
    # The negative control of the symmetry tests: the same check that L-GATr passes at 1e-9 must fail for
    # a network that has no Lorentz symmetry built in.
    torch.manual_seed(0)
    model = _model(out_features=1).double()
    events = rambo_events(16)
    error = invariance_error(lambda p: model(p / 100.0), events, kind, seed=1)
    assert error > BROKEN_SYMMETRY_MIN


def test_invariance_check_passes_a_function_of_invariants():
    # The positive control: a transformer on the Minkowski products p_i . p_i and p_i . P, with P the total
    # momentum, is Lorentz invariant by construction.
    torch.manual_seed(0)
    model = ParticleTransformer(2, 1, d_model=8, num_heads=2, num_layers=1).double()
    metric = torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64)

    def on_invariants(p):
        total = p.sum(dim=1, keepdim=True)
        features = torch.stack([(p * p * metric).sum(-1), (p * total * metric).sum(-1)], dim=-1)
        return model(features / 1e5)

    error = invariance_error(on_invariants, rambo_events(16), "lorentz", seed=1)
    assert error < FLOAT64_INVARIANCE_RTOL


# --- errors ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_model": 16, "num_heads": 3}, "num_heads=3 must divide d_model=16"),
        ({"pooling": "max"}, "pooling must be one of"),
        ({"pooling": "cls"}, "pooling must be one of"),
        ({"d_model": 0}, "d_model"),
        ({"num_heads": 0}, "num_heads"),
        ({"num_layers": 0}, "num_layers"),
        ({"mlp_ratio": 0}, "mlp_ratio"),
        ({"in_features": 0}, "in_features"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    arguments = {"in_features": 4, "out_features": 1, "d_model": 16, "num_heads": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        ParticleTransformer(**arguments)
