"""Physics as pure functions: NumPy, except the torch augmentations (no torch modules).

* :mod:`~reps4lhc_tutor.physics.lorentz` -- four-vectors ``(..., 4)`` ordered ``(E, px, py, pz)`` in GeV with
  metric ``(+, -, -, -)``: invariants, collider coordinates, boosts and rotations.
* :mod:`~reps4lhc_tutor.physics.electroweak` -- leading-order e+e- -> mu+mu- through photon and Z exchange.
* :mod:`~reps4lhc_tutor.physics.phasespace` -- RAMBO phase space for massless final states, generation cuts.
* :mod:`~reps4lhc_tutor.physics.hypercube` -- massless phase space as a map of the unit hypercube with a
  constant Jacobian ("RAMBO on diet"), for importance samplers.
* :mod:`~reps4lhc_tutor.physics.amplitudes` -- exact tree-level n-gluon amplitudes (Berends–Giele recursion),
  full and leading colour.
* :mod:`~reps4lhc_tutor.physics.noise` -- noise models for regression targets.
* :mod:`~reps4lhc_tutor.physics.jets` -- jet substructure observables on zero-padded constituent arrays.
* :mod:`~reps4lhc_tutor.physics.constituents` -- constituent features relative to the jet axis for taggers.
* :mod:`~reps4lhc_tutor.physics.images` -- jet images: pT fractions on a pixel grid, centred and rotated.
* :mod:`~reps4lhc_tutor.physics.tagging_observables` -- observables of the top and quark/gluon taggers.
* :mod:`~reps4lhc_tutor.physics.augmentations` -- torch augmentations of jets for contrastive learning:
  rotations and translations in (y, phi), collinear splitting, soft emission.
* :mod:`~reps4lhc_tutor.physics.dimuon` -- invertible coordinates of Z -> mu mu + jets events for generators.
* :mod:`~reps4lhc_tutor.physics.transformations` -- beam boosts and rotations, shears and SL(4) maps for
  symmetry probes.
"""

from . import (
    amplitudes,
    augmentations,
    constituents,
    dimuon,
    electroweak,
    hypercube,
    images,
    jets,
    lorentz,
    noise,
    phasespace,
    tagging_observables,
    transformations,
)

__all__ = [
    "amplitudes",
    "augmentations",
    "constituents",
    "dimuon",
    "electroweak",
    "hypercube",
    "images",
    "jets",
    "lorentz",
    "noise",
    "phasespace",
    "tagging_observables",
    "transformations",
]
