"""Tests of the autoregressive jet transformer: contract, causality, a normalised density over multiplicities,
sampling, censoring, argument checks."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from model_contract import DEVICES, assert_every_parameter_has_gradient, saved_and_loaded

from reps4lhc_tutor.nn import AutoregressiveJets, autoregressive_loss, censored_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(**kwargs) -> AutoregressiveJets:
    arguments = {"d_model": 16, "num_heads": 2, "num_layers": 2, "n_components": 3} | kwargs
    return AutoregressiveJets(3, 2, **arguments)


def _events(
    batch: int = 10, slots: int = 4, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Context ``(batch, 2)``, jets ``(batch, slots, 3)`` zero-padded, multiplicities 0 ... slots in turn."""
    generator = torch.Generator().manual_seed(0)
    n_jets = torch.arange(batch) % (slots + 1)
    real = torch.arange(slots) < n_jets.unsqueeze(1)
    jets = torch.randn(batch, slots, 3, generator=generator, dtype=dtype) * real.unsqueeze(-1)
    return torch.randn(batch, 2, generator=generator, dtype=dtype), jets, n_jets


# --- contract ----------------------------------------------------------------------------------------------


def test_shapes():
    torch.manual_seed(0)
    model = _model()
    context, jets, n_jets = _events(batch=7, slots=4)
    hidden = model.hidden(context, jets)
    assert hidden.shape == (7, 5, 16)  # the context token and one token per slot
    assert model.split_logits(hidden).shape == (7, 5)
    kinematics = model.kinematics(hidden)
    assert kinematics.batch_shape == (7, 5) and kinematics.event_shape == (3,)
    assert model.log_prob(context, jets, n_jets).shape == (7,)
    assert autoregressive_loss(model, context, jets, n_jets).shape == ()
    sampled, n = model.sample(context, max_jets=5)
    assert sampled.shape == (7, 5, 3) and n.shape == (7,) and n.dtype == torch.long
    assert ((n >= 0) & (n <= 5)).all()
    assert (sampled[torch.arange(5) >= n.unsqueeze(1)] == 0).all()  # zero beyond each multiplicity
    assert torch.isfinite(model.log_prob(context, sampled, n)).all()


@pytest.mark.filterwarnings("ignore:.*wanted more than max_jets")
def test_sampling_in_chunks_pads_every_chunk_to_max_jets():
    torch.manual_seed(0)
    model = _model()
    context = torch.randn(50, 2)
    jets, n_jets = model.sample(context, max_jets=4, batch_size=7)  # chunks of different multiplicities
    assert jets.shape == (50, 4, 3) and n_jets.shape == (50,)
    assert len(n_jets.unique()) > 1


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = _model()
    autoregressive_loss(model, *_events(batch=20)).backward()  # 0 ... 4 jets: split and kinematic terms
    assert_every_parameter_has_gradient(model)


def test_save_and_load():
    torch.manual_seed(0)
    model, fresh = _model(), _model()
    events = _events()
    assert not torch.allclose(fresh.log_prob(*events), model.log_prob(*events))
    torch.testing.assert_close(saved_and_loaded(model, fresh).log_prob(*events), model.log_prob(*events))


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    model = _model()
    events = _events()
    expected = model.log_prob(*events)
    model = model.to(device)
    result = model.log_prob(*(tensor.to(device) for tensor in events))
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-4)
    jets, n_jets = model.sample(events[0].to(device), max_jets=3)
    assert jets.device.type == device and n_jets.device.type == device


# --- causality and padding ---------------------------------------------------------------------------------


@pytest.mark.parametrize("grad", [True, False])
def test_a_token_does_not_see_later_jets(grad):
    # Without gradients in eval mode torch may take its fused fast path: both paths must keep the mask.
    torch.manual_seed(0)
    model = _model().double().train(grad)
    context, jets, _ = _events(batch=4, slots=4, dtype=torch.float64)
    jets = jets + torch.randn_like(jets)  # every slot filled
    with torch.set_grad_enabled(grad):
        hidden = model.hidden(context, jets)
        for slot in range(4):  # jet slot + 1 is token slot + 1
            changed = jets.clone()
            changed[:, slot] += 3.0
            other = model.hidden(context, changed)
            torch.testing.assert_close(other[:, : slot + 1], hidden[:, : slot + 1], rtol=0, atol=1e-12)
            assert (other[:, slot + 1 :] - hidden[:, slot + 1 :]).abs().amax(-1).min() > 1e-3


def test_log_prob_is_the_same_on_torch_fast_path():
    # Evaluation without gradients may run torch's fused encoder; it must give the training path's result.
    torch.manual_seed(0)
    model = _model().double()
    events = _events(dtype=torch.float64)
    expected = model.log_prob(*events)
    with torch.no_grad():
        result = model.eval().log_prob(*events)
    torch.testing.assert_close(result, expected, rtol=1e-10, atol=1e-10)


def test_log_prob_ignores_the_slots_beyond_the_multiplicity():
    torch.manual_seed(0)
    model = _model().double()
    context, jets, n_jets = _events(batch=10, slots=4, dtype=torch.float64)
    padded = torch.arange(4) >= n_jets.unsqueeze(1)
    garbage = jets + 100.0 * torch.randn_like(jets) * padded.unsqueeze(-1)
    torch.testing.assert_close(
        model.log_prob(context, garbage, n_jets), model.log_prob(context, jets, n_jets), rtol=1e-12, atol=0
    )
    # The real jets do matter.
    moved = model.log_prob(context, jets + 0.5, n_jets) != model.log_prob(context, jets, n_jets)
    assert torch.equal(moved, n_jets > 0)


# --- a normalised density over multiplicities (one jet feature, one context value) -------------------------

STEP = 0.2
GRID = torch.arange(-16.0, 16.0 + STEP / 2, STEP, dtype=torch.float64)
"""Quadrature nodes for one jet feature; the untrained mixture widths are 0.33 ... 3.4 (checked below)."""


@pytest.fixture(scope="module")
def toy():
    """An untrained float64 model with one jet feature and one context feature, and a fixed context."""
    torch.manual_seed(0)
    model = AutoregressiveJets(1, 1, d_model=16, num_heads=2, num_layers=2, n_components=3).double()
    return model, torch.tensor([[0.3]], dtype=torch.float64)


def _density(model, context, jets, n_jets, **kwargs) -> torch.Tensor:
    """``exp(log_prob)`` of ``jets`` ``(events, slots)`` with one feature, all at one context."""
    with torch.no_grad():
        n = torch.full((len(jets),), n_jets)
        return model.log_prob(context.expand(len(jets), 1), jets.unsqueeze(-1), n, **kwargs).exp()


def _grid_2d() -> torch.Tensor:
    x1, x2 = torch.meshgrid(GRID, GRID, indexing="ij")
    return torch.stack([x1.flatten(), x2.flatten()], dim=-1)  # (nodes^2, 2)


def _probabilities_below_two(model, context) -> tuple[float, float]:
    """``P(n = 0)`` and ``P(n = 1)``, the latter by quadrature of the density of the one jet."""
    p0 = _density(model, context, torch.zeros(1, 1, dtype=torch.float64), 0).item()
    p1 = (_density(model, context, GRID.unsqueeze(1), 1).sum() * STEP).item()
    return p0, p1


def test_the_toy_mixture_fits_in_the_quadrature_grid(toy):
    # Widths and means of p_kin after the context and after one jet anywhere on the grid: the grid covers
    # every component by > 4 widths and resolves the narrowest (the trapezoid error on Gaussians falls as
    # exp(-2 pi^2 sigma^2 / h^2)).
    model, context = toy
    with torch.no_grad():
        hidden = model.hidden(context.expand(len(GRID), 1), GRID.view(-1, 1, 1))
    components = model.kinematics(hidden).component_distribution.base_dist
    sigma, loc = components.scale, components.loc
    assert 0.25 < sigma.min() and sigma.max() < 3.5
    assert (loc.abs() + 4 * sigma).max() < 16


def test_probabilities_of_all_multiplicities_sum_to_one(toy):
    # P(0) + P(1) + P(n >= 2) = 1, with P(n >= 2) the integral of the censored density of the first two jets.
    model, context = toy
    p0, p1 = _probabilities_below_two(model, context)
    grid = _grid_2d()
    at_least_two = (_density(model, context, grid, 2, censor_at=2).sum() * STEP**2).item()
    assert min(p0, p1, at_least_two) > 0.1  # every term matters
    assert p0 + p1 + at_least_two == pytest.approx(1.0, abs=1e-4)  # measured: off by 1e-6
    # Without censoring, exactly two jets take part of it, and the rest continues to a third jet.
    exactly_two = (_density(model, context, grid, 2).sum() * STEP**2).item()
    assert 0.05 < at_least_two - exactly_two
    with torch.no_grad():
        hidden = model.hidden(context.expand(len(grid), 1), grid.unsqueeze(-1))
        go_on = torch.sigmoid(model.split_logits(hidden)[:, 2])  # p_split after two jets
    more = (_density(model, context, grid, 2, censor_at=2) * go_on).sum() * STEP**2
    assert p0 + p1 + exactly_two + more.item() == pytest.approx(1.0, abs=1e-4)


def test_sampled_multiplicities_follow_the_density(toy):
    model, context = toy
    p0, p1 = _probabilities_below_two(model, context)
    n = 20_000
    torch.manual_seed(1)
    with pytest.warns(UserWarning, match="wanted more than max_jets=6"):  # P(n > 6) ~ 3 % untrained
        jets, n_jets = model.sample(context.expand(n, 1), max_jets=6)
    for k, p in ((0, p0), (1, p1)):
        fraction = (n_jets == k).double().mean().item()
        assert abs(fraction - p) < 4 * math.sqrt(p * (1 - p) / n), (k, fraction, p)
    # The first jet of the events that have one: its density is the censored one, p_split * p_kin(x_1).
    density = _density(model, context, GRID.unsqueeze(1), 1, censor_at=1)
    density = density / density.sum()
    mean = (density * GRID).sum().item()
    sigma = math.sqrt((density * (GRID - mean) ** 2).sum().item())
    first = jets[n_jets >= 1, 0, 0]
    assert abs(first.mean().item() - mean) < 4 * sigma / math.sqrt(len(first))
    squares = (first - mean) ** 2  # the variance, with its own standard error
    assert abs(squares.mean().item() - sigma**2) < 4 * squares.std().item() / math.sqrt(len(first))


def test_sampling_warns_when_events_are_cut_at_max_jets():
    torch.manual_seed(0)
    model = _model()
    with torch.no_grad():
        model.split_head.bias.fill_(20.0)  # p_split ~ 1: every event wants more jets
    with pytest.warns(UserWarning, match=r"12 of 12 generated events wanted more than max_jets=3 jets"):
        jets, n_jets = model.sample(torch.randn(12, 2), max_jets=3)
    assert (n_jets == 3).all() and (jets != 0).all()


def test_sampling_does_not_warn_when_every_event_stops():
    torch.manual_seed(0)
    model = _model()
    with torch.no_grad():
        model.split_head.bias.fill_(-20.0)  # p_split ~ 0: no jets
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jets, n_jets = model.sample(torch.randn(12, 2), max_jets=3)
    assert (n_jets == 0).all() and (jets == 0).all()


# --- censoring ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3])
def test_censoring_drops_the_stop_term_after_jet_k(k):
    torch.manual_seed(0)
    model = _model().double()
    context, jets, n_jets = _events(batch=15, slots=4, dtype=torch.float64)
    censored = model.log_prob(context, jets, n_jets, censor_at=k)
    truncated = model.log_prob(context, jets, n_jets.clamp(max=k))  # the first k jets, uncensored
    stop = torch.nn.functional.logsigmoid(-model.split_logits(model.hidden(context, jets))[:, k])
    many = n_jets >= k
    assert many.any() and (~many).any()
    torch.testing.assert_close(censored[many], truncated[many] - stop[many])
    torch.testing.assert_close(censored[~many], truncated[~many])  # fewer jets than k: nothing changes


def test_censored_events_may_have_more_jets_than_slots():
    # A sample that stores 2 jets but counts more: with censor_at=2 the count beyond 2 does not matter.
    torch.manual_seed(0)
    model = _model()
    context, jets, _ = _events(batch=6, slots=4)
    jets = jets[:, :2] + 1.0
    expected = model.log_prob(context, jets, torch.full((6,), 2), censor_at=2)
    torch.testing.assert_close(model.log_prob(context, jets, torch.arange(2, 8), censor_at=2), expected)


def test_censoring_at_zero_leaves_nothing_to_learn():
    torch.manual_seed(0)
    model = _model()
    result = model.log_prob(*_events(), censor_at=0)  # P(n >= 0) = 1
    assert (result == 0).all()


@pytest.mark.parametrize("k", [1, 3])
def test_censored_loss_is_the_loss_with_censor_at(k):
    torch.manual_seed(0)
    model = _model()
    events = _events(batch=15)
    loss = censored_loss(k)(model, *events)  # the loss_fn(model, *batch) signature of train.fit
    torch.testing.assert_close(loss, autoregressive_loss(model, *events, censor_at=k))
    assert loss != autoregressive_loss(model, *events)


# --- argument checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "jets", "message"),
    [
        (torch.zeros(4, 3), torch.zeros(4, 2, 3), r"context must have shape \(batch, 2\)"),
        (torch.zeros(4), torch.zeros(4, 2, 3), r"context must have shape \(batch, 2\)"),
        (torch.zeros(4, 2), torch.zeros(4, 2, 2), r"jets must have shape \(batch, slots, 3\)"),
        (torch.zeros(4, 2), torch.zeros(5, 2, 3), r"with the batch of the context \(4\)"),
        (torch.zeros(4, 2), torch.zeros(4, 3), r"jets must have shape \(batch, slots, 3\)"),
        (torch.full((4, 2), math.nan), torch.zeros(4, 2, 3), "NaN inputs: remove those events"),
        (torch.zeros(4, 2), torch.full((4, 2, 3), math.nan), "NaN inputs: remove those events"),
    ],
)
def test_log_prob_rejects_bad_inputs(context, jets, message):
    with pytest.raises(ValueError, match=message):
        _model().log_prob(context, jets, torch.ones(4, dtype=torch.long))


@pytest.mark.parametrize("n_jets", [torch.ones(3, dtype=torch.long), torch.tensor([1, 0, -1, 2])])
def test_log_prob_rejects_bad_multiplicities(n_jets):
    with pytest.raises(ValueError, match=r"n_jets must be \(4,\) non-negative integers"):
        _model().log_prob(torch.zeros(4, 2), torch.zeros(4, 2, 3), n_jets)


def test_more_jets_than_slots_need_censoring():
    with pytest.raises(ValueError, match=r"an event has 3 jets but jets holds 2 slots; pass censor_at <= 2"):
        _model().log_prob(torch.zeros(4, 2), torch.ones(4, 2, 3), torch.tensor([0, 1, 3, 2]))


@pytest.mark.parametrize("censor_at", [-1, 3])
def test_censor_at_must_address_a_slot(censor_at):
    with pytest.raises(ValueError, match=r"censor_at must be in 0 ... 2 \(the jet slots\)"):
        _model().log_prob(
            torch.zeros(4, 2), torch.ones(4, 2, 3), torch.ones(4, dtype=torch.long), censor_at=censor_at
        )


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_censored_loss_needs_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        censored_loss(k)


def test_sample_rejects_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match=r"context must have shape \(batch, 2\)"):
        model.sample(torch.zeros(4, 3), max_jets=2)
    with pytest.raises(ValueError, match="max_jets"):
        model.sample(torch.zeros(4, 2), max_jets=0)


def test_log_prob_stays_finite_whatever_the_padding_holds():
    torch.manual_seed(0)
    model = _model()
    context, jets, n_jets = _events(batch=10, slots=4)
    expected = model.log_prob(context, jets, n_jets)
    padded = (torch.arange(4) >= n_jets.unsqueeze(1)).unsqueeze(-1)
    for value in (1e20, float("inf")):
        torch.testing.assert_close(model.log_prob(context, jets.masked_fill(padded, value), n_jets), expected)


def test_log_prob_rejects_fractional_multiplicities():
    context, jets, n_jets = _events()
    with pytest.raises(ValueError, match="integers"):
        _model().log_prob(context, jets, n_jets.double() + 0.5)


# --- the optional position embedding ----------------------------------------------------------------------


def test_position_embeddings_beyond_the_censored_jets_get_no_gradient():
    torch.manual_seed(0)
    model = _model(positions=6)
    context, jets, n_jets = _events(batch=20, slots=4)
    censored_loss(2)(model, context, jets, n_jets).backward()
    gradient = model.embed_position.weight.grad.abs().sum(dim=1)  # (positions,)
    assert (gradient[:2] > 0).all()  # the context and the first jet: their outputs are scored
    assert (gradient[2:] == 0).all()  # index 2 on: after the censoring point nothing is scored


def test_the_position_embedding_makes_the_model_position_aware():
    torch.manual_seed(0)
    plain, positional = _model(), _model(positions=6)
    positional.load_state_dict(plain.state_dict(), strict=False)  # same weights, plus the embedding
    context, jets, n_jets = _events()
    assert not torch.allclose(
        positional.log_prob(context, jets, n_jets), plain.log_prob(context, jets, n_jets)
    )
    torch.nn.init.zeros_(positional.embed_position.weight)
    torch.testing.assert_close(
        positional.log_prob(context, jets, n_jets), plain.log_prob(context, jets, n_jets)
    )


def test_too_few_positions_raise():
    model = _model(positions=4)
    context, jets, n_jets = _events(slots=4)  # the context and four jets: five tokens
    with pytest.raises(ValueError, match="larger positions"):
        model.log_prob(context, jets, n_jets)
    with pytest.raises(ValueError, match="lower max_jets"):
        model.sample(context, max_jets=4)
