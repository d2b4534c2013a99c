"""Our top-tagging jets beside what is published about the official reference dataset.

The official set (Kasieczka, Plehn, Thompson, Russell, Zenodo 10.5281/zenodo.2603256; benchmarked in
Kasieczka et al., SciPost Phys. 7 (2019) 014) cannot be read on the machines that build this course, so the
comparison is with the numbers its users have published: :data:`PUBLISHED` lists each with its source and how
it was obtained (quoted, or read off a figure). :func:`measure_top_tagging` computes the same quantities on
our jets, and :func:`comparison_table` puts both side by side as the Markdown table of the book's data page
(``reps4lhc data compare``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.ensemble import HistGradientBoostingClassifier

from .. import metrics
from ..physics import jets

__all__ = ["PUBLISHED", "Published", "comparison_table", "measure_top_tagging", "mode"]


@dataclass(frozen=True)
class Published:
    """One published fact about the official top-tagging set."""

    quantity: str  # the key of :func:`measure_top_tagging`'s result
    label: str  # what it is, for the table
    value: str  # as published, with its uncertainty or range
    source: str  # where, and how it was obtained


_LANDSCAPE_NOTEBOOK = (
    "Kasieczka et al. 2019 (landscape), analysis notebook of the comparison (github.com/SebastianMacaluso/"
    "TopTagComparison, jet_study_allTaggers.ipynb), 404k test jets"
)
_FIGURE = "read off the histograms of Khot, Neubauer, Roy, arXiv:2210.04371 (20k official jets), +-5 GeV"

PUBLISHED: tuple[Published, ...] = (
    Published(
        "multiplicity",
        "mean constituents per jet (top and QCD)",
        "49",
        "Bogatskiy et al. 2022 (PELICAN), github.com/abogatskiy/PELICAN, README and config/toptag.yaml",
    ),
    Published("top_mass_mode", "top-jet mass, mode (GeV)", "175-180", _FIGURE),
    Published("qcd_mass_mode", "QCD-jet mass, mode (GeV)", "55-65", _FIGURE),
    Published(
        "top_tau32_mode", "top-jet tau_32, mode", "0.50-0.55", "as above (tau_32 with beta = 1), +-0.03"
    ),
    Published("qcd_tau32_mode", "QCD-jet tau_32, mode", "0.75-0.80", "as above, +-0.03"),
    Published("mass_nsub_auc", "mass + N-subjettiness classifier: AUC", "0.967", _LANDSCAPE_NOTEBOOK),
    Published(
        "mass_nsub_rejection",
        "mass + N-subjettiness classifier: 1/eps_B at eps_S = 0.3",
        "403 +- 18",
        _LANDSCAPE_NOTEBOOK,
    ),
)
"""The published facts, in table order. Networks on the official set (PFN 891, ParticleNet 1298, L-GATr 2240
at eps_S = 0.3) are quoted where the chapter-4 notebook compares taggers."""


def mode(values: ArrayLike, bins: ArrayLike) -> float:
    """The centre of the most populated bin of a histogram of ``values`` ``(n,)`` with edges ``bins``."""
    counts, edges = np.histogram(np.asarray(values, np.float64), bins=np.asarray(bins, np.float64))
    k = int(np.argmax(counts))
    return float(0.5 * (edges[k] + edges[k + 1]))


def _mass_nsub_tagger(x: NDArray[np.float64], labels: NDArray[np.int8], seed: int) -> tuple[float, float]:
    """Test AUC and 1/eps_B at eps_S = 0.3 of a BDT on ``x`` ``(jets, features)``, trained on half of them."""
    half = len(labels) // 2
    bdt = HistGradientBoostingClassifier(max_iter=200, random_state=seed).fit(x[:half], labels[:half])
    score = bdt.predict_proba(x[half:])[:, 1]
    return metrics.auc(labels[half:], score), metrics.rejection_at(
        labels[half:], score, signal_efficiency=0.3
    )


def measure_top_tagging(
    constituents: ArrayLike, labels: ArrayLike, *, seed: int = 0, n_observable: int = 64
) -> dict[str, float]:
    """The quantities of :data:`PUBLISHED`, measured on jets ``(jets, particles, 4)`` with labels ``(jets,)``.

    The mass + N-subjettiness classifier is a BDT on (m, tau_1, tau_2, tau_3) with beta = 1, trained on the
    first half of the jets and tested on the second; N-subjettiness uses the ``n_observable`` leading
    constituents (the softer ones move it little and cost most of the time). Also returned: the mean
    multiplicities per class and the half width at half maximum of the top-mass peak (GeV).
    """
    p = np.asarray(constituents, np.float64)
    y = np.asarray(labels).astype(np.int8)
    if p.ndim != 3 or p.shape[-1] != 4 or y.shape != (len(p),):
        raise ValueError(
            f"need constituents (jets, particles, 4) and labels (jets,), got {p.shape}, {y.shape}."
        )
    if not {0, 1} <= set(np.unique(y).tolist()):
        raise ValueError("labels must contain both classes: 0 (QCD) and 1 (top).")
    n = jets.multiplicity(p).astype(np.float64)
    mass = jets.jet_mass(p)
    tau = jets.nsubjettiness(p[:, :n_observable], n_max=3)
    tau32 = jets.subjettiness_ratio(tau, 3)
    top, qcd = y == 1, y == 0
    mass_bins = np.arange(0.0, 305.0, 5.0)
    counts, edges = np.histogram(mass[top], bins=np.arange(100.0, 250.5, 2.0))
    above = edges[:-1][counts >= counts.max() / 2]
    auc, rejection = _mass_nsub_tagger(np.column_stack([mass, tau]), y, seed)
    return {
        "multiplicity": float(n.mean()),
        "top_multiplicity": float(n[top].mean()),
        "qcd_multiplicity": float(n[qcd].mean()),
        "top_mass_mode": mode(mass[top], mass_bins),
        "qcd_mass_mode": mode(mass[qcd], mass_bins),
        "top_mass_hwhm": float((above.max() + 2.0 - above.min()) / 2),
        "top_tau32_mode": mode(tau32[top], np.linspace(0.0, 1.0, 41)),
        "qcd_tau32_mode": mode(tau32[qcd], np.linspace(0.0, 1.0, 41)),
        "mass_nsub_auc": auc,
        "mass_nsub_rejection": rejection,
    }


def comparison_table(measured: dict[str, float]) -> str:
    """The Markdown table: each published fact, its source and our value from :func:`measure_top_tagging`."""
    rows = ["| quantity | official set (published) | our jets | source of the published value |"]
    rows.append("| --- | --- | --- | --- |")
    for fact in PUBLISHED:
        ours = measured[fact.quantity]
        text = f"{ours:.3f}" if fact.quantity.endswith(("auc", "tau32_mode")) else f"{ours:.0f}"
        rows.append(f"| {fact.label} | {fact.value} | {text} | {fact.source} |")
    extra = (
        (
            "mean constituents per jet, top / QCD",
            f"{measured['top_multiplicity']:.1f} / {measured['qcd_multiplicity']:.1f}",
        ),
        ("top-jet mass, half width at half maximum (GeV)", f"{measured['top_mass_hwhm']:.0f}"),
    )
    rows.extend(f"| {label} | not published | {value} | |" for label, value in extra)
    return "\n".join(rows) + "\n"
