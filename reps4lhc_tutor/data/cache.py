"""The on-disk cache of generated and downloaded data: where it lives, how files are named and written.

* Location: ``$REPS4LHC_DATA``, else ``~/.cache/reps4lhc`` (created when first written to).
* Names: a dataset's file is ``<name>-<key>.npz``, where ``key`` starts the sha256 of the canonical JSON of
  the arguments that determine its content (:func:`cache_key`); any changed argument gives another file.
* Writes are atomic (:func:`atomic_write`): data go to a temporary file in the same folder, which replaces the
  target only when complete, so an error or Ctrl-C never leaves a half-written file under the final name.
* Generated jet files (:mod:`~reps4lhc_tutor.data.pythia`) are HDF5, ``<name>-<key>.h5``, with their metadata
  as a JSON attribute; :func:`cached_files` lists them too.
* Format: ``.npz`` holding the arrays plus ``__metadata__``, a JSON string (:func:`save_npz`,
  :func:`load_npz`); readable with ``numpy.load`` alone and without pickle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

__all__ = [
    "DATA_ENV",
    "CacheError",
    "CachedFile",
    "atomic_write",
    "cache_dir",
    "cache_key",
    "cache_path",
    "cached_files",
    "load_npz",
    "read_metadata",
    "save_npz",
]

DATA_ENV = "REPS4LHC_DATA"
_METADATA = "__metadata__"


class CacheError(RuntimeError):
    """A cache file cannot be read or does not hold what its name promises."""


def cache_dir() -> Path:
    """The cache folder: ``$REPS4LHC_DATA`` if set and not empty, else ``~/.cache/reps4lhc`` (not created)."""
    configured = os.environ.get(DATA_ENV, "").strip()
    return Path(configured).expanduser().resolve() if configured else Path.home() / ".cache" / "reps4lhc"


def cache_key(params: Mapping[str, Any]) -> str:
    """Hex sha256 of the canonical JSON of ``params`` (sorted keys, no whitespace): stable across runs.

    Values must be JSON types (tuples count as lists). ``1000`` and ``1000.0`` give different keys, so
    callers convert arguments to one type first.

    Raises
    ------
    TypeError
        If a value is not JSON-serialisable (e.g. an array); convert it first.
    ValueError
        If a value is NaN or infinite.
    """
    try:
        text = json.dumps(params, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except TypeError as err:
        raise TypeError(
            f"cache keys need JSON values (str, int, float, bool, None, lists, dicts): {err}"
        ) from err
    except ValueError as err:
        raise ValueError(f"cache keys cannot hold NaN or infinity: {err}") from err
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(name: str, params: Mapping[str, Any]) -> Path:
    """Path of the cache file of dataset ``name`` made with ``params``: ``<cache_dir>/<name>-<key>.npz``.

    ``name`` is a readable prefix such as ``"amplitudes-gg-ggg"``; the first 16 hex digits of the key
    (64 bits) tell the files of one name apart.
    """
    if not name or any(c in name for c in '/\\:*?"<>|'):
        raise ValueError(f"name must be a non-empty file name prefix without path separators, got {name!r}.")
    return cache_dir() / f"{name}-{cache_key(params)[:16]}.npz"


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on any exception it vanishes.

    The caller creates and writes the temporary file. It lies in the same folder as ``path`` (created if
    needed), so the final ``os.replace`` is atomic. After KeyboardInterrupt and SystemExit too, the temporary
    file is removed before the exception goes on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name rather than tempfile.mkstemp, whose files are private (0600) whatever the umask.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:  # including Ctrl-C: never leave the partial file behind
        temporary.unlink(missing_ok=True)
        raise


def save_npz(path: Path, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> None:
    """Write ``arrays`` and the JSON-serialisable ``metadata`` to ``path`` (an ``.npz`` file), atomically."""
    if _METADATA in arrays:
        raise ValueError(f"{_METADATA!r} is reserved for the metadata; rename that array.")
    text = json.dumps(metadata, sort_keys=True, allow_nan=False)
    with atomic_write(path) as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **{_METADATA: np.array(text)}, **arrays)
        stream.flush()
        os.fsync(stream.fileno())


def _read(path: Path, *, with_arrays: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no cache file {path}.")
    try:
        with np.load(path, allow_pickle=False) as archive:  # members are read lazily
            metadata = json.loads(str(archive[_METADATA]))
            arrays = {key: archive[key] for key in archive.files if key != _METADATA} if with_arrays else {}
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError) as err:
        raise CacheError(f"cache file {path} is damaged ({err}); delete it and call again.") from err
    return arrays, metadata


def load_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_npz`: its arrays and its metadata.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    CacheError
        If the file is damaged or lacks metadata; delete it and regenerate.
    """
    return _read(path, with_arrays=True)


def read_metadata(path: Path) -> dict[str, Any]:
    """Read only the metadata of a file written by :func:`save_npz` (fast for large files); errors as
    :func:`load_npz`."""
    return _read(path, with_arrays=False)[1]


@dataclass(frozen=True)
class CachedFile:
    """One file in the cache folder."""

    path: Path
    size: int  # bytes
    metadata: dict[str, Any] | None  # None: the file is damaged (delete it)


def _h5_metadata(path: Path) -> dict[str, Any]:
    """The JSON ``metadata`` attribute of a generated HDF5 jet file (:mod:`~reps4lhc_tutor.data.pythia`)."""
    try:
        with h5py.File(path, "r") as stream:
            return json.loads(stream.attrs["metadata"])
    except (OSError, KeyError, ValueError) as err:
        raise CacheError(f"cache file {path} is damaged ({err}); delete it and generate it again.") from err


def cached_files() -> list[CachedFile]:
    """Every ``.npz`` and generated ``.h5`` file in :func:`cache_dir` (not its subfolders), sorted by name,
    with its size and metadata."""
    folder = cache_dir()
    paths = sorted([*folder.glob("*.npz"), *folder.glob("*.h5")]) if folder.is_dir() else []
    files = []
    for path in paths:
        try:
            metadata: dict[str, Any] | None = (
                _h5_metadata(path) if path.suffix == ".h5" else read_metadata(path)
            )
        except CacheError:
            metadata = None
        files.append(CachedFile(path, path.stat().st_size, metadata))
    return files
