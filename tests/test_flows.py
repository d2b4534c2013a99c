"""Tests of SplineFlow: contract, a normalised density, exact inverse, training, argument checks."""

from __future__ import annotations

import pytest
import torch
from model_contract import DEVICES, assert_every_parameter_has_gradient, saved_and_loaded

from reps4lhc_tutor.nn import SplineFlow, flow_loss
from reps4lhc_tutor.nn.flows import SPLINE_BOUND

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _flow(features: int = 3, context: int = 0, **kwargs) -> SplineFlow:
    arguments = {"transforms": 2, "hidden": (16, 16), "bins": 4} | kwargs
    return SplineFlow(features, context, **arguments)


def _two_blobs(n: int, generator: torch.Generator) -> torch.Tensor:
    """``(n, 2)`` float64 draws from two Gaussian blobs at (-1.5, -1) and (1.5, 1), width 0.4."""
    centers = torch.tensor([[-1.5, -1.0], [1.5, 1.0]], dtype=torch.float64)
    pick = torch.randint(0, 2, (n,), generator=generator)
    return centers[pick] + 0.4 * torch.randn(n, 2, generator=generator, dtype=torch.float64)


@pytest.fixture(scope="module")
def trained_2d():
    """A 2D float64 flow after 60 Adam steps on two blobs, with its NLL on held-out data before and after.

    Training moves the splines away from the identity they start near, so the density checks below see a
    genuinely curved transform (a peak density ~0.5 instead of the standard normal's 0.16).
    """
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    flow = SplineFlow(2, transforms=3, hidden=(32, 32)).double()
    held_out = _two_blobs(2000, generator)
    with torch.no_grad():
        before = flow_loss(flow, held_out).item()
    optimizer = torch.optim.Adam(flow.parameters(), lr=3e-3)
    for _ in range(60):
        loss = flow_loss(flow, _two_blobs(256, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = flow_loss(flow, held_out).item()
    return flow, before, after


# --- contract ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("features", [1, 2, 5])
def test_shapes_unconditional(features):
    flow = _flow(features)
    assert flow.log_prob(torch.randn(7, features)).shape == (7,)
    assert flow.log_prob(torch.randn(4, 7, features)).shape == (4, 7)
    assert flow.sample(9).shape == (9, features)
    assert flow().event_shape == (features,)


def test_shapes_conditional():
    flow = _flow(3, context=2)
    assert flow.log_prob(torch.randn(7, 3), torch.randn(7, 2)).shape == (7,)
    assert flow.sample(9, torch.randn(2)).shape == (9, 3)  # one condition
    assert flow.sample(9, torch.randn(4, 2)).shape == (9, 4, 3)  # a batch of conditions


@pytest.mark.parametrize("context", [0, 2])
def test_gradients_reach_every_parameter(context):
    torch.manual_seed(0)
    flow = _flow(4, context=context, transforms=3)
    c = torch.randn(64, context) if context else None
    flow_loss(flow, torch.randn(64, 4), c).backward()
    assert_every_parameter_has_gradient(flow)


def test_coupling_layers_and_random_orders():
    torch.manual_seed(0)
    flow = SplineFlow(6, transforms=4, hidden=(8,))
    layers = flow.flow.transform.transforms
    assert all(layer.passes == 2 for layer in layers)  # coupling, not fully autoregressive
    orders = {tuple(layer.order.tolist()) for layer in layers}
    assert all(sorted(order) == [0, 0, 0, 1, 1, 1] for order in orders)  # two halves each
    assert len(orders) > 1  # the halves change from transform to transform


def test_save_and_load_restores_weights_and_orders():
    torch.manual_seed(0)
    flow = _flow(5)
    x = torch.randn(16, 5)
    torch.manual_seed(1)  # another seed draws other feature orders (randperm) and weights
    fresh = _flow(5)
    assert not torch.allclose(fresh.log_prob(x), flow.log_prob(x))
    torch.testing.assert_close(saved_and_loaded(flow, fresh).log_prob(x), flow.log_prob(x))


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    flow = _flow(3, context=1)
    x, c = torch.randn(6, 3), torch.randn(6, 1)
    expected = flow.log_prob(x, c)
    flow = flow.to(device)
    assert all(t.device.type == device for t in [*flow.parameters(), *flow.buffers()])
    result = flow.log_prob(x.to(device), c.to(device))
    assert result.device.type == device
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-4)
    assert flow.sample(4, c[0].to(device)).device.type == device


def test_float64():
    torch.manual_seed(0)
    flow = _flow(2).double()
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    assert flow.log_prob(x).dtype == torch.float64
    assert flow.sample(4).dtype == torch.float64
    assert torch.autograd.gradcheck(flow.log_prob, (x,))


# --- properties (float64) ----------------------------------------------------------------------------------


def test_density_integrates_to_one(trained_2d):
    flow, _, _ = trained_2d
    # Outside [-5, 5] every spline is the identity, so the mass beyond |x_i| = 6.5 is the standard normal's,
    # 8e-11; the trapezoidal rule's error at this spacing is ~1e-5 (measured: 1.5e-5 at 0.04, 3e-6 at 0.02).
    grid = torch.arange(-6.5, 6.5 + 0.02, 0.04, dtype=torch.float64)
    points = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), dim=-1)  # (n, n, 2)
    with torch.no_grad():
        density = flow.log_prob(points).exp()  # (n, n)
    assert density.max() > 0.3  # not the standard normal (peak 0.16): the transform is far from identity
    integral = torch.trapezoid(torch.trapezoid(density, grid, dim=1), grid)
    assert abs(integral.item() - 1.0) < 1e-3


def test_inverse_round_trip(trained_2d):
    flow, _, _ = trained_2d
    x = 2.0 * torch.randn(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    transform = flow().transform  # x -> z
    z = transform(x)
    assert (z - x).abs().max() > 0.1  # a real transform
    assert (transform.inv(z) - x).abs().max() < 1e-10


def test_log_prob_matches_change_of_variables(trained_2d):
    # The two routes to log p(x): zuko's call_and_ladj, and the autograd Jacobian of x -> z.
    flow, _, _ = trained_2d
    transform = flow().transform
    x = torch.tensor([[0.3, -0.7], [-1.5, -1.0], [6.0, 0.2]], dtype=torch.float64)
    for point in x:
        jacobian = torch.autograd.functional.jacobian(transform, point)  # (2, 2)
        z = transform(point)
        expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum() + jacobian.det().abs().log()
        torch.testing.assert_close(flow.log_prob(point), expected, rtol=1e-10, atol=1e-10)


def test_identity_outside_the_spline_domain(trained_2d):
    flow, _, _ = trained_2d
    x = torch.tensor([[SPLINE_BOUND + 1.0, SPLINE_BOUND + 2.0], [-SPLINE_BOUND - 3.0, -7.5]])
    torch.testing.assert_close(flow().transform(x.double()), x.double())


def test_training_lowers_the_negative_log_likelihood(trained_2d):
    _, before, after = trained_2d
    # Two blobs of width 0.4: the true NLL is about 2 * (0.5 log(2 pi 0.4^2) + 0.5) + log 2 = 1.70; the
    # initial flow, close to a standard normal, scores ~3.5.
    assert before > 3.0
    assert after < 2.1


def test_samples_follow_the_training_data(trained_2d):
    flow, _, _ = trained_2d
    torch.manual_seed(3)
    samples = flow.sample(4000)
    assert samples.shape == (4000, 2) and samples.dtype == torch.float64
    # The blobs sit at x1 = +-1.5: the flow puts most samples near them, with little mass in between.
    assert (samples[:, 0].abs() > 0.75).float().mean() > 0.8
    torch.testing.assert_close(samples.mean(0), torch.zeros(2, dtype=torch.float64), atol=0.2, rtol=0)


# --- errors ------------------------------------------------------------------------------------------------


def test_wrong_feature_count_raises():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        _flow(3).log_prob(torch.randn(4, 2))


def test_nan_input_raises():
    x = torch.randn(4, 3)
    x[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        _flow(3).log_prob(x)


@pytest.mark.parametrize(
    ("context", "given", "message"),
    [
        (0, torch.zeros(4, 2), "context=0"),
        (2, None, "conditional"),
        (2, torch.zeros(4, 3), r"\(\.\.\., 2\)"),
    ],
)
def test_context_mismatch_raises(context, given, message):
    with pytest.raises(ValueError, match=message):
        _flow(3, context=context).log_prob(torch.zeros(4, 3), given)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": 0}, "features"),
        ({"context": -1}, "context"),
        ({"transforms": 0}, "transforms"),
        ({"bins": 1}, "bins"),
        ({"hidden": (16, 0)}, "hidden"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    arguments = {"features": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        SplineFlow(**arguments)


def test_hidden_must_be_a_sequence():
    with pytest.raises(TypeError, match="sequence"):
        SplineFlow(2, hidden=64)


def test_sample_count_must_be_positive():
    with pytest.raises(ValueError, match="n must be"):
        _flow(2).sample(0)
