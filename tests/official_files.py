"""Writers of files in the official datasets' layouts, shared by the loader tests and tools/colab_check.py.

Each writer returns the file's bytes, ready to be served by :mod:`http_loopback`; :func:`sha256_checksum`
gives the checksum string that a patched registry entry needs for them.
"""

from __future__ import annotations

import hashlib
import io

import h5py
import numpy as np

__all__ = ["npz_file", "quark_gluon_file", "quark_gluon_name", "sha256_checksum", "top_tagging_file"]


def sha256_checksum(content: bytes) -> str:
    """The registry's checksum string of ``content``: ``"sha256:<hex digest>"``."""
    return f"sha256:{hashlib.sha256(content).hexdigest()}"


def npz_file(**arrays: np.ndarray) -> bytes:
    """An uncompressed ``.npz`` archive of ``arrays``, as ``np.savez`` writes it (the EnergyFlow files)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def top_tagging_file(p4: np.ndarray, labels: np.ndarray, truth: np.ndarray | None = None) -> bytes:
    """A DataFrame in pandas' "fixed" HDF5 layout, as in the official top-tagging files: floats in block 0,
    the integer columns ``ttv`` and ``is_signal_new`` in block 1.

    ``p4`` has shape ``(jets, particles, 4)`` (E, px, py, pz), ``labels`` ``(jets,)`` (1 top, 0 QCD) and
    ``truth`` ``(jets, 4)``, the matched top's four-momentum; without ``truth`` the ``truth*`` columns are
    left out (the loader then has no ``truth_p4``).
    """
    n_jets, n_particles, _ = p4.shape
    floats = [f"{c}_{i}" for i in range(n_particles) for c in ("E", "PX", "PY", "PZ")]
    blocks = [p4.reshape(n_jets, -1)]
    if truth is not None:
        floats += ["truthE", "truthPX", "truthPY", "truthPZ"]
        blocks.append(truth)
    values = np.concatenate(blocks, axis=1).astype(np.float32)
    integers = np.stack([np.zeros(n_jets, np.int64), labels], axis=1)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        table = handle.create_group("table")
        table.create_dataset("axis0", data=np.array([*floats, "ttv", "is_signal_new"], dtype="S"))
        table.create_dataset("axis1", data=np.arange(n_jets))
        table.create_dataset("block0_items", data=np.array(floats, dtype="S"))
        table.create_dataset("block0_values", data=values)
        table.create_dataset("block1_items", data=np.array(["ttv", "is_signal_new"], dtype="S"))
        table.create_dataset("block1_values", data=integers)
    return buffer.getvalue()


def quark_gluon_name(index: int) -> str:
    """The name of official quark/gluon file ``index`` (0-19): ``QG_jets.npz``, ``QG_jets_1.npz``, ..."""
    return "QG_jets.npz" if index == 0 else f"QG_jets_{index}.npz"


def quark_gluon_file(p4: np.ndarray, pid: np.ndarray, labels: np.ndarray) -> bytes:
    """An official quark/gluon ``.npz``: ``X`` ``(jets, particles, 4)`` = (pt, y, phi, PDG id) in float64,
    zero-padded, ``phi`` in [0, 2 pi), and ``y`` ``(jets,)`` as float (1 quark, 0 gluon).

    ``p4`` has shape ``(jets, particles, 4)`` (E, px, py, pz) with all-zero padding rows, ``pid``
    ``(jets, particles)``. The official files store the rapidity of massive particles; the loader takes
    them as massless, so a file written from massive four-vectors reads back with slightly different E, pz.
    """
    p4 = np.asarray(p4, dtype=np.float64)
    energy, px, py, pz = (p4[..., k] for k in range(4))
    real = energy > 0
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        rapidity = np.where(real, 0.5 * np.log((energy + pz) / (energy - pz)), 0.0)
    phi = np.where(real, np.mod(np.arctan2(py, px), 2 * np.pi), 0.0)
    particles = np.stack([pt, rapidity, phi, np.where(real, pid, 0).astype(np.float64)], axis=-1)
    return npz_file(X=particles, y=np.asarray(labels, dtype=np.float64))
