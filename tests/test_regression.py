"""Contract tests of the distribution-valued regressors, and a heteroscedastic toy fit."""

from __future__ import annotations

import io

import pytest
import torch
from torch.distributions import MixtureSameFamily, Normal

import reps4lhc_tutor as tutor
from reps4lhc_tutor.losses import distribution_nll
from reps4lhc_tutor.nn import GaussianMixtureRegressor, GaussianRegressor
from reps4lhc_tutor.nn.regression import LOG_SIGMA_MAX, LOG_SIGMA_MIN

FAMILIES = {
    "gaussian": (lambda: GaussianRegressor(3, hidden=(16, 16)), Normal),
    "mixture": (lambda: GaussianMixtureRegressor(3, n_components=4, hidden=(16, 16)), MixtureSameFamily),
}
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


@pytest.fixture(params=list(FAMILIES))
def family(request):
    torch.manual_seed(0)
    return FAMILIES[request.param]


def test_output_is_a_distribution_with_batch_shape(family):
    make, kind = family
    model = make()
    for shape in [(7,), (2, 5)]:
        dist = model(torch.randn(*shape, 3))
        assert isinstance(dist, kind)
        assert dist.batch_shape == shape and dist.event_shape == ()
        assert dist.mean.shape == shape and dist.stddev.shape == shape
        assert (dist.stddev > 0).all()
        log_prob = dist.log_prob(torch.randn(shape))
        assert log_prob.shape == shape and torch.isfinite(log_prob).all()


def test_mixture_components_have_the_requested_count():
    model = GaussianMixtureRegressor(3, n_components=4, hidden=(8,))
    dist = model(torch.randn(6, 3))
    assert dist.mixture_distribution.probs.shape == (6, 4)
    assert dist.component_distribution.loc.shape == (6, 4)
    torch.testing.assert_close(dist.mixture_distribution.probs.sum(-1), torch.ones(6))


def test_gaussian_heads_are_mean_and_log_sigma():
    model = GaussianRegressor(3, hidden=(8,))
    x = torch.randn(5, 3)
    raw = model.backbone(x)
    dist = model(x)
    torch.testing.assert_close(dist.mean, raw[:, 0])
    torch.testing.assert_close(dist.stddev, raw[:, 1].exp())


def test_sigma_is_clamped_to_documented_range():
    model = GaussianRegressor(1, hidden=())
    with torch.no_grad():
        model.backbone.net[0].weight.zero_()
        model.backbone.net[0].bias.copy_(torch.tensor([0.0, 100.0]))
        assert model(torch.zeros(1, 1)).stddev.item() == pytest.approx(torch.tensor(LOG_SIGMA_MAX).exp())
        model.backbone.net[0].bias.copy_(torch.tensor([0.0, -100.0]))
        assert model(torch.zeros(1, 1)).stddev.item() == pytest.approx(torch.tensor(LOG_SIGMA_MIN).exp())


def test_gradients_reach_every_parameter(family):
    make, _ = family
    model = make()
    distribution_nll(model(torch.randn(32, 3)), torch.randn(32)).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_state_dict_round_trip(family):
    make, _ = family
    model = make()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone = make()
    x, y = torch.randn(5, 3), torch.randn(5)
    assert not torch.allclose(clone(x).log_prob(y), model(x).log_prob(y))  # a fresh model differs ...
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(clone(x).log_prob(y), model(x).log_prob(y))  # ... until it loads the weights


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(family, device):
    make, _ = family
    model = make()
    x, y = torch.randn(6, 3), torch.randn(6)
    expected = model(x).log_prob(y)
    model = model.to(device)
    dist = model(x.to(device))
    assert dist.mean.device.type == device
    torch.testing.assert_close(dist.log_prob(y.to(device)).cpu(), expected, rtol=1e-4, atol=1e-5)


def test_float64(family):
    make, _ = family
    model = make().double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, dtype=torch.float64)
    assert model(x).mean.dtype == torch.float64
    assert torch.autograd.gradcheck(lambda inputs: model(inputs).log_prob(y), (x,))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="n_components"):
        GaussianMixtureRegressor(3, n_components=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        GaussianRegressor(3)(torch.randn(4, 2))


def test_learns_heteroscedastic_noise():
    # y = sin x + noise with sigma(x) = 0.1 + 0.1 |x|: the learned sigma follows the injected noise.
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    x = 6 * torch.rand(4000, 1, generator=gen) - 3
    noise = 0.1 + 0.1 * x[:, 0].abs()
    y = torch.sin(x[:, 0]) + noise * torch.randn(4000, generator=gen)
    model = GaussianRegressor(1, hidden=(32, 32))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=60)
    tutor.fit(
        model,
        lambda m, x, y: distribution_nll(m(x), y),
        (x, y),
        epochs=60,
        batch_size=400,
        optimizer=optimizer,
        scheduler=scheduler,
        progress=False,
        device="cpu",
    )
    grid = torch.linspace(-2.5, 2.5, 21)
    with torch.no_grad():
        dist = model(grid[:, None])
    true_sigma = 0.1 + 0.1 * grid.abs()
    relative = (dist.stddev / true_sigma - 1).abs()
    # A smooth network rounds off the kink of |x| at 0 (up to ~30 % there), so the 25 % bound is checked
    # away from it, and the average over the whole range is held to a tighter bound.
    assert relative[grid.abs() >= 0.5].max() < 0.25
    assert relative.mean() < 0.10
    assert (dist.mean - torch.sin(grid)).abs().max() < 0.1
