"""Likelihood losses: reference values, the analytic optimum, gradients at extreme inputs, input checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from reps4lhc_tutor.losses import distribution_nll, gaussian_nll, heteroscedastic_nll, mse


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(50, generator=gen, dtype=torch.float64)
    target = torch.randn(50, generator=gen, dtype=torch.float64)
    sigma = 0.1 + torch.rand(50, generator=gen, dtype=torch.float64)
    return mean, sigma, target


def test_mse_hand_computed():
    prediction, target = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0.0, 2.0, 1.0])
    assert mse(prediction, target).item() == pytest.approx(10 / 3)
    assert mse(prediction, target, reduction="sum").item() == pytest.approx(10.0)
    torch.testing.assert_close(mse(prediction, target, reduction="none"), torch.tensor([1.0, 0.0, 9.0]))


def test_gaussian_nll_hand_computed():
    # residual 2, sigma 0.5: pull 4 -> 0.5 * 16 + log 0.5; full adds 0.5 log(2 pi)
    mean, sigma, target = torch.tensor([1.0]), torch.tensor([0.5]), torch.tensor([3.0])
    expected = 8.0 + math.log(0.5)
    assert gaussian_nll(mean, sigma, target).item() == pytest.approx(expected)
    full = gaussian_nll(mean, sigma, target, full=True).item()
    assert full == pytest.approx(expected + 0.5 * math.log(2 * math.pi))


@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gaussian_nll_matches_torch(batch, full, reduction):
    mean, sigma, target = batch
    reference = torch.nn.GaussianNLLLoss(full=full, eps=1e-12, reduction=reduction)(mean, target, sigma**2)
    torch.testing.assert_close(gaussian_nll(mean, sigma, target, full=full, reduction=reduction), reference)


def test_heteroscedastic_equals_gaussian_with_log_sigma(batch):
    mean, sigma, target = batch
    torch.testing.assert_close(
        heteroscedastic_nll(mean, sigma.log(), target, reduction="none"),
        gaussian_nll(mean, sigma, target, reduction="none"),
    )


def test_distribution_nll_of_normal_is_full_heteroscedastic(batch):
    mean, sigma, target = batch
    torch.testing.assert_close(
        distribution_nll(Normal(mean, sigma), target),
        heteroscedastic_nll(mean, sigma.log(), target, full=True),
    )


def test_constant_sigma_optimum_is_sample_std():
    # d/ds [0.5 r^2 exp(-2s) + s] = 0 gives exp(2s) = <r^2>: sigma is the (biased) sample std.
    gen = torch.Generator().manual_seed(1)
    target = 1.5 + 0.3 * torch.randn(2000, generator=gen, dtype=torch.float64)
    mean = torch.zeros((), dtype=torch.float64, requires_grad=True)
    log_sigma = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([mean, log_sigma], max_iter=200, tolerance_grad=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = heteroscedastic_nll(mean.expand_as(target), log_sigma, target)
        loss.backward()
        return loss

    optimizer.step(closure)
    assert mean.item() == pytest.approx(target.mean().item(), rel=1e-6)
    assert log_sigma.exp().item() == pytest.approx(target.std(correction=0).item(), rel=1e-6)


@pytest.mark.parametrize("log_sigma_value", [-15.0, 0.0, 15.0])
@pytest.mark.parametrize("residual", [0.0, 1e-8, 1e3])
def test_gradients_finite_for_extreme_inputs(log_sigma_value, residual):
    mean = torch.full((4,), 1e4, requires_grad=True)
    log_sigma = torch.full((4,), log_sigma_value, requires_grad=True)
    target = mean.detach() + residual
    loss = heteroscedastic_nll(mean, log_sigma, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_sigma.grad).all()


def test_distribution_nll_gradients_finite_for_tiny_sigma():
    loc = torch.zeros(3, requires_grad=True)
    scale = torch.full((3,), 1e-6, requires_grad=True)
    distribution_nll(Normal(loc, scale), torch.full((3,), 1e-3)).backward()
    assert torch.isfinite(loc.grad).all() and torch.isfinite(scale.grad).all()


def test_shape_mismatch_is_an_error():
    # (n, 1) against (n,) would silently broadcast to (n, n)
    with pytest.raises(ValueError, match=r"squeeze"):
        mse(torch.zeros(5, 1), torch.zeros(5))
    with pytest.raises(ValueError, match="does not broadcast"):
        heteroscedastic_nll(torch.zeros(5), torch.zeros(5, 1), torch.zeros(5))
    with pytest.raises(ValueError, match="distribution expects"):
        distribution_nll(Normal(torch.zeros(5), torch.ones(5)), torch.zeros(5, 1))


def test_scalar_sigma_broadcasts():
    value = gaussian_nll(torch.zeros(3), torch.tensor(2.0), torch.full((3,), 2.0))
    assert value.item() == pytest.approx(0.5 + math.log(2.0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_are_errors(bad):
    values = torch.tensor([0.0, bad, 1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        mse(values, torch.zeros(3))
    with pytest.raises(ValueError, match="target contains 1 NaN"):
        heteroscedastic_nll(torch.zeros(3), torch.zeros(3), values)
    with pytest.raises(ValueError, match="log_sigma contains"):
        heteroscedastic_nll(torch.zeros(3), values, torch.zeros(3))


def test_bad_sigma_reduction_and_distribution():
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_nll(torch.zeros(2), torch.tensor([1.0, 0.0]), torch.zeros(2))
    with pytest.raises(ValueError, match="reduction"):
        mse(torch.zeros(2), torch.zeros(2), reduction="average")
    with pytest.raises(TypeError, match="Distribution"):
        distribution_nll(torch.zeros(2), torch.zeros(2))
