"""Tests of DeepSets and of the set plumbing in nn/sets.py: contract, permutations, masks, errors."""

from __future__ import annotations

import pytest
import torch
from model_contract import assert_every_parameter_has_gradient
from symmetry_tolerances import FLOAT64_INVARIANCE_RTOL, max_relative_difference, with_padding

from reps4lhc_tutor.nn import DeepSets, pool_particles
from reps4lhc_tutor.nn.sets import POOLINGS, check_particles

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


def _model(pooling: str = "sum", out_features: int = 3) -> DeepSets:
    return DeepSets(4, out_features, latent=8, phi_hidden=(16,), rho_hidden=(16,), pooling=pooling)


# --- pool_particles ----------------------------------------------------------------------------------------


def test_pool_particles_by_hand():
    h = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [4.0, 40.0]], [[3.0, 30.0], [5.0, 50.0], [7.0, 70.0]]])
    mask = torch.tensor([[True, True, False], [True, False, True]])
    torch.testing.assert_close(pool_particles(h, mask, "sum"), torch.tensor([[3.0, 30.0], [10.0, 100.0]]))
    torch.testing.assert_close(pool_particles(h, mask, "mean"), torch.tensor([[1.5, 15.0], [5.0, 50.0]]))
    torch.testing.assert_close(pool_particles(h, None, "sum"), torch.tensor([[7.0, 70.0], [15.0, 150.0]]))
    torch.testing.assert_close(pool_particles(h, None, "mean"), torch.tensor([[7 / 3, 70 / 3], [5.0, 50.0]]))
    all_true = torch.ones(2, 3, dtype=torch.bool)
    for pooling in POOLINGS:
        torch.testing.assert_close(pool_particles(h, all_true, pooling), pool_particles(h, None, pooling))


def test_pool_particles_ignores_whatever_the_padding_holds():
    torch.manual_seed(0)
    h, mask = torch.randn(4, 6, 3), torch.rand(4, 6) > 0.4
    mask[:, 0] = True
    garbage = torch.where(mask[..., None], h, torch.randn(4, 6, 3) * 1e3)
    for pooling in POOLINGS:
        torch.testing.assert_close(pool_particles(garbage, mask, pooling), pool_particles(h, mask, pooling))


def test_pool_particles_keeps_dtype_and_gradients():
    h = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True], [True, True, True]])
    out = pool_particles(h, mask, "mean")
    assert out.shape == (2, 4) and out.dtype == torch.float64
    out.sum().backward()
    expected = torch.tensor([[0.5, 0.0, 0.5], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64)
    torch.testing.assert_close(h.grad, expected[..., None].expand(2, 3, 4))


def test_pool_particles_unknown_pooling_raises():
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool_particles(torch.zeros(1, 2, 3), None, "max")


def test_check_particles_returns_a_bool_mask():
    x = torch.zeros(2, 3, 4)
    assert check_particles(x, None, 4, "M") is None
    mask = check_particles(x, torch.tensor([[1, 1, 0], [1, 0, 0]]), 4, "M")
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[True, True, False], [True, False, False]]


# --- DeepSets contract -------------------------------------------------------------------------------------


@pytest.mark.parametrize("out_features", [1, 3])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_output_shape(out_features, pooling):
    model = _model(pooling, out_features)
    assert model(torch.randn(7, 5, 4)).shape == (7, out_features)
    assert model(torch.randn(7, 5, 4), torch.ones(7, 5, dtype=torch.bool)).shape == (7, out_features)
    assert model(torch.randn(2, 1, 4)).shape == (2, out_features)  # a single particle is a set too


def test_layout_follows_arguments():
    model = DeepSets(4, 2, latent=8, phi_hidden=(16, 12), rho_hidden=(5,))
    linears = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [(4, 16), (16, 12), (12, 8), (8, 5), (5, 2)]


@pytest.mark.parametrize("pooling", POOLINGS)
def test_gradients_reach_every_parameter(pooling):
    torch.manual_seed(0)
    model = _model(pooling)
    x, mask = with_padding(torch.randn(16, 5, 4), 2)
    model(x, mask).pow(2).sum().backward()
    assert_every_parameter_has_gradient(model)


def test_float64():
    torch.manual_seed(0)
    model = _model().double()
    x = torch.randn(3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert model(x).dtype == torch.float64
    assert torch.autograd.gradcheck(lambda inputs: model(inputs), (x,))


# --- symmetry and masks ------------------------------------------------------------------------------------


def test_sum_pooling_counts_particles_and_mean_does_not():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 4, dtype=torch.float64)
    twice = torch.cat([x, x], dim=1)
    mean = _model("mean").double()
    assert max_relative_difference(mean(twice), mean(x)) < FLOAT64_INVARIANCE_RTOL
    summed = _model("sum").double()
    assert max_relative_difference(summed(twice), summed(x)) > 1e-3


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pooling": "max"},
        {"pooling": "Sum"},
        {"latent": 0},
        {"in_features": 0},
        {"out_features": 0},
        {"in_features": 2.5},
        {"phi_hidden": (8, 0)},
    ],
)
def test_bad_arguments_raise(kwargs):
    arguments = {"in_features": 4, "out_features": 1} | kwargs
    with pytest.raises(ValueError):
        DeepSets(**arguments)


def test_latent_is_the_bottleneck_the_output_reads_and_ignores_padding():
    torch.manual_seed(0)
    model = DeepSets(4, 1, latent=8, phi_hidden=(16,), rho_hidden=(16, 2))
    x, mask = torch.randn(5, 6, 4), torch.rand(5, 6) > 0.3
    z = model.latent(x, mask)
    assert z.shape == (5, 2)  # the last width of rho: a two-dimensional representation
    torch.testing.assert_close(model.rho.net[-1](z), model(x, mask))
    padded = torch.where(mask[..., None], x, torch.full_like(x, 1e6))  # padding content must not matter
    torch.testing.assert_close(model.latent(padded, mask), z)
    z.sum().backward()
    assert model.rho.net[-1].weight.grad is None  # the output layer is not part of the latent
    assert model.phi.net[0].weight.grad is not None
