"""Tests of the constituent features for taggers: centring, scaling, rotation, padding and symmetries."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.data.jets import load_top_tagging
from reps4lhc_tutor.physics import jets, lorentz
from reps4lhc_tutor.physics.constituents import (
    FEATURE_NAMES,
    constituent_features,
    constituent_mask,
    principal_axis_angle,
)
from reps4lhc_tutor.physics.transformations import beam_boost_matrix, beam_rotation_matrix

INDEX = {name: i for i, name in enumerate(FEATURE_NAMES)}
BOOST_INVARIANT = ("delta_y", "delta_phi", "log_pt", "log_pt_fraction", "delta_r")


@pytest.fixture(scope="module")
def constituents() -> np.ndarray:
    """40 shipped top and QCD jets (Pythia 8 + FastJet), float64, zero-padded to 200 rows."""
    return load_top_tagging(None, 40, source="shipped", progress=False).constituents.astype(np.float64)


def test_mask_marks_rows_with_positive_energy(constituents):
    mask = constituent_mask(constituents)
    assert mask.shape == constituents.shape[:2]
    np.testing.assert_array_equal(mask, constituents[..., 0] > 0)
    assert mask.any(axis=1).all() and not mask.all()  # every jet has constituents, and there is padding


def test_shape_names_and_zero_padding(constituents):
    features = constituent_features(constituents)
    assert features.shape == (*constituents.shape[:2], len(FEATURE_NAMES))
    assert np.isfinite(features).all()
    assert (features[~constituent_mask(constituents)] == 0).all()


def test_features_match_their_definitions(constituents):
    features = constituent_features(constituents)
    mask = constituent_mask(constituents)
    jet = constituents.sum(axis=1)
    real = constituents[mask]
    jet_of_row = np.repeat(jet, mask.sum(axis=1), axis=0)
    expected = {
        "delta_y": lorentz.rapidity(real) - lorentz.rapidity(jet_of_row),
        "delta_phi": lorentz.delta_phi(real, jet_of_row),
        "log_pt": np.log(lorentz.pt(real)),
        "log_e": np.log(real[:, 0]),
        "log_pt_fraction": np.log(lorentz.pt(real) / lorentz.pt(jet_of_row)),
        "log_e_fraction": np.log(real[:, 0] / jet_of_row[:, 0]),
    }
    for name, values in expected.items():
        np.testing.assert_allclose(
            features[mask][:, INDEX[name]], values, rtol=1e-10, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(features[..., INDEX["delta_r"]], jets._delta_r_to_axis(constituents, mask))


def test_centring_puts_the_jet_axis_at_the_origin(constituents):
    # pT-weighted mean of (Delta y, Delta phi) is the axis of the pT sum, close to the E-scheme axis
    features = constituent_features(constituents)
    weights = np.exp(features[..., INDEX["log_pt_fraction"]]) * constituent_mask(constituents)
    for name in ("delta_y", "delta_phi"):
        centroid = (weights * features[..., INDEX[name]]).sum(axis=1) / weights.sum(axis=1)
        assert np.abs(centroid).max() < 0.05, name


def test_padding_anywhere_changes_nothing(constituents):
    features = constituent_features(constituents)
    mask = constituent_mask(constituents)
    shuffled_rows = np.random.default_rng(0).permutation(constituents.shape[1])
    padded = np.concatenate([np.zeros_like(constituents[:, :7]), constituents[:, shuffled_rows]], axis=1)
    moved = constituent_features(padded)[:, 7:]
    np.testing.assert_allclose(moved, features[:, shuffled_rows], rtol=1e-12, atol=1e-12)
    assert (constituent_features(padded)[:, :7] == 0).all()
    assert constituent_mask(padded)[:, 7:].sum() == mask.sum()


@pytest.mark.parametrize("rotate", [False, True])
def test_rotation_about_and_boost_along_the_beam(constituents, rotate):
    features = constituent_features(constituents, rotate=rotate)
    mask = constituent_mask(constituents)
    rotated = lorentz.lorentz_transform(constituents, beam_rotation_matrix(1.3))
    np.testing.assert_allclose(constituent_features(rotated, rotate=rotate)[mask], features[mask], atol=1e-9)
    boosted = lorentz.lorentz_transform(constituents, beam_boost_matrix(0.7))
    after = constituent_features(boosted, rotate=rotate)
    columns = [INDEX[name] for name in BOOST_INVARIANT]
    np.testing.assert_allclose(after[mask][:, columns], features[mask][:, columns], atol=1e-9)
    assert not np.allclose(after[mask][:, INDEX["log_e"]], features[mask][:, INDEX["log_e"]])


def test_rotation_aligns_the_principal_axis_and_keeps_distances(constituents):
    plain = constituent_features(constituents)
    turned = constituent_features(constituents, rotate=True)
    mask = constituent_mask(constituents)
    np.testing.assert_allclose(turned[..., 2:], plain[..., 2:], atol=1e-12)  # Delta R and momenta unchanged
    weights = np.exp(turned[..., INDEX["log_pt_fraction"]]) * mask
    dy, dphi = turned[..., INDEX["delta_y"]], turned[..., INDEX["delta_phi"]]
    c_yy, c_pp, c_yp = ((weights * a * b).sum(axis=1) for a, b in ((dy, dy), (dphi, dphi), (dy, dphi)))
    np.testing.assert_allclose(c_yp, 0, atol=1e-12)
    assert (c_yy >= c_pp).all()
    np.testing.assert_allclose(principal_axis_angle(dy, dphi, weights), 0, atol=1e-9)
    assert ((weights * dy**3).sum(axis=1) >= 0).all()  # the harder side points to positive Delta y


def test_principal_axis_angle_of_points_on_a_line():
    angle = 0.4
    t = np.linspace(-1, 1, 9)[None]
    recovered = principal_axis_angle(t * np.cos(angle), t * np.sin(angle), np.ones_like(t))
    np.testing.assert_allclose(recovered, angle)
    with pytest.raises(ValueError, match="share the shape"):
        principal_axis_angle(t, t[:, :3], np.ones_like(t))


def test_permuting_constituents_permutes_features(constituents):
    order = np.random.default_rng(1).permutation(constituents.shape[1])
    np.testing.assert_allclose(
        constituent_features(constituents[:, order], rotate=True),
        constituent_features(constituents, rotate=True)[:, order],
        atol=1e-12,
    )


def test_malformed_input_raises(constituents):
    with pytest.raises(ValueError, match=r"\(jets, particles, 4\)"):
        constituent_features(constituents[0])
    bad = constituents.copy()
    bad[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="E < 0"):
        constituent_features(bad)
    empty = constituents.copy()
    empty[3] = 0
    with pytest.raises(ValueError, match="no constituents"):
        constituent_features(empty)
