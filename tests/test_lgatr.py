"""Tests of LGATrRegressor (full L-GATr and L-GATr-slim): contract, Lorentz symmetry, references, errors.

The physics tests run in float64 on RAMBO events of sqrt(s) = 1000 GeV with tiny randomly initialised
networks: equivariance is a property of the architecture, not of training. Tolerances: symmetry_tolerances.py.
"""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("lgatr")

import numpy as np
import torch
from model_contract import assert_every_parameter_has_gradient, saved_and_loaded
from symmetry_tolerances import (
    BROKEN_SYMMETRY_MIN,
    FLOAT32_RESCALED_RTOL,
    FLOAT32_UNSCALED_MIN_RATIO,
    FLOAT64_INVARIANCE_RTOL,
    invariance_error,
    max_relative_difference,
    rambo_events,
    with_padding,
)

from reps4lhc_tutor.nn import LGATrRegressor
from reps4lhc_tutor.nn.lgatr import REFERENCE_VECTORS
from reps4lhc_tutor.physics import lorentz as lv

VARIANTS = [pytest.param(False, id="full"), pytest.param(True, id="slim")]
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


def _model(slim: bool, n_scalars: int = 0, out_features: int = 2, **kwargs) -> LGATrRegressor:
    """A tiny network; seed torch before calling."""
    arguments = {"num_blocks": 1, "vector_channels": 4, "scalar_channels": 8, "num_heads": 2} | kwargs
    return LGATrRegressor(n_scalars, out_features, slim=slim, **arguments)


@pytest.fixture(scope="module")
def events() -> np.ndarray:
    return rambo_events(8)  # (8, 5, 4) GeV, float64


# --- contract -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize(("n_scalars", "out_features"), [(0, 1), (2, 3)])
def test_output_shape(slim, n_scalars, out_features, events):
    torch.manual_seed(0)
    model = _model(slim, n_scalars, out_features)
    momenta = torch.as_tensor(events, dtype=torch.float32)
    scalars = torch.randn(*momenta.shape[:2], n_scalars) if n_scalars else None
    out = model(momenta, scalars)
    assert out.shape == (8, out_features) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert model(momenta[:3, :2], None if scalars is None else scalars[:3, :2]).shape == (3, out_features)


@pytest.mark.parametrize("slim", VARIANTS)
def test_output_depends_on_the_event(slim, events):
    # invariance tests below mean nothing for a network that returns a constant
    torch.manual_seed(0)
    out = _model(slim).double()(torch.as_tensor(events))
    assert max_relative_difference(out, out[:1].expand_as(out)) > 1e-2


@pytest.mark.parametrize("slim", VARIANTS)
def test_gradients_reach_every_parameter(slim, events):
    torch.manual_seed(0)
    model = _model(slim, n_scalars=2, num_blocks=2, reference_vectors=("beam",))
    momenta = torch.as_tensor(events, dtype=torch.float32)
    model(momenta, torch.randn(*momenta.shape[:2], 2)).pow(2).sum().backward()
    assert_every_parameter_has_gradient(model)


@pytest.mark.parametrize("slim", VARIANTS)
def test_gradients_reach_momenta_and_scalars(slim, events):
    torch.manual_seed(0)
    model = _model(slim, n_scalars=2)
    momenta = torch.as_tensor(events, dtype=torch.float32).requires_grad_()
    scalars = torch.randn(*momenta.shape[:2], 2, requires_grad=True)
    model(momenta, scalars).sum().backward()
    assert (momenta.grad.abs().sum(-1) > 0).all()  # every particle counts
    assert (scalars.grad.abs().sum(-1) > 0).all()


@pytest.mark.parametrize("slim", VARIANTS)
def test_state_dict_round_trip(slim, events):
    torch.manual_seed(0)
    model = _model(slim, reference_vectors=("beam",))
    torch.manual_seed(1)
    fresh = _model(slim, reference_vectors=("beam",))
    momenta = torch.as_tensor(events, dtype=torch.float32)
    assert not torch.allclose(fresh(momenta), model(momenta))  # a fresh model differs ...
    clone = saved_and_loaded(model, fresh)
    torch.testing.assert_close(clone(momenta), model(momenta), rtol=0, atol=0)  # ... until it loads
    assert "references" in model.state_dict()  # the reference vectors travel with the weights


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize("device", DEVICES)
def test_device_move(slim, device, events):
    torch.manual_seed(0)
    model = _model(slim, reference_vectors=("beam",))
    momenta = torch.as_tensor(events, dtype=torch.float32)
    expected = model(momenta)
    model = model.to(device)
    assert all(p.device.type == device for p in model.parameters())
    assert model.references.device.type == device
    result = model(momenta.to(device))
    assert result.device.type == device
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("slim", VARIANTS)
def test_float64(slim, events):
    torch.manual_seed(0)
    model = _model(slim, reference_vectors=("time",))
    momenta = torch.as_tensor(events)
    expected = model(momenta.float())
    model = model.double()
    assert model.references.dtype == torch.float64
    out = model(momenta)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), expected, rtol=1e-4, atol=1e-5)


# --- Lorentz symmetry in float64 ----------------------------------------------------------------------------


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize("kind", ["lorentz", "beam_boost", "beam_rotation"])
def test_invariant_under_lorentz_transformations(slim, kind, events):
    torch.manual_seed(0)
    model = _model(slim, num_blocks=2).double()
    assert invariance_error(model, events, kind, seed=1) < FLOAT64_INVARIANCE_RTOL


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize("kind", ["shear", "sl4"])
def test_not_invariant_under_maps_that_are_not_lorentz(slim, kind, events):
    torch.manual_seed(0)
    model = _model(slim, num_blocks=2).double()
    assert invariance_error(model, events, kind, seed=1) > BROKEN_SYMMETRY_MIN


@pytest.mark.parametrize("slim", VARIANTS)
def test_invariant_under_permutations_of_particles_with_their_scalars(slim, events):
    torch.manual_seed(0)
    model = _model(slim, n_scalars=2).double()
    momenta = torch.as_tensor(events)
    scalars = torch.randn(*momenta.shape[:2], 2, dtype=torch.float64)
    before = model(momenta, scalars)
    perm = torch.tensor([3, 0, 4, 2, 1])
    after = model(momenta[:, perm], scalars[:, perm])
    assert max_relative_difference(after, before) < FLOAT64_INVARIANCE_RTOL
    # the scalars belong to their particles: permuting the momenta alone changes the output
    assert max_relative_difference(model(momenta[:, perm], scalars), before) > BROKEN_SYMMETRY_MIN


# --- reference vectors break the symmetry on purpose --------------------------------------------------------


def _case(slim: bool, references: tuple[str, ...], kind: str, invariant: bool):
    name = f"{'slim' if slim else 'full'}-{'+'.join(references)}-{kind}-{'kept' if invariant else 'broken'}"
    return pytest.param(slim, references, kind, invariant, id=name)


# The x-y plane (a bivector) is kept by boosts along z and rotations about z; the beam axis by rotations
# about z (and boosts along x, y); the time direction by every rotation; beam and time together by rotations
# about z only. A random "lorentz" map (a rotation, then a boost) keeps none of them.
@pytest.mark.parametrize(
    ("slim", "references", "kind", "invariant"),
    [
        _case(False, ("beam_plane",), "beam_boost", True),
        _case(False, ("beam_plane",), "beam_rotation", True),
        _case(False, ("beam_plane",), "lorentz", False),
        _case(False, ("beam",), "beam_rotation", True),
        _case(False, ("beam",), "beam_boost", False),
        _case(True, ("beam",), "beam_rotation", True),
        _case(True, ("beam",), "beam_boost", False),
        _case(False, ("time",), "beam_rotation", True),
        _case(True, ("time",), "beam_boost", False),
        _case(False, ("beam", "time"), "beam_rotation", True),
        _case(False, ("beam", "time"), "beam_boost", False),
        _case(False, ("beam", "time"), "lorentz", False),
        _case(True, ("beam", "time"), "beam_rotation", True),
        _case(True, ("beam", "time"), "beam_boost", False),
        _case(True, ("beam", "time"), "lorentz", False),
    ],
)
def test_reference_vectors_keep_only_their_subgroup(slim, references, kind, invariant, events):
    torch.manual_seed(0)
    model = _model(slim, reference_vectors=references).double()
    error = invariance_error(model, events, kind, seed=1)
    if invariant:
        assert error < FLOAT64_INVARIANCE_RTOL
    else:
        assert error > BROKEN_SYMMETRY_MIN


@pytest.mark.parametrize("slim", VARIANTS)
def test_beam_reference_keeps_transverse_boosts(slim, events):
    # REFERENCE_VECTORS: the beam axis (0, 0, 0, 1) is unchanged by boosts along x and y
    torch.manual_seed(0)
    momenta = torch.as_tensor(events)
    boosted = torch.as_tensor(lv.lorentz_transform(events, lv.boost_matrix([0.3, -0.2, 0.0])))
    with torch.no_grad():
        beam = _model(slim, reference_vectors=("beam",)).double()
        assert max_relative_difference(beam(boosted), beam(momenta)) < FLOAT64_INVARIANCE_RTOL
        time = _model(slim, reference_vectors=("time",)).double()
        assert max_relative_difference(time(boosted), time(momenta)) > BROKEN_SYMMETRY_MIN


def test_reference_vectors_enter_as_embedded_multivectors():
    from lgatr import embed_vector

    full = _model(False, reference_vectors=("time", "beam_plane", "beam"))
    assert full.references.shape == (3, 16)
    torch.testing.assert_close(full.references[0], embed_vector(torch.tensor(REFERENCE_VECTORS["time"])))
    torch.testing.assert_close(full.references[2], embed_vector(torch.tensor(REFERENCE_VECTORS["beam"])))
    assert full.references[1].count_nonzero() == 1  # one bivector component
    slim = _model(True, reference_vectors=("beam",))
    torch.testing.assert_close(slim.references, torch.tensor([REFERENCE_VECTORS["beam"]]))
    assert _model(True).references.shape == (0, 4)


# --- float32: the momentum scale ----------------------------------------------------------------------------


@pytest.mark.parametrize("slim", VARIANTS)
def test_float32_invariance_needs_rescaled_momenta(slim):
    events = rambo_events(16)  # hundreds of GeV
    errors = {}
    for scale in (100.0, 1.0):  # the default, and no rescaling: the same weights, only the scale differs
        torch.manual_seed(0)
        model = _model(slim, out_features=1, num_blocks=2, momentum_scale=scale)
        errors[scale] = invariance_error(model, events, "lorentz", seed=1, dtype=torch.float32)
    assert errors[100.0] < FLOAT32_RESCALED_RTOL
    assert errors[1.0] > FLOAT32_UNSCALED_MIN_RATIO * errors[100.0], errors


# --- masks (zero-padded events of different multiplicities) ------------------------------------------------


@pytest.mark.parametrize("slim", VARIANTS)
def test_masked_padding_changes_nothing(slim, events):
    torch.manual_seed(0)
    model = _model(slim, n_scalars=2).double()
    p = torch.as_tensor(events)
    s = torch.randn(*p.shape[:2], 2, dtype=torch.float64)
    padded, mask = with_padding(p, 3)
    scalars = torch.cat([s, torch.zeros(len(p), 3, 2, dtype=torch.float64)], dim=1)
    assert max_relative_difference(model(padded, scalars, mask), model(p, s)) < FLOAT64_INVARIANCE_RTOL
    assert max_relative_difference(model(padded, scalars), model(p, s)) > BROKEN_SYMMETRY_MIN  # unmasked


@pytest.mark.parametrize("slim", VARIANTS)
def test_mixed_multiplicities_match_single_events(slim, events):
    torch.manual_seed(0)
    model = _model(slim).double()
    p = torch.as_tensor(events[:3])  # (3, 5, 4)
    multiplicities = (3, 5, 4)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    for event, n in enumerate(multiplicities):
        mask[event, :n] = True
    batch = model(p * mask[..., None], mask=mask)
    for event, n in enumerate(multiplicities):
        alone = model(p[event : event + 1, :n])
        assert max_relative_difference(batch[event : event + 1], alone) < FLOAT64_INVARIANCE_RTOL


@pytest.mark.parametrize("slim", VARIANTS)
def test_masked_events_stay_lorentz_invariant(slim, events):
    torch.manual_seed(0)
    model = _model(slim).double()
    padded, mask = with_padding(torch.as_tensor(events), 2)
    error = invariance_error(lambda q: model(q, mask=mask), padded.numpy(), "lorentz", seed=3)
    assert error < FLOAT64_INVARIANCE_RTOL


def test_bad_mask_raises(events):
    model = _model(False)
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, particles\)"):
        model(torch.as_tensor(events, dtype=torch.float32), mask=torch.ones(8, 4, dtype=torch.bool))


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize("shape", [(8, 5, 3), (5, 4), (2, 8, 5, 4)])
def test_wrong_momenta_shape_raises(slim, shape):
    with pytest.raises(ValueError, match=r"momenta of shape \(batch, particles, 4\)"):
        _model(slim)(torch.randn(shape))


@pytest.mark.parametrize("slim", VARIANTS)
@pytest.mark.parametrize("scalars_shape", [(8, 5, 3), (8, 4, 2), (8, 5), None])
def test_scalars_shape_mismatch_raises(slim, scalars_shape):
    scalars = None if scalars_shape is None else torch.randn(scalars_shape)
    with pytest.raises(ValueError, match=r"expects scalars of shape \(8, 5, 2\)"):
        _model(slim, n_scalars=2)(torch.randn(8, 5, 4), scalars)


@pytest.mark.parametrize("slim", VARIANTS)
def test_scalars_for_a_model_without_scalars_raise(slim):
    with pytest.raises(ValueError, match="n_scalars=0"):
        _model(slim)(torch.randn(8, 5, 4), torch.randn(8, 5, 1))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"reference_vectors": ("z_axis",)}, ValueError, "reference_vectors must be distinct names"),
        ({"reference_vectors": ("beam", "beam")}, ValueError, "reference_vectors must be distinct names"),
        ({"slim": True, "reference_vectors": ("beam_plane",)}, ValueError, "only full L-GATr"),
        ({"reference_vectors": "beam"}, TypeError, r"sequence of names, e.g. \('beam',\)"),
        ({"slim": True, "reference_vectors": "time"}, TypeError, "sequence of names"),
        ({"momentum_scale": 0.0}, ValueError, "momentum_scale must be a positive energy"),
        ({"momentum_scale": -100.0}, ValueError, "momentum_scale must be a positive energy"),
        ({"momentum_scale": float("nan")}, ValueError, "momentum_scale must be a positive energy"),
        ({"momentum_scale": float("inf")}, ValueError, "momentum_scale must be a positive energy"),
        ({"n_scalars": -1}, ValueError, "n_scalars must be an integer"),
        ({"n_scalars": 1.5}, ValueError, "n_scalars must be an integer"),
        ({"n_scalars": True}, ValueError, "n_scalars must be an integer"),
        ({"out_features": 0}, ValueError, "out_features"),
        ({"num_blocks": 0}, ValueError, "num_blocks"),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    arguments = {"slim": False} | kwargs
    with pytest.raises(error, match=message):
        _model(**arguments)


def test_missing_lgatr_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lgatr", None)  # makes `import lgatr` fail as if it were not installed
    with pytest.raises(ImportError, match="pip install") as info:
        LGATrRegressor()
    assert "lgatr" in str(info.value)
