"""The shipped, generated and auto sources of the jet loaders, on tiny files in the generated HDF5 layout."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings

import h5py
import numpy as np
import pytest

from reps4lhc_tutor.cli import main
from reps4lhc_tutor.data import jets, pythia, registry, shipped
from reps4lhc_tutor.data.cache import DATA_ENV
from reps4lhc_tutor.data.jets import load_quark_gluon, load_top_tagging, load_zjets, zjets_observables

RNG = np.random.default_rng(11)

needs_generators = pytest.mark.skipif(
    any(importlib.util.find_spec(module) is None for module in ("pythia8mc", "fastjet")),
    reason='needs pip install "reps4lhc_tutor[data]"',
)


def _constituents(n_jets: int, width: int) -> np.ndarray:
    """pT-ordered massless (E, px, py, pz) with 1..width particles, zero-padded, shape (n_jets, width, 4)."""
    pt = -np.sort(-RNG.uniform(1.0, 100.0, (n_jets, width)), axis=1)
    eta, phi = RNG.uniform(-0.3, 0.3, (2, n_jets, width))
    p = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    for jet, n in enumerate(RNG.integers(1, width + 1, n_jets)):
        p[jet, n:] = 0.0
    return p.astype(np.float32)


def fake_file(path, name: str, n_jets: int, seed: int = 0, width: int = 6):
    """Write a file in the layout of :func:`pythia.generate` (labels alternate 0, 1, 0, ...) and return it."""
    spec = pythia.DATASETS[name]
    labels = (np.arange(n_jets) % 2).astype(np.int8)
    levels = ("particle/", "detector/") if spec.default_level == "both" else ("",)
    columns: dict[str, np.ndarray] = {"labels": labels}
    for prefix in levels:
        columns[f"{prefix}constituents"] = _constituents(n_jets, width)
        columns[f"{prefix}jets"] = columns[f"{prefix}constituents"].sum(axis=1)
        if spec.with_pid:
            columns[f"{prefix}pid"] = np.where(columns[f"{prefix}constituents"][..., 0] > 0, 211, 0)
        if spec.substructure:
            for key, value in pythia.substructure(columns[f"{prefix}constituents"]).items():
                columns[f"{prefix}observables/{key}"] = value
    if spec.default_level == "both":
        columns["detector/found"] = np.ones(n_jets, bool)
    metadata = {
        "dataset": name,
        "n_jets": n_jets,
        "seed": seed,
        "level": spec.default_level,
        "labels": {str(i): label for i, label in enumerate(spec.label_names)},
        "generator": "Pythia 8.317",
        "clustering": f"FastJet 3.5, anti-kT R = {spec.radius}",
        "settings": {label: ["Beams:eCM = 14000.", "HardQCD:all = on"] for label in spec.label_names},
        "selection": {"pt_range_gev": list(spec.pt_range[:1]), "top_matching": None},
        "detector": None,
        "generator_version": pythia.GENERATOR_VERSION,
        "detector_version": pythia.detector_version(spec.default_level),
        "package_version": "test",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as stream:
        for key, value in columns.items():
            stream.create_dataset(key, data=value)
        stream.attrs["metadata"] = json.dumps(metadata)
    return path


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """A shipped-data folder with all three datasets and its manifest, and an empty cache folder."""
    data = tmp_path / "data"
    for name, n_jets in (("top-tagging", 20), ("quark-gluon", 10), ("zjets", 12)):
        fake_file(data / f"{name}.h5", name, n_jets, seed=2026)
    shipped.write_manifest(data)
    monkeypatch.setenv(shipped.SHIPPED_ENV, str(data))
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("REPS4LHC_PROFILE", "cpu")
    return data, tmp_path / "cache"


def test_manifest_records_checksums_counts_settings_and_the_command(folders):
    data, _ = folders
    entries = shipped.read_manifest(data)
    assert list(entries) == ["top-tagging", "quark-gluon", "zjets"]
    top = entries["top-tagging"]
    assert top["size_bytes"] == (data / "top-tagging.h5").stat().st_size and len(top["sha256"]) == 64
    assert top["counts"] == {"qcd": 10, "top": 10} and top["n_jets"] == 20
    process = ["Beams:eCM = 14000.", "HardQCD:all = on"]
    assert top["settings"]["process_settings"] == {"qcd": process, "top": process}
    assert top["settings"]["detector"] is None  # particle level
    assert top["command"] == (
        "rm -f data/top-tagging.h5 && reps4lhc data generate top-tagging --n 20 --jobs 2 --seed 2026 "
        "--out data/top-tagging.h5"
    )
    assert shipped.check_manifest(data) == []


def test_shipped_splits_are_disjoint_deterministic_views(folders):
    whole = load_top_tagging(None, source="shipped")
    parts = [load_top_tagging(split, source="shipped") for split in jets.SPLITS]
    assert [len(part) for part in parts] == [16, 2, 2] and len(whole) == 20
    np.testing.assert_array_equal(np.concatenate([p.constituents for p in parts]), whole.constituents)
    np.testing.assert_array_equal(load_top_tagging("val", source="shipped").labels, parts[1].labels)
    assert whole.labels.dtype == np.int64 and whole.pid is None and whole.extra["jet_p4"].shape == (20, 4)
    assert (
        whole.meta["source"] == "shipped"
        and whole.meta["sha256"] == shipped.read_manifest()["top-tagging"]["sha256"]
    )
    cut = load_top_tagging("train", n_events=5, max_constituents=3, source="shipped")
    np.testing.assert_array_equal(cut.constituents, parts[0].constituents[:5, :3])
    wide = load_quark_gluon(n_events=4, max_constituents=9, source="shipped")
    assert wide.constituents.shape == (4, 9, 4) and not wide.constituents[:, 6:].any()
    assert wide.pid.shape == (4, 9) and set(np.unique(wide.pid)) <= {0, 211}


def test_asking_for_more_jets_than_a_source_holds(folders):
    with pytest.raises(ValueError, match=r"n_events=17 but the 'train' split \(0.8\) of .* holds only 16"):
        load_top_tagging("train", n_events=17, source="shipped")
    with pytest.raises(ValueError, match=r"n_events=7 but .*'data' jets.* holds only 6"):
        load_zjets("data", "sim", n_events=7, source="shipped")


def test_zjets_levels_pair_event_by_event_and_samples_follow_the_labels(folders):
    data, _ = folders
    with h5py.File(data / "zjets.h5") as stream:
        labels = stream["labels"][()]
        detector = stream["detector/constituents"][()]
    both = load_zjets("both", "sim", n_events=None, source="shipped")
    np.testing.assert_array_equal(both.labels, labels)
    np.testing.assert_array_equal(both.constituents, detector)
    assert set(both.extra) == {"jet_p4", "found", *pythia.SUBSTRUCTURE} and both.meta["level"] == "detector"
    sim_gen = load_zjets("simulation", "gen", n_events=None, source="shipped")
    sim_det = load_zjets("simulation", "sim", n_events=None, source="shipped")
    assert sim_gen.labels is None and len(sim_gen) == len(sim_det) == 6
    np.testing.assert_array_equal(sim_det.constituents, detector[labels == 0])
    assert "found" not in sim_gen.extra and sim_gen.meta["level"] == "particle"
    with pytest.raises(ValueError, match="samples are simulation, data, both"):
        load_zjets("herwig", source="shipped")


def test_zjets_observables_are_the_stored_ones_and_match_a_recomputation():
    # the real shipped file: what generation stored equals what zjets_observables computes from the
    # constituents (the path official jets take), so both sources share one definition
    data = load_zjets("both", "sim", n_events=200, source="shipped")
    stored = zjets_observables(data)
    assert stored.shape == (200, len(pythia.SUBSTRUCTURE))
    for column, name in enumerate(pythia.SUBSTRUCTURE):
        np.testing.assert_array_equal(stored[:, column], data.extra[name])
    data.extra.clear()  # as for an official file: only the constituents are left
    np.testing.assert_allclose(zjets_observables(data, progress=False), stored, rtol=1e-9, atol=1e-12)
    quark_gluon = load_quark_gluon(n_events=2, source="shipped")
    with pytest.raises(ValueError, match="needs Z\\+jets jets"):
        zjets_observables(quark_gluon)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_shipped_file_is_refused_with_the_regeneration_command(folders, damage):
    data, _ = folders
    path = data / "quark-gluon.h5"
    content = path.read_bytes()
    if damage == "flip":
        path.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))
        error, message = shipped.ShippedDataError, "does not match its sha256"
    elif damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
        error, message = shipped.ShippedDataError, r"truncated \(\d+ bytes, MANIFEST says"
    else:
        path.unlink()
        error, message = FileNotFoundError, "is missing"
    with pytest.raises(error, match=f"{message}.*reps4lhc data generate quark-gluon --n 10"):
        load_quark_gluon(source="shipped")
    assert shipped.check_manifest(data)  # and the check sees it too


def test_without_a_checkout_the_error_names_the_other_sources(tmp_path, monkeypatch):
    monkeypatch.setenv(shipped.SHIPPED_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no shipped data.*source='generated'.*'official'.*'auto'"):
        load_top_tagging(source="shipped")


def test_manifest_command_writes_and_checks(folders, capsys):
    data, _ = folders
    (data / "MANIFEST").write_text((data / "MANIFEST").read_text().replace("qcd: 10", "qcd: 11"))
    assert main(["data", "manifest", "--check"]) == 1
    assert (
        "counts is {'qcd': 10, 'top': 10} but MANIFEST says {'qcd': 11, 'top': 10}" in capsys.readouterr().err
    )
    assert main(["data", "manifest"]) == 0 and f"wrote {data / 'MANIFEST'}" in capsys.readouterr().out
    assert main(["data", "manifest", "--check"]) == 0
    assert "matches the shipped files" in capsys.readouterr().out


def test_generated_uses_the_cached_file_and_generates_only_when_asked(folders, monkeypatch):
    _, cache = folders
    calls = []
    monkeypatch.setattr(pythia, "missing_generator", lambda: None)  # the recorder below needs no Pythia

    def generate(name, n_jets, seed, *, jobs, level, progress):
        calls.append((name, n_jets, seed))
        return fake_file(pythia.generated_path(name, n_jets, seed), name, n_jets, seed)

    monkeypatch.setattr(pythia, "generate", generate)
    with pytest.raises(FileNotFoundError, match=r"no generated top-tagging file with seed 3.*pass n_events"):
        load_top_tagging("train", source="generated", seed=3)
    first = load_top_tagging("train", n_events=8, source="generated", seed=3)
    assert calls == [("top-tagging", 10, 3)]  # the train split (0.8) of 10 jets holds the 8 asked for
    again = load_top_tagging("train", n_events=8, source="generated", seed=3)
    assert len(calls) == 1 and np.array_equal(first.constituents, again.constituents)
    assert again.meta["source"] == "generated" and again.meta["file"].startswith(str(cache))
    fake_file(pythia.generated_path("top-tagging", 30, 3), "top-tagging", 30, 3)
    assert len(load_top_tagging(None, source="generated", seed=3)) == 30  # n_events None: the largest file
    data = load_zjets("data", "sim", n_events=4, split="test", source="generated", seed=3)
    assert calls[-1] == ("zjets", 80, 3) and len(data) == 4  # 40 "data" jets, of which 4 in "test"


def test_auto_prefers_official_then_generated_then_shipped(folders, monkeypatch, capsys):
    reachable = []
    monkeypatch.setattr(jets, "_reachable", lambda url: bool(reachable))
    assert load_top_tagging(None, source="auto").meta["source"] == "shipped"
    assert "top-tagging: source='auto' -> 'shipped' (official server unreachable" in capsys.readouterr().out
    fake_file(pythia.generated_path("top-tagging", 20, 0), "top-tagging", 20, 0)
    assert load_top_tagging(None, n_events=20, source="auto").meta["source"] == "generated"
    first = registry.OFFICIAL["top-tagging"].files[0]
    assert jets._choose("top-tagging", "auto", first, None, 0).source == "generated"
    reachable.append(True)
    assert jets._choose("top-tagging", "auto", first, None, 0).source == "official"
    assert "zenodo.org is reachable" in capsys.readouterr().out
    reachable.clear()
    local = registry.local_path(registry.OFFICIAL["top-tagging"], first)
    local.parent.mkdir(parents=True)
    local.write_bytes(b"cached")
    assert jets._choose("top-tagging", "auto", first, None, 0).source == "official"
    monkeypatch.setenv("REPS4LHC_PROFILE", "ci")
    assert jets._choose("top-tagging", "auto", first, None, 0).source == "shipped"
    assert "the ci profile uses shipped data only" in capsys.readouterr().out


def test_auto_never_takes_the_official_files_for_both_zjets_samples(folders, monkeypatch, capsys):
    # the official files hold one generator each: with "both", a reachable server must not be chosen
    monkeypatch.setattr(jets, "_reachable", lambda url: True)
    both = load_zjets("both", "gen", n_events=None, source="auto")
    assert both.meta["source"] == "shipped" and set(both.labels) == {0, 1}
    assert "zjets: source='auto' -> 'shipped' (no official file holds this sample" in capsys.readouterr().out


@pytest.fixture
def offline(monkeypatch):
    """No official server answers."""
    monkeypatch.setattr(jets, "_reachable", lambda url: False)


def test_auto_announces_then_generates_when_pythia_is_there(folders, offline, monkeypatch, capsys):
    """Offline, nothing cached, generators importable: generated now, after the choice and the notice."""
    monkeypatch.setattr(pythia, "missing_generator", lambda: None)
    printed_before = []

    def generate(name, n_jets, seed, *, jobs, level, progress):
        printed_before.append(capsys.readouterr().out)
        return fake_file(pythia.generated_path(name, n_jets, seed), name, n_jets, seed)

    monkeypatch.setattr(pythia, "generate", generate)
    data = load_quark_gluon(30, split="train", source="auto", seed=4)
    assert data.meta["source"] == "generated" and len(data) == 30  # more than the 10 shipped jets
    (out,) = printed_before
    choice, notice = out.splitlines()
    assert choice.startswith("quark-gluon: source='auto' -> 'generated' (official server unreachable")
    assert "no generated file of 38 jets in the cache" in choice and "generated now" in choice
    assert notice.startswith("Generating 38 quark-gluon jets with Pythia 8 + FastJet on ")
    assert "reps4lhc data generate quark-gluon --n 38 --seed 4" in notice and " s here" in notice
    load_quark_gluon(30, split="train", source="auto", seed=4)  # now cached: no notice, no generation
    assert "cached quark-gluon-" in capsys.readouterr().out and len(printed_before) == 1


@needs_generators
def test_auto_generates_a_tiny_sample_for_real(folders, offline, capsys):
    data = load_top_tagging(None, n_events=2, max_constituents=5, source="auto", seed=9)
    assert data.meta["source"] == "generated" and data.constituents.shape == (2, 5, 4)
    assert sorted(data.labels.tolist()) == [0, 1] and data.meta["generator"].startswith("Pythia 8")
    out = capsys.readouterr().out
    assert "top-tagging: source='auto' -> 'generated'" in out
    assert (
        "Generating 2 top-tagging jets" in out and "reps4lhc data generate top-tagging --n 2 --seed 9" in out
    )


def test_auto_without_pythia_takes_the_shipped_sample_and_warns_when_it_is_small(
    folders, offline, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "pythia8mc", None)  # None in sys.modules makes the import fail
    with pytest.warns(jets.SmallSampleWarning) as caught:
        data = load_top_tagging("train", n_events=50, source="auto")
    assert data.meta["source"] == "shipped" and len(data) == 16  # all of the shipped train split
    assert capsys.readouterr().out == (
        "top-tagging: source='auto' -> 'shipped' (official server unreachable, no generated file of 63 jets "
        "in the cache, and pythia8mc cannot be imported to generate one)\n"
    )
    (warning,) = caught
    message = str(warning.message)
    assert "n_events=50 but the 'train' split (0.8) of the shipped top-tagging file" in message
    assert "holds only 16 jets; using those 16" in message and "pythia8mc cannot be imported" in message
    assert "noisier than the bands the notebook quotes" in message
    assert 'pip install "reps4lhc_tutor[data]"' in message and "network access" in message
    assert "`reps4lhc data generate top-tagging --n 63 --seed 0`" in message
    assert warning.filename == __file__  # it points at the caller's line
    with pytest.warns(jets.SmallSampleWarning, match=r"--n 18 --seed 0"):  # 9 'data' jets of 2 samples
        assert len(load_zjets("data", "sim", n_events=9, source="auto")) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough jets: no warning
        assert len(load_top_tagging("train", n_events=16, source="auto")) == 16
    with pytest.raises(ValueError, match=r"n_events=50 but .* holds only 16"):  # explicit: still an error
        load_top_tagging("train", n_events=50, source="shipped")


def test_auto_at_ci_takes_the_shipped_sample_and_warns_with_the_ci_fix(folders, monkeypatch, capsys):
    monkeypatch.setenv("REPS4LHC_PROFILE", "ci")
    monkeypatch.setattr(jets, "_reachable", lambda url: pytest.fail("the ci profile never goes online"))
    with pytest.warns(jets.SmallSampleWarning, match=r"the ci profile uses shipped data only.*at most 10"):
        assert len(load_quark_gluon(12, source="auto")) == 10
    assert "quark-gluon: source='auto' -> 'shipped' (the ci profile" in capsys.readouterr().out


def test_generated_without_pythia_names_the_install_and_prints_nothing(folders, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastjet", None)
    with pytest.raises(ImportError, match=r'fastjet is missing\): pip install "reps4lhc_tutor\[data\]"'):
        load_top_tagging(None, n_events=4, source="generated")
    assert capsys.readouterr().out == ""


def test_reachable_is_false_for_a_closed_port():
    assert jets._reachable("http://127.0.0.1:9/file", timeout=0.5) is False


def test_bad_split_and_source():
    with pytest.raises(ValueError, match="split must be"):
        load_quark_gluon(split="training", source="shipped")
    with pytest.raises(ValueError, match="unknown source"):
        load_zjets(source="cached")
