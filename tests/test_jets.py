"""Tests of physics.jets: hand-computed tiny jets, IRC safety, boosts, padding, FastJet, bad input."""

import numpy as np
import pytest

from reps4lhc_tutor.physics import jets, lorentz

A = 0.2  # half opening angle of the symmetric two-particle jet


def make_jet(*particles):
    """One jet ``(1, n, 4)`` from ``(pt, y, phi, m)`` tuples."""
    return lorentz.from_ptyphim(np.array(particles, dtype=float))[None]


def random_jets(rng, n_jets=12, n_particles=25):
    """Jets ``(n_jets, n_particles, 4)`` of pions spread around ``y = phi = 0``, all rows real."""
    pt = rng.exponential(20.0, (n_jets, n_particles)) + 0.5
    y, phi = rng.normal(0.0, 0.25, (2, n_jets, n_particles))
    return lorentz.from_ptyphim(np.stack([pt, y, phi, np.full_like(pt, 0.1396)], axis=-1))


def irc_safe(p):
    """All IRC-safe observables of ``p`` as a dict of ``(jets,)`` arrays."""
    taus = jets.nsubjettiness(p, n_max=3)
    groomed = jets.soft_drop(p, radius=0.4)
    return {
        "mass": jets.jet_mass(p),
        "width": jets.width(p),
        "c_0.2": jets.c_beta(p, 0.2),
        "c_1": jets.c_beta(p, 1.0),
        "lambda_1_0.5": jets.angularity(p, kappa=1, beta=0.5),
        "lambda_1_2": jets.angularity(p, kappa=1, beta=2),
        "tau1": taus[:, 0],
        "tau2": taus[:, 1],
        "tau3": taus[:, 2],
        "z_g": groomed.z_g,
        "r_g": groomed.r_g,
        "m_groomed": groomed.mass,
    }


def all_observables(p, pid):
    return irc_safe(p) | {
        "ptd": jets.ptd(p),
        "n_pf": jets.multiplicity(p),
        "s_frag": jets.fragmentation_entropy(p),
        "s_pid": jets.pid_entropy(p, pid),
        "e_q": jets.charged_energy_fraction(p, pid),
        "lambda_0_0": jets.angularity(p, kappa=0, beta=0),
        "tau21": jets.tau21(p),
        "tau32": jets.tau32(p),
    }


def assert_same(a, b, rtol=1e-9, atol=1e-9):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=name)


@pytest.fixture
def rng():
    return np.random.default_rng(4)


# ---------------------------------------------------------------------------------------------------------
# Hand-computed values
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def pair():
    """Two massless particles of pT 50 at (y, phi) = (0, +-A): the jet axis is (0, 0), Delta R_iJ = A."""
    return make_jet((50.0, 0.0, A, 0.0), (50.0, 0.0, -A, 0.0))


@pytest.fixture
def triplet():
    """Massless pT 10, 20, 30 at (y, phi) = (0, 0), (0.3, 0), (0, 0.4): pair distances 0.3, 0.4, 0.5."""
    return make_jet((10.0, 0.0, 0.0, 0.0), (20.0, 0.3, 0.0, 0.0), (30.0, 0.0, 0.4, 0.0))


def test_symmetric_pair(pair):
    np.testing.assert_allclose(jets.jet_four_momentum(pair), [[100 * np.cosh(0), 100 * np.cos(A), 0, 0]])
    np.testing.assert_allclose(jets.jet_mass(pair), np.sqrt(2 * 50 * 50 * (1 - np.cos(2 * A))))
    np.testing.assert_array_equal(jets.multiplicity(pair), [2])
    np.testing.assert_allclose(jets.width(pair), A / np.cos(A))  # 100 A / (100 cos A)
    np.testing.assert_allclose(jets.ptd(pair), 1 / np.sqrt(2))
    np.testing.assert_allclose(jets.c_beta(pair, 0.5), (2 * A) ** 0.5 / 4)
    np.testing.assert_allclose(jets.fragmentation_entropy(pair), np.log(2))
    np.testing.assert_allclose(jets.angularity(pair, kappa=2, beta=1.5, radius=0.4), 2 * 0.25 * 0.5**1.5)
    np.testing.assert_allclose(jets.nsubjettiness(pair, n_max=3), [[100 * A, 0, 0]], atol=1e-12)
    np.testing.assert_array_equal(jets.tau21(pair), [0.0])
    groomed = jets.soft_drop(pair)
    np.testing.assert_allclose(groomed.z_g, 0.5)
    np.testing.assert_allclose(groomed.r_g, 2 * A)
    np.testing.assert_allclose(groomed.mass, jets.jet_mass(pair))


def test_triplet(triplet):
    np.testing.assert_array_equal(jets.multiplicity(triplet), [3])
    np.testing.assert_allclose(jets.ptd(triplet), np.sqrt(100 + 400 + 900) / 60)
    np.testing.assert_allclose(jets.c_beta(triplet, 1.0), (200 * 0.3 + 300 * 0.4 + 600 * 0.5) / 3600)
    np.testing.assert_allclose(jets.c_beta(triplet, 2.0), (200 * 0.09 + 300 * 0.16 + 600 * 0.25) / 3600)
    z = np.array([1, 2, 3]) / 6
    np.testing.assert_allclose(jets.fragmentation_entropy(triplet), -np.sum(z * np.log(z)))
    # kT distances min(pT^2) dR^2: AB 9, AC 16, BC 100 -> the two axes are A+B and C; tau_3 = 0
    e_ab, pz_ab = 10 + 20 * np.cosh(0.3), 20 * np.sinh(0.3)
    y_ab = np.arctanh(pz_ab / e_ab)  # A and B have phi = 0, so does A + B
    taus = jets.nsubjettiness(triplet, n_max=3)
    np.testing.assert_allclose(taus[:, 1], 10 * y_ab + 20 * (0.3 - y_ab))
    np.testing.assert_allclose(taus[:, 2], 0.0, atol=1e-12)
    np.testing.assert_allclose(jets.tau21(triplet), taus[:, 1] / taus[:, 0])
    np.testing.assert_array_equal(jets.tau32(triplet), [0.0])


def test_soft_drop_grooms_soft_wide_branch():
    # C/A: A and B (Delta R 0.3) merge first; C (pT 2) fails z > 0.1 (z = 2/32) and is dropped;
    # A+B pass with z = 10 / 30
    p = make_jet((10.0, 0.0, 0.0, 0.0), (20.0, 0.3, 0.0, 0.0), (2.0, 0.0, 0.5, 0.0))
    groomed = jets.soft_drop(p, z_cut=0.1, beta=0.0)
    np.testing.assert_allclose(groomed.z_g, 1 / 3)
    np.testing.assert_allclose(groomed.r_g, 0.3)
    np.testing.assert_allclose(groomed.mass, np.sqrt(2 * 10 * 20 * (np.cosh(0.3) - 1)))
    assert jets.jet_mass(p)[0] > groomed.mass[0] + 1
    # with beta > 0 the cut z_cut (0.5 / R)^beta = 0.1 * 0.625^2 = 0.039 lets C pass
    np.testing.assert_allclose(jets.soft_drop(p, beta=2.0, radius=0.8).z_g, 2 / 32)


def test_soft_drop_single_particle_and_no_passing_split():
    single = make_jet((40.0, 0.1, 0.2, 0.5))
    groomed = jets.soft_drop(single)
    np.testing.assert_array_equal([groomed.z_g, groomed.r_g], [[0.0], [0.0]])
    np.testing.assert_allclose(groomed.mass, 0.5)
    # both splittings fail z_cut = 0.3: grooming ends on the hardest particle
    p = make_jet((100.0, 0.0, 0.0, 0.0), (20.0, 0.0, 0.3, 0.0), (10.0, 0.2, 0.0, 0.0))
    groomed = jets.soft_drop(p, z_cut=0.3)
    np.testing.assert_array_equal(groomed.z_g, [0.0])
    np.testing.assert_allclose(groomed.groomed, p[:, 0], rtol=1e-12)


def test_pid_observables():
    p = make_jet(*[(10.0 * (i + 1), 0.0, 0.1 * i, 0.0) for i in range(4)])
    pid = np.array([[22, 22, -211, 2112]])
    f = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(jets.pid_entropy(p, pid), -np.sum(f * np.log(f)))
    np.testing.assert_allclose(jets.pid_entropy(p, np.array([[211, -211, 321, 2212]])), 0.0)
    energy = p[0, :, 0]
    np.testing.assert_allclose(jets.charged_energy_fraction(p, pid), energy[2] / energy.sum())
    np.testing.assert_allclose(jets.charged_energy_fraction(p, pid.astype(float)), energy[2] / energy.sum())
    np.testing.assert_array_equal(
        jets.particle_charge([-211, 11, -11, 22, 2112, -2212, 130, 13]), [-1, -1, 1, 0, 0, -1, 0, -1]
    )


def test_angularity_special_cases(rng):
    p = random_jets(rng)
    np.testing.assert_allclose(jets.angularity(p, kappa=0, beta=0), jets.multiplicity(p))
    np.testing.assert_allclose(jets.angularity(p, kappa=2, beta=0), jets.ptd(p) ** 2)
    # (1, 1) with R = 1 is the width with the scalar instead of the vector pT sum in the denominator
    scalar_sum = lorentz.pt(p).sum(axis=1)
    vector_sum = lorentz.pt(p.sum(axis=1))
    np.testing.assert_allclose(jets.angularity(p, radius=1.0) * scalar_sum / vector_sum, jets.width(p))


# ---------------------------------------------------------------------------------------------------------
# Symmetries: padding, infrared and collinear safety, longitudinal boosts
# ---------------------------------------------------------------------------------------------------------


def test_padding_and_order_do_not_matter(rng):
    p = random_jets(rng)
    pid = rng.choice([22, 211, -211, 321, 2112, 130, 11, -13], size=p.shape[:2])
    reference = all_observables(p, pid)
    padded = np.zeros((len(p), p.shape[1] + 7, 4))
    padded_pid = np.zeros(padded.shape[:2], dtype=int)
    slots = np.sort(rng.choice(padded.shape[1], p.shape[1], replace=False))  # zero rows interleaved
    padded[:, slots], padded_pid[:, slots] = p, pid
    assert_same(all_observables(padded, padded_pid), reference)
    # jets of different multiplicities in one batch: each equals its own unpadded value
    ragged = padded.copy()
    ragged[0, slots[5:]] = 0.0
    np.testing.assert_allclose(jets.soft_drop(ragged).z_g[0], jets.soft_drop(p[:1, :5]).z_g[0])
    np.testing.assert_allclose(jets.nsubjettiness(ragged)[0], jets.nsubjettiness(p[:1, :5])[0])


def test_infrared_safety(rng):
    p = random_jets(rng)
    soft = lorentz.from_ptyphim(
        np.stack([np.full(len(p), 1e-7), *rng.normal(0, 0.3, (2, len(p))), 0 * p[:, 0, 0]], -1)
    )
    with_soft = np.concatenate([p, soft[:, None]], axis=1)
    assert_same(irc_safe(with_soft), irc_safe(p), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(jets.ptd(with_soft), jets.ptd(p), rtol=1e-6)  # infrared safe only
    np.testing.assert_array_equal(jets.multiplicity(with_soft), jets.multiplicity(p) + 1)


def test_collinear_safety(rng):
    p = random_jets(rng)
    # exact halves: any rounding in the directions would give Delta R ~ 1e-16 and Delta R^0.2 ~ 1e-3 in C_0.2
    split = np.concatenate([p[:, 1:], 0.5 * p[:, :1], 0.5 * p[:, :1]], axis=1)
    assert_same(irc_safe(split), irc_safe(p), rtol=1e-9, atol=1e-9)
    assert (jets.fragmentation_entropy(split) > jets.fragmentation_entropy(p) + 1e-3).all()
    assert (jets.angularity(split, kappa=2, beta=1) < jets.angularity(p, kappa=2, beta=1)).all()
    assert (jets.ptd(split) < jets.ptd(p) - 1e-4).all()  # sum pT^2 drops: p_T D is not collinear safe


def test_longitudinal_boost_invariance(rng):
    p = random_jets(rng)
    pid = rng.choice([22, 211, -211, 2112], size=p.shape[:2])
    boosted = lorentz.boost(p, [0.0, 0.0, 0.8])
    reference, moved = all_observables(p, pid), all_observables(boosted, pid)
    energy_weighted = {"e_q"}
    assert_same(
        {k: moved[k] for k in moved.keys() - energy_weighted},
        {k: reference[k] for k in reference.keys() - energy_weighted},
        rtol=1e-8,
        atol=1e-8,
    )
    assert not np.allclose(moved["e_q"], reference["e_q"])  # energy fractions are not boost invariant


# ---------------------------------------------------------------------------------------------------------
# Agreement with FastJet
# ---------------------------------------------------------------------------------------------------------


# scikit-hep fastjet warns about exclusive jets even for the kT and C/A algorithms it names as safe
FASTJET_WARNING = "ignore:dcut and exclusive jets:UserWarning"


def _awkward_events(p):
    ak = pytest.importorskip("awkward")
    rows = [[dict(px=q[1], py=q[2], pz=q[3], E=q[0]) for q in jet if q[0] > 0] for jet in p.tolist()]
    return ak.Array(rows, with_name="Momentum4D")


@pytest.mark.filterwarnings(FASTJET_WARNING)
def test_soft_drop_and_mass_agree_with_fastjet(rng):
    fastjet = pytest.importorskip("fastjet")
    p = random_jets(rng, n_jets=15, n_particles=30)
    events = _awkward_events(p)
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.cambridge_algorithm, 100.0))
    reference = sequence.exclusive_jets_softdrop_grooming(njets=1, beta=0, symmetry_cut=0.1, R0=0.4)
    ours = jets.soft_drop(p, z_cut=0.1, beta=0.0, radius=0.4)
    np.testing.assert_allclose(ours.z_g, np.asarray(reference.symmetrysoftdrop), rtol=1e-9)
    np.testing.assert_allclose(ours.r_g, np.asarray(reference.deltaRsoftdrop), rtol=1e-9)
    np.testing.assert_allclose(ours.mass, np.asarray(reference.msoftdrop), rtol=1e-9)
    whole = sequence.exclusive_jets(1)
    whole = np.stack([np.asarray(whole[c]) for c in ("E", "px", "py", "pz")], axis=-1)
    np.testing.assert_allclose(jets.jet_four_momentum(p), whole[:, 0], rtol=1e-9)
    np.testing.assert_allclose(jets.jet_mass(p), lorentz.mass(whole[:, 0]), rtol=1e-9)


@pytest.mark.filterwarnings(FASTJET_WARNING)
def test_nsubjettiness_axes_agree_with_fastjet_exclusive_kt(rng):
    fastjet = pytest.importorskip("fastjet")
    p = random_jets(rng, n_jets=15, n_particles=30)
    sequence = fastjet.ClusterSequence(_awkward_events(p), fastjet.JetDefinition(fastjet.kt_algorithm, 100.0))
    ours = jets.nsubjettiness(p, n_max=3)
    _, y, phi = lorentz.pt(p), lorentz.rapidity(p), lorentz.phi(p)
    for n in (1, 2, 3):
        axes = sequence.exclusive_jets(n)
        axes = np.stack([np.asarray(axes[c]) for c in ("E", "px", "py", "pz")], axis=-1)
        dr = np.hypot(
            y[:, :, None] - lorentz.rapidity(axes)[:, None],
            lorentz.wrap_angle(phi[:, :, None] - lorentz.phi(axes)[:, None]),
        )
        np.testing.assert_allclose(ours[:, n - 1], np.sum(lorentz.pt(p) * dr.min(axis=2), axis=1), rtol=1e-9)


# ---------------------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------------------


def test_bad_constituents(pair):
    with pytest.raises(ValueError, match=r"\(jets, particles, 4\)"):
        jets.jet_mass(pair[0])
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        jets.width(pair[..., :3])
    nan = pair.copy()
    nan[0, 0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        jets.ptd(nan)
    with pytest.raises(ValueError, match="E < 0"):
        jets.ptd(-pair)
    ghost = pair.copy()
    ghost[0, 0, 0] = 0.0
    with pytest.raises(ValueError, match="padding"):
        jets.ptd(ghost)
    with pytest.raises(ValueError, match="no constituents"):
        jets.soft_drop(np.concatenate([pair, np.zeros_like(pair)]))
    with pytest.raises(ValueError, match="no jets"):
        jets.nsubjettiness(np.zeros((0, 3, 4)))
    beam = np.array([[[5.0, 0.0, 0.0, 5.0]]])
    with pytest.raises(ValueError, match="pT = 0"):
        jets.multiplicity(beam)


def test_bad_parameters(pair):
    with pytest.raises(ValueError, match="beta"):
        jets.c_beta(pair, 0.0)
    with pytest.raises(ValueError, match="kappa"):
        jets.angularity(pair, kappa=-1)
    with pytest.raises(ValueError, match="radius"):
        jets.angularity(pair, radius=0)
    with pytest.raises(ValueError, match="n_max"):
        jets.nsubjettiness(pair, n_max=0)
    with pytest.raises(ValueError, match="z_cut"):
        jets.soft_drop(pair, z_cut=0.5)


def test_bad_pid(pair):
    with pytest.raises(ValueError, match=r"pid must have shape \(jets, particles\) = \(1, 2\)"):
        jets.pid_entropy(pair, np.array([22, 211]))
    with pytest.raises(ValueError, match=r"unknown PDG ids \[1000\]"):
        jets.charged_energy_fraction(pair, np.array([[22, 1000]]))
    with pytest.raises(ValueError, match="unknown PDG ids"):
        jets.pid_entropy(pair, np.array([[22, 0]]))
    with pytest.raises(ValueError, match="integral"):
        jets.charged_energy_fraction(pair, np.array([[22.0, 211.5]]))
    with pytest.raises(TypeError, match="dtype"):
        jets.particle_charge(np.array(["pi+"]))


def test_subjettiness_ratio_reuses_one_clustering(rng):
    p = random_jets(rng, 6, 12)
    taus = jets.nsubjettiness(p, n_max=3)
    np.testing.assert_array_equal(jets.subjettiness_ratio(taus, 2), jets.tau21(p))
    np.testing.assert_array_equal(jets.subjettiness_ratio(taus, 3), jets.tau32(p))
    np.testing.assert_allclose(jets.subjettiness_ratio(taus, 3), taus[:, 2] / taus[:, 1])


@pytest.mark.parametrize(("shape", "n"), [((4, 2), 3), ((4, 3), 1), ((4,), 2)])
def test_subjettiness_ratio_names_the_needed_n_max(shape, n):
    with pytest.raises(ValueError, match="nsubjettiness"):
        jets.subjettiness_ratio(np.ones(shape), n)
