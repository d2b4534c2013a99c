"""Z -> mu mu + jets events: generation, the loader and the shipped sample, and the invertible coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.data import pythia, shipped
from reps4lhc_tutor.data.jets import SmallSampleWarning
from reps4lhc_tutor.data.zmumu import TRUTH_SEED, load_zmumu
from reps4lhc_tutor.physics import dimuon, lorentz

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zmumu")
    path = pythia.generate("zmumu", 60, seed=3, out=folder / "z.h5", progress=False)
    return pythia.read_generated(path)


@pytest.fixture(autouse=True)
def _repository_data(monkeypatch):
    monkeypatch.delenv(shipped.SHIPPED_ENV, raising=False)


def test_generated_events_hold_two_opposite_muons_from_the_z_and_selected_jets(generated):
    arrays, metadata = generated
    assert arrays["muons"].shape == (60, 2, 4) and arrays["jets"].shape == (60, pythia.MAX_JETS, 4)
    assert (arrays["muon_charges"].sum(axis=1) == 0).all()
    muons = arrays["muons"].astype(np.float64)
    assert (lorentz.pt(muons[:, 0]) >= lorentz.pt(muons[:, 1])).all()
    mass = lorentz.invariant_mass(muons[:, 0], muons[:, 1])
    assert np.median(mass) == pytest.approx(91.2, abs=2.0)  # dressed muons: the Z peak
    jets = arrays["jets"].astype(np.float64)
    n_jets = arrays["n_jets"].astype(int)
    assert (n_jets >= 1).all()
    stored = np.minimum(n_jets, pythia.MAX_JETS)
    real = np.arange(pythia.MAX_JETS) < stored[:, None]
    pt = lorentz.pt(jets)
    assert (pt[real] > 20.0).all() and (np.abs(lorentz.eta(jets[real])) < 4.5).all()
    assert (jets[~real] == 0).all()
    assert (np.diff(np.where(real, pt, 0.0), axis=1) <= 0).all()  # pT-ordered, padding last
    assert metadata["dataset"] == "zmumu" and metadata["level"] == "particle"
    assert "13000" in " ".join(metadata["settings"]["zmumu"])


def test_generation_is_reproducible_and_seeds_differ(tmp_path, generated):
    again, _ = pythia.read_generated(
        pythia.generate("zmumu", 60, seed=3, out=tmp_path / "a.h5", progress=False)
    )
    other, _ = pythia.read_generated(
        pythia.generate("zmumu", 60, seed=4, out=tmp_path / "b.h5", progress=False)
    )
    np.testing.assert_array_equal(again["muons"], generated[0]["muons"])
    assert not np.array_equal(other["muons"], generated[0]["muons"])


def test_detector_level_muons_are_tracks_near_the_particle_level_ones(tmp_path):
    arrays, metadata = pythia.read_generated(
        pythia.generate("zmumu", 30, seed=3, level="detector", out=tmp_path / "d.h5", progress=False)
    )
    assert metadata["level"] == "detector" and metadata["detector_version"] is not None
    muons = arrays["muons"].astype(np.float64)
    assert (
        np.abs(lorentz.mass_squared(muons)) < 1e-5 * muons[..., 0] ** 2
    ).all()  # massless tracks (float32)
    assert np.median(lorentz.invariant_mass(muons[:, 0], muons[:, 1])) == pytest.approx(91.2, abs=3.0)


def test_shipped_sample_loads_with_disjoint_splits_and_a_z_peak():
    train = load_zmumu(None, source="shipped", split="train")
    test = load_zmumu(None, source="shipped", split="test")
    assert train.meta["source"] == "shipped" and train.meta["sha256"]
    assert len(train) == 32_000 and len(test) == 4_000
    assert not np.isin(test.muons[:, 0, 0], train.muons[:, 0, 0]).all()
    mass = lorentz.invariant_mass(train.muons[:, 0].astype(np.float64), train.muons[:, 1].astype(np.float64))
    counts, edges = np.histogram(mass, bins=np.arange(80.0, 100.5, 0.5))
    assert 90.0 < edges[counts.argmax()] + 0.25 < 92.5  # the Z peak at 91.2 GeV
    fractions = np.bincount(train.n_jets, minlength=4)[1:4] / len(train)
    assert 0.7 < fractions[0] < 0.9 and fractions[0] > fractions[1] > fractions[2]  # falling multiplicity
    one = train.exclusive(1)
    assert (one.n_jets == 1).all() and one.meta["n_events"] == len(one)


def test_loader_arguments_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="no official"):
        load_zmumu(10, source="official")
    with pytest.raises(ValueError, match="particle level"):
        load_zmumu(10, source="shipped", level="detector")
    with pytest.raises(ValueError, match="holds only 4000 events"):
        load_zmumu(5000, source="shipped", split="test")
    with pytest.raises(ValueError, match="multiplicity"):
        load_zmumu(10, source="shipped").exclusive(0)


def test_auto_takes_the_shipped_sample_at_the_ci_profile_and_warns_when_short(monkeypatch, capsys):
    monkeypatch.setenv("REPS4LHC_PROFILE", "ci")
    events = load_zmumu(100, source="auto", split="val")
    assert events.meta["source"] == "shipped" and len(events) == 100
    assert "there is no official" not in capsys.readouterr().out  # ci: the shipped sample, for that reason
    with pytest.warns(SmallSampleWarning, match="holds only 4000 events"):
        load_zmumu(10_000, source="auto", split="val")


def test_the_truth_sample_shares_no_pythia_seed_with_the_training_files():
    def seeds(seed):
        return {pythia.shard_seed(seed, shard, 0)[0] for shard in range(2000)}  # 2000 shards: 500k events

    truth = seeds(TRUTH_SEED)
    assert truth.isdisjoint(seeds(0)) and truth.isdisjoint(seeds(2026))  # cpu-profile file, shipped file


def test_coordinates_invert_exactly_and_do_not_see_a_common_rotation():
    events = load_zmumu(2000, source="shipped").exclusive(1)
    muons, jets = events.muons.astype(np.float64), events.jets[:, :1].astype(np.float64)
    for dimuon_mass in (True, False):
        x = dimuon.event_features(muons, jets, dimuon_mass=dimuon_mass)
        assert x.shape == (len(events), 9) and len(dimuon.feature_names(1)) == 9
        back = dimuon.event_features(
            *dimuon.event_momenta(x, np.random.default_rng(1), dimuon_mass=dimuon_mass),
            dimuon_mass=dimuon_mass,
        )
        np.testing.assert_allclose(back, x, atol=1e-5)
        rotated = [lorentz.rotation_z(p, 0.7) for p in (muons, jets)]
        np.testing.assert_allclose(dimuon.event_features(*rotated, dimuon_mass=dimuon_mass), x, atol=1e-9)
    x = dimuon.event_features(muons, jets)
    massless = lorentz.from_ptetaphim(
        np.concatenate([lorentz.to_ptetaphim(muons)[..., :3], np.zeros((len(x), 2, 1))], -1)
    )
    np.testing.assert_allclose(
        np.exp(x[:, 4]), lorentz.invariant_mass(massless[:, 0], massless[:, 1]), rtol=1e-9
    )


def test_coordinates_name_bad_input():
    muons = np.tile([[50.0, 30.0, 40.0, 0.0]], (3, 2, 1))
    with pytest.raises(ValueError, match="padding"):
        dimuon.event_features(muons, np.zeros((3, 1, 4)))
    with pytest.raises(ValueError, match=r"\(events, 2, 4\)"):
        dimuon.event_features(muons[:, :1], np.zeros((3, 1, 4)))
    with pytest.raises(ValueError, match="5 \\+ 4 k"):
        dimuon.event_momenta(np.zeros((3, 7)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        dimuon.event_momenta(np.full((3, 9), np.nan), np.random.default_rng(0))


def test_jet_coordinates_of_any_multiplicity_match_the_event_coordinates():
    events = load_zmumu(2000, source="shipped", split="val")
    muons, jets = events.muons.astype(np.float64), events.jets.astype(np.float64)
    features = dimuon.jet_features(muons, jets, events.n_jets)
    assert features.shape == jets.shape
    for k in (1, 2):
        exact = events.n_jets == k
        assert exact.sum() > 100
        expected = dimuon.event_features(muons[exact], jets[exact, :k])[:, 5:].reshape(-1, k, 4)
        np.testing.assert_allclose(features[exact, :k], expected, rtol=1e-12, atol=1e-12)
    padded = np.arange(jets.shape[1]) >= events.n_jets[:, None]
    assert (features[padded] == 0).all() and (features[~padded] != 0).any(axis=-1).all()
    rotated = [lorentz.rotation_z(p, 2.1) for p in (muons, jets)]
    np.testing.assert_allclose(dimuon.jet_features(*rotated, events.n_jets), features, atol=1e-9)


def test_jet_coordinates_keep_every_slot_of_events_with_more_jets_than_slots():
    rng = np.random.default_rng(0)
    muons = lorentz.from_ptetaphim(np.stack([[[40.0, 0.1, 0.3, 0.0], [35.0, -0.4, 3.2, 0.0]]] * 3))
    jets = lorentz.from_ptetaphim(
        np.stack(
            [
                rng.uniform(25, 80, (3, 2)),
                rng.normal(size=(3, 2)),
                rng.uniform(-3, 3, (3, 2)),
                rng.uniform(2, 10, (3, 2)),
            ],
            axis=-1,
        )
    )
    features = dimuon.jet_features(muons, jets, np.array([2, 5, 1]))  # the second event counts 5 jets
    np.testing.assert_allclose(features[1], dimuon.event_features(muons[1:2], jets[1:2])[0, 5:].reshape(2, 4))
    assert (features[2, 1] == 0).all() and (features[:2] != 0).all()


def test_jet_coordinates_name_bad_input():
    muons = np.tile([[50.0, 30.0, 40.0, 0.0]], (3, 2, 1))
    jets = np.zeros((3, 2, 4))
    jets[:, 0] = [60.0, 0.0, 50.0, 10.0]
    with pytest.raises(ValueError, match=r"jets must be \(events, slots, 4\) and n_jets \(events,\)"):
        dimuon.jet_features(muons, jets[..., :3], np.ones(3))
    with pytest.raises(ValueError, match=r"jets must be \(events, slots, 4\) and n_jets \(events,\)"):
        dimuon.jet_features(muons, jets, np.ones(2))
    with pytest.raises(ValueError, match=r"muons must have shape \(events, 2, 4\)"):
        dimuon.jet_features(muons[:, :1], jets, np.ones(3))
    with pytest.raises(ValueError, match="for the events of muons"):
        dimuon.jet_features(muons[:2], jets, np.ones(3))
    with pytest.raises(ValueError, match="a jet within n_jets has pT = 0"):
        dimuon.jet_features(muons, jets, np.array([1, 2, 1]))  # the second event has one jet, not two
    jets[0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dimuon.jet_features(muons, jets, np.ones(3))
