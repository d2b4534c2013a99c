"""The training loop: convergence, validation, early stopping, schedules, NaN handling."""

import pytest
import torch
from torch import nn

import reps4lhc_tutor as tutor


def mse(model, x, y):
    return ((model(x) - y) ** 2).mean()


@pytest.fixture
def line_data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 1, generator=gen)
    y = 3.0 * x - 1.0 + 0.01 * torch.randn(512, 1, generator=gen)
    return x, y


def test_fit_learns_a_line(line_data):
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    history = tutor.fit(model, mse, line_data, epochs=60, batch_size=64, lr=0.05, progress=False)
    assert len(history.train_loss) == 60 and len(history.lr) == 60 and history.val_loss == []
    assert history.train_loss[-1] < 1e-3 < history.train_loss[0]
    torch.testing.assert_close(model.weight.detach().cpu(), torch.tensor([[3.0]]), atol=0.02, rtol=0)
    torch.testing.assert_close(model.bias.detach().cpu(), torch.tensor([-1.0]), atol=0.02, rtol=0)


def test_best_weights_are_restored(line_data):
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    x, y = line_data
    # a learning rate this large makes the loss oscillate, so the last epoch is rarely the best
    history = tutor.fit(model, mse, (x, y), (x, y), epochs=15, batch_size=512, lr=1.9, progress=False)
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    device = next(model.parameters()).device  # fit() moved the model to the default device
    assert mse(model, x.to(device), y.to(device)).item() == pytest.approx(history.val_loss[best], rel=1e-5)


def test_early_stopping_stops_and_reports():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1), torch.randn(64, 1)  # nothing to learn: validation stalls quickly
    history = tutor.fit(
        nn.Linear(1, 1), mse, (x, y), (x, y), epochs=500, batch_size=64, lr=0.1, patience=3, progress=False
    )
    assert history.stopped_early
    assert len(history.val_loss) < 500
    assert len(history.val_loss) - 1 - history.best_epoch == 3


def test_scheduler_changes_learning_rate(line_data):
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = tutor.fit(
        model,
        mse,
        line_data,
        epochs=3,
        batch_size=128,
        optimizer=optimizer,
        scheduler=scheduler,
        progress=False,
    )
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])


def test_plateau_scheduler_uses_validation_loss(line_data):
    model = nn.Linear(1, 1)
    # the optimizer moves a parameter the loss ignores, so the validation loss is flat from the start
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    history = tutor.fit(
        model,
        mse,
        line_data,
        line_data,
        epochs=4,
        batch_size=128,
        optimizer=optimizer,
        scheduler=scheduler,
        progress=False,
    )
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.025])  # first epoch sets the reference


def test_nan_loss_names_epoch_and_batch():
    x = torch.ones(8, 1)
    y = torch.ones(8, 1)
    y[5] = float("nan")
    with pytest.raises(FloatingPointError, match=r"at epoch 0, batch \d"):
        tutor.fit(nn.Linear(1, 1), mse, (x, y), epochs=2, batch_size=4, progress=False)


def test_mismatched_lengths_and_missing_validation():
    with pytest.raises(ValueError, match="same first dimension"):
        tutor.fit(nn.Linear(1, 1), mse, (torch.ones(4, 1), torch.ones(5, 1)), epochs=1, batch_size=2)
    with pytest.raises(ValueError, match="needs validation data"):
        tutor.fit(
            nn.Linear(1, 1), mse, (torch.ones(4, 1), torch.ones(4, 1)), epochs=1, batch_size=2, patience=2
        )
    with pytest.raises(ValueError, match="must be positive"):
        tutor.fit(nn.Linear(1, 1), mse, (torch.ones(4, 1), torch.ones(4, 1)), epochs=0, batch_size=2)
    with pytest.raises(TypeError, match="tuple of tensors"):
        tutor.fit(nn.Linear(1, 1), mse, ([1.0], [2.0]), epochs=1, batch_size=2)


def test_model_ends_on_requested_device(line_data):
    model = nn.Linear(1, 1)
    tutor.fit(model, mse, line_data, epochs=1, batch_size=256, device="cpu", progress=False)
    assert next(model.parameters()).device.type == "cpu"


def test_callback_sees_every_epoch_after_the_scheduler_step(line_data):
    model = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    calls, seen = [], []

    def record(epoch, history):
        # what the callback can see: the history so far and the learning rate of the next epoch
        calls.append((epoch, len(history.train_loss), len(history.val_loss), optimizer.param_groups[0]["lr"]))
        seen.append(history)

    history = tutor.fit(
        model,
        mse,
        line_data,
        line_data,
        epochs=4,
        batch_size=128,
        optimizer=optimizer,
        scheduler=scheduler,
        callback=record,
        progress=False,
    )
    assert [c[:3] for c in calls] == [(0, 1, 1), (1, 2, 2), (2, 3, 3), (3, 4, 4)]
    assert [c[3] for c in calls] == pytest.approx([0.05, 0.025, 0.0125, 0.00625])
    assert all(h is history for h in seen)
    assert not history.stopped_early


def test_callback_can_evaluate_the_model_without_breaking_training(line_data):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.Dropout(0.0), nn.Linear(8, 1))
    x, y = line_data
    modes_in_loss, grads_in_loss, modes_in_callback, callback_losses = [], [], [], []

    def loss_fn(model, x, y):
        loss = mse(model, x, y)
        modes_in_loss.append(model.training)
        grads_in_loss.append(loss.requires_grad)
        return loss

    def evaluate(epoch, history):
        modes_in_callback.append(model.training)
        with torch.no_grad():
            device = next(model.parameters()).device
            callback_losses.append(mse(model, x.to(device), y.to(device)).item())

    history = tutor.fit(
        model, loss_fn, line_data, epochs=20, batch_size=64, lr=0.01, callback=evaluate, progress=False
    )
    assert modes_in_callback == [False] * 20  # called in eval mode...
    assert all(modes_in_loss) and all(grads_in_loss)  # ...and every epoch still trains with gradients
    assert model.training  # without val, fit leaves the model in train mode, callback or not
    assert callback_losses[-1] < 0.1 * callback_losses[0]  # it learned
    assert len(history.train_loss) == 20


def test_callback_stops_training_and_best_weights_are_restored(line_data):
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    x, y = line_data
    calls = []

    def stop_at_five(epoch, history):
        calls.append(epoch)
        with torch.no_grad():  # the callback sees the current weights, those just validated
            device = next(model.parameters()).device
            assert mse(model, x.to(device), y.to(device)).item() == pytest.approx(history.val_loss[-1])
        return epoch == 5

    # the oscillating setup of test_best_weights_are_restored
    history = tutor.fit(
        model, mse, (x, y), (x, y), epochs=15, batch_size=512, lr=1.9, callback=stop_at_five, progress=False
    )
    assert calls == [0, 1, 2, 3, 4, 5]
    assert len(history.train_loss) == len(history.val_loss) == 6
    assert history.stopped_early
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    device = next(model.parameters()).device
    assert mse(model, x.to(device), y.to(device)).item() == pytest.approx(history.val_loss[best], rel=1e-5)


def test_callback_returning_false_continues_and_patience_still_calls_it():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1), torch.randn(64, 1)
    calls = []
    history = tutor.fit(
        nn.Linear(1, 1),
        mse,
        (x, y),
        (x, y),
        epochs=500,
        batch_size=64,
        lr=0.1,
        patience=3,
        callback=lambda epoch, history: calls.append(epoch) or False,
        progress=False,
    )
    assert history.stopped_early and len(history.val_loss) < 500
    assert calls == list(range(len(history.val_loss)))  # also called on the epoch patience stops at


def test_callback_errors_propagate(line_data):
    calls = []

    def broken(epoch, history):
        calls.append(epoch)
        if epoch == 1:
            raise RuntimeError("callback failed")

    model = nn.Linear(1, 1)
    with pytest.raises(RuntimeError, match="callback failed"):
        tutor.fit(model, mse, line_data, epochs=5, batch_size=128, callback=broken, progress=False)
    assert calls == [0, 1]
    assert model.training  # the mode is restored even when the callback fails
