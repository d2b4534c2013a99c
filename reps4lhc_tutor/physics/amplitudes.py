r"""Exact tree-level ``n``-gluon amplitudes: Berends–Giele recursion, helicity sums and colour sums.

The amplitudes are computed numerically from Feynman rules, so every number can be checked against
independent formulas (Parke–Taylor, the textbook ``gg -> gg`` cross section) and the data scale to any size.

Conventions
-----------
Kinematics
    ``momenta`` has shape ``(events, n, 4)``, ordered ``(E, px, py, pz)`` in GeV with metric ``(+,-,-,-)``,
    ``n = 4 ... 7`` gluons. Particles 0 and 1 are *incoming* and carry their physical momenta (``E > 0``);
    particles ``2 ... n-1`` are outgoing, and ``p0 + p1 = p2 + ... + p(n-1)``. This is the layout of
    :func:`reps4lhc_tutor.physics.phasespace.rambo`. Conservation and masslessness are checked to a relative
    tolerance :data:`MOMENTUM_RTOL`.
Helicities
    ``helicities`` are physical: the helicity each gluon carries into (particles 0, 1) or out of the
    scattering. Internally every particle is outgoing: an incoming gluon with momentum ``p`` and helicity
    ``h`` becomes an outgoing one with momentum ``k = -p`` and helicity *label* ``-h``. Statements such as
    "MHV" and "all-plus" refer to these all-outgoing labels.
Spinors
    A massless momentum with ``E > 0`` factorises as ``p^0 + p.sigma = lambda lambda~^T`` with
    ``lambda~ = conj(lambda)``, where ``lambda = (sqrt(E + pz), (px + i py) / sqrt(E + pz))`` for ``pz >= 0``
    and ``lambda = ((px - i py) / sqrt(E - pz), sqrt(E - pz))`` otherwise (the same spinor up to a phase,
    free of 0/0 along the ``-z`` beam). Brackets: ``<ij> = lambda_i^1 lambda_j^2 - lambda_i^2 lambda_j^1``,
    ``[ij] = lambda~_j^1 lambda~_i^2 - lambda~_j^2 lambda~_i^1``, so that ``<ij>[ji] = 2 p_i.p_j``.
    A crossed momentum ``k = -p`` gets the spinors ``i lambda_p`` and ``i lambda~_p`` (this phase choice makes
    ``<ij>[ji] = 2 k_i.k_j`` hold for all signs of the energies).
Polarisation vectors
    ``eps^+(k; q)`` is the four-vector whose matrix ``eps^0 + eps.sigma`` is
    ``sqrt(2) lambda_q lambda~_k^T / <qk>``, and ``eps^-(k; q) = conj(eps^+(k; q))``. Both are orthogonal to
    ``k`` and to the reference momentum ``q``, ``eps^+.eps^- = -1``, and ``eps^+`` of a gluon moving along
    ``+z`` is ``-(0, 1, -i, 0) / sqrt(2)``: the complex conjugate of the textbook positive-helicity vector,
    as an outgoing gluon requires. With the crossed spinors above, ``eps^h(-p; q) = eps^h(p; q)``, so an
    incoming gluon of helicity ``h`` gets ``eps^{-h}(p; q) = conj(eps^h(p; q))``, the physical incoming
    wavefunction. The default reference of a gluon points along the coordinate axis most opposite to its
    momentum, ``q = (1, -sign(p_a) e_a)`` with ``a`` the largest of ``|px|, |py|, |pz|``, so that
    ``q.p >= E (1 + 1/sqrt(3))``: far from the singular ``q || p``, which keeps rounding errors small (a
    neighbouring gluon's momentum as reference loses up to three more digits). References depend on the
    event only, never on the colour ordering, so colour sums and amplitude relations hold between calls.
Colour-ordered amplitudes
    Colour-ordered Feynman rules of L. Dixon, hep-ph/9601359 (three-gluon vertex ``i / sqrt(2)``, four-gluon
    vertex ``i``, propagator ``-i g_{mu nu} / P^2``, Feynman gauge), with coupling ``g_s = 1``. With the
    spinors above the MHV amplitudes come out as Parke–Taylor's
    ``A(..., i^-, ..., j^-, ...) = i <ij>^4 / (<12><23>...<n1>)``.
Colour
    Generators ``T^a`` of SU(N) in the fundamental representation normalised to ``Tr(T^a T^b) = delta^ab``
    (``T^a = lambda^a / sqrt(2)`` for SU(3)), so ``[T^a, T^b] = i sqrt(2) f^abc T^c`` with the standard
    structure constants ``f^abc``. The full amplitude is
    ``M = sum_{sigma in S_n / Z_n} Tr(T^{a_sigma(1)} ... T^{a_sigma(n)}) A(sigma(1), ..., sigma(n))``; in the
    adjoint basis of Del Duca, Dixon and Maltoni (hep-ph/9910563, "DDM") it reads
    ``M = sum_{sigma in S_{n-2}} (F^{a_sigma(2)} ... F^{a_sigma(n-1)})_{a_1 a_n} A(1, sigma, n)`` with
    ``(F^a)_{bc} = i sqrt(2) f^{bac}``, which the colour sums here use (:func:`colour_matrix`). Formulas
    count gluons from 1, the code from 0: the DDM orderings are ``(0, sigma, n-1)``.
Units
    ``M`` has mass dimension ``4 - n`` and ``|M|^2`` is in ``GeV^(8 - 2n)``.

Algorithm and cost
------------------
Berends–Giele currents are memoised over ordered blocks of gluons and shared by all colour orderings, and
each current carries only the helicities of its own gluons, so one pass yields every helicity configuration
(see ``_Recursion``). :func:`squared_amplitude` needs the ``(n-2)!`` DDM orderings only; the leading-colour
sum over all ``(n-1)!`` orderings follows from them through the Kleiss–Kuijf relations. Measured with
numpy on a 2-core CPU (``benchmarks/bench_amplitudes.py``, full colour): about 160,000 events/s for
``n = 4``, 17,000 for ``n = 5``, 1,500 for ``n = 6`` and 100 for ``n = 7``; with ``device="cuda"`` on an
H100, about 500,000, 320,000, 77,000 and 5,000.

Precision (float64)
-------------------
Colour-ordered MHV amplitudes agree with Parke–Taylor to about 1e-15 (median) and 1e-12 in 99 % of
random helicity configurations and events; amplitudes suppressed by a small invariant (a gluon close to a
beam with a vanishing numerator ``<ij>^4``) lose more digits to cancellations between diagrams, down to
about 1e-10 relative. Squared matrix elements, dominated by the large helicity amplitudes, are
reproduced under Lorentz transformations and permutations of the gluons to about 1e-14 (median) and
1e-12 (worst of a few hundred events).

References: F.A. Berends and W.T. Giele, Nucl. Phys. B306 (1988) 759; S.J. Parke and T.R. Taylor, PRL 56
(1986) 2459; M.L. Mangano and S.J. Parke, Phys. Rept. 200 (1991) 301; L. Dixon, hep-ph/9601359;
V. Del Duca, L. Dixon and F. Maltoni, Nucl. Phys. B571 (2000) 51, hep-ph/9910563.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import cache
from numbers import Integral
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # torch is imported only when a device is requested
    import torch

__all__ = [
    "GLUON_COUNTS",
    "MOMENTUM_RTOL",
    "berends_giele_amplitude",
    "colour_matrix",
    "colour_ordered_amplitude",
    "ddm_orderings",
    "helicity_configurations",
    "polarisation_vectors",
    "squared_amplitude",
]

GLUON_COUNTS: tuple[int, ...] = (4, 5, 6, 7)
"""Supported numbers of gluons ``n`` (``gg -> gg`` up to ``gg -> 5g``)."""

MOMENTUM_RTOL = 1e-8
"""Largest accepted violation of momentum conservation (relative to ``E0 + E1``) and of masslessness
(``|p^2|`` relative to ``E^2``)."""

_SQRT2 = math.sqrt(2.0)
_MEMO_BUDGET_BYTES = 256 * 2**20  # memoised currents and products of one batch of events in squared_amplitude
_MAX_BATCH = 8192  # more events per batch only add cache misses
_COLOUR_BUDGET_BYTES = 2**30  # memory allowed for computing an exact colour matrix

# ---------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------


def _check_momenta(momenta: ArrayLike) -> NDArray[np.float64]:
    """Return ``momenta`` as a float64 array ``(events, n, 4)`` with checked kinematics; raise otherwise."""
    arr = np.asarray(momenta)
    if arr.dtype != np.float64:
        raise TypeError(
            f"momenta must be a float64 array (conservation and masslessness are checked to "
            f"{MOMENTUM_RTOL:g} relative), got dtype {arr.dtype}; convert with np.asarray(p, np.float64)."
        )
    if arr.ndim != 3 or arr.shape[-1] != 4:
        raise ValueError(
            f"momenta must have shape (events, n, 4), ordered (E, px, py, pz), got shape {arr.shape}; for a "
            f"single event use p[None]."
        )
    n = arr.shape[1]
    if n not in GLUON_COUNTS:
        raise ValueError(
            f"momenta hold {n} gluons per event; supported are n = {GLUON_COUNTS[0]} ... {GLUON_COUNTS[-1]} "
            f"(gg -> gg ... gg -> 5g)."
        )
    finite = np.isfinite(arr).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"momenta have NaN or infinite entries in {bad.size} events (first: {bad[:5]}).")
    energy = arr[..., 0]
    if not (energy > 0).all():
        raise ValueError(
            "momenta must have positive energies: particles 0 and 1 are incoming with their physical "
            "momenta (not negated), particles 2 ... n-1 outgoing; check the order (E, px, py, pz)."
        )
    imbalance = np.abs(arr[:, 0] + arr[:, 1] - arr[:, 2:].sum(axis=1)).max(axis=-1) / (
        energy[:, 0] + energy[:, 1]
    )
    if (imbalance > MOMENTUM_RTOL).any():
        raise ValueError(
            f"momenta violate momentum conservation p0 + p1 = p2 + ... + p(n-1) by up to "
            f"{imbalance.max():.2e} relative to E0 + E1 (tolerance {MOMENTUM_RTOL:g}) in "
            f"{int(np.count_nonzero(imbalance > MOMENTUM_RTOL))} events; particles 0 and 1 must be incoming."
        )
    mass2 = np.abs(energy**2 - np.sum(arr[..., 1:] ** 2, axis=-1)) / energy**2
    if (mass2 > MOMENTUM_RTOL).any():
        raise ValueError(
            f"momenta are not massless: |p^2| / E^2 reaches {mass2.max():.2e} (tolerance "
            f"{MOMENTUM_RTOL:g}); gluons need E = |p|."
        )
    return arr


def _check_references(reference: ArrayLike, momenta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Check reference momenta: float64, shaped like ``momenta``, light-like, ``E > 0``, not along ``p_i``."""
    ref = np.asarray(reference)
    if ref.dtype != np.float64:
        raise TypeError(f"reference must be a float64 array, got dtype {ref.dtype}.")
    if ref.shape != momenta.shape:
        raise ValueError(
            f"reference must have the shape of momenta, (events, n, 4) = {momenta.shape}, one light-like "
            f"reference momentum per gluon; got shape {ref.shape}."
        )
    if not np.isfinite(ref).all() or not (ref[..., 0] > 0).all():
        raise ValueError("reference momenta must be finite with positive energies.")
    mass2 = np.abs(ref[..., 0] ** 2 - np.sum(ref[..., 1:] ** 2, axis=-1)) / ref[..., 0] ** 2
    if (mass2 > MOMENTUM_RTOL).any():
        raise ValueError(f"reference momenta must be light-like: |q^2| / E^2 reaches {mass2.max():.2e}.")
    overlap = (ref[..., 0] * momenta[..., 0] - np.sum(ref[..., 1:] * momenta[..., 1:], axis=-1)) / (
        ref[..., 0] * momenta[..., 0]
    )
    if (overlap < MOMENTUM_RTOL).any():
        raise ValueError(
            "a reference momentum is parallel to its gluon's momentum (q.p = 0), where the polarisation "
            "vector is undefined; choose another reference."
        )
    return ref


def _check_helicities(helicities: ArrayLike, n: int) -> NDArray[np.int64]:
    hel = np.asarray(helicities)
    if hel.shape != (n,) or hel.dtype.kind not in "iu" or not np.isin(hel, (-1, 1)).all():
        raise ValueError(
            f"helicities must be a sequence of n = {n} integers, each +1 or -1, got {helicities!r}."
        )
    return hel.astype(np.int64)


def _check_order(order: Sequence[int] | None, n: int) -> tuple[int, ...]:
    if order is None:
        return tuple(range(n))
    result = tuple(order)
    if not all(isinstance(i, Integral) for i in result) or sorted(result) != list(range(n)):
        raise ValueError(f"order must be a permutation of the particle indices 0 ... {n - 1}, got {order!r}.")
    return tuple(int(i) for i in result)


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be an integer, got {type(n).__name__}.")
    if n not in GLUON_COUNTS:
        raise ValueError(f"n = {n} gluons is not supported; choose one of {GLUON_COUNTS}.")
    return int(n)


def _check_n_colours(n_colours: object) -> int:
    if isinstance(n_colours, bool) or not isinstance(n_colours, Integral):
        raise TypeError(f"n_colours must be an integer, got {type(n_colours).__name__}.")
    if n_colours < 2:
        raise ValueError(f"n_colours must be >= 2 (SU(N) with N >= 2), got {n_colours}.")
    return int(n_colours)


# ---------------------------------------------------------------------------------------------------------
# External wavefunctions
# ---------------------------------------------------------------------------------------------------------


def _spinors(p: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Holomorphic spinors ``lambda`` of massless momenta with ``E > 0``: ``(..., 4) -> (..., 2)``."""
    energy, px, py, pz = np.moveaxis(p, -1, 0)
    forward = pz >= 0
    root = np.sqrt(np.where(forward, energy + pz, energy - pz))  # >= sqrt(E) > 0: no 0/0 on either beam
    transverse = px + 1j * py
    lam = np.empty((*p.shape[:-1], 2), dtype=np.complex128)
    lam[..., 0] = np.where(forward, root, transverse.conj() / root)
    lam[..., 1] = np.where(forward, transverse / root, root)
    return lam


def _plus_polarisation(p: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.complex128]:
    """``eps^+(p; q)`` from the matrix ``sqrt(2) lambda_q lambda~_p^T / <qp>``; ``(..., 4) -> (..., 4)``."""
    lam_p, lam_q = _spinors(p), _spinors(q)
    angle = lam_q[..., 0] * lam_p[..., 1] - lam_q[..., 1] * lam_p[..., 0]  # <qp>, nonzero for q not || p
    m = _SQRT2 * lam_q[..., :, None] * lam_p.conj()[..., None, :] / angle[..., None, None]
    # Invert m = v^0 + v.sigma.
    return np.stack(
        [
            (m[..., 0, 0] + m[..., 1, 1]) / 2,
            (m[..., 0, 1] + m[..., 1, 0]) / 2,
            1j * (m[..., 0, 1] - m[..., 1, 0]) / 2,
            (m[..., 0, 0] - m[..., 1, 1]) / 2,
        ],
        axis=-1,
    )


def _default_references(momenta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Default references ``(..., 4) -> (..., 4)``: ``(1, -sign(p_a) e_a)`` along the largest ``|p_a|``."""
    spatial = momenta[..., 1:]
    axis = np.argmax(np.abs(spatial), axis=-1)[..., None]
    reference = np.zeros_like(momenta)
    reference[..., 0] = 1.0
    np.put_along_axis(reference[..., 1:], axis, -np.sign(np.take_along_axis(spatial, axis, axis=-1)), axis=-1)
    return reference


def _labels(helicities: NDArray[np.int64]) -> NDArray[np.int64]:
    """All-outgoing helicity labels ``(..., n)``: incoming particles 0 and 1 flip their helicity."""
    labels = helicities.copy()
    labels[..., :2] *= -1
    return labels


def polarisation_vectors(
    momenta: ArrayLike, helicities: ArrayLike, reference: ArrayLike | None = None
) -> NDArray[np.complex128]:
    """Gluon polarisation vectors in the all-outgoing convention (see the module docstring).

    Parameters
    ----------
    momenta : array, shape ``(events, n, 4)``
        Physical momenta, particles 0 and 1 incoming.
    helicities : sequence of int, length ``n``
        Physical helicities, each ``+1`` or ``-1``.
    reference : array, shape ``(events, n, 4)``, optional
        Light-like reference momenta with ``E > 0``, one per gluon, none parallel to its gluon; by default
        the coordinate axis most opposite to each gluon (module docstring). Amplitudes do not depend on this
        choice (gauge invariance).

    Returns
    -------
    array, shape ``(events, n, 4)``, complex128
        ``eps^{l_i}(p_i; q_i)`` with the all-outgoing label ``l_i`` (``-h_i`` for ``i = 0, 1``, else ``h_i``).
    """
    momenta = _check_momenta(momenta)
    return _polarisations(momenta, _check_helicities(helicities, momenta.shape[1]), reference)


def _polarisations(
    momenta: NDArray[np.float64], helicities: NDArray[np.int64], reference: ArrayLike | None
) -> NDArray[np.complex128]:
    """:func:`polarisation_vectors` for checked momenta and helicities."""
    ref = _default_references(momenta) if reference is None else _check_references(reference, momenta)
    plus = _plus_polarisation(momenta, ref)
    return np.where(_labels(helicities)[:, None] > 0, plus, plus.conj())


# ---------------------------------------------------------------------------------------------------------
# Berends–Giele recursion
# ---------------------------------------------------------------------------------------------------------


def _dot(a: NDArray, b: NDArray) -> NDArray:
    """Minkowski product over the *first* axis, ``(4, ...) x (4, ...) -> (...)``, without conjugation."""
    return a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3]


class _Recursion:
    """Berends–Giele currents of a batch of events, memoised over ordered tuples of particle indices.

    A current ``J(T)`` of an ordered tuple ``T`` of adjacent particles depends only on ``T``, so every colour
    ordering that contains ``T`` as a block reuses it.

    Helicities are recycled as well: gluon ``i`` may come with several polarisation vectors (one per
    helicity), held along its own array axis ``1 + i``. A current then carries one axis per gluon, of size 1
    for gluons outside ``T``, so it depends only on the helicities inside ``T``; numpy broadcasting combines
    the currents of disjoint blocks into all helicity configurations of their union. Every array keeps the
    Lorentz index first and the events last: a current has shape ``(4, v_0, ..., v_{n-1}, events)``.

    Parameters
    ----------
    momenta : array, shape ``(n, 4, events)``
        All-outgoing momenta (incoming ones negated), real.
    wavefunctions : sequence of n arrays, shapes ``(4, v_i, events)``
        The ``v_i`` polarisation vectors of gluon ``i`` (complex).
    """

    def __init__(self, momenta: NDArray[np.float64], wavefunctions: Sequence[NDArray[np.complex128]]) -> None:
        n, events = momenta.shape[0], momenta.shape[-1]
        self._momenta = momenta.reshape(n, 4, *(1,) * n, events)
        self._wavefunctions = []
        for i, eps in enumerate(wavefunctions):
            shape = [1] * n
            shape[i] = eps.shape[1]
            self._wavefunctions.append(eps.reshape(4, *shape, events))
        self._momentum: dict[tuple[int, ...], NDArray[np.float64]] = {}
        self._current: dict[tuple[int, ...], NDArray[np.complex128]] = {}
        # Scalar products that several currents or orderings share; the others are computed where used.
        self._jj: dict[tuple[tuple[int, ...], tuple[int, ...]], NDArray[np.complex128]] = {}
        self._pj: dict[tuple[tuple[int, ...], tuple[int, ...]], NDArray[np.complex128]] = {}

    def momentum(self, block: tuple[int, ...]) -> NDArray[np.float64]:
        """Total momentum ``P(T)``, shape ``(4, 1, ..., 1, events)``."""
        if len(block) == 1:
            return self._momenta[block[0]]
        if block not in self._momentum:
            self._momentum[block] = self.momentum(block[:-1]) + self._momenta[block[-1]]
        return self._momentum[block]

    def current(self, block: tuple[int, ...]) -> NDArray[np.complex128]:
        """Off-shell current ``J(T)`` including its propagator ``1 / P(T)^2``; helicity axes of ``T``."""
        if len(block) == 1:
            return self._wavefunctions[block[0]]
        if block not in self._current:
            p = self.momentum(block)
            self._current[block] = self._vertex_sum(block) / _dot(p, p)
        return self._current[block]

    def jj(self, a: tuple[int, ...], b: tuple[int, ...]) -> NDArray[np.complex128]:
        """``J(a).J(b)`` for adjacent blocks, broadcast over their helicity axes; memoised."""
        key = (a, b) if a <= b else (b, a)
        if key not in self._jj:
            self._jj[key] = _dot(self.current(a), self.current(b))
        return self._jj[key]

    def pj(self, a: tuple[int, ...], b: tuple[int, ...]) -> NDArray[np.complex128]:
        """``P(a).J(b)`` with the helicity axes of ``b``; memoised (used with ``b`` the closing gluon)."""
        if (a, b) not in self._pj:
            self._pj[(a, b)] = _dot(self.momentum(a), self.current(b))
        return self._pj[(a, b)]

    def _vertex_sum(self, block: tuple[int, ...]) -> NDArray[np.complex128]:
        """Vertices summed over the splittings of ``T``, times the ``-i`` of the propagator numerator.

        Three-gluon vertex contracted with ``J1 = J(T1)``, ``J2 = J(T2)`` (momenta ``P1``, ``P2``):
        ``[(J1.J2)(P1 - P2) + 2 (P2.J1) J2 - 2 (P1.J2) J1] / sqrt(2)``, where current conservation
        ``P1.J1 = P2.J2 = 0`` (it holds when every external vector obeys ``eps_i.k_i = 0``) dropped the terms
        ``(P1.J1) J2 - (P2.J2) J1`` of the Feynman rule; four-gluon vertex with
        ``J1, J2, J3``: ``[2 (J1.J3) J2 - (J2.J3) J1 - (J1.J2) J3] / 2``. Each vector ``J`` collects its
        scalar coefficients first, so that it is multiplied once. Shape: the helicity axes of ``T``.
        """
        coefficient: dict[tuple[int, ...], NDArray[np.complex128]] = {}

        def add(sub: tuple[int, ...], value: NDArray[np.complex128]) -> None:
            coefficient[sub] = coefficient[sub] + value if sub in coefficient else value

        total: NDArray[np.complex128] | float = 0.0
        for k in range(1, len(block)):
            b1, b2 = block[:k], block[k:]
            p1, p2 = self.momentum(b1), self.momentum(b2)
            j1, j2 = self.current(b1), self.current(b2)
            total = total + self.jj(b1, b2) / _SQRT2 * (p1 - p2)
            add(b2, _SQRT2 * _dot(p2, j1))
            add(b1, -_SQRT2 * _dot(p1, j2))
        for k, m in itertools.combinations(range(1, len(block)), 2):
            b1, b2, b3 = block[:k], block[k:m], block[m:]
            add(b2, _dot(self.current(b1), self.current(b3)))
            add(b1, -self.jj(b2, b3) / 2)
            add(b3, -self.jj(b1, b2) / 2)
        for sub, c in coefficient.items():
            total = total + c * self.current(sub)
        return total

    def amplitude(self, order: tuple[int, ...]) -> NDArray[np.complex128]:
        """Colour-ordered amplitude ``A(order)``, shape ``(v_0, ..., v_{n-1}, events)``.

        The last particle closes the current of the others: ``A = i eps_last . (vertex sum of the rest)``,
        written with scalar products only, so the final vector current is never formed. Products of the two
        halves of ``order[:-1]`` belong to this ordering alone and are not memoised.
        """
        head, last = order[:-1], (order[-1],)
        total: NDArray[np.complex128] | float = 0.0
        for k in range(1, len(head)):
            b1, b2 = head[:k], head[k:]
            j1, j2 = self.current(b1), self.current(b2)
            three = (
                _dot(j1, j2) * (self.pj(b1, last) - self.pj(b2, last))
                + 2 * _dot(self.momentum(b2), j1) * self.jj(b2, last)
                - 2 * _dot(self.momentum(b1), j2) * self.jj(b1, last)
            )
            total = total + three / _SQRT2
        for k, m in itertools.combinations(range(1, len(head)), 2):
            b1, b2, b3 = head[:k], head[k:m], head[m:]
            four = (
                2 * _dot(self.current(b1), self.current(b3)) * self.jj(b2, last)
                - self.jj(b2, b3) * self.jj(b1, last)
                - self.jj(b1, b2) * self.jj(b3, last)
            )
            total = total + four / 2
        return 1j * total


def _outgoing(momenta: NDArray[np.float64]) -> NDArray[np.float64]:
    """All-outgoing momenta in the recursion's layout: ``(events, n, 4) -> (n, 4, events)``."""
    k = momenta.transpose(1, 2, 0).copy()
    k[:2] *= -1
    return k


def _check_wavefunctions(wavefunctions: ArrayLike, momenta: NDArray[np.float64]) -> NDArray[np.complex128]:
    """Check external vectors ``(events, n, 4)``: finite and transverse, ``eps_i.p_i = 0``; as complex128."""
    arr = np.asarray(wavefunctions)
    if arr.dtype.kind not in "fc":
        raise TypeError(f"wavefunctions must be a complex (or real) array, got dtype {arr.dtype}.")
    if arr.shape != momenta.shape:
        raise ValueError(
            f"wavefunctions must have the shape of momenta, (events, n, 4) = {momenta.shape}, got "
            f"{arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise ValueError("wavefunctions contain NaN or infinite entries.")
    overlap = np.abs(arr[..., 0] * momenta[..., 0] - np.sum(arr[..., 1:] * momenta[..., 1:], axis=-1))
    if (overlap > MOMENTUM_RTOL * momenta[..., 0] * np.abs(arr).max(axis=-1)).any():
        raise ValueError(
            "wavefunctions must be transverse to their gluon's momentum, eps_i.p_i = 0: the recursion relies "
            "on the current conservation that follows from it."
        )
    return arr.astype(np.complex128)


def _check_finite_result(values: NDArray, what: str) -> None:
    """Raise if some entry of ``values``, shape ``(events,)``, is not finite (a vanishing propagator)."""
    finite = np.isfinite(values)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise FloatingPointError(
            f"{what} is not finite in {bad.size} events (first: {bad[:5]}): some invariant P^2 of adjacent "
            f"gluons vanishes (soft or collinear gluons); apply generation cuts (phasespace.Cuts)."
        )


def berends_giele_amplitude(
    momenta: ArrayLike, wavefunctions: ArrayLike, order: Sequence[int] | None = None
) -> NDArray[np.complex128]:
    """Colour-ordered amplitude for arbitrary external wavefunctions (the recursion itself).

    :func:`colour_ordered_amplitude` calls this with :func:`polarisation_vectors`; passing other vectors
    tests the recursion, e.g. the Ward identity: replacing one polarisation vector by its gluon's momentum
    gives zero.

    Parameters
    ----------
    momenta : array, shape ``(events, n, 4)``
        Physical momenta, particles 0 and 1 incoming (crossed internally).
    wavefunctions : array, shape ``(events, n, 4)``
        One vector per gluon in the all-outgoing convention, e.g. from :func:`polarisation_vectors`; each
        must be transverse to its gluon's momentum (``eps_i.p_i = 0``, checked).
    order : sequence of int, optional
        Colour ordering, a permutation of ``0 ... n-1``; ``A(order[0], ..., order[n-1])``. Default: particle
        order.

    Returns
    -------
    array, shape ``(events,)``, complex128
        Amplitude with ``g_s = 1`` in ``GeV^(4 - n)``.
    """
    momenta = _check_momenta(momenta)
    eps = _check_wavefunctions(wavefunctions, momenta)
    return _amplitude(momenta, eps, _check_order(order, momenta.shape[1]))


def _amplitude(
    momenta: NDArray[np.float64], wavefunctions: NDArray[np.complex128], order: tuple[int, ...]
) -> NDArray[np.complex128]:
    """:func:`berends_giele_amplitude` for checked arguments."""
    recursion = _Recursion(_outgoing(momenta), wavefunctions.transpose(1, 2, 0)[:, :, None, :])
    with np.errstate(divide="ignore", invalid="ignore"):  # a vanishing P^2 is reported just below
        result = recursion.amplitude(order).reshape(len(momenta))
    _check_finite_result(result, "the amplitude")
    return result


def colour_ordered_amplitude(
    momenta: ArrayLike,
    helicities: ArrayLike,
    order: Sequence[int] | None = None,
    *,
    reference: ArrayLike | None = None,
) -> NDArray[np.complex128]:
    """Colour-ordered tree amplitude ``A(order)`` by Berends–Giele recursion, vectorised over events.

    Conventions (crossing, spinor phases, polarisation vectors, Feynman rules, ``g_s = 1``) are in the
    module docstring. For fixed momenta, helicities and references, all orderings use the same external
    wavefunctions, so cyclicity ``A(1, 2, ..., n) = A(2, ..., n, 1)``, reflection
    ``A(n, ..., 1) = (-1)^n A(1, ..., n)`` and the U(1)-decoupling and Kleiss–Kuijf relations hold exactly
    between calls. Amplitudes with all helicity labels equal or all but one equal vanish.

    Parameters
    ----------
    momenta : array, shape ``(events, n, 4)``
        Physical momenta (float64), ``n = 4 ... 7``, particles 0 and 1 incoming.
    helicities : sequence of int, length ``n``
        Physical helicities, ``+1`` or ``-1`` each (incoming ones are flipped when crossed).
    order : sequence of int, optional
        Colour ordering, a permutation of ``0 ... n-1``; default particle order.
    reference : array, shape ``(events, n, 4)``, optional
        Light-like reference momenta of the polarisation vectors (see :func:`polarisation_vectors`).

    Returns
    -------
    array, shape ``(events,)``, complex128
        ``A`` in ``GeV^(4 - n)``.
    """
    momenta = _check_momenta(momenta)
    n = momenta.shape[1]
    eps = _polarisations(momenta, _check_helicities(helicities, n), reference)
    return _amplitude(momenta, eps, _check_order(order, n))


# ---------------------------------------------------------------------------------------------------------
# Colour
# ---------------------------------------------------------------------------------------------------------


def ddm_orderings(n: int) -> tuple[tuple[int, ...], ...]:
    """The ``(n-2)!`` colour orderings ``(0, sigma, n-1)`` of the DDM basis, as in :func:`colour_matrix`.

    Parameters
    ----------
    n : int
        Number of gluons, in :data:`GLUON_COUNTS`.

    Returns
    -------
    tuple of tuple of int
        Orderings with particle 0 first and particle ``n-1`` last, the middle permutations in lexicographic
        order.
    """
    n = _check_n(n)
    return tuple((0, *middle, n - 1) for middle in itertools.permutations(range(1, n - 1)))


@cache
def _structure_constants(n_colours: int) -> NDArray[np.float64]:
    """Structure constants ``f^abc`` of SU(N), shape ``(N^2 - 1,) * 3``, from ``[t^a, t^b] = i f^abc t^c``.

    Uses the generalised Gell-Mann matrices ``t^a = lambda^a / 2`` with ``Tr(t^a t^b) = delta^ab / 2``.
    """
    n = n_colours
    generators = []
    for j, k in itertools.combinations(range(n), 2):
        sym = np.zeros((n, n), dtype=np.complex128)
        sym[j, k] = sym[k, j] = 0.5
        anti = np.zeros((n, n), dtype=np.complex128)
        anti[j, k], anti[k, j] = -0.5j, 0.5j
        generators += [sym, anti]
    for size in range(1, n):
        diag = np.zeros(n)
        diag[:size], diag[size] = 1.0, -size
        generators.append(np.diag(diag / np.sqrt(2 * size * (size + 1))).astype(np.complex128))
    t = np.stack(generators)
    commutator = np.einsum("aij,bjk->abik", t, t) - np.einsum("bij,ajk->abik", t, t)
    f = -2j * np.einsum("abij,cji->abc", commutator, t)  # f^abc = -2 i Tr([t^a, t^b] t^c)
    return np.ascontiguousarray(f.real)


@cache
def _full_colour_matrix(n: int, n_colours: int) -> NDArray[np.float64]:
    f = _structure_constants(n_colours)
    dim, m = len(f), n - 2
    if 2 * dim ** (m + 1) * 8 > _COLOUR_BUDGET_BYTES:
        raise ValueError(
            f"the exact colour matrix for n = {n} and N = {n_colours} would need "
            f"{2 * dim ** (m + 1) * 8 / 2**30:.1f} GiB; use colour='leading', a smaller N or fewer gluons."
        )
    # With X(b_1 ... b_m) = f^{b_1} ... f^{b_m} and (f^b)_ij = f^{ibj}, the entry (sigma, tau) is
    # sum_b Tr(X(b o sigma)^T X(b o tau)), which depends only on the relative permutation tau^-1 sigma
    # (relabel the summed colours); a permutation and its inverse give the same value (the matrix is
    # symmetric). Compute each value once, one row index i at a time to bound the memory:
    # rows[b_1, ..., b_m, j] = X(b)_ij.
    adjoint = f.transpose(1, 0, 2)  # adjoint[b, i, j] = (f^b)_ij
    inverse = {r: tuple(int(k) for k in np.argsort(r)) for r in itertools.permutations(range(m))}
    relabels = [r for r in inverse if r <= inverse[r]]
    overlap = dict.fromkeys(relabels, 0.0)
    for i in range(dim):
        rows = adjoint[:, i, :]
        for _ in range(m - 1):
            rows = np.tensordot(rows, adjoint, axes=([-1], [1]))
        for relabel in relabels:
            overlap[relabel] += float(np.sum(rows.transpose(*relabel, m) * rows))
    overlap.update({inverse[r]: value for r, value in overlap.items()})
    orderings = [order[1:-1] for order in ddm_orderings(n)]
    matrix = np.empty((len(orderings), len(orderings)))
    for row, sigma in enumerate(orderings):
        for col, tau in enumerate(orderings):
            position = {particle: p for p, particle in enumerate(tau)}
            matrix[row, col] = overlap[tuple(position[particle] for particle in sigma)]
    # (F^a)_bc = i sqrt(2) f^bac, so conj(F ... F) (F ... F) = 2^m (f ... f)(f ... f).
    matrix *= 2.0**m
    matrix.flags.writeable = False
    return matrix


@cache
def _kleiss_kuijf_matrix(n: int) -> NDArray[np.int64]:
    """Integer matrix ``K``, shape ``((n-1)!, (n-2)!)``, with ``A(0, rho) = K @ A_DDM`` for all ``rho``.

    Kleiss–Kuijf relations: ``A(0, alpha, n-1, beta) = (-1)^|beta| sum_sigma A(0, sigma, n-1)``, the sum
    running over the shuffles ``sigma`` of ``alpha`` with the reversed ``beta``.
    """
    index = {order: i for i, order in enumerate(ddm_orderings(n))}
    rows = []
    for rho in itertools.permutations(range(1, n)):
        split = rho.index(n - 1)
        alpha, beta = rho[:split], rho[split + 1 :][::-1]
        row = np.zeros(len(index), dtype=np.int64)
        length = len(alpha) + len(beta)
        for slots in itertools.combinations(range(length), len(alpha)):
            a, b = iter(alpha), iter(beta)
            merged = [next(a) if slot in slots else next(b) for slot in range(length)]
            row[index[(0, *merged, n - 1)]] += (-1) ** len(beta)
        rows.append(row)
    return np.stack(rows)


def colour_matrix(n: int, n_colours: int = 3, colour: str = "full") -> NDArray[np.float64]:
    """Colour matrix ``C`` of the DDM basis: ``sum over colours |M|^2 = Re(A^dagger C A)`` at ``g_s = 1``.

    ``A`` is the vector of colour-ordered amplitudes ``A(0, sigma, n-1)`` in the order of
    :func:`ddm_orderings`.

    * ``"full"``: exact, ``C_{sigma tau} = sum_colours conj((F...F)_{a_0 a_{n-1}}) (F...F)_{a_0 a_{n-1}}``,
      contracted exactly from the SU(N) structure constants (cached).
    * ``"leading"``: the leading-colour approximation
      ``N^(n-2) (N^2 - 1) sum_{rho in S_{n-1}} |A(0, rho)|^2`` over all ``(n-1)!`` orderings with particle 0
      first (the non-cyclic orderings ``S_n / Z_n``), written as a quadratic form of the DDM amplitudes
      through the Kleiss–Kuijf relations: ``C = N^(n-2) (N^2 - 1) K^T K``. Exact for ``n <= 5``; for larger
      ``n`` it misses terms suppressed by ``1 / N^2``.

    Parameters
    ----------
    n : int
        Number of gluons, in :data:`GLUON_COUNTS`.
    n_colours : int
        ``N`` of SU(N), >= 2.
    colour : {"full", "leading"}

    Returns
    -------
    array, shape ``((n-2)!, (n-2)!)``
        Real, symmetric, read-only.
    """
    n, n_colours = _check_n(n), _check_n_colours(n_colours)
    if colour == "full":
        return _full_colour_matrix(n, n_colours)
    if colour == "leading":
        kk = _kleiss_kuijf_matrix(n)
        matrix = float(n_colours ** (n - 2) * (n_colours**2 - 1)) * (kk.T @ kk).astype(np.float64)
        matrix.flags.writeable = False
        return matrix
    raise ValueError(f"colour must be 'full' or 'leading', got {colour!r}.")


# ---------------------------------------------------------------------------------------------------------
# Squared matrix elements
# ---------------------------------------------------------------------------------------------------------


def helicity_configurations(n: int) -> NDArray[np.int64]:
    """Physical helicities summed over by :func:`squared_amplitude`: one of each parity pair ``(h, -h)``.

    Amplitudes whose all-outgoing labels are all equal or all but one equal vanish at tree level and are
    skipped. Parity maps ``h -> -h`` and ``|A(-h)| = |A(h)|`` for every ordering (the polarisation vectors
    are complex conjugated, everything else in the recursion is real), so only configurations whose
    particle 0 has label ``-1`` (physical helicity ``+1``) are kept, each standing for two.

    Parameters
    ----------
    n : int
        Number of gluons, in :data:`GLUON_COUNTS`.

    Returns
    -------
    array of int, shape ``(2^(n-1) - n - 1, n)``
        Entries ``+1`` or ``-1``.
    """
    n = _check_n(n)
    labels = np.array(list(itertools.product((-1, 1), repeat=n - 1)), dtype=np.int64)
    labels = np.concatenate([-np.ones((len(labels), 1), dtype=np.int64), labels], axis=1)
    n_minus = np.count_nonzero(labels < 0, axis=1)
    return _labels(labels[(n_minus >= 2) & (n_minus <= n - 2)])


class _Backend:
    """Array library for :func:`squared_amplitude`: numpy (``device=None``) or torch on ``device``.

    :class:`_Recursion` uses only arithmetic, indexing and ``reshape``, which both libraries share; this
    class supplies the three operations that differ.
    """

    def __init__(self, device: str | torch.device | None) -> None:
        if device is None:
            self._torch = None
            return
        try:
            import torch
        except ImportError as error:  # torch is a dependency of the package, but physics/ runs without it
            raise ImportError("device=... needs PyTorch: pip install torch, or pass device=None") from error
        self._torch = torch
        self._device = torch.device(device)

    def array(self, values: NDArray) -> NDArray | torch.Tensor:
        if self._torch is None:
            return values
        return self._torch.from_numpy(np.array(values)).to(self._device)  # a copy: values may be read-only

    def stack(self, arrays: Sequence) -> NDArray | torch.Tensor:
        return np.stack(arrays) if self._torch is None else self._torch.stack(arrays)

    def numpy(self, values: NDArray | torch.Tensor) -> NDArray:
        return values if self._torch is None else values.cpu().numpy()


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


def _batch_size(n: int) -> int:
    """Events per batch of :func:`squared_amplitude`: the memoised arrays fit ``_MEMO_BUDGET_BYTES``."""
    # Blocks of k gluons come in about 2 (n-2)!/(n-2-k)! orderings (with and without gluon 0), each with up
    # to 2^k helicity variants of a complex four-vector; scalar products roughly double that (measured).
    vectors = sum(2 * math.perm(n - 2, k) * 2**k for k in range(1, n - 1))
    return int(min(_MAX_BATCH, max(16, _MEMO_BUDGET_BYTES // (2.5 * vectors * 4 * 16))))


def squared_amplitude(
    momenta: ArrayLike,
    colour: str = "full",
    n_colours: int = 3,
    average: bool = False,
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
) -> NDArray[np.float64]:
    r"""Tree-level ``|M|^2`` of ``gg -> (n-2) g``, summed over helicities and colours.

    Conventions
    -----------
    * ``g_s = 1``: multiply by ``g_s^(2n - 4) = (4 pi alpha_s)^(n - 2)`` for physical values, with the usual
      ``alpha_s = g_s^2 / (4 pi)``. The colour-ordered rules (module docstring) pair the generator
      normalisation ``Tr(T^a T^b) = delta^ab`` with their vertex factors so that this holds, as the ``n = 4``
      result below confirms.
    * ``average=False``: the *sum* over the helicities and colours of all ``n`` gluons. ``average=True``:
      the initial-state average, the sum divided by ``4`` (two helicities of each incoming gluon) and by
      ``(N^2 - 1)^2`` (their colours). No symmetry factor ``1 / (n-2)!`` for identical final-state gluons is
      included: apply it when integrating over phase space.
    * Helicity sum over the configurations of :func:`helicity_configurations`, each counted twice (parity).
    * ``colour="full"``: exact colour sum in the DDM basis with the exact colour matrix
      (:func:`colour_matrix`); ``colour="leading"``:
      ``N^(n-2) (N^2 - 1) sum_{rho in S_{n-1}} |A(0, rho)|^2``, exact for ``n <= 5``.
    * Units: ``GeV^(8 - 2n)`` (dimensionless for ``n = 4``). Metric ``(+,-,-,-)``.

    For ``n = 4`` the result reproduces ``sum |M|^2 / 256 = (9/2) (3 - tu/s^2 - su/t^2 - st/u^2)``.

    Parameters
    ----------
    momenta : array, shape ``(events, n, 4)``
        Physical momenta (float64), ``n = 4 ... 7``; particles 0 and 1 incoming.
    colour : {"full", "leading"}
    n_colours : int
        ``N`` of SU(N).
    average : bool
        Average over the initial-state helicities and colours instead of summing.
    device : str or torch.device, optional
        ``None`` (default): numpy on the CPU. Otherwise the same recursion runs on torch tensors
        (complex128) on this device, e.g. ``"cuda"``; results agree to rounding.
    batch_size : int, optional
        Events per batch; the default keeps the memoised arrays near 256 MiB. On a GPU larger batches are
        faster: ``2**16`` events for ``n <= 6`` (about 13 GiB for ``n = 6``), ``2**13`` for ``n = 7``
        (about 16 GiB).

    Returns
    -------
    array, shape ``(events,)``, float64
    """
    momenta = _check_momenta(momenta)
    n = momenta.shape[1]
    matrix = colour_matrix(n, n_colours, colour)
    orderings = ddm_orderings(n)
    # The recursion runs over all labels of gluons 1 ... n-1 at once (gluon 0 fixed to label -1), label
    # -1 at index 0 and +1 at index 1 of each gluon's axis; pick the configurations to sum over.
    labels = _labels(helicity_configurations(n))
    keep = (labels[:, 1:] > 0) @ (2 ** np.arange(n - 2, -1, -1))  # flat index in C order
    batch = _batch_size(n) if batch_size is None else _check_batch_size(batch_size)
    backend = _Backend(device)
    matrix_b, keep_b = backend.array(matrix.astype(np.complex128)), backend.array(keep)
    result = np.empty(len(momenta))
    for start in range(0, len(momenta), batch):
        p = momenta[start : start + batch]
        plus = _plus_polarisation(p, _default_references(p)).transpose(1, 2, 0)  # (n, 4, events)
        minus = plus.conj()
        wavefunctions = [minus[0][:, None], *(np.stack([minus[i], plus[i]], axis=1) for i in range(1, n))]
        recursion = _Recursion(backend.array(_outgoing(p)), [backend.array(w) for w in wavefunctions])
        with np.errstate(divide="ignore", invalid="ignore"):  # a vanishing P^2 is reported below
            amplitudes = backend.stack(
                [recursion.amplitude(order).reshape(2 ** (n - 1), len(p))[keep_b] for order in orderings]
            )  # (orderings, configs, events)
            coloured = (matrix_b @ amplitudes.reshape(len(orderings), -1)).reshape(amplitudes.shape)
            summed = 2 * (amplitudes.conj() * coloured).real.sum((0, 1))
        result[start : start + batch] = backend.numpy(summed)
    _check_finite_result(result, "|M|^2")
    if average:
        result /= 4 * (n_colours**2 - 1) ** 2
    return result
