"""Throughput of the exact gluon amplitudes: events per second of ``squared_amplitude``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_amplitudes.py            # all processes, full and leading colour
    .venv/bin/python benchmarks/bench_amplitudes.py --n 6 --repeats 5
    python benchmarks/bench_amplitudes.py --device cuda --batch-size 16384 --scale 20   # torch on a GPU

Events come from RAMBO at sqrt(s) = 1 TeV with the default generation cuts. Each timing is the best of
``--repeats`` runs (the machine may be shared), after a warm-up call that builds the cached colour matrix.
Targets on a 2-core machine (issue 3): >= 10,000 events/s for gg -> ggg and >= 500 events/s for
gg -> gggg, full colour.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from reps4lhc_tutor.physics import amplitudes, phasespace

PROCESSES = {4: "gg -> gg", 5: "gg -> ggg", 6: "gg -> gggg", 7: "gg -> ggggg"}
EVENTS = {4: 100_000, 5: 20_000, 6: 2_000, 7: 200}  # about a few seconds per run each
TARGETS = {5: 10_000.0, 6: 500.0}  # events/s, full colour, numpy on a 2-core CPU


def events_per_second(momenta: np.ndarray, colour: str, repeats: int, **options: object) -> float:
    """Best throughput of ``repeats`` calls of ``squared_amplitude(momenta, colour, **options)``."""
    amplitudes.squared_amplitude(momenta[:8], colour=colour, **options)  # warm-up: colour matrix, CUDA
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        amplitudes.squared_amplitude(momenta, colour=colour, **options)  # returns numpy: synchronised
        best = min(best, time.perf_counter() - start)
    return len(momenta) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=sorted(PROCESSES), help="numbers of gluons")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (best is kept)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the event counts")
    parser.add_argument("--device", default=None, help="torch device such as cuda (default: numpy)")
    parser.add_argument("--batch-size", type=int, default=None, help="events per batch (default: automatic)")
    args = parser.parse_args()
    options = {"device": args.device, "batch_size": args.batch_size}

    print(f"numpy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU cores")
    if args.device is not None:
        import torch

        name = torch.cuda.get_device_name() if torch.device(args.device).type == "cuda" else args.device
        print(f"torch {torch.__version__} on {name}, batch size {args.batch_size or 'automatic'}")
    print(f"{'process':<13} {'events':>7} {'full [ev/s]':>12} {'leading [ev/s]':>15}  target (full)")
    rng = np.random.default_rng(0)
    for n in args.n:
        size = max(8, int(EVENTS[n] * args.scale))
        momenta = phasespace.generate(n - 2, 1000.0, size, rng)
        full = events_per_second(momenta, "full", args.repeats, **options)
        leading = events_per_second(momenta, "leading", args.repeats, **options)
        target = TARGETS.get(n) if args.device is None else None
        verdict = "" if target is None else f"{target:,.0f}: {'met' if full >= target else 'MISSED'}"
        print(f"{PROCESSES[n]:<13} {size:>7} {full:>12,.0f} {leading:>15,.0f}  {verdict}")


if __name__ == "__main__":
    main()
