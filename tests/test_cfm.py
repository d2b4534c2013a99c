"""Tests of conditional flow matching: velocity networks, masks, the ODE solvers, the loss, learning."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from model_contract import DEVICES, assert_every_parameter_has_gradient, saved_and_loaded

from reps4lhc_tutor.nn import (
    MLPVelocity,
    TransformerVelocity,
    cfm_loss,
    cfm_sample,
    conditional_cfm_loss,
    sample_ode,
)
from reps4lhc_tutor.nn.cfm import ODE_METHODS
from reps4lhc_tutor.train import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _mlp(features: int = 3) -> MLPVelocity:
    return MLPVelocity(features, hidden=(16, 16), frequencies=2)


def _transformer(**kwargs) -> TransformerVelocity:
    arguments = {"d_model": 16, "num_heads": 2, "num_layers": 2, "mlp_ratio": 2} | kwargs
    return TransformerVelocity(4, 5, **arguments)


def _tokens(batch: int = 6, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Token sets ``(batch, 5, 4)`` with 2 + (1 .. 3) real tokens (two muons, 1-3 jets), zero padding."""
    generator = torch.Generator().manual_seed(0)
    jets = torch.arange(batch) % 3 + 1
    mask = torch.arange(5) < (2 + jets).unsqueeze(1)  # (batch, 5)
    x = torch.randn(batch, 5, 4, generator=generator, dtype=dtype) * mask.unsqueeze(-1)
    return x, mask


# --- contract: MLPVelocity ---------------------------------------------------------------------------------


def test_mlp_velocity_shapes_and_layout():
    velocity = MLPVelocity(3, hidden=(8, 8), frequencies=2)
    assert velocity(torch.randn(7, 3), torch.rand(7)).shape == (7, 3)
    linears = [(m.in_features, m.out_features) for m in velocity.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [(3 + 1 + 2 * 2, 8), (8, 8), (8, 3)]


def test_mlp_velocity_gradients_reach_every_parameter():
    torch.manual_seed(0)
    velocity = _mlp()
    cfm_loss(velocity, torch.randn(64, 3)).backward()
    assert_every_parameter_has_gradient(velocity)


def test_mlp_velocity_save_and_load():
    torch.manual_seed(0)
    velocity, fresh = _mlp(), _mlp()
    x, t = torch.randn(5, 3), torch.rand(5)
    assert not torch.allclose(fresh(x, t), velocity(x, t))
    torch.testing.assert_close(saved_and_loaded(velocity, fresh)(x, t), velocity(x, t))


@pytest.mark.parametrize("device", DEVICES)
def test_mlp_velocity_device_move(device):
    torch.manual_seed(0)
    velocity = _mlp()
    x, t = torch.randn(5, 3), torch.rand(5)
    expected = velocity(x, t)
    velocity = velocity.to(device)
    torch.testing.assert_close(velocity(x.to(device), t.to(device)).cpu(), expected, rtol=1e-4, atol=1e-5)
    assert cfm_sample(velocity, (4, 3), steps=2).device.type == device


def test_mlp_velocity_float64():
    torch.manual_seed(0)
    velocity = _mlp(2).double()
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.rand(3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda inputs: velocity(inputs, t), (x,))
    assert cfm_loss(velocity, x.detach()).dtype == torch.float64
    assert cfm_sample(velocity, (4, 2), steps=2).dtype == torch.float64


# --- contract: TransformerVelocity -------------------------------------------------------------------------


def test_transformer_velocity_shapes_and_layout():
    velocity = _transformer()
    x, mask = _tokens()
    assert velocity(x, torch.rand(6), mask).shape == (6, 5, 4)
    assert velocity(x, torch.rand(6)).shape == (6, 5, 4)  # no mask: every token is real
    assert velocity(x[:, :3], torch.rand(6), mask[:, :3]).shape == (6, 3, 4)  # fewer slots than max_tokens
    assert velocity.slot.num_embeddings == 5
    assert len(velocity.blocks.layers) == 2 and velocity.blocks.layers[0].norm_first


def test_transformer_velocity_gradients_reach_every_parameter():
    torch.manual_seed(0)
    velocity = _transformer()
    x, mask = _tokens(32)
    cfm_loss(velocity, x, mask).backward()
    assert_every_parameter_has_gradient(velocity)


def test_transformer_velocity_save_and_load():
    torch.manual_seed(0)
    velocity, fresh = _transformer(), _transformer()
    x, mask = _tokens()
    t = torch.rand(6)
    assert not torch.allclose(fresh(x, t, mask), velocity(x, t, mask))
    torch.testing.assert_close(saved_and_loaded(velocity, fresh)(x, t, mask), velocity(x, t, mask))


@pytest.mark.parametrize("device", DEVICES)
def test_transformer_velocity_device_move(device):
    torch.manual_seed(0)
    velocity = _transformer()
    x, mask = _tokens()
    t = torch.rand(6)
    expected = velocity(x, t, mask)
    velocity = velocity.to(device)
    result = velocity(x.to(device), t.to(device), mask.to(device))
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-5)
    assert cfm_sample(velocity, x.shape, mask=mask.to(device), steps=2).device.type == device


def test_transformer_velocity_float64():
    torch.manual_seed(0)
    velocity = TransformerVelocity(2, 3, d_model=4, num_heads=2, num_layers=1, mlp_ratio=1).double()
    x = torch.randn(1, 3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1, dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    assert torch.autograd.gradcheck(lambda inputs: velocity(inputs, t, mask), (x,))
    assert cfm_sample(velocity, (2, 3, 2), mask=mask.expand(2, 3), steps=2).dtype == torch.float64


# --- masks -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("grad", [True, False])
def test_transformer_velocity_ignores_padding(grad):
    # Without gradients in eval mode torch may take its fused fast path: both paths must respect the mask.
    torch.manual_seed(0)
    velocity = _transformer().double().train(grad)
    x, mask = _tokens(dtype=torch.float64)
    t = torch.rand(6, dtype=torch.float64)
    garbage = x + 10.0 * torch.randn_like(x) * ~mask.unsqueeze(-1)  # padded tokens hold large values
    with torch.set_grad_enabled(grad):
        clean, noisy = velocity(x, t, mask), velocity(garbage, t, mask)
    assert (clean[~mask] == 0).all() and (noisy[~mask] == 0).all()  # zero at padded tokens
    torch.testing.assert_close(noisy, clean, rtol=1e-10, atol=1e-12)  # real tokens do not see the padding
    assert clean[mask].abs().min() > 0


def test_transformer_velocity_knows_the_slots():
    # The slot embedding tells muon 1 from jet 1: swapping two real tokens' inputs is not just a swap of
    # the outputs (a permutation-equivariant network would give exactly that).
    torch.manual_seed(0)
    velocity = _transformer().double()
    x, mask = _tokens(dtype=torch.float64)
    t = torch.rand(6, dtype=torch.float64)
    swap = [1, 0, 2, 3, 4]
    assert (velocity(x[:, swap], t, mask) - velocity(x, t, mask)[:, swap]).abs().max() > 1e-3


def test_masked_loss_averages_over_real_tokens_only():
    seen = {}

    def spy(x_t, t, mask):  # records its inputs and predicts zero velocity
        seen.update(x_t=x_t, t=t, mask=mask)
        return torch.zeros_like(x_t)

    x1, mask = _tokens(64, dtype=torch.float64)
    loss = cfm_loss(spy, x1, mask)
    assert (seen["x_t"][~mask] == 0).all()  # padded tokens of x_t stay zero
    t = seen["t"].view(-1, 1, 1)
    x0 = (seen["x_t"] - t * x1) / (1 - t)  # invert the straight path
    expected = (x1 - x0)[mask].pow(2).mean()  # zero velocity: the loss is the target's mean square
    torch.testing.assert_close(loss, expected, rtol=1e-10, atol=0)
    # What the padding holds does not matter.
    torch.manual_seed(1)
    reference = cfm_loss(spy, x1, mask)
    torch.manual_seed(1)
    assert cfm_loss(spy, x1 + 5.0 * ~mask.unsqueeze(-1), mask) == reference


@pytest.mark.parametrize("method", ODE_METHODS)
def test_sample_ode_keeps_padding_at_zero(method):
    x0, mask = _tokens()
    x1 = sample_ode(lambda x, t, mask: x + 1.0, x0 + 3.0, steps=4, method=method, mask=mask)
    assert (x1[~mask] == 0).all()
    assert (x1[mask] != 0).all()


# --- the ODE solvers ---------------------------------------------------------------------------------------


def test_rk4_solves_a_linear_ode():
    x0 = torch.randn(100, 3, dtype=torch.float64)
    x1 = sample_ode(lambda x, t: x, x0, steps=20, method="rk4")
    torch.testing.assert_close(x1, math.e * x0, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order(method, order):
    # dx/dt = cos(t) x has the solution x0 exp(sin t): a time-dependent field, so the solver's times count.
    x0 = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64).unsqueeze(1)
    exact = x0 * math.exp(math.sin(1.0))

    def error(steps):
        x1 = sample_ode(lambda x, t: torch.cos(t).unsqueeze(1) * x, x0, steps=steps, method=method)
        return (x1 - exact).abs().max().item()

    measured = math.log2(error(16) / error(32))
    assert abs(measured - order) < 0.15


def test_sample_ode_returns_without_gradients():
    velocity = _mlp(2)
    assert not sample_ode(velocity, torch.randn(4, 2), steps=2).requires_grad


# --- the loss and its minimiser ----------------------------------------------------------------------------


# x1 ~ N(MU, S^2) in one dimension: the path x_t = (1 - t) x0 + t x1 is Gaussian with mean t MU and
# variance (1 - t)^2 + t^2 S^2, and the loss is minimised by E[x1 - x0 | x_t], which is linear in x_t.
MU, S = 1.5, 0.5


def _optimal_velocity(x, t):
    """The minimiser ``E[x1 - x0 | x_t]`` of the loss; ``x`` ``(batch, 1)``, ``t`` ``(batch,)``."""
    t = t.unsqueeze(1)
    variance = (1 - t) ** 2 + t**2 * S**2
    return MU + (t * S**2 - (1 - t)) / variance * (x - t * MU)


def _minimal_loss() -> float:
    """``E_t[Var(x1 - x0 | x_t)]``, the loss of the optimal velocity, by Gauss-Legendre quadrature in t."""
    nodes, weights = (torch.from_numpy(a) for a in np.polynomial.legendre.leggauss(32))
    t = (nodes + 1) / 2  # [-1, 1] -> [0, 1]
    variance = (1 - t) ** 2 + t**2 * S**2
    conditional = (S**2 + 1) - (t * S**2 - (1 - t)) ** 2 / variance
    return float((weights / 2 * conditional).sum())


def test_loss_of_a_constant_velocity_matches_its_closed_form():
    # v = c: E[(c - (x1 - x0))^2] = (c - MU)^2 + S^2 + 1, whatever t is.
    torch.manual_seed(0)
    x1 = MU + S * torch.randn(200_000, 1, dtype=torch.float64)
    for c in [0.0, MU, 3.0]:
        loss = cfm_loss(lambda x, t, c=c: torch.full_like(x, c), x1).item()
        assert abs(loss - ((c - MU) ** 2 + S**2 + 1)) < 0.02  # Monte Carlo error ~0.004


def test_the_optimal_velocity_minimises_the_loss():
    torch.manual_seed(0)
    x1 = MU + S * torch.randn(200_000, 1, dtype=torch.float64)
    optimal = cfm_loss(_optimal_velocity, x1).item()
    assert abs(optimal - _minimal_loss()) < 0.01  # Monte Carlo error ~0.003
    shifted = cfm_loss(lambda x, t: _optimal_velocity(x, t) + 0.3, x1).item()
    assert shifted - optimal == pytest.approx(0.09, abs=0.01)  # a constant offset adds its square
    # The best constant, MU, loses the part of Var(x1 - x0) = S^2 + 1 that x_t explains.
    constant = cfm_loss(lambda x, t: torch.full_like(x, MU), x1).item()
    assert constant - optimal == pytest.approx(S**2 + 1 - _minimal_loss(), abs=0.02)


def test_optimal_velocity_transports_noise_onto_the_data():
    # Integrating the minimiser maps x0 to MU + S x0 exactly (the flow of a Gaussian path is linear): the
    # path the loss defines and the path the sampler follows are the same.
    x0 = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64).unsqueeze(1)
    x1 = sample_ode(_optimal_velocity, x0, steps=100, method="rk4")
    torch.testing.assert_close(x1, MU + S * x0, rtol=0, atol=1e-8)


def test_sigma_min_widens_the_end_of_the_path():
    seen = {}

    def spy(x_t, t):
        seen.update(x_t=x_t, t=t)
        return torch.zeros_like(x_t)

    x1 = torch.zeros(100_000, 1, dtype=torch.float64)
    loss = cfm_loss(spy, x1, sigma_min=0.1)
    late = seen["t"] > 0.99
    assert seen["x_t"][late].std() == pytest.approx(0.1, abs=0.02)  # at t = 1: N(x1, sigma_min^2)
    # Zero velocity against the target x1 - (1 - sigma_min) x0: loss = (1 - sigma_min)^2.
    assert loss.item() == pytest.approx(0.81, abs=0.02)


# --- learning ----------------------------------------------------------------------------------------------


def _mixture(n: int, generator: torch.Generator) -> torch.Tensor:
    """Two Gaussians in 2D, weights 0.6 / 0.4, at (1.5, 1) and (-1, -0.5), widths (0.3, 0.5): a correlated
    distribution with mean (0.5, 0.4) and covariance [[1.59, 0.9], [0.9, 0.79]]."""
    centers = torch.tensor([[1.5, 1.0], [-1.0, -0.5]])
    pick = (torch.rand(n, generator=generator) < 0.4).long()
    return centers[pick] + torch.tensor([0.3, 0.5]) * torch.randn(n, 2, generator=generator)


def test_learns_a_gaussian_mixture():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = _mixture(20_000, generator)
    velocity = MLPVelocity(2, hidden=(64, 64, 64))
    untrained = cfm_sample(velocity, (5000, 2), steps=25, generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.Adam(velocity.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 8)
    fit(velocity, cfm_loss, train=(x,), epochs=8, batch_size=256, optimizer=optimizer, scheduler=scheduler,
        progress=False, device="cpu")  # fmt: skip
    samples = cfm_sample(velocity, (5000, 2), steps=25, generator=torch.Generator().manual_seed(1))
    mean, covariance = x.mean(0), torch.cov(x.T)
    # Measured: mean off by < 0.01, covariance entries by < 0.04; statistical errors (5000 samples) ~0.02
    # on the mean and ~0.03 on the covariance. The untrained network misses both by far more.
    assert (samples.mean(0) - mean).abs().max() < 0.1
    assert (torch.cov(samples.T) - covariance).abs().max() < 0.15
    assert (untrained.mean(0) - mean).abs().max() > 0.1 or (
        torch.cov(untrained.T) - covariance
    ).abs().max() > 0.15


def test_transformer_learns_slot_dependent_tokens():
    # One feature per token, slot k centred at 2 k - 2 with width 0.3, 1-3 real tokens per event: a
    # network that ignored the slot embedding or the mask could not place each slot's mean.
    torch.manual_seed(0)
    n, slots = 6000, 3
    mask = torch.arange(slots) < torch.randint(1, slots + 1, (n, 1))  # (n, 3)
    x = (2.0 * torch.arange(slots) - 2.0 + 0.3 * torch.randn(n, slots)).unsqueeze(-1) * mask.unsqueeze(-1)
    velocity = TransformerVelocity(1, slots, d_model=32, num_heads=2, num_layers=2, mlp_ratio=2)
    fit(velocity, cfm_loss, train=(x, mask), epochs=4, batch_size=128, lr=2e-3, progress=False, device="cpu")
    mask = mask[:2000]  # the multiplicities of the generated events
    samples = cfm_sample(
        velocity, (2000, slots, 1), mask=mask, steps=20, generator=torch.Generator().manual_seed(1)
    )
    assert (samples[~mask] == 0).all()
    # Measured: slot means within 0.1 of -2, 0, 2 and widths 0.29-0.37. Without the slot embedding every
    # slot would get the mixture of all three (mean ~ -0.7, width ~1.6).
    for k in range(slots):
        real = samples[:, k, 0][mask[:, k]]
        assert abs(real.mean().item() - (2.0 * k - 2.0)) < 0.25
        assert 0.2 < real.std().item() < 0.45


# --- errors ------------------------------------------------------------------------------------------------


def test_wrong_shapes_raise():
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        _mlp(3)(torch.randn(4, 2), torch.rand(4))
    with pytest.raises(ValueError, match="t must have shape"):
        _mlp(3)(torch.randn(4, 3), torch.rand(1))
    x, mask = _tokens()
    with pytest.raises(ValueError, match="max_tokens=5"):
        _transformer()(torch.randn(6, 6, 4), torch.rand(6))
    with pytest.raises(ValueError, match=r"\(batch, particles, 4\)"):
        _transformer()(x[..., :3], torch.rand(6), mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        _transformer()(x, torch.rand(6), mask[:, :4])
    with pytest.raises(ValueError, match="a mask needs tokens"):
        cfm_loss(_mlp(3), torch.randn(6, 3), mask)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d_model": 16, "num_heads": 3}, "num_heads=3 must divide d_model=16"),
        ({"num_layers": 0}, "num_layers"),
        ({"mlp_ratio": 0}, "mlp_ratio"),
        ({"frequencies": 0}, "frequencies"),
    ],
)
def test_bad_transformer_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _transformer(**kwargs)


def test_bad_solver_arguments_raise():
    with pytest.raises(ValueError, match="method must be one of"):
        sample_ode(lambda x, t: x, torch.zeros(2, 1), method="heun")
    with pytest.raises(ValueError, match="steps"):
        sample_ode(lambda x, t: x, torch.zeros(2, 1), steps=0)
    with pytest.raises(ValueError, match="sigma_min"):
        cfm_loss(lambda x, t: x, torch.zeros(2, 1), sigma_min=1.0)
    with pytest.raises(TypeError, match="sample_ode"):
        cfm_sample(torch.nn.Identity(), (2, 1))


# --- conditional velocities: p(x | c) ----------------------------------------------------------------------


def test_conditional_velocity_shapes_and_errors():
    velocity = MLPVelocity(3, hidden=(16,), context=2)
    x, t, c = torch.zeros(5, 3), torch.rand(5), torch.zeros(5, 2)
    assert velocity(x, t, context=c).shape == (5, 3)
    with pytest.raises(ValueError, match="conditional: pass context"):
        velocity(x, t)
    with pytest.raises(ValueError, match="conditional: pass context"):
        velocity(x, t, context=torch.zeros(5, 3))
    with pytest.raises(ValueError, match="context=0"):
        MLPVelocity(3, hidden=(16,))(x, t, context=c)
    with pytest.raises(ValueError, match="context must be"):
        MLPVelocity(3, context=-1)
    with pytest.raises(ValueError, match="pair events"):
        conditional_cfm_loss(velocity, x, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="one condition per event"):
        cfm_sample(velocity, (5, 3), context=torch.zeros(4, 2))


def test_conditional_velocity_gradients_reach_every_parameter():
    torch.manual_seed(0)
    velocity = MLPVelocity(3, hidden=(16,), context=2)
    conditional_cfm_loss(velocity, torch.randn(32, 3), torch.randn(32, 2)).backward()
    assert_every_parameter_has_gradient(velocity)


def test_conditional_velocity_learns_a_conditional_density():
    # x = 2 c + 0.3 noise with c uniform in [-1, 1]: the generated p(x | c) must follow the condition.
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    c = 2 * torch.rand(20_000, 1, generator=generator) - 1
    x = 2 * c + 0.3 * torch.randn(20_000, 1, generator=generator)
    velocity = MLPVelocity(1, hidden=(64, 64), context=1)
    optimizer = torch.optim.Adam(velocity.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, 6)
    fit(velocity, conditional_cfm_loss, train=(x, c), epochs=6, batch_size=256, optimizer=optimizer,
        scheduler=scheduler, progress=False, device="cpu")  # fmt: skip
    for condition in (-0.5, 0.5):
        context = torch.full((4000, 1), condition)
        samples = cfm_sample(velocity, (4000, 1), steps=25, context=context, generator=generator)
        # statistical errors with 4000 samples: 0.005 on the mean, 0.004 on the width
        assert abs(float(samples.mean()) - 2 * condition) < 0.06, (condition, float(samples.mean()))
        assert abs(float(samples.std()) - 0.3) < 0.06, (condition, float(samples.std()))
