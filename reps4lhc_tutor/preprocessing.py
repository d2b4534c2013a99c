"""Invertible preprocessing of inputs and targets, fitted on the training data only.

- :class:`StandardScaler`: ``(x - mean) / std`` per feature, for network inputs (momenta, invariants).
- :class:`LogStandardScaler`: ``(log x - mean) / std`` for strictly positive targets spanning orders of
  magnitude (squared amplitudes); its :meth:`~LogStandardScaler.inverse_transform_sigma` maps a predicted
  sigma back to the original units.

Both accept numpy arrays and torch tensors of shape ``(events, *features)``: statistics are taken over the
first axis only, so ``(events,)`` gives one scalar mean and std, ``(events, 4)`` one per column and
``(events, particles, 4)`` one per particle and component. Statistics are stored in float64; a transform
returns the type, dtype and device of its input (numpy inputs come back as float64). Fit on the training
set and apply the same transform to validation and test sets, so that no information leaks from them.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = ["LogStandardScaler", "StandardScaler"]

Array = TypeVar("Array", NDArray[np.floating], torch.Tensor)


def _check_array(x: Array, name: str) -> None:
    """Raise for a scalar or for NaN/inf entries."""
    if x.ndim == 0:
        raise ValueError(f"{name} must have shape (events, *features), got a scalar; wrap it as [value].")
    finite = torch.isfinite(x) if isinstance(x, torch.Tensor) else np.isfinite(x)
    if not finite.all():
        raise ValueError(
            f"{name} contains {int((~finite).sum())} NaN or infinite values; remove those events "
            "(np.isfinite / torch.isfinite) before preprocessing."
        )


def _to_numpy(x: object, name: str) -> NDArray[np.float64]:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    array = np.asarray(x, dtype=np.float64)
    _check_array(array, name)
    return array


def _like(stat: NDArray[np.float64], x: Array) -> Array:
    """``stat`` in the array type, dtype and device of the floating array ``x``."""
    if isinstance(x, torch.Tensor):
        return torch.as_tensor(stat, dtype=x.dtype, device=x.device)
    return stat


def _as_float(x: Array, name: str) -> Array:
    """``x`` as a floating array (numpy: float64), checked for NaN and infinities."""
    if isinstance(x, torch.Tensor):
        x = x if x.is_floating_point() else x.to(torch.get_default_dtype())
    else:
        x = np.asarray(x, dtype=np.float64)
    _check_array(x, name)
    return x


class StandardScaler:
    """Per-feature standardisation ``z = (x - mean) / std``, fitted on training data.

    Attributes
    ----------
    mean_, std_
        float64 arrays of shape ``features`` (``()`` for ``(events,)`` data), set by :meth:`fit`.

    Examples
    --------
    >>> scaler = StandardScaler().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> scaler.transform(np.array([[2.0, 20.0]]))
    array([[0., 0.]])
    """

    mean_: NDArray[np.float64] | None
    std_: NDArray[np.float64] | None

    def __init__(self) -> None:
        self.mean_ = None
        self.std_ = None

    def fit(self, x: Array) -> StandardScaler:
        """Compute mean and standard deviation over the events of ``x``, shape ``(events, *features)``."""
        self._fit_numpy(_to_numpy(x, "x"))
        return self

    def _fit_numpy(self, data: NDArray[np.float64]) -> None:
        if len(data) < 2:
            raise ValueError(f"fitting needs at least 2 events, got {len(data)}.")
        # Compare extremes, not std: the std of a constant column can round to 1e-17 instead of 0.
        constant = data.max(axis=0) == data.min(axis=0)
        if constant.any():
            raise ValueError(
                f"{int(np.count_nonzero(constant))} feature(s) are constant over the training events "
                f"(at indices {np.argwhere(constant).tolist()}), so they cannot be standardised; drop them."
            )
        self.mean_, self.std_ = data.mean(axis=0), data.std(axis=0)

    def _stats(self, x: Array, name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(train) first.")
        if tuple(x.shape[1:]) != self.mean_.shape:
            raise ValueError(
                f"{name} has shape {tuple(x.shape)} but the scaler was fitted on shape "
                f"(events, {', '.join(map(str, self.mean_.shape))}); pass data with the same features."
            )
        return self.mean_, self.std_

    def transform(self, x: Array) -> Array:
        """Standardise ``x`` of shape ``(events, *features)``; returns the same shape and array type."""
        x = _as_float(x, "x")
        mean, std = self._stats(x, "x")
        return (x - _like(mean, x)) / _like(std, x)

    def fit_transform(self, x: Array) -> Array:
        """:meth:`fit` on ``x``, then :meth:`transform` it."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z: Array) -> Array:
        """Undo :meth:`transform`: ``x = z * std + mean``, shape ``(events, *features)``."""
        z = _as_float(z, "z")
        mean, std = self._stats(z, "z")
        return z * _like(std, z) + _like(mean, z)

    def inverse_transform_sigma(self, sigma: Array) -> Array:
        """Map a standard deviation in standardised units back to the original units: ``sigma * std``.

        Exact, since the transform is linear. ``sigma`` has shape ``(events, *features)``, >= 0.
        """
        sigma = _as_float(sigma, "sigma")
        _, std = self._stats(sigma, "sigma")
        if not (sigma >= 0).all():
            raise ValueError(
                f"sigma must be >= 0, found {int((sigma < 0).sum())} negative values; pass a standard "
                "deviation (e.g. dist.stddev), not a log sigma."
            )
        return sigma * _like(std, sigma)


class LogStandardScaler:
    """Logarithm, then standardisation: ``z = (log x - mean) / std`` for strictly positive data.

    Squared amplitudes span orders of magnitude; in ``log`` they become a compact, roughly Gaussian
    target, and a network error in ``z`` is a *relative* error on ``x``.

    Attributes
    ----------
    log_scaler
        The :class:`StandardScaler` of ``log x``; ``log_scaler.mean_`` and ``log_scaler.std_`` hold the
        statistics.

    Examples
    --------
    >>> scaler = LogStandardScaler().fit(np.array([1.0, 100.0]))
    >>> scaler.transform(np.array([10.0]))
    array([0.])
    """

    def __init__(self) -> None:
        self.log_scaler = StandardScaler()

    @staticmethod
    def _log(x: Array, name: str) -> Array:
        positive = x > 0
        if not positive.all():
            n_bad = int((~positive).sum())
            raise ValueError(
                f"LogStandardScaler needs strictly positive {name}, found {n_bad} value(s) <= 0 (minimum "
                f"{float(x.min()):.3g}); drop those events, or use StandardScaler for signed targets."
            )
        return torch.log(x) if isinstance(x, torch.Tensor) else np.log(x)

    def fit(self, x: Array) -> LogStandardScaler:
        """Fit the statistics of ``log x`` on training data ``x`` of shape ``(events, *features)``, > 0."""
        data = _to_numpy(x, "x")
        self.log_scaler._fit_numpy(self._log(data, "x"))
        return self

    def transform(self, x: Array) -> Array:
        """Map ``x`` (> 0, shape ``(events, *features)``) to ``z``; same shape and array type."""
        return self.log_scaler.transform(self._log(_as_float(x, "x"), "x"))

    def fit_transform(self, x: Array) -> Array:
        """:meth:`fit` on ``x``, then :meth:`transform` it."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z: Array) -> Array:
        """Undo :meth:`transform`: ``x = exp(z * std + mean)``, shape ``(events, *features)``.

        Applied to a predicted Gaussian mean in ``z`` this gives the *median* of the implied log-normal
        distribution of ``x``, not its mean (which is larger by ``exp(sigma_log^2 / 2)``).
        """
        log_x = self.log_scaler.inverse_transform(z)
        return torch.exp(log_x) if isinstance(log_x, torch.Tensor) else np.exp(log_x)

    def inverse_transform_sigma(self, z: Array, sigma: Array) -> Array:
        """Propagate a predicted standard deviation in ``z`` to the original units, to first order.

        With ``log x = z * std + mean``, ``sigma_log = std * sigma`` exactly, and linearising
        ``x = exp(log x)`` gives ``sigma_x ~= x * sigma_log = x * std * sigma``. The relative uncertainty
        ``sigma_x / x = std * sigma`` is the quantity to compare with a relative noise level such as
        ``f_smear``. The linearisation holds while ``sigma_log << 1``: the exact standard deviation of the
        log-normal ``x`` is larger by about ``1 + 3 sigma_log^2 / 4`` (0.8 % at ``sigma_log = 0.1``, 7 %
        at 0.3), and for larger values the distribution of ``x`` is visibly asymmetric.

        Parameters
        ----------
        z
            Predicted mean in transformed units, shape ``(events, *features)``.
        sigma
            Predicted standard deviation in transformed units, same shape, >= 0.

        Returns
        -------
        Array
            ``sigma_x``, same shape and array type as ``sigma``.
        """
        if tuple(z.shape) != tuple(sigma.shape):
            raise ValueError(
                f"z has shape {tuple(z.shape)} but sigma has shape {tuple(sigma.shape)}; pass the predicted "
                "mean and standard deviation of the same events."
            )
        return self.inverse_transform(z) * self.log_scaler.inverse_transform_sigma(sigma)
