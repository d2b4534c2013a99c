"""Tests of reps4lhc_tutor.data.load_amplitudes with the real amplitudes: content, cache hits and misses,
noise, splits, progress bar, errors."""

import numpy as np
import pytest

from reps4lhc_tutor.data import AMPLITUDE_PROCESSES, cache, load_amplitudes, loaders
from reps4lhc_tutor.physics import amplitudes as amp
from reps4lhc_tutor.physics import lorentz, phasespace
from reps4lhc_tutor.physics.noise import GaussianNoise

SMALL = {"n_events": 600, "progress": False}


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path))
    return tmp_path


def forbid_computing(monkeypatch):
    """Make any amplitude computation fail: what passes afterwards must come from the cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("squared_amplitude was called although the data should come from the cache")

    monkeypatch.setattr(amp, "squared_amplitude", refuse)


@pytest.mark.parametrize(("process", "n_events"), [("gg->gg", 300), ("gg->ggg", 300), ("gg->ggggg", 6)])
def test_content_matches_the_physics_modules(process, n_events):
    data = load_amplitudes(process, n_events=n_events, seed=3, progress=False)
    n = 2 + AMPLITUDE_PROCESSES[process]
    assert data.momenta.shape == (n_events, n, 4) and data.amplitudes.shape == (n_events,)
    assert data.momenta.dtype == data.amplitudes.dtype == np.float64 and len(data) == n_events
    assert data.amplitudes is data.exact  # no noise
    expected = phasespace.generate(n - 2, 1000.0, n_events, np.random.default_rng(3))
    np.testing.assert_array_equal(data.momenta, expected)
    np.testing.assert_allclose(data.amplitudes, amp.squared_amplitude(expected), rtol=1e-12)
    assert (data.amplitudes > 0).all()
    assert phasespace.apply_cuts(data.momenta).all()


def test_torch_device_gives_the_numpy_values():
    """The torch backend (here on the CPU; on a GPU in the gpu-profile notebooks) agrees to rounding."""
    reference = load_amplitudes("gg->gggg", n_events=40, cache=False, progress=False)
    on_torch = load_amplitudes("gg->gggg", n_events=40, cache=False, progress=False, device="cpu")
    np.testing.assert_array_equal(on_torch.momenta, reference.momenta)
    np.testing.assert_allclose(on_torch.amplitudes, reference.amplitudes, rtol=1e-12)


def test_metadata(folder):
    data = load_amplitudes("gg->ggg", seed=5, **SMALL)
    meta = data.metadata
    assert meta["process"] == "gg->ggg" and meta["n_final"] == 3
    assert meta["seed"] == 5 and meta["n_events"] == 600 and meta["colour"] == "full"
    assert meta["sqrt_s"] == 1000.0 and meta["cuts"] == {"pt_min": 20.0, "delta_r_min": 0.4}
    assert 0.9 < meta["cut_efficiency"] < 1.0  # measured 0.954 at 1 TeV
    assert meta["generator_version"] == loaders.GENERATOR_VERSION and meta["package_version"]
    assert "(E, px, py, pz)" in meta["conventions"]["momenta"]
    assert "summed" in meta["conventions"]["amplitudes"]
    assert meta["noise"] is None and meta["from_cache"] is False
    assert meta["split"] == {"train": 480, "val": 60, "test": 60}
    assert meta["cache_file"].startswith(str(folder)) and meta["cache_file"].endswith(".npz")


def test_second_call_reads_the_cache(folder, monkeypatch):
    first = load_amplitudes("gg->ggg", **SMALL)
    files = sorted(folder.iterdir())
    assert len(files) == 1 and files[0].name.startswith("amplitudes-gg-ggg-")
    forbid_computing(monkeypatch)
    second = load_amplitudes("gg->ggg", **SMALL)
    assert second.metadata["from_cache"] is True
    np.testing.assert_array_equal(second.momenta, first.momenta)
    np.testing.assert_array_equal(second.amplitudes, first.amplitudes)
    assert second.metadata["cache_file"] == first.metadata["cache_file"]
    assert sorted(folder.iterdir()) == files


@pytest.mark.parametrize(
    "changed",
    [
        {"seed": 1},
        {"n_events": 601},
        {"colour": "leading"},
        {"sqrt_s": 900.0},
        {"sqrt_s": phasespace.PowerLawLuminosity(500.0, 1500.0)},
        {"cuts": phasespace.Cuts(pt_min=30.0)},
        {"cuts": None},
        {"process": "gg->gg"},
    ],
)
def test_a_changed_argument_misses_the_cache(folder, changed):
    base = load_amplitudes("gg->ggg", **SMALL)
    other = load_amplitudes(**({"process": "gg->ggg"} | SMALL | changed))
    assert other.metadata["from_cache"] is False
    assert other.metadata["cache_file"] != base.metadata["cache_file"]
    assert len(list(folder.iterdir())) == 2


def test_generator_version_is_part_of_the_key(monkeypatch):
    base = load_amplitudes("gg->gg", **SMALL)
    monkeypatch.setattr(loaders, "GENERATOR_VERSION", loaders.GENERATOR_VERSION + 1)
    assert load_amplitudes("gg->gg", **SMALL).metadata["cache_file"] != base.metadata["cache_file"]


def test_integer_and_float_energies_share_the_cache(monkeypatch):
    load_amplitudes("gg->gg", sqrt_s=1000, **SMALL)
    forbid_computing(monkeypatch)
    assert load_amplitudes("gg->gg", sqrt_s=1000.0, **SMALL).metadata["from_cache"] is True


def test_noise_and_split_reuse_the_cache(monkeypatch):
    exact = load_amplitudes("gg->ggg", **SMALL)
    forbid_computing(monkeypatch)
    noisy = load_amplitudes("gg->ggg", noise=GaussianNoise(0.1), split=None, **SMALL)
    assert noisy.metadata["from_cache"] is True
    np.testing.assert_array_equal(noisy.exact, exact.amplitudes)
    relative = noisy.amplitudes / noisy.exact - 1
    assert 0.08 < relative.std() < 0.12 and (relative != 0).all()
    assert noisy.metadata["noise"] == {"f_smear": 0.1, "window": None, "particles": (2, 3), "seed": 0}
    assert noisy.train is None and "split" not in noisy.metadata
    # seeded: the same call gives the same noise, another noise seed other noise
    again = load_amplitudes("gg->ggg", noise=GaussianNoise(0.1), **SMALL)
    np.testing.assert_array_equal(again.amplitudes, noisy.amplitudes)
    reseeded = load_amplitudes("gg->ggg", noise=GaussianNoise(0.1, seed=1), **SMALL)
    assert not np.array_equal(reseeded.amplitudes, noisy.amplitudes)


def test_window_noise_touches_only_the_gap():
    exact = load_amplitudes("gg->ggg", **SMALL)
    m23 = lorentz.invariant_mass(exact.momenta[:, 2:4])
    window = (float(np.quantile(m23, 0.3)), float(np.quantile(m23, 0.6)))
    noisy = load_amplitudes("gg->ggg", noise=GaussianNoise(0.2, window=window), **SMALL)
    inside = (m23 > window[0]) & (m23 < window[1])
    np.testing.assert_array_equal(noisy.amplitudes[~inside], exact.amplitudes[~inside])
    assert (noisy.amplitudes[inside] != exact.amplitudes[inside]).all()


def test_splits_are_consecutive_blocks():
    data = load_amplitudes("gg->gg", split=(0.5, 0.3, 0.2), **SMALL)
    assert [len(part[0]) for part in (data.train, data.val, data.test)] == [300, 180, 120]
    np.testing.assert_array_equal(np.concatenate([data.train[0], data.val[0], data.test[0]]), data.momenta)
    np.testing.assert_array_equal(np.concatenate([data.train[1], data.val[1], data.test[1]]), data.amplitudes)


def test_cache_false_writes_nothing(folder):
    data = load_amplitudes("gg->gg", cache=False, **SMALL)
    assert list(folder.iterdir()) == [] and data.metadata["cache_file"] is None


def test_progress_bar(capsys):
    load_amplitudes("gg->gg", n_events=600)
    assert "600/600" in capsys.readouterr().err
    load_amplitudes("gg->gg", n_events=601, progress=False)
    assert capsys.readouterr().err == ""


def test_damaged_or_mismatched_cache_files_raise(folder):
    data = load_amplitudes("gg->gg", **SMALL)
    path = data.metadata["cache_file"]
    arrays, metadata = cache.load_npz(path)
    cache.save_npz(path, arrays, metadata | {"seed": 99})
    with pytest.raises(cache.CacheError, match=r"other arguments.*delete it"):
        load_amplitudes("gg->gg", **SMALL)
    with open(path, "wb") as stream:
        stream.write(b"truncated")
    with pytest.raises(cache.CacheError, match="damaged"):
        load_amplitudes("gg->gg", **SMALL)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"process": "gg->gggggg"}, ValueError, "use one of gg->gg, gg->ggg, gg->gggg, gg->ggggg"),
        ({"process": "qq->Zg"}, ValueError, "unknown process 'qq->Zg'"),
        ({"colour": "subleading"}, ValueError, "'full' or 'leading'"),
        ({"n_events": 0}, ValueError, "n_events must be an integer >= 1"),
        ({"n_events": 10.0}, ValueError, "n_events must be an integer"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"split": (0.8, 0.1)}, ValueError, "three fractions"),
        ({"split": (0.8, 0.3, -0.1)}, ValueError, "three fractions"),
        ({"split": (0.8, 0.1, 0.2)}, ValueError, "adding up to 1"),
        ({"noise": 0.1}, TypeError, "GaussianNoise"),
        ({"cuts": {"pt_min": 20}}, TypeError, "Cuts"),
    ],
)
def test_bad_arguments(kwargs, error, match, folder):
    with pytest.raises(error, match=match):
        load_amplitudes(**({"n_events": 10, "progress": False} | kwargs))
    assert list(folder.iterdir()) == []
