"""Mixed samples for classification without labels (CWoLa, Metodiev, Nachman & Thaler 2017).

CWoLa trains a classifier to tell apart two samples ``M1`` and ``M2`` that both contain signal and background,
with signal fractions ``f1 > f2``, and never sees the true labels. :func:`mixed_samples` builds such a pair
from a labelled dataset, so that the mixed-label classifier can be compared with the supervised one on the
same jets: both samples are drawn without replacement and share no jet.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..config import check_rng

__all__ = ["mixed_samples"]


def _check_fraction(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a signal fraction in [0, 1], got {value!r}.")
    return float(value)


def mixed_samples(
    labels: ArrayLike,
    signal_fractions: tuple[float, float],
    size: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Two disjoint samples of ``size`` jets each, with signal fractions ``f1`` and ``f2``.

    Each sample holds exactly ``round(f * size)`` signal jets, drawn at random without replacement from the
    signal jets of ``labels``, and background jets for the rest; no jet enters both samples.

    Parameters
    ----------
    labels : array, shape ``(jets,)``
        True labels, 1 signal and 0 background.
    signal_fractions : (float, float)
        ``(f1, f2)``, each in ``[0, 1]``. The classifier learns the likelihood ratio when ``f1 != f2``.
    size : int
        Jets per mixed sample.
    rng : numpy.random.Generator

    Returns
    -------
    index : array, shape ``(2 * size,)``
        Positions in ``labels``: first the jets of ``M1``, then those of ``M2``, each sample shuffled.
    mixed_labels : array, shape ``(2 * size,)``
        1 for the jets of ``M1`` and 0 for those of ``M2``: the only labels CWoLa trains on.
        ``labels[index]`` gives the true labels for evaluation.

    Raises
    ------
    ValueError
        For bad fractions or sizes, or when the two samples need more signal or background jets than exist.
    """
    check_rng(rng)
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"labels must be a 1-d array of 0 (background) and 1 (signal), got shape {labels.shape}."
        )
    if len(signal_fractions) != 2:
        raise ValueError(f"signal_fractions must be a pair (f1, f2), got {signal_fractions!r}.")
    f1, f2 = (_check_fraction(f, name) for f, name in zip(signal_fractions, ("f1", "f2"), strict=True))
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}.")
    n_signal = [round(f * size) for f in (f1, f2)]
    signal, background = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    need_signal, need_background = sum(n_signal), 2 * size - sum(n_signal)
    if need_signal > signal.size or need_background > background.size:
        raise ValueError(
            f"two samples of {size} jets with signal fractions ({f1}, {f2}) need {need_signal} signal and "
            f"{need_background} background jets, but labels hold {signal.size} and {background.size}; "
            "lower size or take more jets."
        )
    signal, background = rng.permutation(signal), rng.permutation(background)
    samples, used_signal, used_background = [], 0, 0
    for k in n_signal:
        sample = np.concatenate(
            [signal[used_signal : used_signal + k], background[used_background : used_background + size - k]]
        )
        samples.append(rng.permutation(sample))
        used_signal, used_background = used_signal + k, used_background + size - k
    mixed_labels = np.repeat(np.array([1, 0], dtype=np.int64), size)
    return np.concatenate(samples).astype(np.int64), mixed_labels
