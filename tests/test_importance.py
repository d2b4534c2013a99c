"""Tests of neural importance sampling: the unit-cube flow, the two losses, online training, weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from model_contract import DEVICES, assert_every_parameter_has_gradient, saved_and_loaded

from reps4lhc_tutor.integration import estimate, relative_std
from reps4lhc_tutor.nn.importance import (
    UnitCubeFlow,
    kl_loss,
    sample_weights,
    train_importance_sampler,
    variance_loss,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WIDTH = 0.05  # of the diagonal ridge below


def ridge(u: np.ndarray) -> np.ndarray:
    """A narrow ridge along the diagonal of the unit square: correlated, so no product density fits it."""
    return np.exp(-((u[:, 0] - u[:, 1]) ** 2) / (2 * WIDTH**2))


def ridge_integral() -> float:
    """int_0^1 int_0^1 ridge = 2 int_0^1 (1 - t) exp(-t^2 / (2 w^2)) dt, done analytically."""
    w = WIDTH
    return 2 * (
        w * math.sqrt(math.pi / 2) * math.erf(1 / (math.sqrt(2) * w)) - w**2 * (1 - math.exp(-1 / (2 * w**2)))
    )


def _flow(features: int = 2) -> UnitCubeFlow:
    return UnitCubeFlow(features, transforms=3, hidden=(32, 32), bins=8)


@pytest.fixture(scope="module", params=["variance", "kl"])
def trained(request):
    """A flow trained on the ridge for 150 online iterations of 512 points, with 1 buffered step each."""
    torch.manual_seed(0)
    flow = _flow()
    history = train_importance_sampler(
        flow,
        ridge,
        iterations=150,
        batch_size=512,
        loss=request.param,
        buffer_steps=1,
        learning_rate=3e-3,
        max_grad_norm=10.0,
        generator=torch.Generator().manual_seed(0),
        progress=False,
    )
    return flow, history


def test_training_flattens_the_weights(trained):
    flow, history = trained
    uniform = relative_std(ridge(np.random.default_rng(0).random((100_000, 2))))
    _, weights = sample_weights(flow, ridge, 50_000, progress=False)
    assert relative_std(weights) < 0.3 * uniform, (relative_std(weights), uniform)
    assert history.relative_std[-1] < 0.5 * history.relative_std[0]
    assert history.calls == [512 * (i + 1) for i in range(150)]
    result = estimate(weights)
    assert abs(result.value - ridge_integral()) < 5 * result.error, (result, ridge_integral())


def test_density_is_normalised_on_the_cube(trained):
    """int q du = 1, estimated with uniform points, for the trained (far from uniform) density."""
    flow, _ = trained
    u = torch.rand(200_000, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        q = flow.log_prob(u).exp().double()
    assert q.max() > 3  # the density really is peaked
    assert abs(q.mean().item() - 1) < 5 * q.std().item() / math.sqrt(len(q))


def test_samples_lie_in_the_cube_with_their_density(trained):
    flow, _ = trained
    with torch.no_grad():
        u, log_q = flow().rsample_and_log_prob((2000,))
        np.testing.assert_allclose(flow.log_prob(u), log_q, atol=1e-3)
    assert ((u >= 0) & (u <= 1)).all()


def test_untrained_flow_is_nearly_uniform():
    torch.manual_seed(1)
    with torch.no_grad():
        log_q = _flow(5).log_prob(torch.rand(1000, 5))
    assert log_q.abs().max() < 0.05


def test_variance_loss_is_one_at_the_optimum_and_by_hand():
    generator = torch.Generator().manual_seed(0)
    log_q = torch.randn(100, generator=generator, dtype=torch.float64)
    integral = 2.5
    optimum = variance_loss(log_q, integral * log_q.exp(), log_q)
    assert optimum.item() == pytest.approx(1.0)
    f = torch.rand(100, generator=generator, dtype=torch.float64)
    log_q_sample = torch.randn(100, generator=generator, dtype=torch.float64)
    w_s = f / log_q_sample.exp()
    by_hand = (w_s * f / log_q.exp()).mean() / w_s.mean() ** 2
    assert variance_loss(log_q, f, log_q_sample).item() == pytest.approx(by_hand.item())
    kl_by_hand = -(w_s * log_q).mean() / w_s.mean()
    assert kl_loss(log_q, f, log_q_sample).item() == pytest.approx(kl_by_hand.item())


def test_variance_loss_is_the_relative_variance_plus_one():
    """With q_theta = q_s the loss is mean(w^2) / mean(w)^2 = 1 + (std / mean)^2 of the weights."""
    generator = torch.Generator().manual_seed(1)
    f = torch.rand(1000, generator=generator, dtype=torch.float64)
    log_q = torch.randn(1000, generator=generator, dtype=torch.float64) * 0.3
    w = f / log_q.exp()
    expected = 1 + (w.std(unbiased=False) / w.mean()) ** 2
    assert variance_loss(log_q, f, log_q).item() == pytest.approx(expected.item())


@pytest.mark.parametrize("loss", [variance_loss, kl_loss])
def test_every_parameter_gets_a_gradient(loss):
    torch.manual_seed(2)
    flow = _flow(3)
    with torch.no_grad():
        u, log_q_sample = flow().rsample_and_log_prob((256,))
    f = torch.from_numpy(ridge(u.double().numpy()) + u[:, 2].double().numpy())
    loss(flow.log_prob(u), f, log_q_sample).backward()
    assert_every_parameter_has_gradient(flow)


@pytest.mark.parametrize("device", DEVICES)
def test_save_load_and_device(device):
    torch.manual_seed(3)
    flow = _flow(3)
    u = torch.rand(50, 3)
    with torch.no_grad():
        expected = flow.log_prob(u)
        restored = saved_and_loaded(flow, _flow(3)).to(device)
        np.testing.assert_allclose(restored.log_prob(u.to(device)).cpu(), expected, atol=1e-5)


def test_gradient_clipping_is_applied():
    """A clip far below Adam's epsilon leaves the flow where it was; without it one step moves it."""
    moved = {}
    for clip in (None, 1e-12):
        torch.manual_seed(5)
        flow = _flow()
        before = [p.detach().clone() for p in flow.parameters()]
        train_importance_sampler(flow, ridge, 1, 64, max_grad_norm=clip, progress=False)
        moved[clip] = max(
            (p.detach() - b).abs().max().item() for p, b in zip(flow.parameters(), before, strict=True)
        )
    assert moved[None] > 1e-4
    assert moved[1e-12] < 1e-6


def test_float64_flow():
    torch.manual_seed(4)
    flow = _flow(2).double()
    u, weights = sample_weights(flow, ridge, 100, batch_size=30, progress=False)
    assert u.shape == (100, 2) and weights.shape == (100,)


def test_bad_arguments():
    flow = _flow()
    with pytest.raises(ValueError, match="loss must be one of"):
        train_importance_sampler(flow, ridge, 1, loss="chi2", progress=False)
    with pytest.raises(TypeError, match="UnitCubeFlow"):
        train_importance_sampler(torch.nn.Linear(2, 2), ridge, 1, progress=False)
    with pytest.raises(ValueError, match="buffer_steps"):
        train_importance_sampler(flow, ridge, 1, buffer_steps=-1, progress=False)
    with pytest.raises(ValueError, match="max_grad_norm"):
        train_importance_sampler(flow, ridge, 1, max_grad_norm=0.0, progress=False)
    with pytest.raises(ValueError, match=r"shape \(batch,\)"):
        sample_weights(flow, lambda u: u, 10, progress=False)
    with pytest.raises(ValueError, match="finite and >= 0"):
        sample_weights(flow, lambda u: -ridge(u), 10, progress=False)
    with pytest.raises(ValueError, match="shape"):
        variance_loss(torch.zeros(3), torch.ones(4), torch.zeros(3))
    with pytest.raises(ValueError, match="positive somewhere"):
        kl_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3))
