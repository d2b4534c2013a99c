"""A small, explicit training loop shared by every notebook.

:func:`fit` does the plumbing (batches on the device, progress bar, validation, learning-rate schedule,
early stopping with best-weights restore); the notebooks write the loss, which is what they teach.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .config import get_device

__all__ = ["Callback", "History", "LossFn", "fit"]

LossFn = Callable[..., torch.Tensor]
"""``loss_fn(model, *batch) -> scalar tensor``: the batch is the tuple of tensors given to :func:`fit`."""


@dataclass
class History:
    """Per-epoch record of a training run."""

    train_loss: list[float] = field(default_factory=list)  # mean training loss per epoch
    val_loss: list[float] = field(default_factory=list)  # validation loss per epoch (empty without val)
    lr: list[float] = field(default_factory=list)  # learning rate used in each epoch
    best_epoch: int | None = None  # epoch (0-based) whose weights the model holds at the end, if val given
    stopped_early: bool = False  # True if early stopping (patience or the callback) ended the run


Callback = Callable[[int, History], bool | None]
"""``callback(epoch, history) -> bool | None``: called by :func:`fit` after each epoch; ``True`` stops it."""


def _check_tensors(data: Sequence[torch.Tensor], name: str) -> tuple[torch.Tensor, ...]:
    if isinstance(data, torch.Tensor):
        data = (data,)
    data = tuple(data)
    if not data or not all(isinstance(t, torch.Tensor) for t in data):
        raise TypeError(f"{name} must be a tensor or a tuple of tensors, got {type(data).__name__}.")
    lengths = {len(t) for t in data}
    if len(lengths) != 1:
        raise ValueError(
            f"{name}: all tensors need the same first dimension (events), got lengths {sorted(lengths)}."
        )
    if lengths.pop() == 0:
        raise ValueError(f"{name} holds no events.")
    return data


def _batches(data: tuple[torch.Tensor, ...], batch_size: int, shuffle: bool, device: torch.device):
    n = len(data[0])
    # Index where the data lives: tensors already on the GPU are then sliced there, without a host copy.
    home = data[0].device
    order = torch.randperm(n, device=home) if shuffle else torch.arange(n, device=home)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        yield tuple(t[index].to(device, non_blocking=True) for t in data)


def _evaluate(model: nn.Module, loss_fn: LossFn, data, batch_size: int, device: torch.device) -> float:
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    with torch.no_grad():
        for batch in _batches(data, batch_size, shuffle=False, device=device):
            total += loss_fn(model, *batch).double() * len(batch[0])
    return total.item() / len(data[0])


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    train: Sequence[torch.Tensor],
    val: Sequence[torch.Tensor] | None = None,
    *,
    epochs: int,
    batch_size: int,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    patience: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "training",
    callback: Callback | None = None,
) -> History:
    """Train ``model`` by minimising ``loss_fn`` over mini-batches.

    Parameters
    ----------
    model
        Any module; it is moved to ``device``.
    loss_fn
        ``loss_fn(model, *batch)`` returns the scalar loss of one batch (mean over its events).
    train, val
        Tuples of tensors sharing the first dimension ``(events, ...)``; kept where they are and moved to the
        device batch by batch. ``val`` enables validation, best-weights restore and early stopping.
    epochs, batch_size, lr
        Passes over the data, events per step, and Adam's learning rate (ignored if ``optimizer`` is given).
    scheduler
        Stepped once per epoch; ``ReduceLROnPlateau`` is stepped with the validation (else training) loss.
    patience
        Stop after this many epochs without a better validation loss (needs ``val``).
    device
        Defaults to :func:`reps4lhc_tutor.config.get_device`.
    progress, desc
        Show a progress bar over the epochs, with this label.
    callback
        ``callback(epoch, history)``, called at the end of every epoch (after validation, the scheduler step
        and the history update) with the 0-based epoch and the :class:`History` so far, the object ``fit``
        returns. The model holds its current weights (not the best so far) and is in eval mode, so the
        callback may evaluate it: a metric, the quality of generated samples. Wrapping that in
        ``torch.no_grad()`` is the callback's job (some evaluations need gradients). Afterwards ``fit`` puts
        the model back in the mode it had before the call; every epoch trains in train mode. Return ``True``
        to stop training after this epoch (``history.stopped_early`` is set and, with ``val``, the best
        weights are still restored); ``None`` or ``False`` continues. Exceptions propagate.

    Returns
    -------
    History
        Losses and learning rates per epoch; with ``val`` the model ends with its best-validation weights.

    Raises
    ------
    FloatingPointError
        If a training loss is NaN or infinite; the message names the epoch and batch.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            f"epochs and batch_size must be positive, got epochs={epochs}, batch_size={batch_size}."
        )
    if patience is not None and val is None:
        raise ValueError("early stopping (patience=...) needs validation data: pass val=(...).")
    train = _check_tensors(train, "train")
    val = _check_tensors(val, "val") if val is not None else None
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)

    history = History()
    best_loss, best_state, waited = math.inf, None, 0
    bar = tqdm(range(epochs), desc=desc, disable=not progress, unit="epoch")
    for epoch in bar:
        model.train()
        # Losses stay on the device and are checked once per epoch: a per-batch .item() would stall the GPU.
        batch_losses, batch_sizes = [], []
        for batch in _batches(train, batch_size, shuffle=True, device=device):
            loss = loss_fn(model, *batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            batch_losses.append(loss.detach())
            batch_sizes.append(len(batch[0]))
        losses = torch.stack(batch_losses).double().cpu()
        bad = torch.nonzero(~torch.isfinite(losses))
        if len(bad):
            step = int(bad[0, 0])
            raise FloatingPointError(
                f"training loss is {losses[step].item()} at epoch {epoch}, batch {step}: lower the learning "
                "rate, check the inputs for NaN/inf, or standardise them."
            )
        history.train_loss.append(
            float(losses @ torch.tensor(batch_sizes, dtype=torch.float64)) / sum(batch_sizes)
        )
        history.lr.append(optimizer.param_groups[0]["lr"])

        monitored = history.train_loss[-1]
        if val is not None:
            monitored = _evaluate(model, loss_fn, val, batch_size, device)
            history.val_loss.append(monitored)
            if monitored < best_loss:
                best_loss, waited, history.best_epoch = monitored, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
        bar.set_postfix(
            train=f"{history.train_loss[-1]:.4g}", **({"val": f"{monitored:.4g}"} if val is not None else {})
        )

        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(monitored)
            else:
                scheduler.step()
        stop = False
        if callback is not None:
            was_training = model.training
            model.eval()
            try:
                stop = bool(callback(epoch, history))
            finally:
                model.train(was_training)
        if stop or (patience is not None and waited >= patience):
            history.stopped_early = True
            break

    if best_state is not None:
        model.load_state_dict(best_state)
    return history
