"""Tests of reps4lhc_tutor.physics.lorentz in float64: known values, round trips, invariances, errors."""

import numpy as np
import pytest

from reps4lhc_tutor.physics import lorentz as lv

M_Z, M_MU = 91.1876, 0.1056584
EZ = np.array([0.0, 0.0, 1.0])  # unit vector along the beam


@pytest.fixture
def rng():
    return np.random.default_rng(20240917)


def collider_coordinates(rng, n, *, pt_max=1000.0, rap_max=5.0, m_max=100.0, massless_fraction=0.3):
    """(n, 4) rows (pt, eta or y, phi, m) spanning both hemispheres, a share of them massless."""
    m = rng.uniform(0.0, m_max, n)
    m[rng.random(n) < massless_fraction] = 0.0
    return np.stack(
        [rng.uniform(1.0, pt_max, n), rng.uniform(-rap_max, rap_max, n), rng.uniform(-np.pi, np.pi, n), m], -1
    )


def massive_momenta(rng, n):
    """(n, 4) four-momenta with moderate energies and masses, for invariance tests at 1e-9."""
    return lv.from_ptetaphim(
        np.stack(
            [
                rng.uniform(5, 200, n),
                rng.uniform(-2.5, 2.5, n),
                rng.uniform(-3, 3, n),
                rng.uniform(5, 100, n),
            ],
            -1,
        )
    )


def assert_close_in_energy(actual, expected, energy, rtol):
    """Every component of the (..., 4) arrays agrees to ``rtol`` times the energy ``(...)`` of its vector."""
    worst = np.max(np.abs(np.asarray(actual) - expected) / np.asarray(energy)[..., None])
    assert worst <= rtol, f"largest deviation {worst:.2e} x E exceeds {rtol:.0e} x E"


# --- known values -------------------------------------------------------------------------------------------


def test_known_values():
    p = np.array([5.0, 3.0, 4.0, 0.0])  # massless, perpendicular to the beam
    assert lv.pt(p) == 5.0
    assert lv.eta(p) == 0.0
    assert lv.rapidity(p) == 0.0
    assert lv.mass(p) == 0.0
    assert lv.phi(p) == pytest.approx(np.arctan2(4.0, 3.0), abs=1e-15)
    # theta = 45 degrees: eta = -ln tan(22.5 deg) = arsinh(1)
    assert lv.eta([np.sqrt(2), 1.0, 0.0, 1.0]) == pytest.approx(np.arcsinh(1.0), abs=1e-15)
    assert lv.eta([np.sqrt(2), 1.0, 0.0, -1.0]) == pytest.approx(-np.arcsinh(1.0), abs=1e-15)
    # a particle at rest has y = 0; massless particles have y = eta
    assert lv.rapidity([10.0, 0.0, 0.0, 0.0]) == 0.0
    massless = np.array([np.sqrt(1 + 4 + 9), 1.0, 2.0, 3.0])
    assert lv.rapidity(massless) == pytest.approx(lv.eta(massless), abs=1e-14)
    # y = 0.5 ln((E + pz) / (E - pz)) for a massive particle
    assert lv.rapidity([5.0, 1.0, 0.0, 3.0]) == pytest.approx(0.5 * np.log(8.0 / 2.0), abs=1e-15)
    # phi is in (-pi, pi]: the negative x axis gives +pi for either sign of zero
    assert lv.phi([1.0, -1.0, 0.0, 0.0]) == np.pi
    assert lv.phi([1.0, -1.0, -0.0, 0.0]) == np.pi
    assert lv.phi([1.0, 0.0, -1.0, 0.0]) == pytest.approx(-np.pi / 2, abs=1e-15)
    # padding (null vector) and the beam direction
    assert lv.eta(np.zeros(4)) == 0.0 and lv.rapidity(np.zeros(4)) == 0.0
    assert lv.eta([2.0, 0.0, 0.0, -2.0]) == -np.inf


def test_signed_mass_and_integer_input():
    assert lv.mass([5, 3, 0, 0]) == 4.0  # integers are accepted
    assert lv.mass_squared([1.0, 2.0, 0.0, 0.0]) == -3.0
    assert lv.mass([1.0, 2.0, 0.0, 0.0]) == pytest.approx(-np.sqrt(3.0))  # spacelike: negative mass
    assert lv.minkowski_dot([2.0, 1.0, 0.0, 0.0], [3.0, 0.0, 1.0, 5.0]) == 6.0
    np.testing.assert_array_equal(lv.METRIC, np.diag([1.0, -1.0, -1.0, -1.0]))
    assert not lv.METRIC.flags.writeable


def test_batch_shapes():
    p = np.ones((3, 5, 4)) * [10.0, 1.0, 2.0, 3.0]
    assert lv.mass(p).shape == (3, 5)
    assert lv.invariant_mass(p).shape == (3,)
    assert lv.to_ptetaphim(p).shape == (3, 5, 4)
    assert lv.minkowski_dot(p, np.array([1.0, 0.0, 0.0, 0.0])).shape == (3, 5)  # broadcasting
    lam = lv.random_lorentz_transformation(np.random.default_rng(0), size=3)
    per_event = lv.lorentz_transform(p, lam[:, None])
    np.testing.assert_allclose(per_event[1], lv.lorentz_transform(p[1], lam[1]), rtol=1e-15)


# --- round trips --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "back", "rap_max", "rtol"),
    [
        (lv.to_ptetaphim, lv.from_ptetaphim, 5.0, 1e-14),  # exact up to rounding, even near the beam
        (lv.to_ptyphim, lv.from_ptyphim, 4.0, 1e-12),  # error ~ eps cosh(y)^2, as documented
    ],
    ids=["eta", "y"],
)
def test_four_vector_round_trip(rng, to, back, rap_max, rtol):
    p = back(collider_coordinates(rng, 5000, rap_max=rap_max))
    assert (p[:, 3] < 0).any() and (p[:, 3] > 0).any()
    assert_close_in_energy(back(to(p)), p, p[:, 0], rtol=rtol)


@pytest.mark.parametrize(
    ("to", "back"), [(lv.to_ptetaphim, lv.from_ptetaphim), (lv.to_ptyphim, lv.from_ptyphim)], ids=["eta", "y"]
)
def test_coordinate_round_trip(rng, to, back):
    x = collider_coordinates(rng, 5000, rap_max=4.0)
    p = back(x)
    y = to(p)
    np.testing.assert_allclose(y[:, 0], x[:, 0], rtol=1e-12)
    np.testing.assert_allclose(y[:, 1:3], x[:, 1:3], rtol=0, atol=1e-12)
    # the mass is as precise as E^2 - |p|^2 allows (see the module docstring)
    signed_m2 = y[:, 3] * np.abs(y[:, 3])
    np.testing.assert_array_less(np.abs(signed_m2 - x[:, 3] ** 2), 1e-14 * p[:, 0] ** 2)
    massive = x[:, 3] > 0.01 * p[:, 0]
    np.testing.assert_allclose(y[massive, 3], x[massive, 3], rtol=1e-10)


def test_massless_round_trip(rng):
    x = collider_coordinates(rng, 1000, massless_fraction=1.0)
    p = lv.from_ptetaphim(x)
    y = lv.to_ptetaphim(p)
    np.testing.assert_allclose(y[:, :3], x[:, :3], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_less(np.abs(y[:, 3]), 1e-7 * p[:, 0])  # |m| ~ sqrt(eps) E from rounding
    assert_close_in_energy(lv.from_ptetaphim(y), p, p[:, 0], rtol=1e-14)


def test_beam_particle_cannot_be_converted_back():
    x = lv.to_ptetaphim([3.0, 0.0, 0.0, 3.0])
    assert x[1] == np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        lv.from_ptetaphim(x)


# --- invariants of Lorentz transformations ------------------------------------------------------------------


def test_random_transformation_preserves_metric(rng):
    lam = lv.random_lorentz_transformation(rng, max_rapidity=2.0, size=200)
    assert lam.shape == (200, 4, 4)
    np.testing.assert_allclose(
        np.swapaxes(lam, -1, -2) @ lv.METRIC @ lam, np.broadcast_to(lv.METRIC, lam.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(lam), 1.0, rtol=1e-12)
    assert (lam[:, 0, 0] >= 1).all()  # orthochronous
    assert lv.random_lorentz_transformation(rng).shape == (4, 4)
    assert not np.allclose(lam[0], lam[1])


def test_invariants_under_transformations(rng):
    p, q = massive_momenta(rng, 2000), massive_momenta(rng, 2000)
    lam = lv.random_lorentz_transformation(rng, size=2000)
    p2, q2 = lv.lorentz_transform(p, lam), lv.lorentz_transform(q, lam)
    assert np.abs(p2 - p).max() > 1.0  # the transformation does something
    np.testing.assert_allclose(lv.mass_squared(p2), lv.mass_squared(p), rtol=1e-9)
    np.testing.assert_allclose(lv.minkowski_dot(p2, q2), lv.minkowski_dot(p, q), rtol=1e-9)
    np.testing.assert_allclose(lv.invariant_mass(p2, q2), lv.invariant_mass(p, q), rtol=1e-9)


def test_rotations(rng):
    p = massive_momenta(rng, 500)
    lam = lv.random_lorentz_transformation(rng, max_rapidity=0.0, size=500)  # rapidity 0: pure rotation
    rotated = lv.rotate(p, lam[:, 1:, 1:])
    np.testing.assert_array_equal(rotated[:, 0], p[:, 0])
    np.testing.assert_allclose(
        np.linalg.norm(rotated[:, 1:], axis=-1), np.linalg.norm(p[:, 1:], axis=-1), rtol=1e-12
    )
    angle = rng.uniform(-10, 10, 500)
    turned = lv.rotation_z(p, angle)
    np.testing.assert_allclose(lv.delta_phi(turned, p), lv.wrap_angle(angle), atol=1e-12)
    np.testing.assert_allclose(lv.pt(turned), lv.pt(p), rtol=1e-13)
    np.testing.assert_array_equal(turned[:, 3], p[:, 3])


def test_boost_of_particle_at_rest_is_active():
    beta = np.array([0.3, -0.4, 0.5])
    gamma = 1 / np.sqrt(1 - beta @ beta)
    moved = lv.boost([2.0, 0.0, 0.0, 0.0], beta)
    np.testing.assert_allclose(moved, 2.0 * gamma * np.array([1.0, *beta]), rtol=1e-14)
    p = np.array([7.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(lv.boost(p, np.zeros(3)), p)


def test_boost_to_rest_frame(rng):
    frame = massive_momenta(rng, 1000)
    at_rest = lv.boost_to_rest_frame(frame, frame)
    m = lv.mass(frame)
    expected = np.stack([m, 0 * m, 0 * m, 0 * m], -1)
    assert_close_in_energy(at_rest, expected, frame[:, 0], rtol=1e-13)
    # an independent route: the energy of p in the rest frame of P is p.P / m_P
    p = massive_momenta(rng, 1000)
    np.testing.assert_allclose(
        lv.boost_to_rest_frame(p, frame)[:, 0], lv.minkowski_dot(p, frame) / m, rtol=1e-10
    )


def test_collinear_boosts_add_rapidities(rng):
    p = massive_momenta(rng, 1000)
    zeta1, zeta2 = 0.7, -1.9
    twice = lv.boost(lv.boost(p, np.tanh(zeta1) * EZ), np.tanh(zeta2) * EZ)
    once = lv.boost(p, np.tanh(zeta1 + zeta2) * EZ)
    assert_close_in_energy(twice, once, once[:, 0], rtol=1e-13)
    np.testing.assert_allclose(lv.rapidity(once), lv.rapidity(p) + zeta1 + zeta2, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lv.pt(once), lv.pt(p), rtol=1e-12)  # a z boost leaves pt alone


def test_z_to_mumu_invariant_mass(rng):
    # muons back to back in the Z rest frame, then boosted with a Z of pt = 40 GeV and y = 1.2
    n = 200
    energy = M_Z / 2
    momentum = np.sqrt(energy**2 - M_MU**2)
    cos_theta, azimuth = rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n)
    sin_theta = np.sqrt(1 - cos_theta**2)
    direction = np.stack([sin_theta * np.cos(azimuth), sin_theta * np.sin(azimuth), cos_theta], -1)
    mu_plus = np.concatenate([np.full((n, 1), energy), momentum * direction], -1)
    mu_minus = np.concatenate([np.full((n, 1), energy), -momentum * direction], -1)
    z = lv.from_ptyphim([40.0, 1.2, 0.3, M_Z])
    beta = z[1:] / z[0]
    mu_plus, mu_minus = lv.boost(mu_plus, beta), lv.boost(mu_minus, beta)
    np.testing.assert_allclose(mu_plus + mu_minus, np.broadcast_to(z, (n, 4)), rtol=0, atol=1e-12 * z[0])
    np.testing.assert_allclose(lv.invariant_mass(mu_plus, mu_minus), M_Z, rtol=1e-12)
    np.testing.assert_allclose(lv.invariant_mass(np.stack([mu_plus, mu_minus], -2)), M_Z, rtol=1e-12)
    np.testing.assert_allclose(lv.mass(mu_plus), M_MU, rtol=1e-6)


# --- angles -------------------------------------------------------------------------------------------------


def test_wrap_angle():
    np.testing.assert_array_equal(lv.wrap_angle([np.pi, -np.pi, 3 * np.pi]), [np.pi, np.pi, np.pi])
    inside = np.linspace(-3.14, 3.14, 101)
    np.testing.assert_array_equal(lv.wrap_angle(inside), inside)  # unchanged bit for bit
    angles = np.random.default_rng(1).uniform(-100, 100, 1000)
    wrapped = lv.wrap_angle(angles)
    assert (wrapped > -np.pi).all() and (wrapped <= np.pi).all()
    np.testing.assert_allclose(np.cos(wrapped), np.cos(angles), atol=1e-12)
    np.testing.assert_allclose(np.sin(wrapped), np.sin(angles), atol=1e-12)


def test_delta_phi_wraps_across_pi():
    p = lv.from_ptetaphim([10.0, 0.0, 3.0, 0.0])
    q = lv.from_ptetaphim([20.0, 0.5, -3.0, 0.0])
    assert lv.delta_phi(p, q) == pytest.approx(6.0 - 2 * np.pi, abs=1e-12)
    assert lv.delta_phi(q, p) == pytest.approx(2 * np.pi - 6.0, abs=1e-12)
    assert lv.delta_r(p, q) == pytest.approx(np.hypot(0.5, 2 * np.pi - 6.0), abs=1e-12)


def test_delta_r_with_rapidity():
    p = lv.from_ptyphim([10.0, 0.0, 3.0, 5.0])
    q = lv.from_ptyphim([30.0, 0.3, 3.0 + 0.4 - 2 * np.pi, 20.0])  # d_phi = 0.4 across the boundary
    assert lv.delta_r(p, q, use_rapidity=True) == pytest.approx(0.5, abs=1e-12)
    assert lv.delta_r(p, q) != pytest.approx(0.5, abs=1e-3)  # eta differs from y for massive particles


# --- bad inputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: lv.mass(np.ones(3)), ValueError, r"shape \(\.\.\., 4\).*got shape \(3,\)"),
        (lambda: lv.pt(np.ones((2, 5))), ValueError, r"got shape \(2, 5\)"),
        (lambda: lv.eta([np.nan, 1.0, 2.0, 3.0]), ValueError, "1 NaN or infinite"),
        (lambda: lv.mass(np.array([1j, 0, 0, 0])), TypeError, "real numbers"),
        (lambda: lv.boost([1.0, 0, 0, 0], [0.6, 0.8, 0.0]), ValueError, r"\|beta\| < 1"),
        (lambda: lv.boost([1.0, 0, 0, 0], [0.5, 0.5]), ValueError, r"\(\.\.\., 3\)"),
        (lambda: lv.boost_to_rest_frame([1.0, 0, 0, 0], [1.0, 1.0, 0, 0]), ValueError, "no rest frame"),
        (lambda: lv.rapidity([1.0, 0.0, 0.0, 2.0]), ValueError, r"\|pz\| > E"),
        (lambda: lv.to_ptetaphim([-1.0, 0.0, 0.0, 0.5]), ValueError, "E < 0"),
        (lambda: lv.from_ptetaphim([-1.0, 0.0, 0.0, 0.0]), ValueError, "pt must be >= 0"),
        (lambda: lv.from_ptyphim([1.0, 0.0, 0.0, -2.0]), ValueError, "mT"),
        (lambda: lv.invariant_mass(np.ones(4)), ValueError, r"\(\.\.\., n, 4\)"),
        (lambda: lv.invariant_mass(), TypeError, "at least one"),
        (lambda: lv.lorentz_transform(np.ones(4), np.eye(3)), ValueError, r"\(\.\.\., 4, 4\)"),
        (lambda: lv.rotation_z(np.ones(4), np.nan), ValueError, "angle contains"),
        (lambda: lv.random_lorentz_transformation(np.random.RandomState(0)), TypeError, "default_rng"),
    ],
)
def test_bad_inputs_raise_with_clear_message(call, error, message):
    with pytest.raises(error, match=message):
        call()
