"""Tests of reps4lhc_tutor.physics.transformations and lorentz.pairwise_dots, in float64 on RAMBO events."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from symmetry_tolerances import (
    BROKEN_SYMMETRY_MIN,
    FLOAT64_INVARIANCE_RTOL,
    max_relative_difference,
    rambo_events,
    transform_events,
)

from reps4lhc_tutor.physics import lorentz as lv
from reps4lhc_tutor.physics.transformations import (
    DEFAULT_STRENGTH,
    TRANSFORMATION_KINDS,
    beam_boost_matrix,
    beam_rotation_matrix,
    is_lorentz_transformation,
    random_sl4_matrix,
    random_transformations,
    shear_matrix,
)

LORENTZ_KINDS = ("beam_boost", "beam_rotation", "lorentz")
NOT_LORENTZ_KINDS = ("shear", "sl4")


@pytest.fixture(scope="module")
def events():
    return rambo_events(64)  # (64, 5, 4)


def test_kinds_split_into_symmetries_and_not():
    assert set(TRANSFORMATION_KINDS) == {*LORENTZ_KINDS, *NOT_LORENTZ_KINDS}
    assert set(DEFAULT_STRENGTH) == set(TRANSFORMATION_KINDS)
    assert all(np.isfinite(s) and s > 0 for s in DEFAULT_STRENGTH.values())


# --- which maps are Lorentz transformations -----------------------------------------------------------------


@pytest.mark.parametrize("kind", LORENTZ_KINDS)
def test_lorentz_kinds_keep_the_metric(kind):
    lam = random_transformations(kind, np.random.default_rng(1), 100)
    residual = np.swapaxes(lam, -1, -2) @ lv.METRIC @ lam - lv.METRIC  # independent of is_lorentz_...
    assert np.abs(residual).max() < 1e-12
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, rtol=0, atol=1e-12)  # proper ...
    assert (lam[..., 0, 0] >= 1).all()  # ... and orthochronous
    assert is_lorentz_transformation(lam).all()


@pytest.mark.parametrize("kind", LORENTZ_KINDS)
def test_lorentz_kinds_keep_pairwise_dots(events, kind):
    before = lv.pairwise_dots(events)
    after = lv.pairwise_dots(transform_events(events, kind, seed=2))
    np.testing.assert_allclose(after, before, rtol=FLOAT64_INVARIANCE_RTOL, atol=0)
    assert max_relative_difference(transform_events(events, kind, seed=2), events) > 0.01  # they did move


@pytest.mark.parametrize("kind", NOT_LORENTZ_KINDS)
def test_shear_and_sl4_have_unit_determinant_but_are_not_lorentz(events, kind):
    lam = random_transformations(kind, np.random.default_rng(1), 100)
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, rtol=0, atol=1e-12)
    assert not is_lorentz_transformation(lam).any()
    before = lv.pairwise_dots(events)
    after = lv.pairwise_dots(transform_events(events, kind, seed=2))
    assert max_relative_difference(after, before) > BROKEN_SYMMETRY_MIN
    assert not np.allclose(lv.mass_squared(transform_events(events, kind, seed=2)), 0, atol=1e-6)


def test_is_lorentz_transformation_shapes_and_errors():
    assert is_lorentz_transformation(np.eye(4)).shape == ()
    assert is_lorentz_transformation(np.eye(4))
    assert is_lorentz_transformation(np.broadcast_to(np.eye(4), (2, 3, 4, 4))).shape == (2, 3)
    assert not is_lorentz_transformation(2 * np.eye(4))
    assert is_lorentz_transformation(np.diag([1.0, -1.0, -1.0, -1.0]))  # parity keeps the metric too
    for bad in (np.eye(3), np.ones(4), np.ones((4, 3)), 1.0):
        with pytest.raises(ValueError, match=r"\(\.\.\., 4, 4\)"):
            is_lorentz_transformation(bad)
    with pytest.raises(ValueError, match="NaN"):
        is_lorentz_transformation(np.full((4, 4), np.nan))


# --- beam boosts and rotations ------------------------------------------------------------------------------


def test_beam_boosts_add_rapidities(events):
    a, b = 0.3, -0.8
    np.testing.assert_allclose(
        beam_boost_matrix(a) @ beam_boost_matrix(b), beam_boost_matrix(a + b), atol=1e-14
    )
    np.testing.assert_allclose(beam_boost_matrix(a) @ beam_boost_matrix(-a), np.eye(4), atol=1e-14)
    final = events[:, 2:]  # massless final state: rapidity is defined and shifts by the boost's
    boosted = lv.lorentz_transform(final, beam_boost_matrix(a))
    np.testing.assert_allclose(lv.rapidity(boosted), lv.rapidity(final) + a, rtol=0, atol=1e-12)


def test_beam_boost_keeps_transverse_momentum(events):
    boosted = lv.lorentz_transform(events, beam_boost_matrix(0.7))
    np.testing.assert_array_equal(boosted[..., 1:3], events[..., 1:3])
    e, pz = events[..., 0], events[..., 3]
    np.testing.assert_allclose(boosted[..., 0], e * np.cosh(0.7) + pz * np.sinh(0.7), rtol=1e-14)
    np.testing.assert_allclose(boosted[..., 3], pz * np.cosh(0.7) + e * np.sinh(0.7), rtol=1e-14, atol=1e-12)


def test_beam_rotation_shifts_phi_and_keeps_energy_and_pz(events):
    final = events[:, 2:]
    rotated = lv.lorentz_transform(final, beam_rotation_matrix(0.4))
    np.testing.assert_array_equal(rotated[..., [0, 3]], final[..., [0, 3]])
    np.testing.assert_allclose(lv.pt(rotated), lv.pt(final), rtol=1e-14)
    shift = lv.wrap_angle(lv.phi(rotated) - lv.phi(final))
    np.testing.assert_allclose(shift, 0.4, rtol=0, atol=1e-12)  # active rotation: phi -> phi + angle


def test_matrices_broadcast_over_parameter_shapes():
    angles = np.linspace(-1, 1, 6).reshape(2, 3)
    assert beam_boost_matrix(angles).shape == (2, 3, 4, 4)
    assert beam_rotation_matrix(angles).shape == (2, 3, 4, 4)
    assert shear_matrix(angles).shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(beam_rotation_matrix(angles)[1, 2], beam_rotation_matrix(angles[1, 2]))
    for make in (beam_boost_matrix, beam_rotation_matrix, shear_matrix):
        np.testing.assert_array_equal(make(0.0), np.eye(4))
        with pytest.raises(ValueError, match="NaN"):
            make(np.nan)


# --- shears -------------------------------------------------------------------------------------------------


def test_shear_default_is_y_plus_s_z():
    p = np.array([10.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(lv.lorentz_transform(p, shear_matrix(0.5)), [10.0, 1.0, 3.5, 3.0])


@pytest.mark.parametrize(("axes", "row", "col"), [(("t", "x"), 0, 1), (("z", "y"), 3, 2), (("x", "t"), 1, 0)])
def test_shear_axes(axes, row, col):
    lam = shear_matrix(0.25, axes=axes)
    expected = np.eye(4)
    expected[row, col] = 0.25
    np.testing.assert_array_equal(lam, expected)
    assert np.linalg.det(lam) == pytest.approx(1.0, abs=1e-15)
    assert not is_lorentz_transformation(lam)


@pytest.mark.parametrize("axes", [("y", "y"), ("y", "w"), ("y",), ("x", "y", "z"), ("E", "x"), ()])
def test_shear_bad_axes_raise(axes):
    with pytest.raises(ValueError, match="axes must be two different names"):
        shear_matrix(0.1, axes=axes)


# --- random transformations ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TRANSFORMATION_KINDS)
@pytest.mark.parametrize(("size", "shape"), [(5, (5,)), ((2, 3), (2, 3)), (1, (1,))])
def test_random_transformations_shapes(kind, size, shape):
    lam = random_transformations(kind, np.random.default_rng(0), size)
    assert lam.shape == (*shape, 4, 4)
    assert lam.dtype == np.float64
    assert np.isfinite(lam).all()


def _parameters(kind: str, lam: np.ndarray) -> np.ndarray:
    """The parameter of each map, recovered from its matrix ``(..., 4, 4)``."""
    if kind == "beam_boost":
        return np.arctanh(lam[..., 0, 3] / lam[..., 0, 0])  # tanh(y) = sinh(y) / cosh(y)
    if kind == "beam_rotation":
        return np.arctan2(lam[..., 2, 1], lam[..., 1, 1])
    if kind == "shear":
        return lam[..., 2, 3]
    if kind == "lorentz":
        return np.arccosh(lam[..., 0, 0])  # Lambda = B R: Lambda^0_0 = gamma of the boost
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["beam_boost", "beam_rotation", "shear", "lorentz"])
@pytest.mark.parametrize("strength", [0.1, 1.0, None])
def test_random_parameters_stay_within_strength(kind, strength):
    lam = random_transformations(kind, np.random.default_rng(3), 2000, strength)
    bound = DEFAULT_STRENGTH[kind] if strength is None else strength
    parameters = _parameters(kind, lam)
    assert np.abs(parameters).max() <= bound * (1 + 1e-12)
    assert np.abs(parameters).max() > 0.9 * bound  # ... and fill the range
    if kind != "lorentz":  # uniform in [-strength, strength]: both signs, mean near zero
        assert parameters.min() < -0.9 * bound
        assert abs(parameters.mean()) < 0.05 * bound


@pytest.mark.parametrize("strength", [0.05, 0.3, 1.0])
def test_random_sl4_strength_is_the_norm_of_the_generator(strength):
    from scipy.linalg import logm

    lam = random_transformations("sl4", np.random.default_rng(4), 20, strength)
    generators = np.stack([logm(m).real for m in lam])
    np.testing.assert_allclose(np.linalg.norm(generators, axis=(-2, -1)), strength, rtol=1e-8)
    np.testing.assert_allclose(np.trace(generators, axis1=-2, axis2=-1), 0, atol=1e-10)


@pytest.mark.parametrize("kind", TRANSFORMATION_KINDS)
def test_default_strength_is_used_for_none(kind):
    default = random_transformations(kind, np.random.default_rng(5), 7)
    explicit = random_transformations(kind, np.random.default_rng(5), 7, DEFAULT_STRENGTH[kind])
    np.testing.assert_array_equal(default, explicit)
    other = random_transformations(kind, np.random.default_rng(5), 7, DEFAULT_STRENGTH[kind] / 2)
    assert not np.allclose(default, other)


@pytest.mark.parametrize("kind", TRANSFORMATION_KINDS)
def test_random_transformations_are_reproducible(kind):
    first = random_transformations(kind, np.random.default_rng(6), 4)
    np.testing.assert_array_equal(first, random_transformations(kind, np.random.default_rng(6), 4))
    assert not np.allclose(first, random_transformations(kind, np.random.default_rng(7), 4))
    assert not np.allclose(first[0], first[1])  # independent maps within one call


@pytest.mark.parametrize("kind", ["beam_boost", "beam_rotation", "shear", "sl4"])
def test_zero_strength_gives_identity(kind):
    lam = random_transformations(kind, np.random.default_rng(0), 3, 0.0)
    np.testing.assert_allclose(lam, np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-15)


def test_lorentz_with_zero_strength_is_a_random_rotation():
    lam = random_transformations(
        "lorentz", np.random.default_rng(0), 3, 0.0
    )  # no boost, rotation still drawn
    np.testing.assert_allclose(lam[:, 0], [[1, 0, 0, 0]] * 3, atol=1e-15)
    np.testing.assert_allclose(lam[:, :, 0], [[1, 0, 0, 0]] * 3, atol=1e-15)
    rotations = lam[:, 1:, 1:]
    np.testing.assert_allclose(
        rotations @ np.swapaxes(rotations, 1, 2), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-14
    )
    assert not np.allclose(rotations, np.eye(3))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda rng: random_transformations("boost", rng, 3),
            ValueError,
            "unknown transformation kind 'boost'",
        ),
        (lambda rng: random_transformations("shear", rng, 3, -0.1), ValueError, "strength must be finite"),
        (lambda rng: random_transformations("sl4", rng, 3, np.nan), ValueError, "strength must be finite"),
        (
            lambda rng: random_transformations("lorentz", rng, 3, np.inf),
            ValueError,
            "strength must be finite",
        ),
        (lambda rng: random_transformations("shear", 0, 3), TypeError, "default_rng"),
        (lambda rng: random_transformations("sl4", np.random.RandomState(0), 3), TypeError, "default_rng"),
        (lambda rng: random_sl4_matrix(rng, -1.0), ValueError, "scale must be finite"),
        (lambda rng: random_sl4_matrix(rng, np.nan), ValueError, "scale must be finite"),
        (lambda rng: random_sl4_matrix(1, 0.3), TypeError, "default_rng"),
    ],
)
def test_bad_arguments_raise(call, error, message):
    with pytest.raises(error, match=message):
        call(np.random.default_rng(0))


# --- random SL(4) maps --------------------------------------------------------------------------------------


def test_random_sl4_distance_from_identity_grows_with_scale():
    distances = [
        np.linalg.norm(random_sl4_matrix(np.random.default_rng(8), scale, 50) - np.eye(4), axis=(-2, -1))
        for scale in (0.01, 0.1, 0.3, 1.0)
    ]
    for smaller, larger in itertools.pairwise(distances):
        assert (larger > smaller).all()
    np.testing.assert_allclose(distances[0], 0.01, rtol=0.02)  # exp(sX) - 1 = sX + O(s^2), |X| = 1


def test_random_sl4_shapes_and_scale_zero():
    rng = np.random.default_rng(9)
    assert random_sl4_matrix(rng, 0.3).shape == (4, 4)
    assert random_sl4_matrix(rng, 0.3, 5).shape == (5, 4, 4)
    assert random_sl4_matrix(rng, 0.3, (2, 3)).shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(random_sl4_matrix(rng, 0.0, 4), np.broadcast_to(np.eye(4), (4, 4, 4)))


# --- pairwise_dots ------------------------------------------------------------------------------------------


def test_pairwise_dots_against_a_double_loop(events):
    dots = lv.pairwise_dots(events)
    n = events.shape[1]
    assert dots.shape == (len(events), n * (n - 1) // 2)
    expected = []
    for i in range(n):
        for j in range(i + 1, n):
            p, q = events[:, i], events[:, j]
            expected.append(p[:, 0] * q[:, 0] - p[:, 1] * q[:, 1] - p[:, 2] * q[:, 2] - p[:, 3] * q[:, 3])
    np.testing.assert_allclose(dots, np.stack(expected, axis=-1), rtol=1e-14)


def test_pairwise_dots_order_is_triu_indices():
    rng = np.random.default_rng(10)
    p = rng.normal(size=(2, 3, 6, 4))  # any leading shape
    dots = lv.pairwise_dots(p)
    assert dots.shape == (2, 3, 15)
    for column, (i, j) in enumerate(zip(*np.triu_indices(6, 1), strict=True)):
        np.testing.assert_allclose(
            dots[..., column], lv.minkowski_dot(p[..., i, :], p[..., j, :]), rtol=1e-14
        )
    assert lv.pairwise_dots(p[0, 0, :2]).shape == (1,)  # two particles: one pair


def test_massless_pairwise_dots_are_half_the_pair_masses_squared(events):
    dots = lv.pairwise_dots(events)  # massless: s_ij = (p_i + p_j)^2 = 2 p_i.p_j
    i, j = np.triu_indices(events.shape[1], 1)
    s_ij = lv.invariant_mass(events[:, i], events[:, j]) ** 2
    np.testing.assert_allclose(2 * dots, s_ij, rtol=1e-9)
    # the beams: s_01 = s
    np.testing.assert_allclose(2 * dots[:, 0], 1000.0**2, rtol=1e-12)


@pytest.mark.parametrize("shape", [(5, 1, 4), (1, 4), (4,), (5, 5, 3), (5, 3)])
def test_pairwise_dots_bad_shapes_raise(shape):
    with pytest.raises(ValueError, match=r"\(\.\.\., (n, )?4\)"):
        lv.pairwise_dots(np.ones(shape))


def test_shear_axes_as_one_string_is_rejected():
    with pytest.raises(ValueError, match="two different names"):
        shear_matrix(0.1, axes="yz")


@pytest.mark.parametrize("rapidity", [0.0, 5.0, 8.0])
def test_large_beam_boosts_are_lorentz(rapidity):
    # the tolerance is relative to |Lambda|^2, whose rounding grows with the boost
    assert is_lorentz_transformation(beam_boost_matrix(rapidity))
    assert not is_lorentz_transformation(beam_boost_matrix(rapidity) @ shear_matrix(1e-2))
