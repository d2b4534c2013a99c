"""Physical augmentations of jets for contrastive learning (JetCLR-style positive pairs), in torch.

A contrastive encoder learns what two *views* of a jet have in common. Here the views differ by
transformations that leave the physics of the jet unchanged, or change it only by an amount that a
calculation in QCD cannot resolve:

* :func:`rotate` -- rotation of the jet in the (y, phi) plane about its pT-weighted centroid: pT of every
  particle and all pairwise Delta R are unchanged (an approximate symmetry: the detector is not round);
* :func:`translate` -- a shift of the whole jet in rapidity and azimuth, i.e. a boost along the beam and a
  rotation about it, an exact Lorentz transformation: the jet mass and all Delta R are unchanged;
* :func:`collinear_split` -- a particle replaced by two exactly collinear ones sharing its four-momentum;
* :func:`soft_emission` -- soft particles added near the jet axis, the rest rescaled to keep the jet's pT.

Infrared and collinear (IRC) safe observables (mass, width, ``C_beta``, N-subjettiness; see
:mod:`~reps4lhc_tutor.physics.jets`) are unchanged by the collinear split and change by ``O(pt_fraction)``
under the soft emission, while the multiplicity and ``p_T D`` are not protected: an encoder trained on these
views is pushed towards IRC-safe representations. :func:`augment` applies a chosen set in a fixed order.

Layout and conventions
----------------------
Inputs are torch tensors ``(batch, particles, 4)`` of four-vectors ``(E, px, py, pz)`` in GeV, zero-padded
anywhere along the particle axis, as in :mod:`~reps4lhc_tutor.physics.jets`: a row is a particle when
``E > 0`` and a padded row is all zero. The course takes particles as massless; rows with a mass keep it:
positions are rapidities ``y`` (``= eta`` for massless particles) and :func:`rotate` keeps the transverse mass
``mT`` along with pT, while the other maps are linear in the four-vectors. Every function returns a new
tensor of the same shape, dtype and device, with padding still zero, and never modifies its input. The work
is done in the input's dtype, on its device, batch by batch, so augmentations run on the GPU inside the
training loop. Rows keep their places; new particles go into padded rows (the first free ones), so the
output is no longer ordered by pT.

Randomness comes from ``generator``, a :class:`torch.Generator` on the device of the constituents (``None``:
torch's global generator). The same seed, device and dtype give the same output.

Validation (each function): a ``ValueError`` for a wrong shape, NaN/inf entries, ``E < 0``, padding with a
non-zero momentum, particles with ``pT = 0`` or ``|pz| >= E`` (infinite rapidity), jets without particles, and
bad parameters; a ``TypeError`` for a non-tensor or integer input. The checks synchronise with the GPU once
per call, negligible next to a training step.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch

__all__ = ["KINDS", "augment", "collinear_split", "rotate", "soft_emission", "translate"]

KINDS = ("soft", "collinear", "rotate", "translate")
"""The augmentations known to :func:`augment`, in the order in which it applies them."""


# ---------------------------------------------------------------------------------------------------------
# Checks and coordinates
# ---------------------------------------------------------------------------------------------------------


def _check_constituents(constituents: torch.Tensor) -> torch.Tensor:
    """Check ``(batch, particles, 4)`` constituents; return the mask of real rows, ``(batch, particles)``."""
    if not isinstance(constituents, torch.Tensor):
        raise TypeError(
            f"constituents must be a torch.Tensor, got {type(constituents).__name__}; convert with "
            f"torch.as_tensor(x, dtype=torch.float32)."
        )
    if constituents.ndim != 3 or constituents.shape[-1] != 4:
        raise ValueError(
            f"constituents must have shape (batch, particles, 4) ordered (E, px, py, pz), got "
            f"{tuple(constituents.shape)}; for one jet pass x[None]."
        )
    if not constituents.is_floating_point():
        raise TypeError(f"constituents must be floating point, got {constituents.dtype}; use x.float().")
    finite = torch.isfinite(constituents)
    if not finite.all():
        raise ValueError(
            f"constituents contain {int((~finite).sum())} NaN or infinite entries; drop those jets first "
            f"(torch.isfinite finds them)."
        )
    energy, pz = constituents[..., 0], constituents[..., 3]
    if (energy < 0).any():
        raise ValueError("constituents have E < 0; check the component order (E, px, py, pz).")
    mask = energy > 0
    if (constituents[~mask] != 0).any():
        raise ValueError(
            "rows with E = 0 must be all zero (padding), but some have a non-zero momentum; check the "
            "component order (E, px, py, pz)."
        )
    transverse = torch.hypot(constituents[..., 1], constituents[..., 2])
    if (mask & ((transverse == 0) | (pz.abs() >= energy))).any():
        raise ValueError(
            "some particles have pT = 0 or |pz| >= E (infinite rapidity); drop them, or check the component "
            "order (E, px, py, pz)."
        )
    if not mask.any(dim=1).all():
        empty = int((~mask.any(dim=1)).sum())
        raise ValueError(f"{empty} jets have no particles; drop empty jets before augmenting.")
    return mask


def _check_generator(generator: torch.Generator | None, device: torch.device) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")
    if generator.device.type != device.type:
        raise ValueError(
            f"generator lives on {generator.device} but the constituents on {device}; create it with "
            f"torch.Generator(device=constituents.device).manual_seed(seed)."
        )


def _check_count(value: int, name: str) -> int:
    # bool is an int subclass, but n_split=True is surely a mistake
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return value


def _check_real(value: float, name: str, *, low: float, closed: bool) -> float:
    ok = (
        isinstance(value, numbers.Real) and math.isfinite(value) and (value >= low if closed else value > low)
    )
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>=' if closed else '>'} {low}, got {value!r}.")
    return float(value)


def _per_jet(value: torch.Tensor | float, name: str, like: torch.Tensor, columns: int) -> torch.Tensor:
    """A user-given per-jet parameter as a ``(batch,)`` or ``(batch, columns)`` tensor like ``like``."""
    shape = (len(like),) if columns == 1 else (len(like), columns)
    tensor = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    try:
        tensor = torch.broadcast_to(tensor, shape)
    except RuntimeError:
        raise ValueError(
            f"{name} must broadcast to shape {shape} (one value per jet), got {tuple(tensor.shape)}."
        ) from None
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or infinite entries.")
    return tensor


def _uniform(shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform numbers in ``[0, 1)`` in the dtype and on the device of ``like``."""
    return torch.rand(shape, generator=generator, dtype=like.dtype, device=like.device)


def _collider(p: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """``(pT, y, phi, mT)`` of four-vectors ``(..., 4)``; rows outside ``mask`` get zeros (no 0/0)."""
    energy, px, py, pz = p.unbind(dim=-1)
    transverse = torch.hypot(px, py)
    # mT^2 = (E - pz)(E + pz) has no cancellation between two large squares
    mt = torch.sqrt(((energy - pz) * (energy + pz)).clamp(min=0))
    real = mt > 0 if mask is None else mask
    rapidity = torch.where(real, torch.asinh(pz / torch.where(real, mt, 1.0)), 0.0)
    return transverse, rapidity, torch.atan2(py, px), mt


def _wrap(angle: torch.Tensor) -> torch.Tensor:
    """Angles mapped into ``(-pi, pi]``."""
    wrapped = torch.remainder(angle + math.pi, 2 * math.pi) - math.pi  # [-pi, pi)
    return torch.where(wrapped <= -math.pi, wrapped + 2 * math.pi, wrapped)


def _from_collider(
    transverse: torch.Tensor, rapidity: torch.Tensor, azimuth: torch.Tensor, mt: torch.Tensor
) -> torch.Tensor:
    """Four-vectors ``(..., 4)`` from ``(pT, y, phi, mT)``: ``E = mT cosh y``, ``pz = mT sinh y``."""
    return torch.stack(
        [
            mt * torch.cosh(rapidity),
            transverse * torch.cos(azimuth),
            transverse * torch.sin(azimuth),
            mt * torch.sinh(rapidity),
        ],
        dim=-1,
    )


def _first_free_slots(mask: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the first ``n`` padded rows of each jet ``(batch, n')`` and whether each exists.

    ``n' = min(n, particles)``; an index whose flag is False points at some other row and must not be used.
    """
    k = min(n, mask.shape[1])
    order = torch.argsort(mask.to(torch.int8), dim=1, stable=True)[:, :k]  # padded rows (0) first
    n_free = (~mask).sum(dim=1, keepdim=True)
    return order, torch.arange(k, device=mask.device) < n_free


# ---------------------------------------------------------------------------------------------------------
# Symmetries: rotation and translation in the (y, phi) plane
# ---------------------------------------------------------------------------------------------------------


def rotate(
    constituents: torch.Tensor,
    generator: torch.Generator | None = None,
    angle: torch.Tensor | float | None = None,
) -> torch.Tensor:
    """Rotate every jet in the (y, phi) plane about its pT-weighted centroid.

    Each particle keeps its pT (and transverse mass ``mT``, hence its mass) and moves to
    ``c + R(angle) (x - c)``, where ``x = (y, phi)`` and ``c = sum_i pT_i x_i / sum_i pT_i``; azimuths are
    measured from the jet axis first, so jets at ``phi ~ pi`` are not torn apart. Pairwise ``Delta R``,
    the pT-weighted centroid and every observable built from pT and ``Delta R`` alone (``C_beta``,
    ``p_T D``) are unchanged; the jet mass is not (``cosh Delta y`` and ``cos Delta phi`` differ), but only
    at ``O(Delta R^4)`` for a narrow jet.

    Parameters
    ----------
    constituents : Tensor, shape ``(batch, particles, 4)``
        Zero-padded ``(E, px, py, pz)`` in GeV.
    generator : torch.Generator, optional
        On the device of ``constituents``; draws the angles when ``angle`` is None.
    angle : Tensor, shape ``(batch,)``, or float, optional
        Counter-clockwise angles in radians (from ``y`` towards ``phi``); default uniform in ``[0, 2 pi)``.

    Returns
    -------
    Tensor, shape ``(batch, particles, 4)``
    """
    mask = _check_constituents(constituents)
    _check_generator(generator, constituents.device)
    if angle is None:
        angle = 2 * math.pi * _uniform((len(constituents),), constituents, generator)
    else:
        angle = _per_jet(angle, "angle", constituents, 1)

    transverse, rapidity, azimuth, mt = _collider(constituents, mask)
    _, y_jet, phi_jet, _ = _collider(constituents.sum(dim=1))  # (batch,): the E-scheme axis, as in jets.py
    dy = rapidity - y_jet[:, None]
    dphi = torch.where(mask, _wrap(azimuth - phi_jet[:, None]), 0.0)
    weights = transverse / transverse.sum(dim=1, keepdim=True)  # zero on padding
    cy = (weights * dy).sum(dim=1, keepdim=True)
    cphi = (weights * dphi).sum(dim=1, keepdim=True)

    cos, sin = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    ry, rphi = dy - cy, dphi - cphi
    new_y = y_jet[:, None] + cy + cos * ry - sin * rphi
    new_phi = phi_jet[:, None] + cphi + sin * ry + cos * rphi
    rotated = _from_collider(transverse, new_y, new_phi, mt)
    return torch.where(mask[..., None], rotated, 0.0)


def translate(
    constituents: torch.Tensor,
    scale: float = 1.0,
    generator: torch.Generator | None = None,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """Shift every jet in rapidity and azimuth: ``y -> y + d_y``, ``phi -> phi + d_phi`` for all particles.

    Implemented as what it is, a boost along the beam with rapidity ``d_y`` followed by a rotation about the
    beam by ``d_phi``: an exact Lorentz transformation, so every mass (the jet mass included), pT and
    pairwise ``Delta R`` are unchanged, for massive particles as well. Azimuths come out in ``(-pi, pi]``
    automatically, since ``px, py`` are rotated. Large ``d_y`` can move jets outside a detector's
    acceptance; the augmentation does not care.

    Parameters
    ----------
    constituents : Tensor, shape ``(batch, particles, 4)``
    scale : float
        Standard deviation of ``d_y`` and of ``d_phi``, which are drawn independently per jet from
        ``N(0, scale^2)``; ``>= 0``.
    generator : torch.Generator, optional
    shift : Tensor, shape ``(batch, 2)``, optional
        Given ``(d_y, d_phi)`` per jet instead of random ones (``scale`` is then ignored).

    Returns
    -------
    Tensor, shape ``(batch, particles, 4)``
    """
    _check_constituents(constituents)
    _check_generator(generator, constituents.device)
    scale = _check_real(scale, "scale", low=0.0, closed=True)
    if shift is None:
        shift = scale * torch.randn(
            (len(constituents), 2), generator=generator, dtype=constituents.dtype, device=constituents.device
        )
    else:
        shift = _per_jet(shift, "shift", constituents, 2)
    cosh, sinh = torch.cosh(shift[:, 0])[:, None], torch.sinh(shift[:, 0])[:, None]
    cos, sin = torch.cos(shift[:, 1])[:, None], torch.sin(shift[:, 1])[:, None]
    energy, px, py, pz = constituents.unbind(dim=-1)
    # linear in the four-vectors, so padding rows stay exactly zero
    return torch.stack(
        [cosh * energy + sinh * pz, cos * px - sin * py, sin * px + cos * py, sinh * energy + cosh * pz],
        dim=-1,
    )


# ---------------------------------------------------------------------------------------------------------
# Collinear splitting and soft emission
# ---------------------------------------------------------------------------------------------------------


def collinear_split(
    constituents: torch.Tensor, n_split: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Split up to ``n_split`` random particles per jet into two collinear ones with fractions z, 1 - z.

    A chosen particle ``p`` stays in its row as ``z_> p`` and its partner ``p - z_> p`` goes into a padded
    row, with ``z_> = max(z, 1 - z)`` and ``z`` uniform in ``(0, 1)``. Both pieces point along ``p``, so the
    jet four-momentum and every IRC-safe observable are unchanged, while the multiplicity rises by one per
    split and ``p_T D`` falls. The particles to split are drawn without replacement among the real ones.

    How many splits: ``min(n_split, particles in the jet, padded rows in the jet)``. A jet without enough
    padding gets fewer splits (none if it has no padded row); no particle is ever dropped. Pad the batch with
    zero rows first (``torch.nn.functional.pad(x, (0, 0, 0, n))``) for the full ``n_split``.

    Floating point: ``z_> p`` is rounded and the partner computed as ``p - z_> p``, which is exact because
    ``z_> >= 1/2`` (Sterbenz), so the two rows add up to ``p`` bit for bit and the jet four-momentum
    changes only by the rounding of the sum over particles. The partner's direction is then off by about
    ``eps / z_<`` (``eps`` the dtype's epsilon); when it would come out unphysical (``|pz| >= E`` or
    ``pT = 0``, which needs ``z_<`` near ``eps``) that split is skipped. Observables that weight angles with a
    small power magnify these rounding-level angles: :func:`~reps4lhc_tutor.physics.jets.c_beta` with
    ``beta = 0.2`` moves by up to ~1e-1 (float32) or ~1e-3 (float64) relative, ``beta = 1`` by ~1e-7.

    Parameters
    ----------
    constituents : Tensor, shape ``(batch, particles, 4)``
    n_split : int
        Most particles split per jet, ``>= 0``.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape ``(batch, particles, 4)``
    """
    mask = _check_constituents(constituents)
    _check_generator(generator, constituents.device)
    n_split = _check_count(n_split, "n_split")
    out = constituents.clone()
    if n_split == 0 or constituents.shape[1] == 0:
        return out
    batch, particles = mask.shape
    slots, free = _first_free_slots(mask, n_split)
    k = slots.shape[1]
    # random keys, padding sorted last: the first k columns are k random particles without replacement
    keys = torch.where(mask, _uniform((batch, particles), constituents, generator), 2.0)
    chosen = torch.argsort(keys, dim=1)[:, :k]
    real = torch.arange(k, device=mask.device) < mask.sum(dim=1, keepdim=True)
    z_small = 0.5 * (1 - _uniform((batch, k), constituents, generator))  # (0, 1/2]: z folded at 1/2

    p = torch.gather(constituents, 1, chosen[..., None].expand(-1, -1, 4))  # (batch, k, 4)
    kept = (1 - z_small)[..., None] * p
    partner = p - kept
    physical = (partner[..., 3].abs() < partner[..., 0]) & (torch.hypot(partner[..., 1], partner[..., 2]) > 0)
    ok = free & real & physical

    # boolean indexing: only valid (jet, row) pairs are written, never a row that is not ours
    jet = torch.arange(batch, device=mask.device)[:, None].expand(batch, k)
    out[jet[ok], chosen[ok]] = kept[ok]
    out[jet[ok], slots[ok]] = partner[ok]
    return out


def soft_emission(
    constituents: torch.Tensor,
    n_soft: int,
    pt_fraction: float,
    radius: float = 0.4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Add up to ``n_soft`` soft massless particles per jet near its axis, keeping the jet's scalar pT sum.

    Each soft particle ``k`` gets ``pT_k = pt_fraction * u_k * S`` with ``u_k`` uniform in ``(0, 1]`` and
    ``S = sum_i pT_i`` the scalar pT sum of the jet (within about 1% of the jet's vector pT for ``R = 0.4``
    jets), and a position drawn uniformly in the disc ``Delta R < radius`` around the jet axis (the E-scheme
    axis of :mod:`~reps4lhc_tutor.physics.jets`). The original particles' four-momenta are then all multiplied
    by ``1 - sum_k pt_fraction u_k``, so that ``S`` is exactly kept: the momentum fractions ``z_i`` that
    normalise the IRC-safe observables stay near their original values. Those observables change by
    ``O(pt_fraction)`` and return to their original values as ``pt_fraction -> 0``; the multiplicity rises by
    one per soft particle whatever ``pt_fraction``.

    Soft particles go into padded rows: a jet gets ``min(n_soft, padded rows)`` of them (pad first for more).

    Parameters
    ----------
    constituents : Tensor, shape ``(batch, particles, 4)``
    n_soft : int
        Most soft particles per jet, ``>= 0``.
    pt_fraction : float
        Largest pT of a soft particle as a fraction of ``S``; ``> 0`` with ``n_soft * pt_fraction < 1``, so
        that the rescaling factor stays positive.
    radius : float
        Radius of the disc in (y, phi), ``> 0``; the jet radius (0.4 for the quark/gluon jets).
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape ``(batch, particles, 4)``
    """
    mask = _check_constituents(constituents)
    _check_generator(generator, constituents.device)
    n_soft = _check_count(n_soft, "n_soft")
    pt_fraction = _check_real(pt_fraction, "pt_fraction", low=0.0, closed=False)
    radius = _check_real(radius, "radius", low=0.0, closed=False)
    if n_soft * pt_fraction >= 1:
        raise ValueError(
            f"n_soft * pt_fraction must be < 1 so that the original particles keep a positive share of the "
            f"jet pT, got {n_soft} * {pt_fraction}; lower one of them."
        )
    if n_soft == 0 or constituents.shape[1] == 0:
        return constituents.clone()
    batch = len(constituents)
    slots, free = _first_free_slots(mask, n_soft)
    k = slots.shape[1]

    transverse, _, _, _ = _collider(constituents, mask)
    total = transverse.sum(dim=1, keepdim=True)  # S, (batch, 1)
    _, y_jet, phi_jet, _ = _collider(constituents.sum(dim=1))
    u = 1 - _uniform((batch, k), constituents, generator)  # (0, 1]: no zero-pT particle
    r = radius * torch.sqrt(_uniform((batch, k), constituents, generator))  # sqrt: uniform in the disc area
    psi = 2 * math.pi * _uniform((batch, k), constituents, generator)
    soft_pt = pt_fraction * u * total
    ok = free & (soft_pt > 0)  # a pT that underflows to zero would be a padding row, not a particle
    soft_pt = torch.where(ok, soft_pt, 0.0)
    y = y_jet[:, None] + r * torch.cos(psi)
    phi = phi_jet[:, None] + r * torch.sin(psi)
    soft = _from_collider(soft_pt, y, phi, soft_pt)  # massless: mT = pT

    keep = 1 - (soft_pt / total).sum(dim=1)  # the originals' share of S, > 0 by the check above
    out = constituents * keep[:, None, None]  # padding stays zero
    jet = torch.arange(batch, device=mask.device)[:, None].expand(batch, k)
    out[jet[ok], slots[ok]] = soft[ok]
    return out


# ---------------------------------------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------------------------------------


def augment(
    constituents: torch.Tensor,
    kinds: Iterable[str] | str,
    generator: torch.Generator | None = None,
    *,
    scale: float = 1.0,
    n_split: int | None = None,
    n_soft: int | None = None,
    pt_fraction: float | None = None,
    radius: float = 0.4,
) -> torch.Tensor:
    """Apply the augmentations named in ``kinds``, each once, in the fixed order of :data:`KINDS`.

    The order is ``soft``, ``collinear``, ``rotate``, ``translate``, whatever the order of ``kinds``: the
    IRC changes act on the jet as measured (and soft particles may then be split), and the two symmetry
    maps come last so that they move the new particles with the rest; rotation and translation commute. For
    a training loop fix the options once, e.g.
    ``view = functools.partial(augment, kinds=("rotate", "collinear"), n_split=5)``, then call
    ``view(batch, generator=g)`` twice for a positive pair.

    Parameters
    ----------
    constituents : Tensor, shape ``(batch, particles, 4)``
    kinds : str or iterable of str
        A subset of :data:`KINDS`; an empty one returns a copy.
    generator : torch.Generator, optional
        Shared by all steps, drawn from in the order above.
    scale
        For ``"translate"`` (:func:`translate`).
    n_split
        Required for ``"collinear"`` (:func:`collinear_split`).
    n_soft, pt_fraction, radius
        ``n_soft`` and ``pt_fraction`` required for ``"soft"`` (:func:`soft_emission`).

    Returns
    -------
    Tensor, shape ``(batch, particles, 4)``
    """
    chosen = {kinds} if isinstance(kinds, str) else set(kinds)
    unknown = chosen - set(KINDS)
    if unknown:
        raise ValueError(f"unknown augmentations {sorted(unknown)}; choose among {list(KINDS)}.")
    if "collinear" in chosen and n_split is None:
        raise ValueError("augment with 'collinear' needs n_split (most particles split per jet).")
    if "soft" in chosen and (n_soft is None or pt_fraction is None):
        raise ValueError("augment with 'soft' needs n_soft and pt_fraction (see soft_emission).")
    out = constituents
    _check_constituents(out)  # also for an empty kinds, so that bad input never passes silently
    for kind in KINDS:
        if kind not in chosen:
            continue
        if kind == "soft":
            out = soft_emission(out, n_soft, pt_fraction, radius, generator)
        elif kind == "collinear":
            out = collinear_split(out, n_split, generator)
        elif kind == "rotate":
            out = rotate(out, generator)
        else:
            out = translate(out, scale, generator)
    return out.clone() if out is constituents else out
