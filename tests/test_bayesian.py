"""Tests of the Bayesian network: KL, local reparametrisation, contract, uncertainty split, calibration."""

from __future__ import annotations

import math

import pytest
import torch
from model_contract import assert_every_parameter_has_gradient, saved_and_loaded
from torch.distributions import Normal, kl_divergence
from uncertainty_toy import assert_unit_pulls, fit_toy

from reps4lhc_tutor.nn import BayesianRegressor, VariationalLinear, sample_predictions, split_uncertainty

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


def _randomise(layer: VariationalLinear) -> VariationalLinear:
    """Means ~ N(0, 1) and widths between ~0.1 and ~1.4, far from the initialisation."""
    with torch.no_grad():
        layer.weight_mu.normal_()
        layer.bias_mu.normal_()
        layer.weight_log_sigma.uniform_(-2.3, 0.3)
        layer.bias_log_sigma.uniform_(-2.3, 0.3)
    return layer


def _pairs(layer: VariationalLinear):
    return [(layer.weight_mu, layer.weight_log_sigma), (layer.bias_mu, layer.bias_log_sigma)]


def _set_posterior_to_prior(layer: VariationalLinear) -> None:
    with torch.no_grad():
        for mu, log_sigma in _pairs(layer):
            mu.zero_()
            log_sigma.fill_(math.log(layer.prior_sigma))


# ---------------------------------------------------------------------------------------------- KL divergence


def test_layer_kl_matches_closed_form():
    torch.manual_seed(0)
    layer = _randomise(VariationalLinear(4, 3, prior_sigma=0.7).double())
    prior = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64))
    expected = sum(kl_divergence(Normal(mu, log_sigma.exp()), prior).sum() for mu, log_sigma in _pairs(layer))
    kl = layer.kl_divergence()
    assert kl.shape == ()
    assert kl > 1  # far from the prior: a test that cannot pass with a vanishing KL
    torch.testing.assert_close(kl, expected)


def test_layer_kl_matches_monte_carlo():
    # KL[q || p] = E_q[log q(w) - log p(w)], estimated from draws of all 15 weights and biases at once.
    torch.manual_seed(1)
    layer = _randomise(VariationalLinear(4, 3, prior_sigma=0.7).double())
    n_draws = 40_000
    log_ratio = torch.zeros(n_draws, dtype=torch.float64)
    with torch.no_grad():
        for mu, log_sigma in _pairs(layer):
            q = Normal(mu, log_sigma.exp())
            w = q.sample((n_draws,))
            p = Normal(torch.zeros_like(mu), torch.full_like(mu, 0.7))
            log_ratio += (q.log_prob(w) - p.log_prob(w)).flatten(1).sum(1)
        kl = layer.kl_divergence()
    standard_error = log_ratio.std() / math.sqrt(n_draws)
    assert abs(log_ratio.mean() - kl) < 4 * standard_error


def test_kl_vanishes_when_posterior_equals_prior():
    torch.manual_seed(0)
    layer = VariationalLinear(5, 2, prior_sigma=0.3)
    assert layer.kl_divergence() > 1  # freshly initialised: narrow posterior, far from the prior
    _set_posterior_to_prior(layer)
    assert layer.kl_divergence().abs() < 1e-5

    model = BayesianRegressor(3, hidden=(8, 8), prior_sigma=2.0)
    assert model.kl_divergence() > 1
    for layer in model.layers:
        _set_posterior_to_prior(layer)
    assert model.kl_divergence().abs() < 1e-4


def test_model_kl_is_sum_over_layers():
    torch.manual_seed(0)
    model = BayesianRegressor(3, hidden=(8, 6), prior_sigma=0.5).double()
    for layer in model.layers:
        _randomise(layer)
    prior = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64))
    expected = sum(
        kl_divergence(Normal(mu, log_sigma.exp()), prior).sum()
        for layer in model.layers
        for mu, log_sigma in _pairs(layer)
    )
    torch.testing.assert_close(model.kl_divergence(), expected)


# ------------------------------------------------------------------------------ local reparametrisation trick


def test_local_reparametrisation_moments():
    torch.manual_seed(0)
    layer = _randomise(VariationalLinear(3, 2).double())
    x = torch.tensor([[0.5, -1.5, 2.0]], dtype=torch.float64)
    n_draws = 100_000
    with torch.no_grad():
        draws = layer(x.expand(n_draws, 3))  # one independent draw per (identical) event
        mean = x @ layer.weight_mu.T + layer.bias_mu
        variance = x**2 @ layer.weight_log_sigma.exp().pow(2).T + layer.bias_log_sigma.exp().pow(2)
    assert draws.shape == (n_draws, 2)
    sample_mean, sample_variance = draws.mean(0), draws.var(0)
    assert ((sample_mean - mean[0]).abs() < 5 * (variance[0] / n_draws).sqrt()).all()
    # The sample variance of a Gaussian has relative standard error sqrt(2 / n).
    assert ((sample_variance / variance[0] - 1).abs() < 5 * math.sqrt(2 / n_draws)).all()


def test_sample_false_returns_the_mean_and_draws_differ():
    torch.manual_seed(0)
    layer = _randomise(VariationalLinear(3, 2))
    x = torch.randn(6, 3)
    expected = x @ layer.weight_mu.T + layer.bias_mu
    torch.testing.assert_close(layer(x, sample=False), expected)
    assert torch.equal(layer(x, sample=False), layer(x, sample=False))
    first, second = layer(x), layer(x)
    assert not torch.allclose(first, second)
    assert not torch.allclose(first, expected)
    layer.eval()  # eval mode still samples, unless sample=False
    assert not torch.allclose(layer(x), layer(x))


def test_layer_rejects_wrong_input_width():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        VariationalLinear(3, 2)(torch.randn(4, 2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prior_sigma": 0.0},
        {"prior_sigma": -1.0},
        {"prior_sigma": math.inf},
        {"init_sigma": 0.0},
        {"init_sigma": math.nan},
    ],
)
def test_layer_rejects_bad_widths(kwargs):
    with pytest.raises(ValueError, match="sigma"):
        VariationalLinear(3, 2, **kwargs)


# --------------------------------------------------------------------------------- BayesianRegressor contract


def _model() -> BayesianRegressor:
    return BayesianRegressor(3, hidden=(16, 16), init_sigma=0.05)


def test_output_is_normal_with_batch_shape():
    torch.manual_seed(0)
    model = _model()
    for shape in [(7,), (2, 5)]:
        for sample in (True, False):
            dist = model(torch.randn(*shape, 3), sample=sample)
            assert isinstance(dist, Normal)
            assert dist.batch_shape == shape and dist.event_shape == ()
            assert dist.mean.shape == shape and dist.stddev.shape == shape
            assert (dist.stddev > 0).all()
            assert torch.isfinite(dist.log_prob(torch.randn(shape))).all()


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(32, 3), torch.randn(32)
    # The likelihood alone already reaches the widths, through the sampled pre-activations ...
    (-model(x).log_prob(y).mean()).backward()
    assert_every_parameter_has_gradient(model)
    # ... and so does the full per-event loss.
    model.zero_grad()
    (-model(x).log_prob(y).mean() + model.kl_divergence() / 1000).backward()
    assert_every_parameter_has_gradient(model)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model, fresh = _model(), _model()
    x = torch.randn(5, 3)
    assert not torch.allclose(
        fresh(x, sample=False).mean, model(x, sample=False).mean
    )  # a fresh model differs ...
    clone = saved_and_loaded(model, fresh)
    torch.testing.assert_close(clone(x, sample=False).mean, model(x, sample=False).mean)  # ... until it loads
    torch.testing.assert_close(clone(x, sample=False).stddev, model(x, sample=False).stddev)
    # The widths travel too: with the same random numbers, the draws agree.
    torch.manual_seed(1)
    expected = model(x).mean
    torch.manual_seed(1)
    torch.testing.assert_close(clone(x).mean, expected)


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(6, 3), torch.randn(6)
    expected = model(x, sample=False).log_prob(y)
    model = model.to(device)
    assert all(p.device.type == device for p in model.parameters())
    dist = model(x.to(device), sample=False)
    assert dist.mean.device.type == device
    torch.testing.assert_close(dist.log_prob(y.to(device)).cpu(), expected, rtol=1e-4, atol=1e-5)
    sampled = model(x.to(device))  # the noise is drawn on the device as well
    assert sampled.mean.device.type == device and torch.isfinite(sampled.mean).all()
    assert torch.isfinite(model.kl_divergence()) and model.kl_divergence().device.type == device


# ---------------------------------------------------------------------------- sampling and uncertainty split


def test_sample_predictions_shapes_and_spread():
    torch.manual_seed(0)
    model = _model()
    x = torch.randn(10, 3)
    means, sigmas = sample_predictions(model, x, n_samples=7)
    assert means.shape == (7, 10) and sigmas.shape == (7, 10)
    assert (sigmas > 0).all()
    assert (means.std(0) > 0).all()  # every draw is a new set of weights
    means, sigmas = sample_predictions(model, x, n_samples=4, batch_size=3)  # 10 events in 4 batches
    assert means.shape == (4, 10) and sigmas.shape == (4, 10)


def test_sample_predictions_batches_keep_event_order():
    # With negligible widths every draw is the mean network, so batching must reproduce it event by event.
    torch.manual_seed(0)
    model = BayesianRegressor(3, hidden=(16, 16), init_sigma=1e-9)
    x = torch.randn(10, 3)
    reference = model(x, sample=False)
    for batch_size in (3, 10, 65_536):
        means, sigmas = sample_predictions(model, x, n_samples=2, batch_size=batch_size)
        torch.testing.assert_close(means, reference.mean.expand(2, 10), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(sigmas, reference.stddev.expand(2, 10), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n_samples", [1, 0, -3, 2.0])
def test_sample_predictions_rejects_too_few_samples(n_samples):
    with pytest.raises(ValueError, match="n_samples"):
        sample_predictions(_model(), torch.randn(4, 3), n_samples=n_samples)


def test_split_uncertainty_by_hand():
    means = torch.tensor([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]])
    sigmas = torch.tensor([[1.0, 0.5], [2.0, 0.5], [2.0, 1.0]])
    mean, sigma_stat, sigma_syst = split_uncertainty(means, sigmas)
    torch.testing.assert_close(mean, torch.tensor([3.0, 2.0]))
    # Population standard deviation (divide by the number of draws, 3), not the sample one (divide by 2).
    torch.testing.assert_close(sigma_stat, torch.tensor([math.sqrt(8 / 3), 0.0]))
    torch.testing.assert_close(sigma_syst, torch.tensor([math.sqrt((1 + 4 + 4) / 3), math.sqrt(1.5 / 3)]))


@pytest.mark.parametrize(
    ("means", "sigmas"),
    [
        (torch.zeros(3, 4), torch.ones(3, 5)),  # different shapes
        (torch.zeros(4), torch.ones(4)),  # no draw axis
        (torch.zeros(1, 4), torch.ones(1, 4)),  # a single draw has no spread
        (torch.zeros(2, 3, 4), torch.ones(2, 3, 4)),  # too many dimensions
    ],
)
def test_split_uncertainty_rejects_bad_shapes(means, sigmas):
    with pytest.raises(ValueError, match="same shape"):
        split_uncertainty(means, sigmas)


# ------------------------------------------------------------------------------------------- calibration toy


def test_pulls_are_calibrated_on_heteroscedastic_toy():
    # The learned noise also absorbs part of the weight spread seen in training (the NLL is averaged over
    # draws), so sigma_syst^2 + sigma_stat^2 over-covers by ~2 sigma_stat^2. With 3000 events that pushes the
    # pull width to ~0.88; 16000 events shrink sigma_stat enough for the 10 % bound (pull widths 0.95-0.98
    # over five seeds).
    n_train = 16_000
    model = BayesianRegressor(1, hidden=(32, 32))
    x_test, y_test = fit_toy(
        model, lambda m, x, y: -m(x).log_prob(y).mean() + m.kl_divergence() / n_train, n_train, 60, 1000
    )
    mean, sigma_stat, sigma_syst = split_uncertainty(*sample_predictions(model, x_test, n_samples=50))
    assert (sigma_stat > 0).all()
    assert_unit_pulls(y_test, mean, (sigma_syst**2 + sigma_stat**2).sqrt())
