"""The official-dataset loaders on tiny files in the official layouts, served from a loopback HTTP server."""

from __future__ import annotations

import numpy as np
import pytest
from http_loopback import Loopback, serve
from official_files import npz_file, sha256_checksum, top_tagging_file

from reps4lhc_tutor.data import pythia, registry
from reps4lhc_tutor.data.cache import CacheError
from reps4lhc_tutor.data.download import ChecksumError
from reps4lhc_tutor.data.jets import load_quark_gluon, load_top_tagging, load_zjets, zjets_observables

RNG = np.random.default_rng(7)


def _padded_jets(n_jets: int, width: int) -> np.ndarray:
    """Random massless (E, px, py, pz) with 2..width particles per jet in shuffled order, zeros after."""
    pt = RNG.uniform(1.0, 100.0, (n_jets, width))
    eta = RNG.uniform(-2.0, 2.0, (n_jets, width))
    phi = RNG.uniform(-np.pi, np.pi, (n_jets, width))
    p4 = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    for jet, n in enumerate(RNG.integers(2, width + 1, n_jets)):
        p4[jet, n:] = 0.0
    return p4.astype(np.float32)


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("REPS4LHC_DATA", str(tmp_path / "cache"))
    with serve(Loopback()) as state:
        yield state


def _mirror(monkeypatch, name: str, server: Loopback, files: dict[str, bytes], **counts: int | None) -> None:
    """Serve ``files`` and point registry entry ``name`` at them, with their checksums and jet counts."""
    server.files.update(files)
    dataset = registry.OFFICIAL[name].with_base_url(
        server.url, checksum={key: sha256_checksum(value) for key, value in files.items()}, n_jets=counts
    )
    monkeypatch.setitem(registry.OFFICIAL, name, dataset)


def test_top_tagging_reads_the_pandas_layout(server, monkeypatch):
    p4 = _padded_jets(6, 5)
    labels = np.array([1, 0, 1, 1, 0, 0])
    truth = RNG.normal(size=(6, 4)).astype(np.float32)
    _mirror(
        monkeypatch, "top-tagging", server, {"val.h5": top_tagging_file(p4, labels, truth)}, **{"val.h5": 6}
    )
    data = load_top_tagging("val", n_events=4, max_constituents=3, progress=False)
    assert data.constituents.shape == (4, 3, 4) and data.constituents.dtype == np.float32
    np.testing.assert_array_equal(data.labels, labels[:4])
    np.testing.assert_allclose(data.extra["truth_p4"], truth[:4])
    assert data.pid is None and data.meta["files"] == ["val.h5"] and data.meta["doi"].endswith("2603256")
    for jet in range(4):  # the three leading particles by pT, in decreasing order
        order = np.argsort(-np.hypot(p4[jet, :, 1], p4[jet, :, 2]), kind="stable")[:3]
        np.testing.assert_allclose(data.constituents[jet], p4[jet, order])
    wide = load_top_tagging("val", max_constituents=7, progress=False)  # cached now: no second request
    assert wide.constituents.shape == (6, 7, 4) and not wide.constituents[:, 5:].any()
    assert server.names() == ["val.h5"]


def test_top_tagging_too_many_events(server, monkeypatch):
    content = top_tagging_file(_padded_jets(3, 2), np.array([0, 1, 0]), np.zeros((3, 4)))
    _mirror(monkeypatch, "top-tagging", server, {"train.h5": content}, **{"train.h5": None})
    with pytest.raises(ValueError, match=r"n_events=4 but .* holds only 3 jets"):
        load_top_tagging("train", n_events=4, progress=False)
    with pytest.raises(ValueError, match="split must be"):
        load_top_tagging("training")


def test_top_tagging_counts_are_checked_before_downloading(server):
    with pytest.raises(ValueError, match="holds only 1200000 jets"):  # known from the registry
        load_top_tagging("train", n_events=1_200_001, progress=False)
    assert server.requests == []


def test_quark_gluon_converts_and_reads_only_the_files_needed(server, monkeypatch):
    first = RNG.uniform([0.5, -1.7, 0.0, 0.0], [50.0, 1.7, 2 * np.pi, 0.0], (3, 4, 4))  # (pt, y, phi, pid)
    first[..., 3] = [[22, 211, -211, 0]] * 3
    first[:, 3, :] = 0.0  # padding
    second = RNG.uniform([0.5, -1.7, 0.0, 0.0], [50.0, 1.7, 2 * np.pi, 0.0], (3, 5, 4))
    second[..., 3] = 2112
    files = {
        "QG_jets.npz": npz_file(X=first, y=np.array([1.0, 0.0, 1.0])),
        "QG_jets_1.npz": npz_file(X=second, y=np.array([0.0, 0.0, 1.0])),
        "QG_jets_2.npz": b"never requested",
    }
    _mirror(monkeypatch, "quark-gluon", server, files, **dict.fromkeys(files, 3))
    data = load_quark_gluon(n_events=5, progress=False)
    assert server.names() == ["QG_jets.npz", "QG_jets_1.npz"]
    assert data.constituents.shape == (5, 5, 4) and data.pid.shape == (5, 5)
    np.testing.assert_array_equal(data.labels, [1, 0, 1, 0, 0])
    pt, y, phi = (first[0, :, k] for k in range(3))
    order = np.argsort(-pt[:3])
    expected = np.stack([pt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(y)], axis=-1)[
        order
    ]
    np.testing.assert_allclose(data.constituents[0, :3], expected, rtol=1e-6)
    assert not data.constituents[:3, 3:].any()  # padding of the narrower file
    np.testing.assert_array_equal(data.pid[0, :3], first[0, order, 3])
    assert set(data.pid[3:].ravel()) == {2112}
    mass2 = data.constituents[..., 0] ** 2 - (data.constituents[..., 1:] ** 2).sum(-1)
    np.testing.assert_allclose(mass2 / data.constituents[..., 0].clip(1) ** 2, 0.0, atol=1e-5)  # massless


def test_quark_gluon_counts_are_checked_before_downloading(server):
    with pytest.raises(ValueError, match="holds only 2000000 jets"):
        load_quark_gluon(n_events=2_000_001, progress=False)
    with pytest.raises(ValueError, match="positive integer"):
        load_quark_gluon(n_events=0)
    assert server.requests == []


def test_zjets_translates_the_constituents_back(server, monkeypatch):
    jets = np.array([[250.0, 0.5, 1.0, 20.0], [300.0, -1.0, -2.0, 30.0]])
    particles = np.zeros((2, 3, 4))
    particles[0, :2] = [[0.5, 0.1, -0.2, 0.1], [1.5, -0.05, 0.1, 0.0]]  # pt/100, dy, dphi, pid code
    particles[1, :3] = [[0.2, 0.0, 0.0, 1.3], [0.1, 0.2, 0.3, 0.3], [0.9, 0.0, 0.1, 0.4]]
    content = npz_file(
        gen_particles=particles, gen_jets=jets, gen_widths=np.array([0.1, 0.2]), gen_Zs=np.ones((2, 3))
    )
    _mirror(monkeypatch, "zjets", server, {"Herwig_Zjet_pTZ-200GeV_0.npz": content})
    data = load_zjets("herwig", "gen", n_events=2, progress=False)
    assert data.labels is None and data.constituents.shape == (2, 3, 4)
    np.testing.assert_array_equal(data.pid, [[22, 211, 0], [11, -2112, 130]])  # leading pT first
    leading = data.constituents[0, 0]  # pt 150, y = 0.5 - 0.05, phi = 1.0 + 0.1
    np.testing.assert_allclose(
        leading, [150 * np.cosh(0.45), 150 * np.cos(1.1), 150 * np.sin(1.1), 150 * np.sinh(0.45)], rtol=1e-6
    )
    assert not data.constituents[0, 2].any()
    assert set(data.extra) == {"jets", "widths", "Zs"} and data.meta["level"] == "gen"
    with pytest.raises(ValueError, match="level must be"):
        load_zjets("herwig", "reco")


def test_zjets_observables_of_official_jets_use_the_course_definitions(server, monkeypatch):
    # the official files carry EnergyFlow's own observables; the course recomputes its six from the
    # constituents, chunk by chunk, so that official and generated jets compare like with like
    n_jets, width = 7, 5
    particles = np.zeros((n_jets, width, 4))
    for jet, n in enumerate(RNG.integers(2, width + 1, n_jets)):
        particles[jet, :n] = np.stack(
            [
                RNG.uniform(0.05, 1.0, n),
                RNG.uniform(-0.3, 0.3, n),
                RNG.uniform(-0.3, 0.3, n),
                np.full(n, 0.1),
            ],
            axis=1,
        )
    jets = np.tile([250.0, 0.2, 0.5, 20.0], (n_jets, 1))
    content = npz_file(sim_particles=particles, sim_jets=jets, sim_mults=np.full(n_jets, 99.0))
    _mirror(monkeypatch, "zjets", server, {"Pythia26_Zjet_pTZ-200GeV_0.npz": content})
    data = load_zjets("simulation", "sim", n_events=n_jets, progress=False)
    values = zjets_observables(data, chunk=3, progress=False)
    assert values.shape == (n_jets, len(pythia.SUBSTRUCTURE))
    expected = pythia.substructure(data.constituents)
    for column, name in enumerate(pythia.SUBSTRUCTURE):
        np.testing.assert_allclose(values[:, column], expected[name], err_msg=name)
    np.testing.assert_array_equal(values[:, 1], (particles[..., 0] > 0).sum(axis=1))  # not the file's 99
    with pytest.raises(ValueError, match="positive number of jets"):
        zjets_observables(data, chunk=0)


def test_a_corrupted_download_leaves_the_cache_empty(server, monkeypatch, tmp_path):
    good = npz_file(X=np.zeros((1, 2, 4)), y=np.zeros(1))
    _mirror(monkeypatch, "quark-gluon", server, {"QG_jets.npz": good})
    server.files["QG_jets.npz"] = good[:-8] + b"corrupt!"
    with pytest.raises(ChecksumError):
        load_quark_gluon(n_events=1, progress=False)
    cache = tmp_path / "cache"
    assert [path for path in cache.rglob("*") if path.is_file()] == []


def test_a_verified_file_that_cannot_be_read_is_reported(server, monkeypatch):
    _mirror(monkeypatch, "top-tagging", server, {"val.h5": b"not hdf5"})
    with pytest.raises(CacheError, match="delete it"):
        load_top_tagging("val", progress=False)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown source"):
        load_quark_gluon(source="zenodo")
    with pytest.raises(ValueError, match="unknown official dataset 'jetclass'"):
        registry.official_dataset("jetclass")
    with pytest.raises(ValueError, match="generator must be one of"):
        load_zjets("sherpa")


def test_registry_records(server):
    top, qg, zjets = (registry.OFFICIAL[name] for name in ("top-tagging", "quark-gluon", "zjets"))
    assert all(file.checksum.startswith("md5:") and len(file.checksum) == 36 for file in top.files)
    assert len(qg.files) == 20 and len(zjets.files) == 68
    assert all(
        file.checksum.startswith("sha256:") and len(file.checksum) == 71 for file in qg.files + zjets.files
    )
    assert len({file.checksum for file in top.files + qg.files + zjets.files}) == 91
    assert qg.files[0].url == "https://zenodo.org/records/3164691/files/QG_jets.npz?download=1"
    path = registry.local_path(qg, qg.files[1])
    assert path.parts[-3:] == ("official", "quark-gluon", "QG_jets_1.npz")


def test_official_splits_take_whole_files_and_generic_zjets_names(server, monkeypatch):
    names = ["QG_jets.npz"] + [f"QG_jets_{i}.npz" for i in range(1, 20)]
    files = {name: npz_file(X=np.full((1, 1, 4), i + 1.0), y=np.ones(1)) for i, name in enumerate(names)}
    _mirror(monkeypatch, "quark-gluon", server, files, **dict.fromkeys(files, 1))
    val = load_quark_gluon(n_events=None, split="val", progress=False)
    assert server.names() == ["QG_jets_16.npz", "QG_jets_17.npz"] and val.meta["split"] == "val"
    with pytest.raises(
        ValueError, match=r"n_events=3 but the quark/gluon dataset \('test' files\) holds only 2"
    ):
        load_quark_gluon(n_events=3, split="test", progress=False)
    with pytest.raises(ValueError, match="comes in splits"):
        load_top_tagging(None, progress=False)
    content = npz_file(gen_particles=np.zeros((1, 1, 4)), gen_jets=np.ones((1, 4)))
    _mirror(monkeypatch, "zjets", server, {"Herwig_Zjet_pTZ-200GeV_0.npz": content})
    assert load_zjets("data", n_events=1, progress=False).meta["generator"] == "herwig"
