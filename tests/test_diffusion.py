"""Tests of DDPM: contract, noise schedules, the forward process, learning a Gaussian, argument checks."""

from __future__ import annotations

import pytest
import torch
from model_contract import DEVICES, assert_every_parameter_has_gradient, saved_and_loaded

from reps4lhc_tutor.nn import DDPM, ddpm_loss
from reps4lhc_tutor.nn.diffusion import SCHEDULES, noise_schedule, time_features
from reps4lhc_tutor.train import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# The target of the learning test: N(MEAN, WIDTH^2) in one dimension.
MEAN, WIDTH = 2.0, 0.5


def _ddpm(features: int = 3, **kwargs) -> DDPM:
    arguments = {"hidden": (16, 16), "steps": 20} | kwargs
    return DDPM(features, **arguments)


@pytest.fixture(scope="module")
def trained_1d():
    """A DDPM with the default 1000 steps and cosine schedule after 5 epochs on N(2, 0.5^2) (~1 s)."""
    torch.manual_seed(0)
    x = MEAN + WIDTH * torch.randn(20_000, 1)
    ddpm = DDPM(1, hidden=(64, 64))
    fit(ddpm, ddpm_loss, train=(x,), epochs=5, batch_size=256, lr=2e-3, progress=False, device="cpu")
    return ddpm


# --- contract ----------------------------------------------------------------------------------------------


def test_shapes():
    ddpm = _ddpm(3)
    x, t = torch.randn(7, 3), torch.randint(0, 20, (7,))
    assert ddpm(x, t).shape == (7, 3)
    assert ddpm.loss(x).shape == ()
    assert ddpm.sample(5).shape == (5, 3)
    assert ddpm.sample(5, ddim_steps=4).shape == (5, 3)
    x_t, noise = ddpm.diffuse(x, t)
    assert x_t.shape == noise.shape == (7, 3)


def test_layout_follows_arguments():
    ddpm = DDPM(3, hidden=(8, 8), steps=50, frequencies=2)
    assert ddpm.betas.shape == ddpm.alphas_cumprod.shape == (50,)
    linears = [(m.in_features, m.out_features) for m in ddpm.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [(3 + 1 + 2 * 2, 8), (8, 8), (8, 3)]  # x_t, t and two sin/cos pairs in, noise out


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    ddpm = _ddpm(3)
    ddpm_loss(ddpm, torch.randn(64, 3)).backward()
    assert_every_parameter_has_gradient(ddpm)


def test_save_and_load():
    torch.manual_seed(0)
    ddpm = _ddpm(3)
    assert set(ddpm.state_dict()) == {name for name, _ in ddpm.named_parameters()}  # the schedule is rebuilt
    x, t = torch.randn(6, 3), torch.randint(0, 20, (6,))
    fresh = _ddpm(3)
    assert not torch.allclose(fresh(x, t), ddpm(x, t))
    torch.testing.assert_close(saved_and_loaded(ddpm, fresh)(x, t), ddpm(x, t))


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    ddpm = _ddpm(3)
    x, t = torch.randn(6, 3), torch.randint(0, 20, (6,))
    expected = ddpm(x, t)
    ddpm = ddpm.to(device)
    assert all(p.device.type == device for p in [*ddpm.parameters(), *ddpm.buffers()])
    torch.testing.assert_close(ddpm(x.to(device), t.to(device)).cpu(), expected, rtol=1e-4, atol=1e-5)
    assert ddpm.loss(x.to(device)).device.type == device
    assert ddpm.sample(4).device.type == device


def test_float64():
    torch.manual_seed(0)
    ddpm = _ddpm(2).double()
    assert ddpm.betas.dtype == ddpm.alphas_cumprod.dtype == torch.float64
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0, 7, 19])
    assert torch.autograd.gradcheck(lambda inputs: ddpm(inputs, t), (x,))
    assert ddpm.loss(x.detach()).dtype == torch.float64
    assert ddpm.sample(4).dtype == ddpm.sample(4, ddim_steps=5).dtype == torch.float64


def test_generator_makes_sampling_reproducible():
    ddpm = _ddpm(2)
    first = ddpm.sample(5, generator=torch.Generator().manual_seed(3))
    again = ddpm.sample(5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, ddpm.sample(5, generator=torch.Generator().manual_seed(4)))


def test_ddim_is_deterministic_given_the_noise():
    # DDIM's only randomness is the starting noise: the same generator state gives the same events, and
    # the ancestral sampler, which draws fresh noise each step, does not reproduce them.
    ddpm = _ddpm(2)
    ddim = ddpm.sample(5, generator=torch.Generator().manual_seed(3), ddim_steps=10)
    torch.testing.assert_close(
        ddim, ddpm.sample(5, generator=torch.Generator().manual_seed(3), ddim_steps=10)
    )
    assert not torch.allclose(ddim, ddpm.sample(5, generator=torch.Generator().manual_seed(3)))


def test_sampling_needs_no_gradients():
    sample = _ddpm(2).sample(3)
    assert not sample.requires_grad


# --- schedules and the forward process ---------------------------------------------------------------------


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_schedule_properties(schedule):
    betas = noise_schedule(1000, schedule)
    assert betas.dtype == torch.float64 and betas.shape == (1000,)
    assert ((betas > 0) & (betas < 1)).all()
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    assert (alphas_cumprod.diff() < 0).all()  # strictly decreasing ...
    assert alphas_cumprod[0] > 0.999  # ... from almost all signal ...
    assert alphas_cumprod[-1] < 1e-4  # ... to almost pure noise


def test_cosine_schedule_values():
    # Nichol & Dhariwal: abar(t) = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) pi / 2), betas clipped at
    # 0.999 (which only the last step reaches).
    betas = noise_schedule(1000, "cosine")
    abar = torch.cumprod(1 - betas, dim=0)
    t = torch.tensor([1.0, 500.0, 900.0], dtype=torch.float64)
    f = torch.cos((t / 1000 + 0.008) / 1.008 * torch.pi / 2) ** 2
    f0 = torch.cos(torch.tensor(0.008 / 1.008 * torch.pi / 2, dtype=torch.float64)) ** 2
    torch.testing.assert_close(abar[[0, 499, 899]], f / f0, rtol=1e-10, atol=0)
    assert betas[-1] == 0.999 and betas[:-1].max() < 0.999


def test_linear_schedule_values():
    betas = noise_schedule(1000, "linear")
    torch.testing.assert_close(betas[[0, -1]], torch.tensor([1e-4, 0.02], dtype=torch.float64))
    assert torch.cumprod(1 - noise_schedule(100, "linear"), dim=0)[-1] < 1e-4  # rescaled for fewer steps


def test_module_buffers_hold_the_schedule():
    ddpm = DDPM(2, hidden=(8,), steps=100, schedule="linear")
    betas = noise_schedule(100, "linear")
    assert ddpm.betas.dtype == torch.float32
    torch.testing.assert_close(ddpm.betas, betas.float())
    torch.testing.assert_close(ddpm.alphas_cumprod, torch.cumprod(1 - betas, 0).float())


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_forward_process_ends_in_a_standard_normal(schedule):
    torch.manual_seed(0)
    ddpm = DDPM(2, hidden=(8,), schedule=schedule)
    x0 = torch.stack([MEAN + WIDTH * torch.randn(40_000), 5.0 * torch.rand(40_000)], dim=1)
    x_end, _ = ddpm.diffuse(x0, torch.full((40_000,), 999))
    # 40k draws: the mean's statistical error is 0.005, the std's 0.0035.
    torch.testing.assert_close(x_end.mean(0), torch.zeros(2), atol=0.025, rtol=0)
    torch.testing.assert_close(x_end.std(0), torch.ones(2), atol=0.02, rtol=0)
    x_start, _ = ddpm.diffuse(x0, torch.zeros(40_000, dtype=torch.long))
    assert (x_start - x0).abs().mean() < 0.02  # the first step barely moves the data


def test_time_features():
    t = torch.tensor([0.0, 0.25, 1.0])
    features = time_features(t, 3)
    assert features.shape == (3, 7)
    torch.testing.assert_close(features[:, 0], t)
    torch.testing.assert_close(features[1, 1:4], torch.sin(torch.pi * torch.tensor([0.25, 0.5, 1.0])))
    torch.testing.assert_close(features[1, 4:], torch.cos(torch.pi * torch.tensor([0.25, 0.5, 1.0])))


# --- learning a Gaussian -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ddim_steps", [None, 50], ids=["ancestral", "ddim50"])
def test_learns_a_gaussian(trained_1d, ddim_steps):
    samples = trained_1d.sample(4000, generator=torch.Generator().manual_seed(1), ddim_steps=ddim_steps)
    # Measured: ancestral 2.03 +- 0.49, DDIM-50 1.95 +- 0.52 (its pure-noise start misses ~3 % of the mean);
    # 4000 samples give statistical errors of 0.008 (mean) and 0.006 (std).
    assert abs(samples.mean().item() - MEAN) < 0.15
    assert abs(samples.std().item() / WIDTH - 1) < 0.2


def test_untrained_model_fails_the_learning_bounds():
    # The negative control of the test above: the same sampler with random weights lands elsewhere.
    torch.manual_seed(0)
    samples = DDPM(1, hidden=(64, 64)).sample(4000, generator=torch.Generator().manual_seed(1), ddim_steps=50)
    assert abs(samples.mean().item() - MEAN) > 0.15 or abs(samples.std().item() / WIDTH - 1) > 0.2


# --- errors ------------------------------------------------------------------------------------------------


def test_wrong_shapes_raise():
    ddpm = _ddpm(3)
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        ddpm.loss(torch.randn(4, 2))
    with pytest.raises(ValueError, match=r"\(batch, 3\)"):
        ddpm.loss(torch.randn(4, 5, 3))
    with pytest.raises(ValueError, match="t must have shape"):
        ddpm(torch.randn(4, 3), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"schedule": "quadratic"}, ValueError, "schedule must be one of"),
        ({"steps": 0}, ValueError, "steps"),
        ({"features": 0}, ValueError, "features"),
        ({"frequencies": 0}, ValueError, "frequencies"),
        ({"hidden": 32}, TypeError, "sequence"),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    arguments = {"features": 2} | kwargs
    with pytest.raises(error, match=message):
        DDPM(**arguments)


def test_bad_sampling_arguments_raise():
    ddpm = _ddpm(2)
    with pytest.raises(ValueError, match="ddim_steps=21 cannot exceed"):
        ddpm.sample(3, ddim_steps=21)
    with pytest.raises(ValueError, match="n must be"):
        ddpm.sample(0)
