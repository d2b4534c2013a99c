"""Tests of physics.tagging_observables and jets.constituent_charges: hand-computed jets, bad input."""

import numpy as np
import pytest

from reps4lhc_tutor.physics import jets, lorentz
from reps4lhc_tutor.physics.tagging_observables import quark_gluon_observables, top_tagging_observables


def make_jets(particles, n_pad=0):
    """Jets ``(jets, n + n_pad, 4)`` from rows ``(jets, n, 4)`` of ``(pt, y, phi, m)``, zero-padded."""
    p = lorentz.from_ptyphim(np.asarray(particles, dtype=float))
    return np.concatenate([p, np.zeros((len(p), n_pad, 4))], axis=1)


def test_constituent_charges_of_a_hand_made_jet_with_padding():
    p = make_jets([[(30.0, 0.0, 0.0, 0.0), (20.0, 0.1, 0.0, 0.14), (10.0, 0.0, 0.1, 0.94)]], n_pad=2)
    pid = np.array([[22, -211, 2212, 211, 211]])  # the padding rows carry junk ids: they must be ignored
    np.testing.assert_array_equal(jets.constituent_charges(p, pid), [[0, -1, 1, 0, 0]])


def test_quark_gluon_observables_of_a_hand_made_jet():
    # Two back-to-back-in-phi massless particles of 30 and 10 GeV at y = 0, phi = +-0.1, one charged.
    p = make_jets([[(30.0, 0.0, 0.1, 0.0), (10.0, 0.0, -0.1, 0.0)]], n_pad=1)
    pid = np.array([[211, 22, 0]])
    obs = quark_gluon_observables(p, pid)
    assert list(obs) == [
        "multiplicity",
        "charged mult.",
        "width",
        "ptD",
        "C_0.2",
        "m / pT",
        "S_frag",
        "E_ch / E",
    ]
    assert obs["multiplicity"][0] == 2 and obs["charged mult."][0] == 1
    np.testing.assert_allclose(obs["ptD"], np.sqrt(30.0**2 + 10.0**2) / 40.0, rtol=1e-12)
    np.testing.assert_allclose(obs["C_0.2"], 30.0 * 10.0 * 0.2**0.2 / 40.0**2, rtol=1e-12)
    np.testing.assert_allclose(obs["S_frag"], -(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), rtol=1e-12)
    np.testing.assert_allclose(obs["E_ch / E"], 0.75, rtol=1e-12)  # at y = 0 the energy is the pT
    # massless pair: m^2 = 2 pT1 pT2 (cosh dy - cos dphi); pT of the sum from the vector sum
    mass = np.sqrt(2 * 30.0 * 10.0 * (1 - np.cos(0.2)))
    pt = np.hypot(30 * np.cos(0.1) + 10 * np.cos(-0.1), 30 * np.sin(0.1) + 10 * np.sin(-0.1))
    np.testing.assert_allclose(obs["m / pT"], mass / pt, rtol=1e-9)
    np.testing.assert_allclose(obs["width"], jets.width(p), rtol=0)


def test_top_tagging_observables_use_the_leading_constituents_but_count_all():
    rng = np.random.default_rng(1)
    n = 12
    rows = np.stack(
        [
            np.sort(rng.exponential(20.0, n))[::-1] + 1,
            rng.normal(0, 0.3, n),
            rng.normal(0, 0.3, n),
            np.zeros(n),
        ],
        axis=-1,
    )
    p = make_jets(rows[None], n_pad=3)
    obs = top_tagging_observables(p, n_leading=5)
    assert list(obs) == ["mass", "soft-drop mass", "tau32", "tau21", "multiplicity", "width", "ptD"]
    assert obs["multiplicity"][0] == n  # every constituent, not the 5 leading ones
    leading = p[:, :5]
    np.testing.assert_allclose(obs["mass"], jets.jet_mass(leading), rtol=1e-12)
    np.testing.assert_allclose(obs["ptD"], jets.ptd(leading), rtol=1e-12)
    np.testing.assert_allclose(obs["tau32"], jets.tau32(leading), rtol=1e-12)
    assert obs["mass"][0] < jets.jet_mass(p)[0]  # the softer constituents do add mass
    everything = top_tagging_observables(p, n_leading=64)
    np.testing.assert_allclose(everything["mass"], jets.jet_mass(p), rtol=1e-12)


@pytest.mark.parametrize("n_leading", [0, -1, 2.5, True])
def test_top_tagging_observables_reject_a_bad_number_of_leading_constituents(n_leading):
    p = make_jets([[(30.0, 0.0, 0.0, 0.0), (10.0, 0.1, 0.0, 0.0)]])
    with pytest.raises(ValueError, match="n_leading must be a positive integer"):
        top_tagging_observables(p, n_leading=n_leading)
