"""Throughput of the Pythia 8 + FastJet jet generation: selected jets per second on one core.

Run from the repository root::

    .venv/bin/python benchmarks/bench_jets.py              # every dataset, 200 jets each
    .venv/bin/python benchmarks/bench_jets.py --n 1000 --datasets top-tagging

Each dataset is generated with ``jobs=1`` into a temporary folder, so a timing covers everything a worker
does for those jets: Pythia initialisation (twice, once per label), event generation, the detector model
where the dataset uses it, clustering, selection and writing the file. ``jobs=J`` workers make about J times
as many jets per second, one core each. The issue's quick measurement: ~70 top and ~50 QCD jets/s per core.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from reps4lhc_tutor.data import pythia


def jets_per_second(name: str, n_jets: int, seed: int) -> float:
    """Jets per second of ``pythia.generate(name, n_jets, seed, jobs=1)`` into a fresh file."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        pythia.generate(name, n_jets, seed, out=Path(folder) / f"{name}.h5", progress=False)
        return n_jets / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="jets per dataset, half per label (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--datasets", nargs="+", default=list(pythia.DATASETS), choices=list(pythia.DATASETS))
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {args.n} jets per dataset")
    for name in args.datasets:
        spec = pythia.DATASETS[name]
        rate = jets_per_second(name, args.n, args.seed)
        level = "particle + detector" if spec.default_level == "both" else spec.default_level
        print(f"{name:<12} {rate:6.1f} jets/s per core  ({' + '.join(spec.label_names)}, {level} level)")


if __name__ == "__main__":
    main()
