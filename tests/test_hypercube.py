"""Tests of the unit-hypercube phase-space map (RAMBO on diet): bijection, physics, flatness, errors.

Flatness is checked two independent ways: (1) the map's Jacobian by finite differences, times the
phase-space density written out in explicit coordinates, equals RAMBO's volume at every point; (2) the
averages of functions whose phase-space means are known exactly by symmetry.
"""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.physics import lorentz
from reps4lhc_tutor.physics.hypercube import from_unit_cube, phase_space_dimension, to_unit_cube
from reps4lhc_tutor.physics.phasespace import rambo_weight

SQRT_S = 1000.0


def _points(n_final: int, n_events: int, seed: int = 0) -> np.ndarray:
    """Uniform points of the hypercube, kept 1e-3 away from its faces (finite differences step off them)."""
    rng = np.random.default_rng(seed)
    return 1e-3 + (1 - 2e-3) * rng.random((n_events, phase_space_dimension(n_final)))


@pytest.mark.parametrize("n_final", [2, 3, 4, 5])
def test_events_are_massless_and_conserve_momentum(n_final):
    p = from_unit_cube(_points(n_final, 500), n_final, SQRT_S)
    assert p.shape == (500, 2 + n_final, 4)
    final = p[:, 2:]
    np.testing.assert_allclose(final.sum(axis=1), p[:, :2].sum(axis=1), atol=1e-10 * SQRT_S)
    np.testing.assert_allclose(lorentz.mass_squared(final) / SQRT_S**2, 0.0, atol=1e-12)
    assert (final[..., 0] > 0).all()
    np.testing.assert_allclose(p[:, 0], np.broadcast_to([SQRT_S / 2, 0, 0, SQRT_S / 2], (500, 4)))


@pytest.mark.parametrize("n_final", [2, 3, 4, 5, 6])
def test_round_trip(n_final):
    u = _points(n_final, 1000, seed=n_final)
    np.testing.assert_allclose(to_unit_cube(from_unit_cube(u, n_final, SQRT_S)), u, atol=1e-9)


def test_per_event_energies():
    """One sqrt_s per event: each event is built at its own energy."""
    energies = np.array([200.0, 1000.0, 5000.0])
    p = from_unit_cube(_points(3, 3), 3, energies)
    np.testing.assert_allclose(p[:, 2:, 0].sum(axis=1), energies)


def _chart(final: np.ndarray) -> np.ndarray:
    """Coordinates of massless n-body phase space at rest: the 3-momenta of particles ``0 ... n-3`` and the
    direction ``(cos theta, phi)`` of particle ``n-2``; ``(events, 3 n - 4)``."""
    direction = final[:, -2, 1:] / np.linalg.norm(final[:, -2, 1:], axis=-1, keepdims=True)
    angles = np.stack([direction[:, 2], np.arctan2(direction[:, 1], direction[:, 0])], axis=-1)
    return np.concatenate([final[:, :-2, 1:].reshape(len(final), -1), angles], axis=-1)


def _chart_density(final: np.ndarray) -> np.ndarray:
    r"""The phase-space density ``dPhi_n / dx`` in the coordinates of :func:`_chart`.

    ``dPhi_n = (2 pi)^(4 - 3n) prod_i d^3p_i / (2 E_i) delta^4(P - sum p)``: the 3-momentum delta removes
    ``p_{n-1}``; with ``p_{n-2} = r n`` the energy delta removes ``r`` and leaves the factor
    ``r^2 / (2 r 2 E_{n-1}) / |d(r + E_{n-1})/dr|`` with ``E_{n-1} = |K - r n|``, ``K = -sum_{i < n-2} p_i``.
    """
    n = final.shape[1]
    energies = final[:, :-2, 0]
    r = np.linalg.norm(final[:, -2, 1:], axis=-1)
    direction = final[:, -2, 1:] / r[:, None]
    recoil = -final[:, :-2, 1:].sum(axis=1)  # K
    last_energy = final[:, -1, 0]
    derivative = 1 + (r - np.sum(recoil * direction, axis=-1)) / last_energy
    return (
        (2 * np.pi) ** (4 - 3 * n)
        * np.prod(1 / (2 * energies), axis=-1)
        * r
        / (4 * last_energy)
        / np.abs(derivative)
    )


@pytest.mark.parametrize("n_final", [2, 3, 4])
def test_jacobian_by_finite_differences_is_the_phase_space_volume(n_final):
    """|det dx/du| * dPhi/dx = Phi_n at every point: the map is flat and its weight is RAMBO's volume."""
    u = _points(n_final, 40, seed=10 + n_final)
    dim = u.shape[1]
    step = 1e-6
    columns = []
    for k in range(dim):
        shift = np.zeros(dim)
        shift[k] = step
        up = _chart(from_unit_cube(u + shift, n_final, SQRT_S)[:, 2:])
        down = _chart(from_unit_cube(u - shift, n_final, SQRT_S)[:, 2:])
        difference = up - down
        difference[:, -1] = (difference[:, -1] + np.pi) % (2 * np.pi) - np.pi  # phi jumps by 2 pi
        columns.append(difference / (2 * step))
    jacobian = np.abs(np.linalg.det(np.stack(columns, axis=-1)))
    density = _chart_density(from_unit_cube(u, n_final, SQRT_S)[:, 2:])
    np.testing.assert_allclose(jacobian * density, rambo_weight(n_final, SQRT_S), rtol=1e-5)


@pytest.mark.parametrize("n_final", [3, 4, 5])
def test_phase_space_averages_known_by_symmetry(n_final):
    """Flat phase space treats all particles alike, the map does not: particle 0 (first decay) must still
    carry <E> = sqrt(s) / n and the pair (0, 1) <s_01> = s / (n (n - 1) / 2)."""
    n_events = 200_000
    p = from_unit_cube(np.random.default_rng(n_final).random((n_events, 3 * n_final - 4)), n_final, SQRT_S)
    energy = p[:, 2, 0] / SQRT_S
    pair = 2 * lorentz.minkowski_dot(p[:, 2], p[:, 3]) / SQRT_S**2
    for values, exact in ((energy, 1 / n_final), (pair, 2 / (n_final * (n_final - 1)))):
        error = values.std() / np.sqrt(n_events)
        assert abs(values.mean() - exact) < 5 * error, (values.mean(), exact, error)


def test_dimension():
    assert [phase_space_dimension(n) for n in (2, 3, 4)] == [2, 5, 8]
    with pytest.raises(ValueError, match="n_final"):
        phase_space_dimension(1)


@pytest.mark.parametrize(
    ("u", "match"),
    [
        (np.full((3, 4), 0.5), r"\(events, 5\)"),
        (np.full(5, 0.5), r"\(events, 5\)"),
        (np.full((3, 5), 1.5), "unit hypercube"),
        (np.full((3, 5), np.nan), "unit hypercube"),
    ],
)
def test_bad_points(u, match):
    with pytest.raises(ValueError, match=match):
        from_unit_cube(u, 3, SQRT_S)


def test_bad_energy_and_momenta():
    with pytest.raises(ValueError, match="sqrt_s"):
        from_unit_cube(np.full((2, 5), 0.5), 3, -1.0)
    with pytest.raises(ValueError, match="shape"):
        to_unit_cube(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        to_unit_cube(np.full((2, 5, 4), np.nan))
