"""The substructure observables of the course's observable-based taggers, one function per task.

Chapter 4 trains boosted decision trees and MLPs on them (top tagging in 04a, quark/gluon tagging in 04b), and
chapter 8 explains those taggers, so both compute them here, from :mod:`~reps4lhc_tutor.physics.jets`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import jets

__all__ = ["quark_gluon_observables", "top_tagging_observables"]


def top_tagging_observables(constituents: ArrayLike, n_leading: int = 64) -> dict[str, NDArray[np.float64]]:
    """What the top decay predicts: mass, soft-drop mass, tau_32, tau_21, multiplicity, width and p_T D.

    Parameters
    ----------
    constituents : array, shape ``(jets, particles, 4)``
        Zero-padded jets, constituents ordered by decreasing ``pT``.
    n_leading : int
        The multiplicity counts every constituent; the other observables use the ``n_leading`` leading
        ones (softer ones change them little and cost ``O(n^3)`` each in the clustering).

    Returns
    -------
    dict
        Name -> array of shape ``(jets,)``; ``tau32`` and ``tau21`` are 0 for jets of too few particles.
    """
    if isinstance(n_leading, bool) or not isinstance(n_leading, int | np.integer) or n_leading < 1:
        raise ValueError(f"n_leading must be a positive integer, got {n_leading!r}.")
    everything = np.asarray(constituents)
    leading = everything[:, :n_leading]
    tau = jets.nsubjettiness(leading, n_max=3)  # (jets, 3): tau_1, tau_2, tau_3
    return {
        "mass": jets.jet_mass(leading),
        "soft-drop mass": jets.soft_drop(leading, z_cut=0.1, beta=0.0, radius=0.8).mass,
        "tau32": jets.subjettiness_ratio(tau, 3),
        "tau21": jets.subjettiness_ratio(tau, 2),
        "multiplicity": jets.multiplicity(everything).astype(float),
        "width": jets.width(leading),
        "ptD": jets.ptd(leading),
    }


def quark_gluon_observables(constituents: ArrayLike, pid: ArrayLike) -> dict[str, NDArray[np.float64]]:
    """What the colour charge changes, plus particle identity: eight observables of every jet.

    Multiplicity and charged multiplicity, width, ``p_T D``, ``C_0.2``, ``m / p_T``, the fragmentation
    entropy ``S_frag`` and the charged energy fraction ``E_ch / E``. ``constituents`` ``(jets, particles, 4)``
    and their PDG ids ``pid`` ``(jets, particles)`` as for :func:`~reps4lhc_tutor.physics.jets.pid_entropy`;
    returns name -> array of shape ``(jets,)``.
    """
    p = np.asarray(constituents)
    pt_jet = np.hypot(*jets.jet_four_momentum(p)[:, 1:3].T)
    return {
        "multiplicity": jets.multiplicity(p).astype(float),
        "charged mult.": (jets.constituent_charges(p, pid) != 0).sum(axis=1).astype(float),
        "width": jets.width(p),
        "ptD": jets.ptd(p),
        "C_0.2": jets.c_beta(p, beta=0.2),
        "m / pT": jets.jet_mass(p) / pt_jet,
        "S_frag": jets.fragmentation_entropy(p),
        "E_ch / E": jets.charged_energy_fraction(p, pid),
    }
