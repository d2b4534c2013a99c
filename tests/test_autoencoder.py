"""Tests of the autoencoders: contracts, the Langevin sampler against a known stationary law, the NAE loss by
hand, and a toy where the complexity bias of the reconstruction error is built in on purpose."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reps4lhc_tutor import metrics
from reps4lhc_tutor.nn.autoencoder import (
    Autoencoder,
    NormalizedAutoencoder,
    PersistentChains,
    langevin,
    nae_loss,
)


def test_shapes_and_reconstruction_error_by_hand():
    torch.manual_seed(0)
    model = Autoencoder(12, latent=3, hidden=(8,))
    x = torch.randn(5, 12)
    assert model.encode(x).shape == (5, 3) and model.decode(torch.randn(5, 3)).shape == (5, 12)
    assert model(x).shape == (5, 12)
    by_hand = torch.stack([((model(x[i : i + 1])[0] - x[i]) ** 2).sum() / 12 for i in range(5)])
    torch.testing.assert_close(model.reconstruction_error(x), by_hand)


def test_output_module_is_applied_to_the_decoder():
    torch.manual_seed(0)
    model = Autoencoder(6, latent=2, hidden=(4,), output=torch.nn.Softplus())
    assert (model(torch.randn(20, 6)) > 0).all()


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.zeros(3, 5), r"expects a tensor of shape \(batch, 6\), got \(3, 5\); flatten images"),
        (torch.zeros(3, 2, 3), r"got \(3, 2, 3\)"),
        (torch.tensor([[float("nan")] * 6]), "got 6 NaN or infinite values"),
        (np.zeros((3, 6)), r"got ndarray"),
    ],
)
def test_bad_inputs_name_the_fix(x, match):
    with pytest.raises(ValueError, match=match):
        Autoencoder(6, latent=2, hidden=(4,)).reconstruction_error(x)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_features": 0}, ValueError, "in_features must be a positive integer"),
        ({"latent": 1.5}, ValueError, "latent must be a positive integer"),
        ({"output": torch.sigmoid}, TypeError, "output must be a torch.nn.Module"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Autoencoder(**{"in_features": 6, "latent": 2, **kwargs})


def test_langevin_samples_a_gaussian_from_its_energy():
    # E = |x|^2 / 2 with noise sqrt(2 h): the chain x <- (1 - h) x + sqrt(2h) N is stationary at variance
    # 2h / (1 - (1 - h)^2) = 1 / (1 - h/2): 1.0025 for h = 0.005. 4000 chains x 2 dimensions after 2000 steps
    # (memory (1 - h)^2000 ~ 4e-5 of the start at 5) estimate the mean to ~0.016 and the variance to ~0.02.
    generator = torch.Generator().manual_seed(1)
    h = 0.005
    start = torch.full((4000, 2), 5.0, dtype=torch.float64)
    x = langevin(lambda v: 0.5 * (v**2).sum(1), start, 2000, h, math.sqrt(2 * h), generator=generator)
    assert abs(float(x.mean())) < 0.05
    assert float(x.var()) == pytest.approx(1 / (1 - h / 2), abs=0.06)
    assert not x.requires_grad


def test_langevin_without_noise_descends_and_respects_bounds():
    start = torch.tensor([[3.0, -2.0]])
    x = langevin(lambda v: ((v - 1.0) ** 2).sum(1), start, 200, 0.1, 0.0)
    torch.testing.assert_close(x, torch.ones(1, 2))  # gradient descent to the minimum at (1, 1)
    clipped = langevin(lambda v: ((v - 1.0) ** 2).sum(1), start, 200, 0.1, 0.0, bounds=(-0.5, 0.5))
    torch.testing.assert_close(clipped, torch.full((1, 2), 0.5))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 0.1, 0.0), {}, "steps must be a positive integer"),
        ((5, 0.0, 0.0), {}, "step_size must be a positive number"),
        ((5, 0.1, -1.0), {}, "noise must be a number >= 0"),
        ((5, 0.1, 0.0), {"bounds": (1.0, 0.0)}, r"bounds must be \(low, high\)"),
    ],
)
def test_langevin_argument_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        langevin(lambda v: (v**2).sum(1), torch.zeros(2, 2), *args, **kwargs)


def test_langevin_rejects_an_energy_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"one value per chain, shape \(2,\), got \(\)"):
        langevin(lambda v: (v**2).sum(), torch.zeros(2, 2), 1, 0.1, 0.0)


def test_nae_energy_sampler_and_loss_by_hand():
    torch.manual_seed(0)
    autoencoder = Autoencoder(8, latent=2, hidden=(6,), output=torch.nn.Sigmoid())
    model = NormalizedAutoencoder(autoencoder, temperature=0.5, bounds=(0.0, 1.0))
    x = torch.rand(10, 8)
    torch.testing.assert_close(model.energy(x), autoencoder.reconstruction_error(x) / 0.5)
    negatives = model.sample(7, latent_steps=3, data_steps=3, generator=torch.Generator().manual_seed(0))
    assert negatives.shape == (7, 8) and not negatives.requires_grad
    assert (negatives >= 0).all() and (negatives <= 1).all()
    assert all(p.grad is None for p in model.parameters())  # sampling does not touch the parameters
    e_pos, e_neg = model.energy(x), model.energy(negatives)
    expected = e_pos.mean() - e_neg.mean() + 0.3 * (e_neg**2).mean()
    torch.testing.assert_close(nae_loss(model, x, negatives, gamma=0.3), expected)
    # with the data as their own negatives, only the regulariser is left
    torch.testing.assert_close(nae_loss(model, x, x, gamma=2.0), 2.0 * (e_pos**2).mean())


def test_nae_argument_errors():
    autoencoder = Autoencoder(4, latent=1, hidden=(3,))
    with pytest.raises(TypeError, match="autoencoder must be an Autoencoder"):
        NormalizedAutoencoder(torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        NormalizedAutoencoder(autoencoder, temperature=0.0)
    with pytest.raises(ValueError, match="gamma must be a number >= 0"):
        nae_loss(NormalizedAutoencoder(autoencoder), torch.zeros(2, 4), torch.zeros(2, 4), gamma=-1.0)


def _train(model, x, steps=600):
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimiser.zero_grad()
        model.reconstruction_error(x).mean().backward()
        optimiser.step()
    return model.eval()


def test_complexity_bias_of_the_reconstruction_error_on_a_toy():
    # "Complex" events fill all 10 dimensions with unit variance; "simple" ones are near zero (an empty
    # image). An autoencoder with a 3-dimensional bottleneck trained on the complex events cannot
    # reconstruct them (error ~ 7/10 of their variance) but maps the simple ones close to themselves (error
    # ~ their tiny variance): it calls the simple class *less* anomalous than its own training data. Trained
    # on the simple events instead, it flags the complex ones perfectly. Built in, so the AUCs are extreme.
    generator = torch.Generator().manual_seed(0)
    complex_events = torch.randn(2000, 10, generator=generator)
    simple_events = 0.05 * torch.randn(2000, 10, generator=generator)
    test = torch.cat([complex_events[:500], simple_events[:500]])
    is_simple = np.r_[np.zeros(500), np.ones(500)]
    torch.manual_seed(0)
    on_complex = _train(Autoencoder(10, latent=3, hidden=(32,)), complex_events[500:])
    torch.manual_seed(0)
    on_simple = _train(Autoencoder(10, latent=3, hidden=(32,)), simple_events[500:])
    with torch.no_grad():
        simple_as_anomaly = metrics.auc(is_simple, on_complex.reconstruction_error(test).numpy())
        complex_as_anomaly = metrics.auc(1 - is_simple, on_simple.reconstruction_error(test).numpy())
    assert simple_as_anomaly < 0.1  # the simple class is missed: the bias
    assert complex_as_anomaly > 0.99  # the other direction works


def test_spherical_codes_lie_on_the_unit_sphere_and_decode_by_direction():
    torch.manual_seed(0)
    model = Autoencoder(6, latent=3, hidden=(5,), spherical=True)
    codes = model.encode(torch.randn(8, 6))
    torch.testing.assert_close(codes.norm(dim=1), torch.ones(8))
    z = torch.randn(4, 3)
    torch.testing.assert_close(model.decode(2.5 * z), model.decode(z))  # only the direction counts
    plain = Autoencoder(6, latent=3, hidden=(5,))
    assert not torch.allclose(plain.encode(torch.randn(8, 6)).norm(dim=1), torch.ones(8))
    with pytest.raises(TypeError, match="spherical must be True or False"):
        Autoencoder(6, latent=3, spherical=1)


def test_nae_sample_without_data_chains_returns_decoded_latent_chains():
    torch.manual_seed(0)
    autoencoder = Autoencoder(8, latent=2, hidden=(6,), output=torch.nn.Sigmoid(), spherical=True)
    model = NormalizedAutoencoder(autoencoder, temperature=0.5)
    kwargs = {"latent_steps": 4, "latent_step_size": 0.1, "latent_noise": 0.02}
    negatives = model.sample(5, data_steps=0, generator=torch.Generator().manual_seed(1), **kwargs)
    # the same latent chains, run by hand with the same random numbers
    generator = torch.Generator().manual_seed(1)
    z0 = torch.randn(5, 2, generator=generator)
    z = langevin(model.latent_energy, z0 / z0.norm(dim=1, keepdim=True), 4, 0.1, 0.02, generator=generator)
    with torch.no_grad():
        torch.testing.assert_close(negatives, autoencoder.decode(z))
    ends = model.latent_chains(model.random_codes(6), steps=2)
    torch.testing.assert_close(ends.norm(dim=1), torch.ones(6))  # spherical: the ends can start new chains
    with pytest.raises(ValueError, match="data_steps must be an integer >= 0"):
        model.sample(2, data_steps=-1)


def test_persistent_chains_continue_from_their_stored_ends():
    torch.manual_seed(0)
    autoencoder = Autoencoder(8, latent=3, hidden=(6,), output=torch.nn.Sigmoid(), spherical=True)
    model = NormalizedAutoencoder(autoencoder, temperature=0.5, bounds=(0.0, 1.0))
    chains = PersistentChains(model, size=4, fresh=0.0, generator=torch.Generator().manual_seed(2))
    before = chains.codes.clone()
    negatives = chains.sample(1, steps=3)
    assert negatives.shape == (1, 8) and not negatives.requires_grad
    changed = (chains.codes != before).any(dim=1)
    assert changed.sum() == 1 and torch.allclose(chains.codes.norm(dim=1), torch.ones(4))
    # what came back is the decoding of the stored end of the chain that ran, which started from its old code
    torch.testing.assert_close(negatives, model.decode_negatives(chains.codes[changed]))
    # the same chain by hand, replaying the random numbers: codes, the row, the restart draw, the noise
    generator = torch.Generator().manual_seed(2)
    codes = model.random_codes(4, generator)
    row = torch.randint(0, 4, (1,), generator=generator)
    torch.rand(1, generator=generator)
    end = model.latent_chains(codes[row], steps=3, generator=generator)
    torch.testing.assert_close(chains.codes[changed], end)
    # with fresh = 1 every chain restarts: the store is overwritten by chains from random codes
    restarting = PersistentChains(model, size=3, fresh=1.0, generator=torch.Generator().manual_seed(3))
    restarting.sample(30, steps=1)
    assert torch.allclose(restarting.codes.norm(dim=1), torch.ones(3))


def test_persistent_chains_argument_errors():
    model = NormalizedAutoencoder(Autoencoder(4, latent=2, hidden=(3,)))
    with pytest.raises(TypeError, match="model must be a NormalizedAutoencoder"):
        PersistentChains(Autoencoder(4, latent=2))
    with pytest.raises(ValueError, match=r"fresh must be a fraction in \[0, 1\]"):
        PersistentChains(model, fresh=1.5)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        PersistentChains(model, size=0)
    with pytest.raises(ValueError, match=r"latent_chains expects a tensor of shape \(batch, 2\)"):
        model.latent_chains(torch.zeros(3, 5))
