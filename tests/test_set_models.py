"""The contract every network on sets of particles meets (deep sets, transformer): permutation invariance,
masks, mixed multiplicities, save/load and device moves. Family-specific tests live in their own files."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from model_contract import saved_and_loaded
from symmetry_tolerances import FLOAT64_INVARIANCE_RTOL, max_relative_difference, with_padding
from torch import nn

from reps4lhc_tutor.nn import DeepSets, ParticleTransformer
from reps4lhc_tutor.nn.sets import POOLINGS

FAMILIES: dict[str, Callable[[str], nn.Module]] = {
    "deep sets": lambda pooling: DeepSets(
        4, 3, latent=8, phi_hidden=(16,), rho_hidden=(16,), pooling=pooling
    ),
    "transformer": lambda pooling: ParticleTransformer(
        4, 3, d_model=16, num_heads=2, num_layers=2, head_hidden=(16,), pooling=pooling
    ),
}
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


@pytest.fixture(params=[(family, pooling) for family in FAMILIES for pooling in POOLINGS], ids=str)
def make(request) -> Callable[[], nn.Module]:
    family, pooling = request.param
    torch.manual_seed(0)
    return lambda: FAMILIES[family](pooling)


def test_permutation_invariance(make):
    model = make().double()
    x = torch.randn(8, 7, 4, dtype=torch.float64)
    perms = torch.stack([torch.randperm(7) for _ in range(8)])  # one permutation per event
    after = model(torch.gather(x, 1, perms[..., None].expand(-1, -1, 4)))
    assert max_relative_difference(after, model(x)) < FLOAT64_INVARIANCE_RTOL


@pytest.mark.parametrize("fill", [0.0, 123.0])
def test_masked_padding_changes_nothing(make, fill):
    model = make().double()
    x = torch.randn(5, 4, 4, dtype=torch.float64)
    padded, mask = with_padding(x, 3, fill)
    assert max_relative_difference(model(padded, mask), model(x)) < FLOAT64_INVARIANCE_RTOL
    assert max_relative_difference(model(padded), model(x)) > 1e-3  # without the mask the padding counts


def test_events_of_different_multiplicity_in_one_batch(make):
    model = make().double()
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    mask = torch.zeros(3, 6, dtype=torch.bool)
    multiplicities = (2, 6, 4)
    for event, n in enumerate(multiplicities):
        mask[event, :n] = True
    batch = model(x, mask)
    for event, n in enumerate(multiplicities):  # each event alone, without padding
        alone = model(x[event : event + 1, :n])
        assert max_relative_difference(batch[event : event + 1], alone) < FLOAT64_INVARIANCE_RTOL


def test_state_dict_round_trip(make):
    model, fresh = make(), make()
    x = torch.randn(5, 6, 4)
    assert not torch.allclose(fresh(x), model(x))  # a fresh model differs ...
    clone = saved_and_loaded(model, fresh)
    torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)  # ... until it loads the weights


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(make, device):
    model = make()
    x, mask = with_padding(torch.randn(6, 4, 4), 2)
    expected = model(x, mask)
    model = model.to(device)
    assert all(p.device.type == device for p in model.parameters())
    result = model(x.to(device), mask.to(device))
    assert result.device.type == device
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 5, 3), r"\(batch, particles, 4\), got \(3, 5, 3\)"),
        ((5, 4), r"\(batch, particles, 4\), got \(5, 4\)"),
        ((2, 3, 5, 4), r"\(batch, particles, 4\)"),
    ],
)
def test_wrong_input_shape_raises(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(torch.randn(shape))


@pytest.mark.parametrize("mask_shape", [(3,), (3, 4), (5, 3), (3, 5, 1)])
def test_wrong_mask_shape_raises(make, mask_shape):
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, particles\) = \(3, 5\)"):
        make()(torch.randn(3, 5, 4), torch.ones(mask_shape, dtype=torch.bool))


def test_an_event_without_particles_raises(make):
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(ValueError, match="at least one particle"):
        make()(torch.randn(3, 4, 4), mask)
