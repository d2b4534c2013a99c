"""Tests of the (repulsive) ensemble: member independence, kernel, loss, contract, toy calibration."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from model_contract import assert_every_parameter_has_gradient, saved_and_loaded
from torch import nn
from torch.distributions import Normal
from uncertainty_toy import assert_unit_pulls, fit_toy

from reps4lhc_tutor.nn import (
    EnsembleRegressor,
    GeneratorEnsemble,
    SplineFlow,
    repulsive_ensemble_loss,
    split_uncertainty,
)
from reps4lhc_tutor.nn.ensembles import rbf_kernel

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


def _model() -> EnsembleRegressor:
    return EnsembleRegressor(4, 3, hidden=(16, 16))


def _copy_member_zero(model: EnsembleRegressor) -> None:
    """Make every member an exact copy of member 0."""
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.copy_(layer.weight[:1].expand_as(layer.weight))
            layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))


def _mean_pairwise_distance(f: torch.Tensor) -> torch.Tensor:
    n = len(f)
    return torch.cdist(f, f).sum() / (n * (n - 1))


# --------------------------------------------------------------------------------------- EnsembleRegressor


def test_output_is_normal_with_members_by_events():
    torch.manual_seed(0)
    model = _model()
    dist = model(torch.randn(7, 3))
    assert isinstance(dist, Normal)
    assert dist.batch_shape == (4, 7) and dist.event_shape == ()
    assert dist.mean.shape == (4, 7) and dist.stddev.shape == (4, 7)
    assert (dist.stddev > 0).all()
    assert torch.isfinite(dist.log_prob(torch.randn(7))).all()  # a target (events,) broadcasts over members


def test_members_differ_at_initialisation():
    torch.manual_seed(0)
    model = _model()
    dist = model(torch.randn(20, 3))
    for i in range(4):
        for j in range(i + 1, 4):
            assert not torch.allclose(dist.mean[i], dist.mean[j], atol=1e-3), (i, j)
            assert not torch.allclose(dist.stddev[i], dist.stddev[j], atol=1e-3), (i, j)
            for name, parameter in model.named_parameters():  # each member drew its own initial values
                assert not torch.allclose(parameter[i], parameter[j]), (name, i, j)


def test_each_member_is_a_plain_network_with_its_own_weights():
    torch.manual_seed(0)
    model = EnsembleRegressor(3, 2, hidden=(8, 5), activation=nn.Tanh)
    x = torch.randn(11, 2)
    dist = model(x)
    for i in range(3):
        h = x
        for layer in model.layers[:-1]:
            h = torch.tanh(h @ layer.weight[i] + layer.bias[i, 0])
        out = h @ model.layers[-1].weight[i] + model.layers[-1].bias[i, 0]
        torch.testing.assert_close(dist.mean[i], out[:, 0])
        torch.testing.assert_close(dist.stddev[i], out[:, 1].exp())


def test_members_are_independent():
    torch.manual_seed(0)
    model = _model()
    dist = model(torch.randn(9, 3))
    (dist.mean[0].sum() + dist.stddev[0].sum()).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad[0].abs().sum() > 0, name  # member 0 depends on its own slice ...
        assert (parameter.grad[1:] == 0).all(), name  # ... and on nothing else


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = _model()
    repulsive_ensemble_loss(model(torch.randn(32, 3)), torch.randn(32), n_train=100).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        for member in range(4):
            assert parameter.grad[member].abs().sum() > 0, (name, member)


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model, fresh = _model(), _model()
    x, y = torch.randn(5, 3), torch.randn(5)
    assert not torch.allclose(fresh(x).log_prob(y), model(x).log_prob(y))  # a fresh model differs ...
    clone = saved_and_loaded(model, fresh)
    torch.testing.assert_close(clone(x).log_prob(y), model(x).log_prob(y))  # ... until it loads the weights


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(6, 3), torch.randn(6)
    expected = model(x).log_prob(y)
    model = model.to(device)
    assert all(p.device.type == device for p in model.parameters())
    dist = model(x.to(device))
    assert dist.mean.device.type == device
    torch.testing.assert_close(dist.log_prob(y.to(device)).cpu(), expected, rtol=1e-4, atol=1e-5)
    loss = repulsive_ensemble_loss(dist, y.to(device), n_train=10)  # the kernel's mask is built on the device
    assert loss.device.type == device and torch.isfinite(loss)


@pytest.mark.parametrize("n_members", [1, 0, -2, 2.5])
def test_rejects_too_few_members(n_members):
    with pytest.raises(ValueError, match=r"n_members|at least 2"):
        EnsembleRegressor(n_members, 3)


@pytest.mark.parametrize("shape", [(4, 2), (4, 4), (2, 4, 3), (3,)])
def test_rejects_bad_input_shapes(shape):
    with pytest.raises(ValueError, match=r"\(events, 3\)"):
        _model()(torch.randn(*shape))


# --------------------------------------------------------------------------------------------------- kernel


def test_kernel_on_itself_is_symmetric_with_unit_diagonal():
    torch.manual_seed(0)
    f = torch.randn(5, 7)
    for bandwidth in (None, 0.8):
        k = rbf_kernel(f, f, bandwidth)
        assert k.shape == (5, 5)
        torch.testing.assert_close(k, k.T)
        torch.testing.assert_close(k.diagonal(), torch.ones(5))
        off_diagonal = k[~torch.eye(5, dtype=torch.bool)]
        assert ((off_diagonal > 0) & (off_diagonal < 1)).all()


def test_kernel_with_explicit_bandwidth():
    torch.manual_seed(0)
    f, reference = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    expected = torch.exp(-(torch.cdist(f, reference) ** 2) / 2.5)
    torch.testing.assert_close(rbf_kernel(f, reference, bandwidth=2.5), expected)


def test_kernel_median_heuristic_by_hand():
    # Squared distances 1 (members 0-1), 4 (0-2) and 5 (1-2): median 4, h = 4 / log 3.
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    k01, k02, k12 = 3 ** (-1 / 4), 1 / 3, 3 ** (-5 / 4)
    expected = torch.tensor([[1, k01, k02], [k01, 1, k12], [k02, k12, 1]], dtype=torch.float64)
    torch.testing.assert_close(rbf_kernel(f, f), expected)
    torch.testing.assert_close(rbf_kernel(f, f, bandwidth=4 / math.log(3)), expected)
    # Two members: h = d^2 / log 2, so k_01 = 1/2 whatever their distance.
    two = torch.tensor([[0.0], [7.0]])
    torch.testing.assert_close(rbf_kernel(two, two), torch.tensor([[1.0, 0.5], [0.5, 1.0]]))


def test_median_bandwidth_carries_no_gradient():
    torch.manual_seed(0)
    f = torch.randn(4, 5, requires_grad=True)
    reference = f.detach()
    squared = torch.cdist(reference, reference) ** 2
    h = squared[~torch.eye(4, dtype=torch.bool)].median() / math.log(4)
    (gradient,) = torch.autograd.grad(rbf_kernel(f, reference).sum(), f)
    (fixed,) = torch.autograd.grad(rbf_kernel(f, reference, bandwidth=h.item()).sum(), f)
    torch.testing.assert_close(gradient, fixed)


def test_kernel_of_identical_members_is_finite():
    f = torch.ones(3, 4, requires_grad=True)
    k = rbf_kernel(f, f.detach())
    torch.testing.assert_close(k, torch.ones(3, 3))
    (gradient,) = torch.autograd.grad(torch.log(k.sum(-1)).sum(), f)
    assert torch.equal(gradient, torch.zeros(3, 4))


@pytest.mark.parametrize(
    ("f", "reference", "bandwidth"),
    [
        (torch.zeros(1, 3), torch.zeros(1, 3), None),  # one member
        (torch.zeros(4), torch.zeros(4), None),  # no feature axis
        (torch.zeros(3, 4), torch.zeros(3, 5), None),  # shapes differ
        (torch.zeros(3, 4), torch.zeros(2, 4), None),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), None),
        (torch.zeros(3, 4), torch.zeros(3, 4), 0.0),  # bandwidth must be positive
        (torch.zeros(3, 4), torch.zeros(3, 4), -1.0),
    ],
)
def test_kernel_rejects_bad_arguments(f, reference, bandwidth):
    with pytest.raises(ValueError):
        rbf_kernel(f, reference, bandwidth)


# ----------------------------------------------------------------------------------------------------- loss


def test_loss_without_repulsion_is_summed_member_nll():
    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(10, 3), torch.randn(10)
    dist = model(x)
    expected = sum(
        -Normal(dist.mean[i], dist.stddev[i]).log_prob(y).mean() for i in range(4)
    )  # independent fits, one mean NLL per member
    loss = repulsive_ensemble_loss(dist, y, n_train=50, repulsion=False)
    assert loss.shape == ()
    torch.testing.assert_close(loss, expected)
    assert repulsive_ensemble_loss(dist, y, n_train=50) != loss  # the kernel term is on by default


def test_repulsion_scales_as_one_over_n_train():
    torch.manual_seed(0)
    model = _model()
    x, y = torch.randn(10, 3), torch.randn(10)
    with torch.no_grad():
        dist = model(x)
        plain = repulsive_ensemble_loss(dist, y, n_train=1, repulsion=False)
        terms = [(repulsive_ensemble_loss(dist, y, n_train=n) - plain) * n for n in (1, 10, 1000)]
    assert terms[0].abs() > 0.1
    torch.testing.assert_close(terms[1], terms[0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(terms[2], terms[0], rtol=1e-3, atol=1e-3)


def test_repulsive_gradient_matches_kernel_update():
    # d/df_i of log sum_j k(f_i, f_j) with the f_j held fixed: sum_j k_ij * (-2 (f_i - f_j) / h) / sum_j k_ij.
    torch.manual_seed(0)
    f = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
    sigma = torch.ones(4, 6, dtype=torch.float64)
    y = torch.zeros(6, dtype=torch.float64)
    n_train = 7
    repulsive = repulsive_ensemble_loss(Normal(f, sigma), y, n_train) - repulsive_ensemble_loss(
        Normal(f, sigma), y, n_train, repulsion=False
    )
    (gradient,) = torch.autograd.grad(repulsive, f)
    with torch.no_grad():
        difference = f.unsqueeze(1) - f.unsqueeze(0)  # (i, j, events)
        squared = difference.pow(2).sum(-1)
        h = squared[~torch.eye(4, dtype=torch.bool)].median() / math.log(4)
        k = torch.exp(-squared / h)
        expected = (k.unsqueeze(-1) * (-2 * difference / h)).sum(1) / k.sum(1, keepdim=True) / n_train
    torch.testing.assert_close(gradient, expected)


def test_repulsion_pushes_nearly_identical_members_apart():
    torch.manual_seed(0)
    model = EnsembleRegressor(4, 2, hidden=(16,))
    _copy_member_zero(model)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(1e-3 * torch.randn_like(parameter))
    x, y = torch.randn(64, 2), torch.randn(64)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    distances = []
    for _ in range(6):
        dist = model(x)
        distances.append(_mean_pairwise_distance(dist.mean.detach()))
        # Only the kernel term: the two likelihood terms cancel.
        repulsive = repulsive_ensemble_loss(dist, y, n_train=1) - repulsive_ensemble_loss(
            dist, y, 1, repulsion=False
        )
        optimizer.zero_grad()
        repulsive.backward()
        optimizer.step()
    distances.append(_mean_pairwise_distance(model(x).mean.detach()))
    assert all(later > earlier for earlier, later in itertools.pairwise(distances)), distances
    assert distances[-1] > 1.5 * distances[0], distances


def test_identical_members_are_a_fixed_point_of_the_repulsion():
    torch.manual_seed(0)
    model = EnsembleRegressor(4, 2, hidden=(16,))
    _copy_member_zero(model)
    x, y = torch.randn(64, 2), torch.randn(64)
    dist = model(x)
    assert all(torch.equal(dist.mean[0], dist.mean[i]) for i in range(4))  # precondition: exact copies
    parameters = list(model.parameters())
    with_repulsion = torch.autograd.grad(
        repulsive_ensemble_loss(dist, y, n_train=1), parameters, retain_graph=True
    )
    without = torch.autograd.grad(repulsive_ensemble_loss(dist, y, n_train=1, repulsion=False), parameters)
    for a, b in zip(with_repulsion, without, strict=True):
        assert torch.isfinite(a).all()
        assert b.abs().sum() > 0  # the likelihood still pulls ...
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)  # ... but the kernel term adds nothing


@pytest.mark.parametrize("target_shape", [(9,), (4, 8), (8, 1), ()])
def test_loss_rejects_target_shape_mismatch(target_shape):
    torch.manual_seed(0)
    dist = _model()(torch.randn(8, 3))
    with pytest.raises(ValueError, match="target"):
        repulsive_ensemble_loss(dist, torch.randn(target_shape), n_train=10)


def test_loss_rejects_bad_n_train():
    torch.manual_seed(0)
    dist = _model()(torch.randn(8, 3))
    with pytest.raises(ValueError, match="n_train"):
        repulsive_ensemble_loss(dist, torch.randn(8), n_train=0)


# ------------------------------------------------------------------------------------------- calibration toy


def test_pulls_are_calibrated_on_heteroscedastic_toy():
    model = EnsembleRegressor(5, 1, hidden=(32, 32))
    loss_fn = lambda m, x, y: repulsive_ensemble_loss(m(x), y, n_train=3000)  # noqa: E731
    x_test, y_test = fit_toy(model, loss_fn, 3000, 40, 300)
    with torch.no_grad():
        dist = model(x_test)
    mean, sigma_stat, sigma_syst = split_uncertainty(dist.mean, dist.stddev)
    assert (sigma_stat > 0).all()
    assert_unit_pulls(y_test, mean, (sigma_syst**2 + sigma_stat**2).sqrt())


# --------------------------------------------------------------------------------------- GeneratorEnsemble


def _generators(n_members: int = 3) -> GeneratorEnsemble:
    return GeneratorEnsemble([SplineFlow(3, transforms=2, hidden=(16,)) for _ in range(n_members)])


def test_generator_ensemble_shapes():
    torch.manual_seed(0)
    ensemble = _generators()
    assert len(ensemble) == 3
    samples = ensemble.sample(11)
    assert samples.shape == (3, 11, 3) and not samples.requires_grad
    assert ensemble.log_prob(torch.randn(5, 3)).shape == (3, 5)


def test_generator_ensemble_rows_are_the_members_own():
    torch.manual_seed(0)
    ensemble = _generators()
    x = torch.randn(6, 3)
    log_prob = ensemble.log_prob(x)
    for i, member in enumerate(ensemble.members):
        torch.testing.assert_close(log_prob[i], member.log_prob(x))
    assert not torch.allclose(log_prob[0], log_prob[1])  # the members differ
    torch.manual_seed(1)
    samples = ensemble.sample(10, batch_size=4)  # chunks of 4, 4 and 2 events per member
    torch.manual_seed(1)
    for i, member in enumerate(ensemble.members):
        expected = torch.cat([member.sample(k) for k in (4, 4, 2)])
        torch.testing.assert_close(samples[i], expected)


@pytest.mark.parametrize(("n", "batch_size"), [(8, 4), (3, 50_000), (1, 1)])
def test_generator_ensemble_samples_n_events_in_any_chunks(n, batch_size):
    torch.manual_seed(0)
    assert _generators(2).sample(n, batch_size=batch_size).shape == (2, n, 3)


def test_generator_ensemble_gradients_reach_every_parameter():
    torch.manual_seed(0)
    ensemble = _generators()
    ensemble.log_prob(torch.randn(64, 3)).sum().backward()
    assert_every_parameter_has_gradient(ensemble)


def test_generator_ensemble_state_dict_round_trip():
    torch.manual_seed(0)
    ensemble, fresh = _generators(), _generators()
    x = torch.randn(5, 3)
    assert not torch.allclose(fresh.log_prob(x), ensemble.log_prob(x))
    torch.testing.assert_close(saved_and_loaded(ensemble, fresh).log_prob(x), ensemble.log_prob(x))


@pytest.mark.parametrize("device", DEVICES)
def test_generator_ensemble_device_move(device):
    torch.manual_seed(0)
    ensemble = _generators(2)
    x = torch.randn(5, 3)
    expected = ensemble.log_prob(x)
    ensemble = ensemble.to(device)
    torch.testing.assert_close(ensemble.log_prob(x.to(device)).cpu(), expected, rtol=1e-4, atol=1e-4)
    assert ensemble.sample(4).device.type == device


@pytest.mark.parametrize("n_members", [0, 1])
def test_generator_ensemble_needs_two_members(n_members):
    with pytest.raises(ValueError, match="at least 2 members"):
        _generators(n_members)


def test_generator_ensemble_members_need_sample_and_log_prob():
    with pytest.raises(TypeError, match=r"sample\(n\) and log_prob\(x\)"):
        GeneratorEnsemble([SplineFlow(3, transforms=2, hidden=(16,)), nn.Linear(3, 3)])


@pytest.mark.parametrize(("n", "batch_size", "name"), [(0, 10, "n"), (2.5, 10, "n"), (10, 0, "batch_size")])
def test_generator_ensemble_sample_sizes_are_positive_integers(n, batch_size, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
        _generators(2).sample(n, batch_size=batch_size)
