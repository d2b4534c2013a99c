"""Tests of reps4lhc_tutor.physics.amplitudes against independent physics, in float64.

Independent references: the textbook gg -> gg cross section, Parke–Taylor MHV amplitudes (their moduli from
Minkowski products alone, their phases from spinors written here), the colour sum in the trace basis with
explicit SU(3) generators, Casimir values of the colour matrix, and symmetries (Lorentz, Bose, gauge).
The torch backend is checked against numpy on the CPU, and on a GPU where one is present.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from reps4lhc_tutor.physics import amplitudes as amp
from reps4lhc_tutor.physics import lorentz, phasespace

SQRT_S = 1000.0


def events(n: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` RAMBO events of gg -> (n-2) g at 1 TeV that pass the default generation cuts."""
    return phasespace.generate(n - 2, SQRT_S, count, np.random.default_rng(seed))


def outgoing(p: np.ndarray) -> np.ndarray:
    """All-outgoing momenta: the incoming particles 0 and 1 negated."""
    k = p.copy()
    k[:, :2] *= -1
    return k


def mandelstam(k: np.ndarray, i: int, j: int) -> np.ndarray:
    """``s_ij = (k_i + k_j)^2 = 2 k_i.k_j`` for massless all-outgoing momenta ``(events, n, 4)``."""
    return 2 * (k[:, i, 0] * k[:, j, 0] - np.sum(k[:, i, 1:] * k[:, j, 1:], axis=-1))


def physical(labels) -> list[int]:
    """Physical helicities of all-outgoing labels (incoming particles 0 and 1 flip)."""
    return [-h if i < 2 else h for i, h in enumerate(labels)]


def angle_brackets(k: np.ndarray) -> np.ndarray:
    """``<ij>`` in the documented phase convention, shape ``(events, n, n)``, written independently.

    ``lambda = (sqrt(E + pz), (px + i py) / sqrt(E + pz))`` for ``pz >= 0``, else
    ``((px - i py) / sqrt(E - pz), sqrt(E - pz))``; a negative-energy momentum ``k = -p`` gets ``i lambda_p``.
    """
    sign = np.sign(k[..., 0])
    e, px, py, pz = np.moveaxis(k * sign[..., None], -1, 0)
    up = np.sqrt(np.abs(e + pz))
    down = np.sqrt(np.abs(e - pz))
    with np.errstate(divide="ignore", invalid="ignore"):  # the branch not taken may divide by zero
        first = np.where(pz >= 0, up, (px - 1j * py) / down)
        second = np.where(pz >= 0, (px + 1j * py) / up, down)
    phase = np.where(sign < 0, 1j, 1.0)
    first, second = first * phase, second * phase
    return first[:, :, None] * second[:, None, :] - second[:, :, None] * first[:, None, :]


def parke_taylor(k: np.ndarray, negative: tuple[int, int], order: tuple[int, ...]) -> np.ndarray:
    """``i <ab>^4 / (<o1 o2> <o2 o3> ... <on o1>)`` for the MHV labels with minus at ``negative = (a, b)``."""
    brackets = angle_brackets(k)
    a, b = negative
    cycle = np.prod([brackets[:, i, j] for i, j in zip(order, order[1:] + order[:1], strict=True)], axis=0)
    return 1j * brackets[:, a, b] ** 4 / cycle


def parke_taylor_modulus2(k: np.ndarray, pair: tuple[int, int], order: tuple[int, ...]) -> np.ndarray:
    """``|A|^2 = s_ab^4 / prod |s_{o_i o_(i+1)}|`` of an (anti-)MHV amplitude, from Minkowski products."""
    cycle = np.prod(
        [np.abs(mandelstam(k, i, j)) for i, j in zip(order, order[1:] + order[:1], strict=True)], 0
    )
    return mandelstam(k, *pair) ** 4 / cycle


def random_light_like(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    direction = rng.standard_normal((*shape, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    energy = rng.uniform(10, 100, shape)[..., None]
    return np.concatenate([energy, energy * direction], axis=-1)


# ---------------------------------------------------------------------------------------------------------
# Squared matrix elements against known results
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_colours", [2, 3, 4])
@pytest.mark.parametrize("colour", ["full", "leading"])
def test_gg_to_gg_matches_textbook_cross_section(colour, n_colours):
    """Averaged |M|^2 = 4 N^2 / (N^2 - 1) (3 - tu/s^2 - su/t^2 - st/u^2), i.e. 9/2 (...) for SU(3)."""
    p = events(4, 50)
    k = outgoing(p)
    s, t, u = mandelstam(k, 0, 1), mandelstam(k, 0, 2), mandelstam(k, 0, 3)
    expected = 4 * n_colours**2 / (n_colours**2 - 1) * (3 - t * u / s**2 - s * u / t**2 - s * t / u**2)
    averaged = amp.squared_amplitude(p, colour=colour, n_colours=n_colours, average=True)
    np.testing.assert_allclose(averaged, expected, rtol=1e-12)
    summed = amp.squared_amplitude(p, colour=colour, n_colours=n_colours)
    np.testing.assert_allclose(summed, 4 * (n_colours**2 - 1) ** 2 * averaged, rtol=1e-14)
    if n_colours == 3:
        np.testing.assert_allclose(
            summed / 256, 4.5 * (3 - t * u / s**2 - s * u / t**2 - s * t / u**2), 1e-12
        )


@pytest.mark.parametrize("n_colours", [2, 3, 4])
@pytest.mark.parametrize("n", [4, 5])
def test_leading_colour_is_exact_up_to_five_gluons(n, n_colours):
    p = events(n, 40, seed=n)
    full = amp.squared_amplitude(p, colour="full", n_colours=n_colours)
    np.testing.assert_allclose(amp.squared_amplitude(p, "leading", n_colours), full, rtol=1e-12)


def test_full_to_leading_ratio_for_six_gluons_scatters_around_one():
    """Subleading colour first enters at n = 6, suppressed by 1/N^2 ~ 0.1."""
    p = events(6, 200, seed=6)
    ratio = amp.squared_amplitude(p, "full") / amp.squared_amplitude(p, "leading")
    assert abs(ratio.mean() - 1) < 1 / 9, ratio.mean()
    assert 1e-3 < ratio.std() < 1 / 9, ratio.std()  # not exact any more, but close
    assert ((ratio > 0.5) & (ratio < 2)).all()


def test_helicity_sum_equals_explicit_sum_over_all_helicities():
    """squared_amplitude (parity, recycled currents, Kleiss–Kuijf) against a plain double loop for n = 5:
    all 32 helicities, leading colour from all 24 orderings with gluon 0 first."""
    n, p = 5, events(5, 6, seed=11)
    total = np.zeros(len(p))
    for labels in itertools.product((-1, 1), repeat=n):
        hel = physical(labels)
        for rest in itertools.permutations(range(1, n)):
            total += np.abs(amp.colour_ordered_amplitude(p, hel, (0, *rest))) ** 2
    total *= 3 ** (n - 2) * (3**2 - 1)
    np.testing.assert_allclose(amp.squared_amplitude(p, "leading"), total, rtol=1e-11)


# ---------------------------------------------------------------------------------------------------------
# Colour-ordered amplitudes
# ---------------------------------------------------------------------------------------------------------


def test_five_gluons_only_mhv_and_anti_mhv_survive_and_match_parke_taylor():
    n, p = 5, events(5, 20, seed=5)
    k = outgoing(p)
    order = (0, 3, 1, 4, 2)
    scale = parke_taylor_modulus2(k, (0, 1), order).mean()
    for labels in itertools.product((-1, 1), repeat=n):
        a2 = np.abs(amp.colour_ordered_amplitude(p, physical(labels), order)) ** 2
        minus = tuple(i for i, h in enumerate(labels) if h < 0)
        plus = tuple(i for i, h in enumerate(labels) if h > 0)
        if len(minus) == 2:
            np.testing.assert_allclose(a2, parke_taylor_modulus2(k, minus, order), rtol=1e-10)
        elif len(plus) == 2:
            np.testing.assert_allclose(a2, parke_taylor_modulus2(k, plus, order), rtol=1e-10)
        else:  # all equal or all but one equal
            assert a2.max() < 1e-24 * scale


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_mhv_amplitudes_equal_parke_taylor_with_phase(n):
    """The module's spinor phases (documented) give exactly A = i <ab>^4 / (<12> ... <n1>)."""
    p = events(n, 10, seed=20 + n)
    k = outgoing(p)
    rng = np.random.default_rng(n)
    cases = [((0, 1), tuple(range(n))), ((1, n - 1), tuple(range(n)))]
    cases += [(tuple(sorted(rng.choice(n, 2, replace=False))), tuple(rng.permutation(n))) for _ in range(3)]
    for negative, order in cases:
        labels = [-1 if i in negative else 1 for i in range(n)]
        a = amp.colour_ordered_amplitude(p, physical(labels), order)
        np.testing.assert_allclose(a, parke_taylor(k, negative, order), rtol=1e-10)


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_all_plus_and_one_minus_vanish(n):
    p = events(n, 10, seed=30 + n)
    mhv = np.abs(amp.colour_ordered_amplitude(p, physical([-1, -1] + [1] * (n - 2)))).min()
    for sign in (1, -1):  # and the parity images: all minus, one plus
        for labels in [[1] * n, *([-1 if i == j else 1 for i in range(n)] for j in range(n))]:
            a = amp.colour_ordered_amplitude(p, physical([sign * h for h in labels]))
            assert np.abs(a).max() < 1e-12 * mhv


@pytest.fixture(scope="module")
def six_gluons():
    """Events, an NMHV helicity configuration (three minus labels) and the physical helicities."""
    labels = [-1, 1, -1, 1, -1, 1]
    return events(6, 8, seed=60), physical(labels)


def test_cyclicity_and_reflection(six_gluons):
    p, hel = six_gluons
    n = p.shape[1]
    for order in [tuple(range(n)), (0, 2, 4, 1, 5, 3)]:
        a = amp.colour_ordered_amplitude(p, hel, order)
        assert np.abs(a).min() > 0
        for shift in range(1, n):
            rotated = order[shift:] + order[:shift]
            np.testing.assert_allclose(amp.colour_ordered_amplitude(p, hel, rotated), a, rtol=1e-10)
        np.testing.assert_allclose(
            amp.colour_ordered_amplitude(p, hel, order[::-1]), (-1) ** n * a, rtol=1e-10
        )


@pytest.mark.parametrize("n", [5, 6, 7])
def test_u1_decoupling(n):
    """Sum over the positions of gluon 0 relative to the others vanishes (photon decoupling)."""
    p = events(n, 6, seed=70 + n)
    hel = physical([-1, 1, -1, 1, -1, 1, 1][:n])
    others = tuple(range(1, n))
    terms = [amp.colour_ordered_amplitude(p, hel, (*others[:j], 0, *others[j:])) for j in range(n - 1)]
    scale = np.abs(terms).max(axis=0)
    assert (np.abs(np.sum(terms, axis=0)) < 1e-10 * scale).all()


@pytest.mark.parametrize("n", [6, 7])
def test_reference_momenta_do_not_matter(n):
    p = events(n, 6, seed=80 + n)
    hel = physical([-1, -1, 1, -1, 1, 1, 1][:n])
    order = tuple(np.random.default_rng(n).permutation(n))
    default = amp.colour_ordered_amplitude(p, hel, order)
    other = random_light_like(np.random.default_rng(1), p.shape[:2])
    np.testing.assert_allclose(
        amp.colour_ordered_amplitude(p, hel, order, reference=other), default, rtol=1e-9
    )


@pytest.mark.parametrize("n", [4, 6, 7])
def test_ward_identity(n):
    """Replacing any polarisation vector by its gluon's momentum gives zero."""
    p = events(n, 6, seed=90 + n)
    hel = physical([-1, 1, -1, 1, -1, 1, 1][:n])
    eps = amp.polarisation_vectors(p, hel)
    scale = np.abs(amp.berends_giele_amplitude(p, eps)).min()
    for i in range(n):
        longitudinal = eps.copy()
        longitudinal[:, i] = p[:, i] / p[:, i, :1]  # normalised like eps (|eps^0| <= 1)
        assert np.abs(amp.berends_giele_amplitude(p, longitudinal)).max() < 1e-10 * scale


def mdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bilinear Minkowski product over the last axis (no complex conjugation)."""
    return a[..., 0] * b[..., 0] - np.sum(a[..., 1:] * b[..., 1:], axis=-1)


def test_polarisation_vectors_are_transverse_normalised_and_crossed():
    p = events(5, 10, seed=3)
    hel = [1, -1, 1, 1, -1]
    eps = amp.polarisation_vectors(p, hel)
    flipped = amp.polarisation_vectors(p, [-h for h in hel])
    np.testing.assert_allclose(mdot(eps, p), 0, atol=1e-12 * SQRT_S)
    np.testing.assert_allclose(mdot(eps, eps.conj()), -1, rtol=1e-12)
    np.testing.assert_allclose(mdot(eps, eps), 0, atol=1e-12)
    np.testing.assert_allclose(flipped, eps.conj(), rtol=1e-14)  # parity conjugates them
    # Gluon 2 moving along +z: eps^+ = -(0, 1, -i, 0) / sqrt(2) (outgoing positive helicity).
    q = np.array([[[500.0, 0, 0, 500], [500, 0, 0, -500], [500, 0, 0, 500], [500, 0, 0, -500]]])
    eps_z = amp.polarisation_vectors(q, [1, 1, 1, 1])
    np.testing.assert_allclose(eps_z[0, 2], -np.array([0, 1, -1j, 0]) / np.sqrt(2), atol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Colour sums
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_colour_matrix_is_symmetric_positive_with_casimir_diagonal(n):
    """Diagonal: sum_a |(F ... F)_{a_1 a_n}|^2 = (2N)^(n-2) (N^2 - 1), since sum_b F^b F^b = 2 N (C_A = N)."""
    matrix = amp.colour_matrix(n)
    m = math.factorial(n - 2)
    assert matrix.shape == (m, m) and not matrix.flags.writeable
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 6 ** (n - 2) * 8, rtol=1e-12)
    assert np.linalg.eigvalsh(matrix).min() > -1e-9 * matrix.max()
    assert len(amp.ddm_orderings(n)) == m


def su3_generators() -> np.ndarray:
    """Gell-Mann matrices / sqrt(2): Tr(T^a T^b) = delta^ab, shape (8, 3, 3)."""
    gm = np.zeros((8, 3, 3), dtype=complex)
    gm[0][0, 1] = gm[0][1, 0] = 1
    gm[1][0, 1], gm[1][1, 0] = -1j, 1j
    gm[2][0, 0], gm[2][1, 1] = 1, -1
    gm[3][0, 2] = gm[3][2, 0] = 1
    gm[4][0, 2], gm[4][2, 0] = -1j, 1j
    gm[5][1, 2] = gm[5][2, 1] = 1
    gm[6][1, 2], gm[6][2, 1] = -1j, 1j
    gm[7] = np.diag([1, 1, -2]) / np.sqrt(3)
    return gm / np.sqrt(2)


def test_full_colour_matches_trace_basis_for_six_gluons(six_gluons):
    """sum_colours |sum_sigma Tr(T^a_sigma ...) A(sigma)|^2 over all 8^6 colours: the DDM quadratic form."""
    p, hel = six_gluons
    p, n = p[:3], 6
    t = su3_generators()
    traces = np.einsum("aij,bjk,ckl,dlm,emo,foi->abcdef", t, t, t, t, t, t, optimize=True)  # Tr(T^a ... T^f)
    total = np.zeros((len(p), *traces.shape), dtype=complex)
    for rest in itertools.permutations(range(1, n)):  # S_6 / Z_6: gluon 0 first
        order = (0, *rest)
        # Tr(T^{a_order[0]} ... ) as a function of (a_0, ..., a_5): axis j of traces holds gluon order[j].
        colour_factor = traces.transpose(np.argsort(order))
        total += amp.colour_ordered_amplitude(p, hel, order)[:, *(None,) * n] * colour_factor
    trace_basis = np.sum(np.abs(total) ** 2, axis=tuple(range(1, n + 1)))
    ddm = np.stack([amp.colour_ordered_amplitude(p, hel, order) for order in amp.ddm_orderings(n)])
    quadratic = np.einsum("oe,op,pe->e", ddm.conj(), amp.colour_matrix(n), ddm).real
    np.testing.assert_allclose(quadratic, trace_basis, rtol=1e-10)


def test_leading_colour_matrix_equals_sum_over_all_orderings(six_gluons):
    """Kleiss–Kuijf: the leading-colour quadratic form of DDM amplitudes is N^4 (N^2-1) sum |A(0, rho)|^2."""
    p, hel = six_gluons
    n = 6
    direct = sum(
        np.abs(amp.colour_ordered_amplitude(p, hel, (0, *rest))) ** 2
        for rest in itertools.permutations(range(1, n))
    )
    ddm = np.stack([amp.colour_ordered_amplitude(p, hel, order) for order in amp.ddm_orderings(n)])
    quadratic = np.einsum("oe,op,pe->e", ddm.conj(), amp.colour_matrix(n, colour="leading"), ddm).real
    np.testing.assert_allclose(quadratic, 3**4 * 8 * direct, rtol=1e-10)


def test_helicity_configurations():
    for n in amp.GLUON_COUNTS:
        configs = amp.helicity_configurations(n)
        assert configs.shape == (2 ** (n - 1) - n - 1, n)
        as_set = {tuple(h) for h in configs}
        assert len(as_set) == len(configs)
        assert not as_set & {tuple(-h) for h in configs}  # one of each parity pair
        labels = configs * np.array([-1, -1] + [1] * (n - 2))
        assert ((labels < 0).sum(axis=1) >= 2).all() and ((labels > 0).sum(axis=1) >= 2).all()


def test_parity_flips_amplitude_moduli():
    p = events(6, 5, seed=4)
    hel = [1, 1, -1, 1, -1, -1]
    for order in [(0, 1, 2, 3, 4, 5), (0, 3, 5, 1, 2, 4)]:
        a = amp.colour_ordered_amplitude(p, hel, order)
        np.testing.assert_allclose(
            amp.colour_ordered_amplitude(p, [-h for h in hel], order), -a.conj(), 1e-10
        )


# ---------------------------------------------------------------------------------------------------------
# Symmetries of |M|^2
# ---------------------------------------------------------------------------------------------------------

EVENTS_FOR_SYMMETRIES = {4: 20, 5: 20, 6: 8, 7: 3}


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_lorentz_invariance(n):
    p = events(n, EVENTS_FOR_SYMMETRIES[n], seed=100 + n)
    lam = lorentz.random_lorentz_transformation(np.random.default_rng(n), max_rapidity=2.0, size=len(p))
    boosted = lorentz.lorentz_transform(p, lam[:, None])
    assert not np.allclose(boosted, p)
    np.testing.assert_allclose(amp.squared_amplitude(boosted), amp.squared_amplitude(p), rtol=1e-9)


@pytest.mark.parametrize("n", [4, 5, 6, 7])
def test_bose_symmetry(n):
    """|M|^2 is symmetric under permutations of the final-state gluons and under swapping the beams."""
    p = events(n, EVENTS_FOR_SYMMETRIES[n], seed=110 + n)
    reference = amp.squared_amplitude(p)
    rng = np.random.default_rng(n)
    final = list(rng.permutation(np.arange(2, n)))
    while final == list(range(2, n)):
        final = list(rng.permutation(np.arange(2, n)))
    for perm in [[0, 1, *final], [1, 0, *range(2, n)]]:
        np.testing.assert_allclose(amp.squared_amplitude(p[:, perm]), reference, rtol=1e-10)


def test_values_are_positive_with_the_right_dimension():
    """|M|^2 has mass dimension 8 - 2n: rescaling all momenta by c multiplies it by c^(8 - 2n)."""
    p = events(6, 5, seed=7)
    m2 = amp.squared_amplitude(p)
    assert (m2 > 0).all()
    np.testing.assert_allclose(amp.squared_amplitude(3 * p), 3.0 ** (8 - 12) * m2, rtol=1e-12)


def test_batches_agree_with_single_events():
    p = events(5, 40, seed=8)
    one_by_one = np.concatenate([amp.squared_amplitude(p[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(amp.squared_amplitude(p)[:5], one_by_one, rtol=1e-13)
    assert amp.squared_amplitude(p[:0]).shape == (0,)


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.parametrize(
    "device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not cuda_available(), reason="no GPU"))]
)
def test_torch_backend_agrees_with_numpy(device):
    pytest.importorskip("torch")
    for n in (4, 6, 7):
        p = events(n, 12, seed=120 + n)
        expected = amp.squared_amplitude(p, "full")
        np.testing.assert_allclose(
            amp.squared_amplitude(p, "full", device=device, batch_size=5), expected, 1e-12
        )
        leading = amp.squared_amplitude(p, "leading", device=device)
        np.testing.assert_allclose(leading, amp.squared_amplitude(p, "leading"), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def good():
    return events(5, 4, seed=9)


@pytest.mark.parametrize("n_particles", [3, 8])
def test_unsupported_number_of_gluons(n_particles):
    p = np.ones((2, n_particles, 4))
    with pytest.raises(ValueError, match=r"supported are n = 4 \.\.\. 7"):
        amp.squared_amplitude(p)
    with pytest.raises(ValueError, match="not supported"):
        amp.colour_matrix(n_particles)


def test_momentum_conservation_violated(good):
    bad = good.copy()
    bad[1, 3, 1] += 1e-5 * SQRT_S
    with pytest.raises(ValueError, match=r"momentum conservation.*in 1 events"):
        amp.squared_amplitude(bad)
    bad[1, 3, 1] = good[1, 3, 1] + 1e-10 * SQRT_S  # within the tolerance
    amp.squared_amplitude(bad)


def test_masslessness_violated(good):
    with pytest.raises(ValueError, match="not massless"):
        amp.squared_amplitude(good * [1 + 1e-6, 1, 1, 1])  # conserves momentum, gives every gluon a mass


def test_negated_incoming_momenta_are_rejected(good):
    with pytest.raises(ValueError, match=r"positive energies.*incoming"):
        amp.squared_amplitude(outgoing(good))


@pytest.mark.parametrize(
    ("transform", "error", "match"),
    [
        (lambda p: p[0], ValueError, r"shape \(events, n, 4\)"),
        (lambda p: p[..., :3], ValueError, r"shape \(events, n, 4\)"),
        (lambda p: p.astype(np.float32), TypeError, "float64"),
        (lambda p: p.astype(np.complex128), TypeError, "float64"),
        (lambda p: np.round(p).astype(np.int64), TypeError, "float64"),
        (lambda p: np.where(np.arange(4) == 2, np.nan, p), ValueError, "NaN"),
    ],
)
def test_bad_momenta(good, transform, error, match):
    with pytest.raises(error, match=match):
        amp.squared_amplitude(transform(good))
    with pytest.raises(error, match=match):
        amp.colour_ordered_amplitude(transform(good), [1, 1, -1, -1, 1])


def test_bad_arguments(good):
    with pytest.raises(ValueError, match="helicities"):
        amp.colour_ordered_amplitude(good, [1, 1, -1, -1])
    with pytest.raises(ValueError, match="helicities"):
        amp.colour_ordered_amplitude(good, [1, 1, -1, 0, 1])
    with pytest.raises(ValueError, match="permutation"):
        amp.colour_ordered_amplitude(good, [1, 1, -1, -1, 1], order=(0, 1, 2, 3, 3))
    with pytest.raises(ValueError, match="colour must be"):
        amp.squared_amplitude(good, colour="subleading")
    with pytest.raises(ValueError, match="n_colours"):
        amp.squared_amplitude(good, n_colours=1)
    with pytest.raises(TypeError, match="n_colours"):
        amp.squared_amplitude(good, n_colours=3.0)
    with pytest.raises(ValueError, match="batch_size"):
        amp.squared_amplitude(good, batch_size=0)
    with pytest.raises(ValueError, match="reference"):
        amp.colour_ordered_amplitude(good, [1, 1, -1, -1, 1], reference=good[:, :4])
    with pytest.raises(ValueError, match="parallel"):
        amp.colour_ordered_amplitude(good, [1, 1, -1, -1, 1], reference=good)
    with pytest.raises(ValueError, match="wavefunctions"):
        amp.berends_giele_amplitude(good, np.zeros((4, 4, 4), dtype=complex))
    eps = amp.polarisation_vectors(good, [1, 1, -1, -1, 1])
    eps[:, 2, 0] += 0.1  # no longer transverse
    with pytest.raises(ValueError, match="transverse"):
        amp.berends_giele_amplitude(good, eps)


def test_collinear_gluons_raise_instead_of_returning_inf():
    p = np.array(
        [[[500.0, 0, 0, 500], [500, 0, 0, -500], [250, 250, 0, 0], [250, 250, 0, 0], [500, -500, 0, 0]]]
    )
    with pytest.raises(FloatingPointError, match="soft or collinear"):  # s_23 = 0
        amp.squared_amplitude(p)
    with pytest.raises(FloatingPointError, match="soft or collinear"):
        amp.colour_ordered_amplitude(p, [1, 1, -1, -1, 1])
