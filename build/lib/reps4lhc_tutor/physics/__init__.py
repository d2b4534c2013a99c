"""Physics as pure numpy functions (no torch modules).

Submodules are imported explicitly, e.g. ``from reps4lhc_tutor.physics import lorentz``:

* :mod:`~reps4lhc_tutor.physics.lorentz` -- four-vectors ``(..., 4)`` ordered ``(E, px, py, pz)`` in GeV with
  metric ``(+, -, -, -)``: invariants, collider coordinates, boosts and rotations.
"""

from . import lorentz

__all__ = ["lorentz"]
