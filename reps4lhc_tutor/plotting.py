"""The course's plots: one style, histograms with ratio panels, ROC curves, pulls and loss curves.

Call :func:`use_style` once (or wrap code in ``with style():``) so every figure shares readable fonts and a
colour cycle that stays distinguishable for colour-blind readers (Okabe & Ito). Nothing here needs LaTeX:
labels use matplotlib's built-in mathtext. Functions return the figure and axes and never call ``show``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Protocol

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from . import metrics

__all__ = [
    "COLORS",
    "RC_PARAMS",
    "hist_ratio",
    "plot_calibration",
    "plot_history",
    "plot_pulls",
    "plot_roc",
    "style",
    "use_style",
]

COLORS: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)
"""Okabe-Ito palette: blue, vermillion, green, purple, orange, sky blue, black; pale yellow last."""

RC_PARAMS: Mapping[str, object] = MappingProxyType(
    {
        "axes.prop_cycle": cycler(color=COLORS),
        "figure.figsize": (6.0, 4.5),
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "savefig.bbox": "tight",
        "font.size": 12,
        "axes.labelsize": 13,
        "axes.titlesize": 13,
        "legend.fontsize": 11,
        "legend.frameon": False,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "xtick.direction": "in",
        "ytick.direction": "in",
        "xtick.top": True,
        "ytick.right": True,
        "lines.linewidth": 1.8,
        "text.usetex": False,  # no LaTeX installation needed anywhere
        "mathtext.fontset": "dejavusans",
    }
)
"""matplotlib rcParams of the course style (read-only; copy it with ``dict(RC_PARAMS)`` to modify)."""


class _History(Protocol):
    train_loss: list[float]
    val_loss: list[float]
    best_epoch: int | None


def use_style() -> None:
    """Apply the course style to all following figures (updates ``matplotlib.rcParams``)."""
    mpl.rcParams.update(RC_PARAMS)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying the course style inside a ``with`` block only."""
    with mpl.rc_context(RC_PARAMS):
        yield


def _figure_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is None:
        return plt.subplots()
    return ax.figure, ax


def plot_history(history: _History, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Training and validation loss per epoch, with the restored best epoch marked.

    Parameters
    ----------
    history : reps4lhc_tutor.History
        Or any object with ``train_loss``, ``val_loss`` (may be empty) and ``best_epoch`` (0-based or None).
    ax : Axes, optional
        Where to draw; a new figure otherwise.

    The y axis is logarithmic when all losses are positive (negative log-likelihoods may not be).
    """
    fig, ax = _figure_axes(ax)
    losses = [np.asarray(history.train_loss, dtype=float), np.asarray(history.val_loss, dtype=float)]
    if losses[0].size == 0:
        raise ValueError("history has no training epochs to plot.")
    for values, label in zip(losses, ("training", "validation"), strict=True):
        if values.size:
            ax.plot(np.arange(1, values.size + 1), values, label=label)
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch + 1, color="0.5", linestyle=":", label="best epoch")
    if all((values > 0).all() for values in losses):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    return fig, ax


def _histogram(
    values: NDArray[np.float64],
    weights: NDArray[np.float64] | None,
    edges: NDArray[np.float64],
    density: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Bin contents and their statistical errors ``sqrt(sum w^2)``, both ``(bins,)``."""
    counts, errors = metrics._weighted_counts(values, edges, weights)
    if density:
        if counts.sum() <= 0:
            raise ValueError(
                "cannot normalise a histogram with no (positively weighted) entries in the bins."
            )
        norm = counts.sum() * np.diff(edges)
        counts, errors = counts / norm, errors / norm
    return counts, errors


def _finite_1d(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or not np.isfinite(arr).all():
        raise ValueError(
            f"{name} must be a 1-d array of finite numbers, got shape {arr.shape} (check for NaN)."
        )
    return arr


def hist_ratio(
    samples: Mapping[str, ArrayLike],
    reference: str,
    bins: int | ArrayLike = 40,
    *,
    weights: Mapping[str, ArrayLike] | None = None,
    density: bool = False,
    xlabel: str = "",
    ratio_limits: tuple[float, float] = (0.5, 1.5),
    logy: bool = False,
) -> tuple[Figure, tuple[Axes, Axes]]:
    """Histograms of several samples with a lower panel showing their ratio to a reference sample.

    Parameters
    ----------
    samples : dict of name -> array, shape ``(n_name,)``
        The values to histogram, e.g. ``{"truth": x_true, "generated": x_gen}``.
    reference : str
        The key of ``samples`` that ratios are taken to (drawn in black).
    bins : int or array, shape ``(bins + 1,)``
        Bin edges, or a number of equal bins spanning all samples.
    weights : dict of name -> array, shape ``(n_name,)``, optional
        Event weights for some or all samples.
    density : bool
        Normalise each histogram to unit area (inside the bins).
    ratio_limits : (float, float)
        y range of the ratio panel.

    Returns
    -------
    fig, (ax_main, ax_ratio)
        In the ratio panel each sample's ratio (a step line labelled with its name; empty reference bins give
        NaN) comes with a band of its own statistical error divided by the reference; the grey band
        around 1 is the reference's relative statistical error.
    """
    if reference not in samples:
        raise ValueError(f"reference {reference!r} is not among the samples {list(samples)}.")
    weights = dict(weights or {})
    if unknown := set(weights) - set(samples):
        raise ValueError(f"weights given for unknown samples {sorted(unknown)}; samples are {list(samples)}.")
    data = {name: _finite_1d(values, f"samples[{name!r}]") for name, values in samples.items()}
    for name, w in weights.items():
        weights[name] = _finite_1d(w, f"weights[{name!r}]")
        if weights[name].shape != data[name].shape:
            raise ValueError(
                f"weights[{name!r}] has shape {weights[name].shape}, samples {data[name].shape}."
            )
    edges = np.histogram_bin_edges(np.concatenate(list(data.values())), bins=bins)
    hists = {name: _histogram(values, weights.get(name), edges, density) for name, values in data.items()}
    ref_counts, ref_errors = hists[reference]

    fig, (ax_main, ax_ratio) = plt.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05}, figsize=(6.0, 5.5)
    )
    colors = itertools.cycle([c for c in COLORS if c != "#000000"])  # black is kept for the reference
    with np.errstate(divide="ignore", invalid="ignore"):  # empty reference bins: ratio undefined, left blank
        for name, (counts, errors) in hists.items():
            color = "black" if name == reference else next(colors)
            ax_main.stairs(counts, edges, color=color, label=name)
            ax_main.stairs(
                counts + errors, edges, baseline=counts - errors, fill=True, color=color, alpha=0.25
            )
            ratio = np.where(ref_counts > 0, counts / ref_counts, np.nan)
            ax_ratio.stairs(ratio, edges, color=color, label=name)
            if name == reference:  # the reference's own uncertainty, as a grey band around 1
                relative = np.where(ref_counts > 0, ref_errors / ref_counts, np.nan)
                ax_ratio.stairs(1 + relative, edges, baseline=1 - relative, fill=True, color="0.6", alpha=0.5)
            else:
                band = np.where(ref_counts > 0, errors / ref_counts, np.nan)
                ax_ratio.stairs(
                    ratio + band, edges, baseline=ratio - band, fill=True, color=color, alpha=0.25
                )
    if logy:
        ax_main.set_yscale("log")
    ax_main.set_ylabel("normalised" if density else "events")
    ax_main.legend()
    ax_ratio.set_ylim(*ratio_limits)
    ax_ratio.set_ylabel(f"ratio to\n{reference}")
    ax_ratio.set_xlabel(xlabel)
    return fig, (ax_main, ax_ratio)


def plot_roc(
    labels: ArrayLike,
    scores: Mapping[str, ArrayLike],
    *,
    sample_weight: ArrayLike | None = None,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Background rejection ``1 / eps_B`` against signal efficiency ``eps_S`` on a log scale.

    Parameters
    ----------
    labels : array, shape ``(n,)``
        1 for signal, 0 for background, shared by all classifiers.
    scores : dict of name -> array, shape ``(n,)``
        Each classifier's scores; the legend shows its AUC.
    sample_weight : array, shape ``(n,)``, optional
    ax : Axes, optional

    Cuts that keep no background (``eps_B = 0``, infinite rejection) are not drawn. The dashed line is a
    random guess, ``1 / eps_B = 1 / eps_S``.
    """
    fig, ax = _figure_axes(ax)
    for name, values in scores.items():
        eff_bkg, eff_sig, _ = metrics.roc_curve(labels, values, sample_weight)
        area = metrics.auc(labels, values, sample_weight)
        keep = eff_bkg > 0
        ax.plot(eff_sig[keep], 1 / eff_bkg[keep], label=f"{name} (AUC = {area:.3f})")
    guess = np.linspace(0.01, 1, 100)
    ax.plot(guess, 1 / guess, color="0.5", linestyle="--", label="random")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    ax.legend()
    return fig, ax


def plot_calibration(
    labels: ArrayLike,
    probabilities: Mapping[str, ArrayLike],
    *,
    n_bins: int = 10,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Reliability diagram: signal fraction against predicted signal probability, with binomial errors.

    Parameters
    ----------
    labels : array, shape ``(n,)``
        1 for signal, 0 for background, shared by all classifiers.
    probabilities : dict of name -> array, shape ``(n,)``
        Each classifier's predicted signal probabilities in ``[0, 1]``.
    n_bins : int
        Equal-width bins on ``[0, 1]`` (:func:`~reps4lhc_tutor.metrics.calibration`).
    ax : Axes, optional

    The dashed diagonal is a calibrated classifier.
    """
    fig, ax = _figure_axes(ax)
    for name, values in probabilities.items():
        mean, fraction, counts = metrics.calibration(labels, values, n_bins)
        error = np.sqrt(fraction * (1 - fraction) / counts)
        ax.errorbar(mean, fraction, yerr=error, marker="o", markersize=4, capsize=2, label=name)
    ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted signal probability")
    ax.set_ylabel("fraction of signal")
    ax.legend()
    return fig, ax


def plot_pulls(
    pulls: ArrayLike,
    *,
    bins: int = 40,
    limits: tuple[float, float] = (-5.0, 5.0),
    label: str = "pulls",
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    """Histogram of pulls with the unit Gaussian that calibrated uncertainties produce.

    Parameters
    ----------
    pulls : array, any shape
        E.g. from :func:`reps4lhc_tutor.metrics.pulls`; flattened.
    bins, limits
        Binning of the histogram. It is normalised to *all* pulls, so entries outside ``limits`` lower it
        instead of being hidden; their number is given in the legend.
    label : str
    ax : Axes, optional
    """
    values = np.asarray(pulls, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError(f"pulls must be a non-empty array of finite numbers, got {values.size} values.")
    fig, ax = _figure_axes(ax)
    edges = np.linspace(*limits, bins + 1)
    counts, _ = np.histogram(values, bins=edges)
    outside = values.size - int(counts.sum())
    text = f"{label}: mean {values.mean():.2f}, std {values.std():.2f}"
    density = counts / (values.size * np.diff(edges))
    ax.stairs(
        density,
        edges,
        label=text + (f", {outside} outside" if outside else ""),
    )
    grid = np.linspace(*limits, 400)
    ax.plot(
        grid, np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi), color="0.3", linestyle="--", label="unit Gaussian"
    )
    ax.set_xlabel(r"pull $(\mathrm{prediction} - \mathrm{truth}) / \sigma$")
    ax.set_ylabel("density")
    ax.set_ylim(0.0, 1.5 * max(density.max(), 1 / np.sqrt(2 * np.pi)))  # headroom for the legend
    ax.legend(loc="upper center", fontsize="small")
    return fig, ax
