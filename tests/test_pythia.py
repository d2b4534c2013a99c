"""Pythia 8 + FastJet jet generation: seeds, shards and merging, files, bad input, and a tiny smoke run.

Generation makes ~50 jets/s per core, so the real runs here total a few dozen jets; the rest is synthetic.
"""

import importlib.util
import json
import sys

import h5py
import numpy as np
import pytest

from reps4lhc_tutor.data import cache, pythia
from reps4lhc_tutor.data.detector import DETECTOR_VERSION, DetectorConfig

needs_generators = pytest.mark.skipif(
    any(importlib.util.find_spec(module) is None for module in ("pythia8mc", "fastjet")),
    reason='needs pip install "reps4lhc_tutor[data]"',
)


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def arrays_equal(first, second):
    return first.keys() == second.keys() and all(np.array_equal(first[key], second[key]) for key in first)


def test_shard_seeds_are_deterministic_disjoint_and_in_pythias_range():
    seeds = {
        pythia.shard_seed(seed, shard, label) for seed in range(5) for shard in range(40) for label in (0, 1)
    }
    assert len(seeds) == 400  # no two shards share a stream
    assert len({pythia_seed for pythia_seed, _ in seeds}) == 400
    assert all(1 <= pythia_seed <= 900_000_000 for pythia_seed, _ in seeds)
    assert pythia.shard_seed(3, 1, 0) == pythia.shard_seed(3, 1, 0)
    with pytest.raises(ValueError, match=">= 0"):
        pythia.shard_seed(-1, 0, 0)


def test_shards_split_the_jets_evenly_over_labels():
    spec = pythia.DATASETS["top-tagging"]
    tasks = pythia._tasks(spec, 2 * pythia.SHARD_JETS + 3, seed=1, level="detector")
    counts = {(task.label, task.shard): task.n_jets for task in tasks}
    assert counts == {
        (0, 0): pythia.SHARD_JETS,
        (0, 1): 2,
        (1, 0): pythia.SHARD_JETS,
        (1, 1): 1,
    }


@needs_generators
def test_quark_gluon_is_deterministic_and_chunks_merge_to_the_same_file(tmp_path, monkeypatch):
    """6 quark/gluon jets made three ways (one process; two workers; two chunks then merged)."""
    monkeypatch.setattr(pythia, "SHARD_JETS", 1)  # several shards from a handful of jets
    whole = pythia.generate("quark-gluon", 2, seed=5, out=tmp_path / "whole.h5", progress=False)
    parallel = pythia.generate("quark-gluon", 2, seed=5, jobs=2, progress=False)
    assert parallel == pythia.generated_path("quark-gluon", 2, seed=5)
    chunks = [
        pythia.generate("quark-gluon", 2, seed=5, chunk=(k, 2), out=tmp_path / f"c{k}.h5", progress=False)
        for k in (1, 0)
    ]
    merged = pythia.merge(chunks, out=tmp_path / "merged.h5")
    (first, meta), (second, _), (third, meta_merged) = map(pythia.read_generated, (whole, parallel, merged))
    assert arrays_equal(first, second) and arrays_equal(first, third) and meta == meta_merged
    assert sorted(first) == ["constituents", "jets", "labels", "pid"]
    assert sorted(first["labels"].tolist()) == [0, 1]
    # Particle level: cuts hold, constituents are pT-ordered and sum to the jet.
    jet_pt = np.hypot(first["jets"][:, 1], first["jets"][:, 2])
    assert np.all((jet_pt > 500) & (jet_pt < 550))
    constituent_pt = np.hypot(first["constituents"][..., 1], first["constituents"][..., 2])
    assert np.all(np.diff(constituent_pt, axis=1) <= 0)
    np.testing.assert_allclose(first["constituents"].sum(axis=1), first["jets"], rtol=1e-4, atol=1e-2)
    assert np.all((first["pid"] != 0) == (constituent_pt > 0))
    assert meta["generator"] == "Pythia 8.317" and meta["seed"] == 5 and meta["level"] == "particle"
    assert "WeakBosonAndParton:qg2gmZq = on" in meta["settings"]["quark"]
    assert "Print:quiet = on" in meta["settings"]["gluon"]
    assert meta["package_version"]
    # A chunk file alone is not a dataset: merging needs every chunk.
    with pytest.raises(ValueError, match=r"chunks \[0\] of 2 are missing"):
        pythia.merge(chunks[:1])
    with pytest.raises(ValueError, match="given twice"):
        pythia.merge([chunks[0], chunks[0]])
    with pytest.raises(ValueError, match="not a chunk file"):
        pythia.merge([whole])


@needs_generators
def test_top_tagging_detector_level_and_zjets_smoke(tmp_path, capfd):
    top = pythia.generate("top-tagging", 2, seed=1, out=tmp_path / "top.h5", progress=False)
    arrays, meta = pythia.read_generated(top)
    assert arrays["constituents"].shape == (2, 200, 4) and arrays["constituents"].dtype == np.float32
    jet_pt = np.hypot(arrays["jets"][:, 1], arrays["jets"][:, 2])
    assert np.all((jet_pt > 550) & (jet_pt < 650))
    assert meta["level"] == "detector" and meta["detector"]["bz"] == DetectorConfig().bz
    assert meta["detector_version"] == DETECTOR_VERSION

    zjets = pythia.generate("zjets", 2, seed=1, out=tmp_path / "z.h5", progress=False)
    arrays, meta = pythia.read_generated(zjets)
    assert {"particle/constituents", "detector/constituents", "detector/found", "labels"} <= set(arrays)
    assert sorted(arrays["labels"].tolist()) == [0, 1] and meta["labels"] == {"0": "simulation", "1": "data"}
    assert "TimeShower:alphaSvalue = 0.100" in meta["settings"]["data"]
    # Same events at two levels: the detector-level jet is a smeared version of the particle-level one.
    particle_pt = np.hypot(*arrays["particle/jets"][:, 1:3].T)
    detector_pt = np.hypot(*arrays["detector/jets"][:, 1:3].T)
    assert np.all(arrays["detector/found"]) and np.all(np.abs(detector_pt / particle_pt - 1) < 0.3)
    assert not np.array_equal(arrays["particle/constituents"], arrays["detector/constituents"])
    for level in ("particle", "detector"):
        observables = {name: arrays[f"{level}/observables/{name}"] for name in pythia.SUBSTRUCTURE}
        assert np.all(observables["multiplicity"] >= 1) and np.all(observables["mass"] > 0)
        expected = pythia.substructure(arrays[f"{level}/constituents"])
        assert all(np.array_equal(observables[name], expected[name]) for name in pythia.SUBSTRUCTURE)
    out, err = capfd.readouterr()
    assert "PYTHIA" not in out + err and "FastJet" not in out + err  # generators stay quiet


@needs_generators
def test_zjets_is_written_to_the_cache_folder(folder):
    """Without ``out`` the two-level dataset goes to its cache path (the checked level passes again)."""
    path = pythia.generate("zjets", 2, seed=1, progress=False)
    assert path == pythia.generated_path("zjets", 2, seed=1) and path.is_file()
    assert pythia.read_generated(path)[1]["level"] == "both"


def test_an_existing_file_is_returned_without_generating(folder, monkeypatch):
    path = pythia.generated_path("top-tagging", 10, seed=2)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    monkeypatch.setattr(pythia, "_run", lambda task: pytest.fail("generated although the file exists"))
    assert pythia.generate("top-tagging", 10, seed=2, progress=False) == path


def test_generated_path_depends_on_every_argument():
    paths = {
        pythia.generated_path("top-tagging", 10),
        pythia.generated_path("top-tagging", 11),
        pythia.generated_path("top-tagging", 10, seed=1),
        pythia.generated_path("top-tagging", 10, level="particle"),
        pythia.generated_path("quark-gluon", 10),
        pythia.generated_path("top-tagging", 10, chunk=(0, 2)),
    }
    assert len(paths) == 6
    assert pythia.generated_path("top-tagging", 10, level="detector") == pythia.generated_path(
        "top-tagging", 10
    )


def test_detector_level_keys_change_with_the_detector_version(monkeypatch):
    """A changed detector never reuses an old file; particle-level files do not depend on it."""
    detector, particle = pythia.generated_path("top-tagging", 10), pythia.generated_path("quark-gluon", 10)
    monkeypatch.setattr(pythia, "DETECTOR_VERSION", DETECTOR_VERSION + 1)
    assert pythia.generated_path("top-tagging", 10) != detector
    assert pythia.generated_path("quark-gluon", 10) == particle
    assert pythia.detector_version("particle") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "w-tagging"},
            "unknown jet dataset 'w-tagging'; use one of top-tagging, quark-gluon, zjets",
        ),
        ({"n_jets": 0}, "n_jets must be an integer >= 1"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"jobs": 0}, "jobs must be an integer >= 1"),
        ({"chunk": (2, 2)}, r"chunk must be \(k, K\)"),
        ({"level": "hadron"}, "level must be 'particle' or 'detector'"),
        ({"name": "zjets", "level": "particle"}, "zjets always stores particle and detector level"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"name": "top-tagging", "n_jets": 4, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        pythia.generate(**arguments, progress=False)


@pytest.mark.parametrize("module", ["pythia8mc", "fastjet"])
def test_missing_generators_name_the_install_command(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)  # None in sys.modules makes the import fail
    with pytest.raises(ImportError, match=rf'{module} is missing\): pip install "reps4lhc_tutor\[data\]"'):
        pythia.generate("top-tagging", 4, progress=False)


def test_a_damaged_file_is_reported(tmp_path):
    path = tmp_path / "bad.h5"
    path.write_bytes(b"not hdf5")
    with pytest.raises(OSError, match="not a readable generated jet file"):
        pythia.read_generated(path)
    with pytest.raises(FileNotFoundError, match="reps4lhc data generate"):
        pythia.read_generated(tmp_path / "absent.h5")
    with h5py.File(path, "w") as stream:  # HDF5, but no metadata
        stream.create_dataset("labels", data=np.zeros(3))
    with pytest.raises(OSError, match="not a readable generated jet file"):
        pythia.read_generated(path)
    with h5py.File(path, "w") as stream:
        stream.attrs["metadata"] = json.dumps({"dataset": "top-tagging"})
    with pytest.raises(ValueError, match="not a chunk file"):
        pythia.merge([path])


def test_substructure_of_synthetic_jets_and_of_a_missing_jet():
    # Two massless particles of pT 100 and 50 at Delta R = 0.2, plus a jet without constituents (all zeros).
    eta, phi = np.array([0.0, 0.2]), np.array([0.0, 0.0])
    pt = np.array([100.0, 50.0])
    particles = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    constituents = np.zeros((2, 3, 4))
    constituents[0, :2] = particles
    values = pythia.substructure(constituents)
    assert set(values) == set(pythia.SUBSTRUCTURE)
    assert all(np.isnan(value[1]) for value in values.values())
    # m^2 = 2 pT1 pT2 (cosh(Delta eta) - cos(Delta phi)); z_g = 50 / 150 passes z_cut = 0.1.
    assert values["mass"][0] == pytest.approx(np.sqrt(2 * 100 * 50 * (np.cosh(0.2) - 1)), rel=1e-9)
    assert values["multiplicity"][0] == 2 and values["z_g"][0] == pytest.approx(1 / 3)
    assert values["ptd"][0] == pytest.approx(np.hypot(100, 50) / 150)


def test_estimated_seconds_divides_the_jets_by_the_rate_of_the_busy_workers():
    rate = pythia.JETS_PER_CORE_SECOND["quark-gluon"]
    shard = pythia.SHARD_JETS
    # 8 shards of quark-gluon (4 per label): one worker makes them all, 2 share them, 16 find only 8.
    n_jets = 8 * shard
    assert pythia.estimated_seconds("quark-gluon", n_jets, 1) == pytest.approx(n_jets / rate)
    assert pythia.estimated_seconds("quark-gluon", n_jets, 2) == pytest.approx(n_jets / (2 * rate))
    assert pythia.estimated_seconds("quark-gluon", n_jets, 16) == pytest.approx(n_jets / (8 * rate))
    # Chunk 1 of 3 holds shard 1 of each label: 2 shards, 2 * SHARD_JETS jets.
    assert pythia.estimated_seconds("quark-gluon", n_jets, 16, chunk=(1, 3)) == pytest.approx(shard / rate)
    # Quark/gluon is the slow one: few events pass its pT window.
    rates = pythia.JETS_PER_CORE_SECOND
    assert set(rates) == set(pythia.DATASETS) and rates["quark-gluon"] < min(
        rates["top-tagging"], rates["zjets"]
    )
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        pythia.estimated_seconds("zjets", 10, 0)
    with pytest.raises(ValueError, match="unknown jet dataset"):
        pythia.estimated_seconds("w-tagging", 10, 1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.2, "about 1 s"), (40, "about 40 s"), (700, "about 12 min"), (9000, "about 2.5 h")],
)
def test_durations_read_well(seconds, text):
    assert pythia._duration(seconds) == text


def test_generation_notice_names_count_workers_estimate_file_and_command(folder):
    n_jets = 80 * pythia.SHARD_JETS  # 20k jets on 4 workers: minutes
    notice = pythia.generation_notice("quark-gluon", n_jets, 3, 4)
    minutes = round(n_jets / (4 * pythia.JETS_PER_CORE_SECOND["quark-gluon"]) / 60)
    assert notice.startswith(
        f"Generating {n_jets} quark-gluon jets with Pythia 8 + FastJet on 4 worker processes"
    )
    assert f"about {minutes} min here" in notice
    assert f"Writing {pythia.generated_path('quark-gluon', n_jets, 3)}." in notice
    assert notice.endswith(f"run: reps4lhc data generate quark-gluon --n {n_jets} --seed 3")
    chunked = pythia.generation_notice(
        "top-tagging", 6, 0, 8, chunk=(0, 2), level="particle", out=folder / "a.h5"
    )
    assert "chunk 0 of 2 of 6 top-tagging jets" in chunked and "on 2 worker processes" in chunked
    assert chunked.endswith(f"--n 6 --seed 0 --level particle --chunk 0 --of 2 --out {folder / 'a.h5'}")
    assert "on 1 worker process:" in pythia.generation_notice("zjets", 2, 0, 1)


@pytest.mark.parametrize("module", ["pythia8mc", "fastjet"])
def test_missing_generator_names_the_module(monkeypatch, module):
    monkeypatch.setitem(sys.modules, module, None)
    assert pythia.missing_generator() == module


@needs_generators
def test_no_generator_is_missing_where_both_import():
    assert pythia.missing_generator() is None
