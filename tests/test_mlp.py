"""Contract tests of the MLP: shapes, gradients, save/load, devices, dtypes, argument checks."""

from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from reps4lhc_tutor.nn import MLP


def test_output_shape_for_any_leading_dimensions():
    model = MLP(3, 2, hidden=(16, 8))
    assert model(torch.randn(7, 3)).shape == (7, 2)
    assert model(torch.randn(4, 5, 3)).shape == (4, 5, 2)


def test_layout_follows_arguments():
    model = MLP(3, 2, hidden=(16, 8), activation=nn.Tanh)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 16), (16, 8), (8, 2)]
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 2
    assert isinstance(model.net[-1], nn.Linear)  # linear output: any real value


def test_empty_hidden_is_a_linear_model():
    torch.manual_seed(0)
    model = MLP(4, 1, hidden=())
    x = torch.randn(10, 4)
    weight, bias = model.net[0].weight, model.net[0].bias
    torch.testing.assert_close(model(x), x @ weight.T + bias)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = MLP(3, 2, hidden=(8, 8))
    model(torch.randn(32, 3)).pow(2).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_state_dict_round_trip():
    torch.manual_seed(0)
    model = MLP(3, 2)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    clone = MLP(3, 2)
    x = torch.randn(5, 3)
    assert not torch.allclose(clone(x), model(x))  # a fresh model differs ...
    clone.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(clone(x), model(x))  # ... until it loads the weights


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
    pytest.param("mps", marks=pytest.mark.skipif(not torch.backends.mps.is_available(), reason="no MPS")),
]


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(device):
    torch.manual_seed(0)
    model = MLP(3, 1)
    x = torch.randn(6, 3)
    expected = model(x)
    model = model.to(device)
    assert all(p.device.type == device for p in model.parameters())
    result = model(x.to(device))
    assert result.device.type == device
    torch.testing.assert_close(result.cpu(), expected, rtol=1e-4, atol=1e-5)


def test_float64():
    model = MLP(2, 1).double()
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    y = model(x)
    assert y.dtype == torch.float64
    assert torch.autograd.gradcheck(lambda inputs: model(inputs), (x,))


def test_wrong_input_width_raises():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        MLP(3, 1)(torch.randn(4, 2))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"in_features": 0, "out_features": 1}, ValueError),
        ({"in_features": 2, "out_features": -1}, ValueError),
        ({"in_features": 2.0, "out_features": 1}, ValueError),
        ({"in_features": True, "out_features": 1}, ValueError),
        ({"in_features": 2, "out_features": 1, "hidden": 64}, TypeError),
        ({"in_features": 2, "out_features": 1, "hidden": (64, 0)}, ValueError),
        ({"in_features": 2, "out_features": 1, "activation": "relu"}, TypeError),
        ({"in_features": 2, "out_features": 1, "activation": torch.tanh}, TypeError),
    ],
)
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error):
        MLP(**kwargs)


def test_last_hidden_is_what_the_output_layer_reads():
    torch.manual_seed(0)
    model = MLP(3, 2, hidden=(16, 5))
    x = torch.randn(7, 3)
    hidden = model.last_hidden(x)
    assert hidden.shape == (7, 5)
    torch.testing.assert_close(model.net[-1](hidden), model(x))  # the output is linear in it
    assert (hidden != 0).any()
    linear = MLP(3, 2, hidden=())
    torch.testing.assert_close(linear.last_hidden(x), x)  # no hidden layer: the input itself
    with pytest.raises(ValueError, match="inputs of shape"):
        model.last_hidden(torch.randn(7, 4))
