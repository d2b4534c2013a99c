"""The shipped samples in data/: they match data/MANIFEST, and their physics looks like what they claim to be.

The figures measured on the committed files (seed 2026) are in comments next to each bound.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from reps4lhc_tutor.data import pythia, shipped
from reps4lhc_tutor.data.jets import load_quark_gluon, load_top_tagging, load_zjets
from reps4lhc_tutor.physics import jets as observables


@pytest.fixture(autouse=True)
def _the_repository_files(monkeypatch):
    monkeypatch.delenv(shipped.SHIPPED_ENV, raising=False)  # the files next to the package, nothing else


def _require(name: str) -> None:
    if not (shipped.shipped_dir() / shipped.shipped_file(name)).is_file():
        pytest.skip(f"data/{name}.h5 is not in this checkout (data/MANIFEST gives the command that makes it)")


def test_manifest_matches_every_shipped_file():
    assert shipped.check_manifest() == []
    entries = shipped.read_manifest()
    assert set(entries) == set(pythia.DATASETS)
    total = sum(entry["size_bytes"] for entry in entries.values())
    assert total <= 25e6, f"shipped data take {total / 1e6:.1f} MB; the budget is 25 MB"
    for name, entry in entries.items():
        path = shipped.shipped_dir() / entry["file"]
        assert path.stat().st_size == entry["size_bytes"]
        assert entry["command"].endswith(f"--out data/{name}.h5")


def test_top_jets_peak_at_the_top_mass_and_qcd_jets_lie_below():
    _require("top-tagging")
    data = load_top_tagging(None, source="shipped")
    mass = observables.jet_mass(data.constituents)
    top, qcd = mass[data.labels == 1], mass[data.labels == 0]
    counts, edges = np.histogram(top, bins=np.arange(0.0, 300.0, 10.0))
    peak = edges[counts.argmax()] + 5.0
    assert 150.0 < peak < 190.0  # measured: 175 GeV
    assert np.median(qcd) < 120.0  # measured: 73 GeV
    assert 150.0 < np.median(top) < 190.0  # measured: 173 GeV


def test_gluon_jets_have_more_constituents_than_quark_jets():
    _require("quark-gluon")
    data = load_quark_gluon(n_events=None, source="shipped")
    count = observables.multiplicity(data.constituents)
    ratio = count[data.labels == 0].mean() / count[data.labels == 1].mean()
    assert 1.2 < ratio < 1.8  # measured: 53.3 / 33.9 = 1.57


def test_detector_level_zjets_are_smeared_particle_level_zjets():
    _require("zjets")
    particle = load_zjets("both", "gen", n_events=None, source="shipped")
    detector = load_zjets("both", "sim", n_events=None, source="shipped")
    np.testing.assert_array_equal(particle.labels, detector.labels)  # the same events, in the same order
    found = detector.extra["found"]
    assert found.mean() > 0.99  # measured: 1.0
    for observable in (observables.jet_mass, observables.width, observables.multiplicity):
        truth = observable(particle.constituents[found])
        smeared = observable(detector.constituents[found])
        assert np.corrcoef(truth, smeared)[0, 1] > 0.8  # measured: mass 0.95, width 0.98, multiplicity 0.97
        assert np.std(smeared - truth) > 0.01 * np.std(truth)  # measured: 0.31, 0.19, 0.23 of the spread
    np.testing.assert_allclose(particle.extra["mass"], observables.jet_mass(particle.constituents), rtol=1e-5)


def test_data_and_simulation_differ_visibly():
    _require("zjets")
    detector = load_zjets("both", "sim", n_events=None, source="shipped")
    is_data = detector.labels == 1
    p_values = {
        name: ks_2samp(detector.extra[name][is_data], detector.extra[name][~is_data]).pvalue
        for name in ("mass", "multiplicity", "width")
    }
    assert sum(p < 1e-3 for p in p_values.values()) >= 2, p_values  # measured: 2e-32, 3e-45, 1e-34
    narrower = np.median(detector.extra["width"][is_data]) < np.median(detector.extra["width"][~is_data])
    assert narrower  # the "data" sample has a smaller shower coupling
