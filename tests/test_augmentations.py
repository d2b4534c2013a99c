"""Tests of the jet augmentations for contrastive learning: symmetries, IRC safety, padding and checks.

The physics is checked with the NumPy observables of :mod:`~reps4lhc_tutor.physics.jets` on shipped
quark/gluon jets: what an augmentation must keep (pT, Delta R, mass, IRC-safe shapes) and what it must change
(multiplicity, p_T D, the orientation of the jet).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reps4lhc_tutor.data import load_quark_gluon
from reps4lhc_tutor.physics import jets, lorentz
from reps4lhc_tutor.physics.augmentations import (
    KINDS,
    augment,
    collinear_split,
    rotate,
    soft_emission,
    translate,
)

N_JETS = 200
FREE_ROWS = 12  # padded rows left in the widest jet of the fixture
DTYPES = [torch.float32, torch.float64]
# invariance tolerances per dtype: float32 rounding of ~1e-7 per component, magnified a little by angles
RTOL = {torch.float32: 5e-5, torch.float64: 1e-10}
IRC_SAFE = {
    "mass": jets.jet_mass,
    "width": jets.width,
    # beta = 1: with small beta, C_beta magnifies rounding-level angles between the two exactly collinear
    # halves (Delta R ~ 1e-16 in float64 still gives Delta R^0.2 ~ 1e-3; see jets.c_beta)
    "c_beta": lambda p: jets.c_beta(p, beta=1.0),
    "tau21": jets.tau21,
}


@pytest.fixture(scope="module")
def qg() -> np.ndarray:
    """200 shipped quark and gluon jets (Pythia 8 + FastJet), float32, leading pT first, zero-padded.

    The file pads to 150 rows; we keep the widest jet plus ``FREE_ROWS`` rows, so that every jet has room
    for a few new particles and the widest has exactly ``FREE_ROWS``. The particles carry their hadron masses
    (m^2 up to ~1 GeV^2), which the augmentations must respect as well.
    """
    constituents = load_quark_gluon(n_events=N_JETS, source="shipped", progress=False).constituents
    assert constituents.ndim == 3 and constituents.shape[-1] == 4 and constituents.dtype == np.float32
    widest = int((constituents[..., 0] > 0).sum(axis=1).max())
    assert widest + FREE_ROWS <= constituents.shape[1]
    return constituents[:, : widest + FREE_ROWS]


def as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def mask_of(p: np.ndarray) -> np.ndarray:
    return p[..., 0] > 0


def pairwise_delta_r(p: np.ndarray, n_jets: int = 40) -> np.ndarray:
    """Delta R (rapidity, azimuth) of every pair of particles of the first ``n_jets`` jets, flattened."""
    result = []
    for jet in p[:n_jets]:
        real = jet[jet[:, 0] > 0]
        y, phi = lorentz.rapidity(real), lorentz.phi(real)
        i, j = np.triu_indices(len(real), 1)
        result.append(np.hypot(y[i] - y[j], lorentz.wrap_angle(phi[i] - phi[j])))
    return np.concatenate(result)


def centroid_and_axis_angle(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pT-weighted centroid in (y, phi) ``(jets, 2)`` and the angle of the principal axis about it."""
    mask = mask_of(p)
    axis = p.sum(axis=1)
    weights = np.where(mask, lorentz.pt(p), 0.0)
    weights = weights / weights.sum(axis=1, keepdims=True)
    dy = np.where(mask, lorentz.rapidity(p) - lorentz.rapidity(axis)[:, None], 0.0)
    dphi = np.where(mask, lorentz.wrap_angle(lorentz.phi(p) - lorentz.phi(axis)[:, None]), 0.0)
    cy, cphi = (weights * dy).sum(axis=1), (weights * dphi).sum(axis=1)
    centroid = np.stack([lorentz.rapidity(axis) + cy, lorentz.wrap_angle(lorentz.phi(axis) + cphi)], axis=1)
    dy, dphi = dy - cy[:, None], dphi - cphi[:, None]
    c_yy, c_pp, c_yp = ((weights * a * b).sum(axis=1) for a, b in ((dy, dy), (dphi, dphi), (dy, dphi)))
    return centroid, 0.5 * np.arctan2(2 * c_yp, c_yy - c_pp)


def all_kinds(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return augment(x, KINDS, generator, scale=0.5, n_split=3, n_soft=2, pt_fraction=0.01)


FUNCTIONS = {
    "rotate": lambda x, g: rotate(x, g),
    "translate": lambda x, g: translate(x, 1.0, g),
    "collinear": lambda x, g: collinear_split(x, 4, g),
    "soft": lambda x, g: soft_emission(x, 3, 0.01, generator=g),
    "augment": all_kinds,
}


# ---------------------------------------------------------------------------------------------------------
# Layout: shapes, padding, dtype, device, the input left alone
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_layout_dtype_and_padding_are_preserved(qg, name, dtype):
    x = torch.as_tensor(qg, dtype=dtype)
    before = x.clone()
    out = FUNCTIONS[name](x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == dtype and out.device == x.device
    assert torch.equal(x, before)  # the input is not modified in place
    assert torch.isfinite(out).all()
    padding = out[..., 0] == 0
    assert (out[padding] == 0).all()  # padding stays all zero
    assert (out[..., 0] >= 0).all()
    # no particle is dropped: every real row stays real (rows keep their places)
    assert (out[..., 0] > 0)[x[..., 0] > 0].all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", FUNCTIONS)
def test_runs_on_the_gpu_with_a_gpu_generator(qg, name):
    x = torch.as_tensor(qg[:20]).cuda()
    out = FUNCTIONS[name](x, torch.Generator(device="cuda").manual_seed(0))
    assert out.device == x.device and out.dtype == x.dtype
    assert (out[out[..., 0] == 0] == 0).all()


# ---------------------------------------------------------------------------------------------------------
# Rotation about the pT-weighted centroid
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_keeps_pt_delta_r_and_c_beta(qg, dtype):
    # move every jet to phi ~ pi first, so that the jets straddle the branch cut of the azimuth
    axis_phi = lorentz.phi(qg.astype(np.float64).sum(axis=1))
    at_cut = lorentz.rotation_z(qg.astype(np.float64), (math.pi - 0.05 - axis_phi)[:, None])
    x = torch.as_tensor(at_cut, dtype=dtype)
    before = as_numpy(x)
    after = as_numpy(rotate(x, torch.Generator().manual_seed(1)))
    mask = mask_of(before)
    np.testing.assert_allclose(lorentz.pt(after)[mask], lorentz.pt(before)[mask], rtol=RTOL[dtype])
    # masses kept as well (mT and pT are), in units of the particle energy squared
    m2_change = lorentz.mass_squared(after)[mask] - lorentz.mass_squared(before)[mask]
    assert np.abs(m2_change / before[mask][:, 0] ** 2).max() < 10 * RTOL[dtype]
    np.testing.assert_allclose(pairwise_delta_r(after), pairwise_delta_r(before), rtol=0, atol=RTOL[dtype])
    np.testing.assert_allclose(jets.c_beta(after), jets.c_beta(before), rtol=RTOL[dtype])
    # ... but the jets did move: the jet mass is not rotation invariant (cosh Delta y != cos Delta phi)
    assert np.abs(jets.jet_mass(after) / jets.jet_mass(before) - 1).max() > 1e-3


def test_rotation_turns_the_principal_axis_about_a_fixed_centroid(qg):
    x = torch.as_tensor(qg, dtype=torch.float64)
    angle = torch.linspace(-3.0, 3.0, len(x), dtype=torch.float64)
    centroid, axis_angle = centroid_and_axis_angle(qg.astype(np.float64))
    centroid_after, axis_angle_after = centroid_and_axis_angle(as_numpy(rotate(x, angle=angle)))
    np.testing.assert_allclose(centroid_after, centroid, atol=1e-9)
    # an axis is defined up to pi: compare the turn modulo pi
    turn = axis_angle_after - axis_angle - angle.numpy()
    np.testing.assert_allclose(np.angle(np.exp(2j * turn)) / 2, 0, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_by_two_pi_is_the_identity(qg, dtype):
    x = torch.as_tensor(qg, dtype=dtype)
    out = rotate(x, angle=2 * math.pi)
    scale = float(x[..., 0].max())
    torch.testing.assert_close(out, x, rtol=0, atol=10 * torch.finfo(dtype).eps * scale)
    per_jet = rotate(x, angle=torch.full((len(x),), 2 * math.pi, dtype=dtype))
    torch.testing.assert_close(per_jet, out, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------------
# Translation in (y, phi)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_translation_keeps_jet_mass_pt_and_delta_r(qg, dtype):
    x = torch.as_tensor(qg, dtype=dtype)
    before = as_numpy(x)
    after = as_numpy(translate(x, 1.0, torch.Generator().manual_seed(2)))
    mask = mask_of(before)
    # m^2 is a difference of squares: its rounding error is set by E^2, not by m^2
    jet_before, jet_after = before.sum(axis=1), after.sum(axis=1)
    m2_change = lorentz.mass_squared(jet_after) - lorentz.mass_squared(jet_before)
    assert np.abs(m2_change / jet_after[:, 0] ** 2).max() < RTOL[dtype] / 5
    if dtype == torch.float64:
        np.testing.assert_allclose(jets.jet_mass(after), jets.jet_mass(before), rtol=1e-9)
    np.testing.assert_allclose(lorentz.pt(after)[mask], lorentz.pt(before)[mask], rtol=RTOL[dtype])
    np.testing.assert_allclose(pairwise_delta_r(after), pairwise_delta_r(before), rtol=0, atol=RTOL[dtype])


def test_translation_shifts_every_particle_by_the_given_amount(qg):
    x = torch.as_tensor(qg, dtype=torch.float64)
    shift = torch.stack(
        [torch.linspace(-2, 2, len(x)), torch.linspace(-3, 3, len(x)).flip(0)], dim=1
    ).double()
    before, after = qg.astype(np.float64), as_numpy(translate(x, shift=shift))
    mask = mask_of(before)
    dy = lorentz.rapidity(after) - lorentz.rapidity(before)
    dphi = lorentz.wrap_angle(lorentz.phi(after) - lorentz.phi(before))
    expected = np.broadcast_to(shift.numpy()[:, None, :], (*mask.shape, 2))
    np.testing.assert_allclose(dy[mask], expected[mask][:, 0], atol=1e-9)
    np.testing.assert_allclose(dphi[mask], lorentz.wrap_angle(expected[mask][:, 1]), atol=1e-9)
    assert np.all((lorentz.phi(after) > -math.pi) & (lorentz.phi(after) <= math.pi))


def test_random_translations_have_the_requested_width(qg):
    x = torch.as_tensor(qg, dtype=torch.float64)
    jet_y = lorentz.rapidity(qg.astype(np.float64).sum(axis=1))
    for scale in (0.3, 1.5):
        after = as_numpy(translate(x, scale, torch.Generator().manual_seed(3)))
        dy = lorentz.rapidity(after.sum(axis=1)) - jet_y
        assert 0.8 * scale < dy.std() < 1.2 * scale, scale
    torch.testing.assert_close(translate(x, 0.0), x, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# Collinear splitting: IRC-safe observables unchanged, multiplicity and p_T D not
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_collinear_split_conserves_the_jet_and_irc_safe_observables(qg, dtype):
    n_split = 5
    x = torch.as_tensor(qg, dtype=dtype)
    before = as_numpy(x)
    after = as_numpy(collinear_split(x, n_split, torch.Generator().manual_seed(4)))
    jet_before, jet_after = before.sum(axis=1), after.sum(axis=1)
    # float32 precision of the sum over particles, relative to the jet energy
    assert (np.abs(jet_after - jet_before) <= 1e-6 * jet_before[:, :1]).all()
    for name, observable in IRC_SAFE.items():
        np.testing.assert_allclose(observable(after), observable(before), rtol=RTOL[dtype], err_msg=name)
    # not collinear safe: every split adds a particle, and p_T D never rises (z^2 > z_a^2 + z_b^2) but falls
    # by a lot for the jets in which a hard particle was split
    np.testing.assert_array_equal(jets.multiplicity(after), jets.multiplicity(before) + n_split)
    ptd_ratio = jets.ptd(after) / jets.ptd(before)
    assert (ptd_ratio < 1 + RTOL[dtype]).all()
    assert np.median(ptd_ratio) < 0.998 and ptd_ratio.min() < 0.9


@pytest.mark.parametrize("kind", ["collinear", "soft"])
def test_new_particles_go_only_into_free_rows(qg, kind):
    n_new = 5
    # the widest jet gets exactly 2 padded rows, three jets have fewer particles than n_new to split
    widest = int(mask_of(qg).sum(axis=1).max())
    rows = qg[:, : widest + 2].astype(np.float64)
    tight = np.concatenate([rows, rows[:3] * (np.arange(widest + 2) < 3)[:, None]])

    def add(x: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator().manual_seed(5)
        if kind == "collinear":
            return collinear_split(x, n_new, generator)
        return soft_emission(x, n_new, 0.01, generator=generator)

    after = as_numpy(add(torch.as_tensor(tight)))
    mask, n_real = mask_of(tight), mask_of(tight).sum(axis=1)
    expected = np.minimum(n_new, tight.shape[1] - n_real)
    if kind == "collinear":  # cannot split more particles than there are
        expected = np.minimum(expected, n_real)
    assert expected.min() == 2 and expected.max() == n_new  # the padding limit occurs
    assert kind == "soft" or (expected == 3).sum() == 3  # ... and the particle limit for splits
    np.testing.assert_array_equal(jets.multiplicity(after) - n_real, expected)
    # no particle is overwritten: each original row keeps its direction (only its length may change)
    np.testing.assert_allclose(
        after[mask][:, 1:] / after[mask][:, :1], tight[mask][:, 1:] / tight[mask][:, :1], rtol=1e-12
    )
    if kind == "collinear":
        np.testing.assert_allclose(after.sum(axis=1), tight.sum(axis=1), rtol=1e-12, atol=1e-9)
    # a jet without any padded row is returned unchanged
    full = torch.as_tensor(qg[:, :widest], dtype=torch.float64)
    row = int(np.argmax(mask_of(qg).sum(axis=1)))
    torch.testing.assert_close(add(full)[row], full[row], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------------------
# Soft emission: the infrared limit
# ---------------------------------------------------------------------------------------------------------


def test_soft_emission_places_soft_massless_particles_near_the_axis(qg):
    n_soft, pt_fraction, radius = 3, 0.02, 0.3
    before = qg.astype(np.float64)
    x = torch.as_tensor(before)
    after = as_numpy(soft_emission(x, n_soft, pt_fraction, radius, torch.Generator().manual_seed(6)))
    mask = mask_of(before)
    new = mask_of(after) & ~mask
    np.testing.assert_array_equal(new.sum(axis=1), n_soft)
    # the scalar pT sum of each jet is kept exactly, the originals all scaled by the same factor
    total = np.where(mask, lorentz.pt(before), 0).sum(axis=1)
    np.testing.assert_allclose(np.where(mask_of(after), lorentz.pt(after), 0).sum(axis=1), total, rtol=1e-12)
    factor = after[..., 0] / np.where(mask, before[..., 0], 1.0)
    np.testing.assert_allclose(factor[mask], np.broadcast_to(factor[:, :1], mask.shape)[mask], rtol=1e-12)
    soft_pt = np.where(new, lorentz.pt(after), 0)
    np.testing.assert_allclose(factor[:, 0], 1 - soft_pt.sum(axis=1) / total, rtol=1e-12)
    assert (soft_pt <= pt_fraction * total[:, None] * (1 + 1e-12)).all()
    # massless, inside the disc around the original E-scheme axis
    np.testing.assert_allclose(lorentz.mass_squared(after[new]) / after[new][:, 0] ** 2, 0, atol=1e-12)
    axis = np.repeat(before.sum(axis=1), new.sum(axis=1), axis=0)
    distance = lorentz.delta_r(after[new], axis, use_rapidity=True)
    assert distance.max() < radius and distance.max() > 0.8 * radius
    # uniform in the area of the disc: a quarter of the particles lie within half the radius
    assert 0.18 < np.mean(distance < radius / 2) < 0.32


def test_soft_emission_tends_to_the_original_jet_linearly(qg):
    # same seed for every pt_fraction: the same soft directions, only their pT shrinks, so the change of an
    # IRC-safe observable is c * pt_fraction + O(pt_fraction^2): about ten times smaller per decade
    x = torch.as_tensor(qg, dtype=torch.float64)
    before = as_numpy(x)
    reference = {name: observable(before) for name, observable in IRC_SAFE.items()}
    fractions = (1e-1, 1e-2, 1e-3, 1e-4)
    largest, typical = {name: [] for name in IRC_SAFE}, {name: [] for name in IRC_SAFE}
    for fraction in fractions:
        after = as_numpy(soft_emission(x, 2, fraction, generator=torch.Generator().manual_seed(7)))
        np.testing.assert_array_equal(jets.multiplicity(after), jets.multiplicity(before) + 2)
        for name, observable in IRC_SAFE.items():
            change = np.abs(observable(after) / reference[name] - 1)
            largest[name].append(change.max())
            typical[name].append(np.median(change))
    for name in IRC_SAFE:
        # tau21's two kT axes flip for nearly degenerate jets at finite pt_fraction (tau21 is IRC safe but
        # jumps there), so its largest change converges late; its typical change is the clean measure
        changes = np.array(typical[name] if name == "tau21" else largest[name])
        ratios = changes[:-1] / changes[1:]
        assert ((ratios > 3) & (ratios < 30)).all(), (name, changes)  # linear: 10; constant 1, quadratic 100
        assert 7 < ratios[-1] < 14, (name, changes)  # deep in the limit the response is linear
        assert changes[-1] < 200 * fractions[-1], (name, changes)


# ---------------------------------------------------------------------------------------------------------
# Composition and reproducibility
# ---------------------------------------------------------------------------------------------------------


def test_augment_applies_the_documented_order(qg):
    x = torch.as_tensor(qg[:50], dtype=torch.float64)
    composed = augment(x, ["translate", "collinear", "rotate", "soft"], torch.Generator().manual_seed(8),
                       scale=0.5, n_split=2, n_soft=2, pt_fraction=0.01)  # fmt: skip
    g = torch.Generator().manual_seed(8)
    by_hand = translate(rotate(collinear_split(soft_emission(x, 2, 0.01, generator=g), 2, g), g), 0.5, g)
    torch.testing.assert_close(composed, by_hand, rtol=0, atol=0)
    assert KINDS == ("soft", "collinear", "rotate", "translate")
    single = augment(x, "rotate", torch.Generator().manual_seed(9))
    torch.testing.assert_close(single, rotate(x, torch.Generator().manual_seed(9)), rtol=0, atol=0)
    empty = augment(x, [])
    assert torch.equal(empty, x) and empty is not x


@pytest.mark.parametrize("name", FUNCTIONS)
def test_seeded_generator_reproduces_and_seeds_differ(qg, name):
    x = torch.as_tensor(qg[:50])
    first = FUNCTIONS[name](x, torch.Generator().manual_seed(10))
    again = FUNCTIONS[name](x, torch.Generator().manual_seed(10))
    other = FUNCTIONS[name](x, torch.Generator().manual_seed(11))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


def test_malformed_constituents_raise(qg):
    x = torch.as_tensor(qg[:5])
    with pytest.raises(ValueError, match=r"\(batch, particles, 4\).*x\[None\]"):
        rotate(x[0])
    with pytest.raises(ValueError, match=r"\(batch, particles, 4\)"):
        translate(x[..., :3])
    with pytest.raises(TypeError, match=r"torch\.as_tensor"):
        collinear_split(qg[:5], 1)
    with pytest.raises(TypeError, match="floating point"):
        rotate(x.to(torch.int64))
    bad = x.clone()
    bad[0, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        soft_emission(bad, 1, 0.01)
    bad = x.clone()
    bad[1, 0, 0] = -1.0
    with pytest.raises(ValueError, match="E < 0"):
        rotate(bad)
    bad = x.clone()
    bad[1, -1, 2] = 3.0  # momentum on a padded row
    with pytest.raises(ValueError, match="padding"):
        translate(bad)
    bad = x.clone()
    bad[2] = 0
    with pytest.raises(ValueError, match="1 jets have no particles"):
        augment(bad, [])


def test_bad_parameters_raise(qg):
    x = torch.as_tensor(qg[:5])
    with pytest.raises(ValueError, match="n_split must be a non-negative integer"):
        collinear_split(x, -1)
    with pytest.raises(ValueError, match="n_split must be a non-negative integer"):
        collinear_split(x, 1.5)
    with pytest.raises(ValueError, match="n_soft must be"):
        soft_emission(x, -2, 0.01)
    with pytest.raises(ValueError, match="pt_fraction must be a finite number > 0"):
        soft_emission(x, 2, 0.0)
    with pytest.raises(ValueError, match=r"n_soft \* pt_fraction must be < 1"):
        soft_emission(x, 10, 0.1)
    with pytest.raises(ValueError, match="radius"):
        soft_emission(x, 1, 0.01, radius=-0.4)
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        translate(x, float("nan"))
    with pytest.raises(ValueError, match=r"angle must broadcast to shape \(5,\)"):
        rotate(x, angle=torch.zeros(3))
    with pytest.raises(ValueError, match=r"shift must broadcast to shape \(5, 2\)"):
        translate(x, shift=torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"unknown augmentations \['flip'\].*'rotate', 'translate'"):
        augment(x, ["rotate", "flip"])
    with pytest.raises(ValueError, match="needs n_split"):
        augment(x, ["collinear"])
    with pytest.raises(ValueError, match="needs n_soft and pt_fraction"):
        augment(x, ["soft"], n_soft=2)
    with pytest.raises(TypeError, match=r"torch\.Generator"):
        rotate(x, generator=np.random.default_rng(0))
