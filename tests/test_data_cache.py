"""Tests of reps4lhc_tutor.data.cache: location, keys, atomic writes, reading back, damaged files."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from reps4lhc_tutor.data import cache


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def test_cache_dir_from_environment_else_home(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path))
    assert cache.cache_dir() == tmp_path.resolve()
    monkeypatch.setenv(cache.DATA_ENV, "  ")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "reps4lhc"
    monkeypatch.delenv(cache.DATA_ENV)
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "reps4lhc"


def test_key_is_canonical_and_stable():
    params = {"process": "gg->ggg", "n_events": 10, "cuts": {"pt_min": 20.0, "delta_r_min": 0.4}}
    reordered = {"cuts": {"delta_r_min": 0.4, "pt_min": 20.0}, "n_events": 10, "process": "gg->ggg"}
    assert cache.cache_key(params) == cache.cache_key(reordered)
    # pinned: a change in the canonical form would silently orphan every cached file
    canonical = '{"cuts":{"delta_r_min":0.4,"pt_min":20.0},"n_events":10,"process":"gg->ggg"}'
    assert cache.cache_key(params) == hashlib.sha256(canonical.encode()).hexdigest()
    assert cache.cache_key({"a": (1, 2)}) == cache.cache_key({"a": [1, 2]})


@pytest.mark.parametrize(
    "changed", [{"n_events": 11}, {"n_events": 10.0}, {"process": "gg->gg"}, {"x": None}]
)
def test_any_change_changes_the_key(changed):
    params = {"process": "gg->ggg", "n_events": 10}
    assert cache.cache_key(params) != cache.cache_key(params | changed)


def test_key_rejects_what_json_cannot_hold():
    with pytest.raises(TypeError, match="JSON values"):
        cache.cache_key({"a": np.arange(3)})
    with pytest.raises(ValueError, match="NaN or infinity"):
        cache.cache_key({"a": float("nan")})


def test_cache_path(folder):
    path = cache.cache_path("amplitudes-gg-ggg", {"seed": 1})
    assert path.parent == folder.resolve()
    assert path.name == f"amplitudes-gg-ggg-{cache.cache_key({'seed': 1})[:16]}.npz"
    with pytest.raises(ValueError, match="without path separators"):
        cache.cache_path("../escape", {})


def test_save_and_load_round_trip(folder):
    path = folder / "sub" / "data.npz"
    arrays = {"momenta": np.random.default_rng(0).normal(size=(5, 4, 4)), "amplitudes": np.arange(5.0)}
    metadata = {"process": "gg->gg", "counts": {"events": 5}, "cuts": [20.0, 0.4]}
    cache.save_npz(path, arrays, metadata)
    loaded, meta = cache.load_npz(path)
    assert meta == metadata and sorted(loaded) == ["amplitudes", "momenta"]
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
    assert cache.read_metadata(path) == metadata
    assert leftovers(path.parent) == ["data.npz"]
    # readable with numpy alone, without pickle
    with np.load(path, allow_pickle=False) as archive:
        assert json.loads(str(archive["__metadata__"])) == metadata


def test_written_files_follow_the_umask(folder):
    path = folder / "data.npz"
    cache.save_npz(path, {"x": np.zeros(2)}, {})
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_reserved_name(folder):
    with pytest.raises(ValueError, match="reserved"):
        cache.save_npz(folder / "x.npz", {"__metadata__": np.zeros(1)}, {})


@pytest.mark.parametrize("interrupt", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_interrupted_write_leaves_nothing_and_keeps_the_old_file(folder, monkeypatch, interrupt):
    path = folder / "data.npz"
    cache.save_npz(path, {"x": np.zeros(3)}, {"version": 1})

    def broken_savez(stream, **arrays):
        stream.write(b"PK\x03\x04 half of a zip file")
        raise interrupt

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(type(interrupt)):
        cache.save_npz(path, {"x": np.ones(3)}, {"version": 2})
    assert leftovers(folder) == ["data.npz"]  # no temporary file
    monkeypatch.undo()
    assert cache.load_npz(path)[1] == {"version": 1}


def test_atomic_write_replaces_only_on_success(folder):
    target = folder / "file.txt"
    with cache.atomic_write(target) as temporary:
        assert temporary.parent == target.parent and temporary != target
        temporary.write_text("complete")
        assert not target.exists()  # nothing under the final name while writing
    assert target.read_text() == "complete"
    with pytest.raises(ZeroDivisionError), cache.atomic_write(target) as temporary:
        temporary.write_text("partial")
        _ = 1 / 0
    assert target.read_text() == "complete" and leftovers(folder) == ["file.txt"]


def test_missing_and_damaged_files(folder):
    with pytest.raises(FileNotFoundError, match="no cache file"):
        cache.load_npz(folder / "absent.npz")
    folder.mkdir(parents=True)
    damaged = folder / "damaged.npz"
    damaged.write_bytes(b"not a zip file")
    with pytest.raises(cache.CacheError, match=r"damaged.*delete it"):
        cache.load_npz(damaged)
    without_metadata = folder / "plain.npz"
    np.savez(without_metadata, x=np.zeros(2))
    with pytest.raises(cache.CacheError, match="delete it"):
        cache.read_metadata(without_metadata)


def test_cached_files_lists_sizes_and_metadata(folder):
    assert cache.cached_files() == []  # no folder yet
    cache.save_npz(folder / "b.npz", {"x": np.zeros(1000)}, {"name": "b"})
    cache.save_npz(folder / "a.npz", {"x": np.zeros(10)}, {"name": "a"})
    (folder / "c.npz").write_bytes(b"garbage")
    (folder / "notes.txt").write_text("not a cache file")
    files = cache.cached_files()
    assert [f.path.name for f in files] == ["a.npz", "b.npz", "c.npz"]
    assert [f.metadata for f in files] == [{"name": "a"}, {"name": "b"}, None]
    assert files[1].size == (folder / "b.npz").stat().st_size > 8000
