"""Tests of jet images: hand-computed pixels, normalisation, the window, and the symmetries of the beam."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.data.jets import load_top_tagging
from reps4lhc_tutor.physics import lorentz
from reps4lhc_tutor.physics.images import jet_images
from reps4lhc_tutor.physics.transformations import beam_boost_matrix, beam_rotation_matrix


def massless(pt, y, phi):
    """(E, px, py, pz) of massless particles."""
    pt, y, phi = (np.asarray(a, dtype=np.float64) for a in (pt, y, phi))
    return np.stack([pt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y)], axis=-1)


def test_two_prongs_land_on_the_rotated_axis_with_the_third_moment_positive():
    # Two particles at (y, phi) = (0.3, 1.0 +- 0.2): pT 300 and 100 GeV, plus padding. The principal axis is
    # the line joining them (along phi), rotated onto Delta y. The E-scheme axis sits at the pT-weighted
    # centroid, 0.1 from the harder particle and 0.3 from the softer; the flip makes the pT-weighted third
    # moment positive, 0.25 * 0.3^3 > 0.75 * 0.1^3, so the softer, farther particle goes to Delta y = +0.3.
    jet = np.zeros((1, 3, 4))
    jet[0, :2] = massless([300.0, 100.0], [0.3, 0.3], [1.2, 0.8])
    image = jet_images(jet, n_pixels=16, half_width=1.0)[0]  # pixels of 0.125
    assert image.sum() == pytest.approx(1.0, abs=1e-12)
    # Delta y = +0.3 -> row floor(1.3 * 8) = 10; -0.1 -> row 7; Delta phi = 0 is the edge between columns 7
    # and 8, where rounding in the rotation decides
    assert set(np.nonzero(image)[1]) <= {7, 8}
    assert image.sum(axis=1)[10] == pytest.approx(0.25, abs=1e-12)
    assert image.sum(axis=1)[7] == pytest.approx(0.75, abs=1e-12)


def test_a_constituent_outside_the_window_is_left_out():
    jet = np.zeros((1, 2, 4))
    jet[0] = massless([100.0, 100.0], [0.0, 0.0], [0.0, 0.3])
    assert jet_images(jet, n_pixels=10, half_width=1.0).sum() == pytest.approx(1.0, abs=1e-12)
    # with a window of half-width 0.1 both particles (at Delta = +-0.15 from the axis) fall outside
    assert jet_images(jet, n_pixels=10, half_width=0.1).sum() == 0.0


@pytest.fixture(scope="module")
def constituents() -> np.ndarray:
    """60 shipped top and QCD jets (Pythia 8 + FastJet), float64."""
    return load_top_tagging(None, 60, source="shipped", progress=False).constituents.astype(np.float64)


def test_images_sum_to_one_are_non_negative_and_ignore_padding(constituents):
    images = jet_images(constituents)
    assert images.shape == (60, 40, 40) and (images >= 0).all()
    np.testing.assert_allclose(images.sum(axis=(1, 2)), 1.0, atol=1e-12)  # R = 0.8 jets inside |Delta| < 1
    padded = np.concatenate([constituents, np.zeros((60, 7, 4))], axis=1)
    np.testing.assert_array_equal(jet_images(padded), images)


def test_rotations_about_and_boosts_along_the_beam_leave_the_images_unchanged(constituents):
    images = jet_images(constituents)
    for matrix in (beam_rotation_matrix(1.3), beam_boost_matrix(0.7)):
        moved = jet_images(lorentz.lorentz_transform(constituents, matrix))
        # a particle within ~1e-12 of a pixel edge may change pixel under rounding: allow one such jet
        same = np.all(np.abs(moved - images) < 1e-9, axis=(1, 2))
        assert same.sum() >= len(images) - 1, np.flatnonzero(~same)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_pixels": 0}, "n_pixels must be a positive integer"),
        ({"n_pixels": 2.5}, "n_pixels must be a positive integer"),
        ({"half_width": 0.0}, "half_width must be a positive number"),
        ({"half_width": True}, "half_width must be a positive number"),
    ],
)
def test_bad_arguments_name_the_problem(constituents, kwargs, match):
    with pytest.raises(ValueError, match=match):
        jet_images(constituents[:2], **kwargs)
