"""The ``reps4lhc`` command: run notebooks, check their pairing and links, build student versions, make data.

Exit status: 0 on success, 1 when a check finds something out of date or a notebook fails, 2 for a usage
error (unknown notebook or profile, missing configuration, a damaged cache file), reported as one line on
stderr.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import nbformat

from .assignments import build_all, verify_assignment, write_ci_notebooks
from .config import active_profile
from .data import pythia, reference, shipped
from .data.cache import DATA_ENV, CachedFile, CacheError, cache_dir, cached_files
from .data.loaders import AMPLITUDE_PROCESSES, load_amplitudes
from .data.registry import OFFICIAL, local_path
from .links import sync
from .notebooks import (
    METADATA_KEY,
    NOTEBOOK_DIR,
    STATUS_PAGE,
    CourseError,
    NotebookExecutionError,
    UnknownProfileError,
    check_pairing,
    check_profile,
    expectation_summary,
    load_notebook,
    resolve_notebooks,
    run_notebook,
    write_status_page,
)

__all__ = ["find_root", "main"]

_AMPLITUDE_DEFAULTS = {name: p.default for name, p in inspect.signature(load_amplitudes).parameters.items()}


def find_root(start: Path) -> Path:
    """Return the nearest folder at or above ``start`` holding ``_config.yml`` and ``notebooks/``.

    Raises
    ------
    CourseError
        If there is none: the command was run outside the course repository.
    """
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file() and (folder / "notebooks").is_dir():
            return folder
    raise CourseError(
        f"no course repository (a folder with _config.yml and notebooks/) at or above {start}; "
        "run reps4lhc inside it or pass --root."
    )


def _report(problems: Sequence[str], ok: str) -> int:
    """Print a check's problems to stderr (exit status 1) or ``ok`` to stdout (exit status 0)."""
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(ok)
    return 1 if problems else 0


def _profile(requested: str | None) -> str:
    """Return the requested profile, else the active one; an unknown name is a usage error."""
    if requested is not None:
        return check_profile(requested)
    try:
        return active_profile()
    except ValueError as err:  # a bad $REPS4LHC_PROFILE
        raise UnknownProfileError(str(err)) from err


def _notebooks_run(args: argparse.Namespace, root: Path) -> int:
    profile = _profile(args.profile)
    paths = resolve_notebooks(args.names, root)
    failed = []
    for path in paths:
        print(f"{path.stem}: running at profile {profile} ...", flush=True)
        try:
            nb = run_notebook(path, profile, timeout=args.timeout)
        except NotebookExecutionError as err:
            print(f"{err}\n{err.traceback}".rstrip(), file=sys.stderr)
            failed.append(path.stem)
            continue
        run = nb.metadata[METADATA_KEY]
        print(f"{path.stem}: done in {run['wall_time_s']:.1f} s; {expectation_summary(run['expectations'])}")
    write_status_page(root)  # it lists the last runs, so every run changes it
    if failed:
        print(f"{len(failed)} of {len(paths)} notebooks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _notebooks_status(args: argparse.Namespace, root: Path) -> int:
    stale = write_status_page(root, check=args.check)
    if args.check:
        problems = [f"{STATUS_PAGE} is out of date; run `reps4lhc notebooks status`."] if stale else []
        return _report(problems, f"{STATUS_PAGE} is up to date")
    return _report([], f"{STATUS_PAGE} {'rewritten' if stale else 'was up to date'}")


def _notebooks_pairing(args: argparse.Namespace, root: Path) -> int:
    return _report(check_pairing(root), "every notebook .py matches its .ipynb")


def _links(args: argparse.Namespace, root: Path) -> int:
    stale = [path.relative_to(root).as_posix() for path in sync(root, check=args.check)]
    if args.check:
        return _report(
            [f"{name} has out-of-date links; run `reps4lhc links`." for name in stale], "links up to date"
        )
    return _report([], f"rewrote {', '.join(stale)}" if stale else "links were up to date")


def _assignments_build(args: argparse.Namespace, root: Path) -> int:
    if args.verify:
        check_profile(args.profile)  # fail before building, not after
    written = build_all(root, args.out)
    print(f"wrote {len(written)} student notebooks to {args.out}/")
    if not args.verify:
        return 0
    problems = []
    for student_path in written:
        original_path = root / NOTEBOOK_DIR / student_path.name
        print(f"{student_path.stem}: verifying at profile {args.profile} ...", flush=True)
        student = nbformat.read(student_path, as_version=4)
        found = verify_assignment(
            load_notebook(original_path), student, original_path.parent, profile=args.profile
        )
        problems += [f"{student_path.stem}: {problem}" for problem in found]
    return _report(problems, "every student notebook fails its checks and every solution passes them")


def _assignments_ci(args: argparse.Namespace, root: Path) -> int:
    written, problems = write_ci_notebooks(root, args.out)
    if not problems:
        print(f"wrote {len(written)} notebooks with their student checks to {args.out}/")
        print(f"run them with: REPS4LHC_PROFILE=ci pytest --nbval-lax --nbval-current-env {args.out}/*.ipynb")
    return _report(problems, "the student versions hold no solutions and every exercise has a self-check")


def _size(n_bytes: int) -> str:
    """``n_bytes`` in readable decimal units: ``'512 B'``, ``'3.4 MB'``."""
    units = ("B", "kB", "MB", "GB", "TB")
    exponent = min(len(str(max(n_bytes, 1))) - 1, 3 * (len(units) - 1)) // 3
    return f"{n_bytes} B" if exponent == 0 else f"{n_bytes / 1000**exponent:.1f} {units[exponent]}"


def _describe(metadata: dict) -> str:
    """One line saying what a cached amplitude dataset holds."""
    sqrt_s = metadata["sqrt_s"]
    if isinstance(sqrt_s, dict):  # a luminosity
        energy = f"sqrt_s {sqrt_s['lo']:g}-{sqrt_s['hi']:g} GeV ({sqrt_s['luminosity']} {sqrt_s['power']:g})"
    else:
        energy = f"sqrt_s {sqrt_s:g} GeV"
    return (
        f"{metadata['process']}, {metadata['n_events']} events, seed {metadata['seed']}, "
        f"{metadata['colour']} colour, {energy}"
    )


def _describe_jets(metadata: dict) -> str:
    """One line saying what a generated jet file holds."""
    chunk = f", chunk {metadata['chunk'][0]} of {metadata['chunk'][1]}" if "chunk" in metadata else ""
    unit = pythia.DATASETS[metadata["dataset"]].unit if metadata["dataset"] in pythia.DATASETS else "jets"
    what = f"{metadata['dataset']}, {metadata['n_jets']} {unit}, seed {metadata['seed']}"
    return f"{what}, {metadata['level']} level{chunk}"


def _generated_status(name: str, files: list[CachedFile]) -> str:
    """The generated cache files of jet dataset ``name``, or how to make one."""
    mine = [file for file in files if file.metadata is not None and file.metadata.get("dataset") == name]
    if not mine:
        return f"not generated (make it with `reps4lhc data generate {name} --n N`, on all cores)"
    unit = pythia.DATASETS[name].unit
    sizes = ", ".join(f"{file.metadata['n_jets']} {unit} seed {file.metadata['seed']}" for file in mine)
    count = f"{len(mine)} file{'' if len(mine) == 1 else 's'}"
    return f"{count} in the cache, {_size(sum(file.size for file in mine))}: {sizes}"


def _official_status(name: str) -> str:
    """How many files of official dataset ``name`` are in the cache, and their size."""
    dataset = OFFICIAL[name]
    present = [path for path in (local_path(dataset, file) for file in dataset.files) if path.is_file()]
    if not present:
        return f"not downloaded ({len(dataset.files)} files, doi:{dataset.doi}; downloaded on first use)"
    size = _size(sum(path.stat().st_size for path in present))
    return f"downloaded {len(present)} of {len(dataset.files)} files, {size}, doi:{dataset.doi}"


def _data_list(args: argparse.Namespace, root: Path | None) -> int:
    defaults = _AMPLITUDE_DEFAULTS
    cuts = defaults["cuts"]
    print("Amplitude datasets: reps4lhc_tutor.data.load_amplitudes(process, ...), computed on demand")
    print(
        f"  defaults: {defaults['n_events']} events, seed {defaults['seed']}, sqrt_s {defaults['sqrt_s']:g} "
        f"GeV, {defaults['colour']} colour, cuts pt > {cuts.pt_min:g} GeV and Delta R > {cuts.delta_r_min:g}"
    )
    for process, n_final in AMPLITUDE_PROCESSES.items():
        print(f"  {process:<10} {2 + n_final} gluons")
    files = cached_files()
    jet_files = [file for file in files if file.path.suffix == ".h5"]
    print("Jet datasets: reps4lhc_tutor.data.load_<dataset>(source='shipped'|'generated'|'official'|'auto')")
    for name in pythia.DATASETS:
        print(f"  {name}")
        print(f"    shipped    {shipped.shipped_status(name)}")
        print(f"    generated  {_generated_status(name, jet_files)}")
        print(f"    official   {_official_status(name) if name in OFFICIAL else 'none (no public dataset)'}")
    total = sum(file.size for file in files)
    count = f"{len(files)} file{'' if len(files) == 1 else 's'}"
    print(f"Cache folder {cache_dir()} (set ${DATA_ENV} to move it): {count}, {_size(total)}")
    for file in files:
        if file.metadata is None:
            what = "damaged: delete it"
        else:
            what = _describe_jets(file.metadata) if file.path.suffix == ".h5" else _describe(file.metadata)
        print(f"  {file.path.name}  {_size(file.size):>8}  {what}")
    return 0


def _data_manifest(args: argparse.Namespace, root: Path | None) -> int:
    if args.check:
        return _report(shipped.check_manifest(), "data/MANIFEST matches the shipped files")
    path = shipped.write_manifest()
    print(f"wrote {path}")
    return 0


def _data_generate_amplitudes(args: argparse.Namespace, root: Path | None) -> int:
    data = load_amplitudes(
        args.process,
        n_events=args.events,
        seed=args.seed,
        sqrt_s=args.sqrt_s,
        colour=args.colour,
        split=None,
    )
    metadata = data.metadata
    path = Path(metadata["cache_file"])
    origin = (
        "read from the cache" if metadata["from_cache"] else f"generated in {metadata['generation_time_s']} s"
    )
    print(f"{_describe(metadata)}: {origin}")
    print(f"{path} ({_size(path.stat().st_size)})")
    return 0


def _generation_failed(err: Exception) -> int:
    print(f"reps4lhc: error: {err}", file=sys.stderr)
    return 2


def _announce_jets(args: argparse.Namespace, chunk: tuple[int, int] | None) -> None:
    """Print :func:`pythia.generation_notice` unless the file is already there or the generators are
    missing (then ``generate`` returns the file at once, or fails with the install command)."""
    path = args.out or pythia.generated_path(args.dataset, args.n, args.seed, args.level, chunk)
    if path.is_file() or pythia.missing_generator() is not None:
        return
    notice = pythia.generation_notice(
        args.dataset, args.n, args.seed, args.jobs, chunk=chunk, level=args.level, out=args.out
    )
    print(notice, flush=True)


def _data_generate_jets(args: argparse.Namespace, root: Path | None) -> int:
    if (args.chunk is None) != (args.of is None):
        return _generation_failed(ValueError("--chunk k and --of K go together."))
    chunk = None if args.chunk is None else (args.chunk, args.of)
    try:
        _announce_jets(args, chunk)
        path = pythia.generate(
            args.dataset, args.n, args.seed, jobs=args.jobs, chunk=chunk, level=args.level, out=args.out
        )
    except (ImportError, ValueError) as err:  # missing generators, a bad level or chunk
        return _generation_failed(err)
    print(f"{path} ({_size(path.stat().st_size)})")
    if chunk is not None:
        print(f"chunk {chunk[0]} of {chunk[1]}: join all {chunk[1]} with `reps4lhc data merge FILE ...`")
    return 0


def _data_merge(args: argparse.Namespace, root: Path | None) -> int:
    try:
        path = pythia.merge(args.chunks, out=args.out)
    except (ValueError, OSError) as err:  # chunks that do not fit together, unreadable files
        return _generation_failed(err)
    print(f"{path} ({_size(path.stat().st_size)})")
    return 0


REFERENCE_TABLE = Path("book/_generated/top_tagging_reference.md")
"""The table of the book's data page: our top-tagging jets beside the official set (``data compare``)."""


def _data_compare(args: argparse.Namespace, root: Path) -> int:
    path = pythia.generated_path("top-tagging", args.n, args.seed)
    if not path.is_file():
        raise FileNotFoundError(
            f"no generated top-tagging file of {args.n} jets with seed {args.seed} ({path}); make it with "
            f"`reps4lhc data generate top-tagging --n {args.n} --seed {args.seed}`."
        )
    columns, metadata = pythia.read_generated(path)
    print(f"measuring {args.n} jets of {path.name} (a few minutes: N-subjettiness and a BDT) ...", flush=True)
    measured = reference.measure_top_tagging(columns["constituents"], columns["labels"], seed=args.seed)
    provenance = (
        f"Measured by `reps4lhc data compare --n {args.n} --seed {args.seed}` on {args.n} generated jets "
        f"({metadata['generator']}, detector version {metadata.get('detector_version')}, seed {args.seed}; "
        f"the BDT trains on half and is tested on the other half) on {datetime.date.today().isoformat()}.\n\n"
    )
    out = root / REFERENCE_TABLE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(provenance + reference.comparison_table(measured))
    print(f"wrote {out}")
    return 0


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its error message
    return parse


def _positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reps4lhc",
        description=(
            "Tools for the Reps4LHC course: run notebooks, keep links in step, build assignments, make data."
        ),
    )
    parser.add_argument(
        "--root", type=Path, help="course repository (default: the nearest folder with _config.yml)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    notebooks = commands.add_parser(
        "notebooks", help="run | status | pairing: execute notebooks, list their runs, check .py/.ipynb pairs"
    )
    notebook_commands = notebooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = notebook_commands.add_parser("run", help="execute notebooks in place and record the run")
    run.add_argument("names", nargs="*", help="notebooks: 00, 00_topic or a path (default: all)")
    run.add_argument(
        "--profile", metavar="{ci,cpu,gpu}", help="run size (default: $REPS4LHC_PROFILE, else by hardware)"
    )
    run.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run (default: 1800)")
    run.set_defaults(handler=_notebooks_run)
    status = notebook_commands.add_parser("status", help="write book/status.md from the notebooks' last runs")
    status.add_argument("--check", action="store_true", help="only report whether the page is out of date")
    status.set_defaults(handler=_notebooks_status)
    pairing = notebook_commands.add_parser("pairing", help="check that every .py matches its .ipynb")
    pairing.set_defaults(handler=_notebooks_pairing)

    links = commands.add_parser("links", help="rewrite Colab badges, install lines and the README course map")
    links.add_argument("--check", action="store_true", help="only report out-of-date files")
    links.set_defaults(handler=_links)

    assignments = commands.add_parser(
        "assignments",
        help="build | ci: write student versions (solutions replaced by stubs), or the notebooks CI runs",
    )
    assignment_commands = assignments.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = assignment_commands.add_parser("build", help="write notebooks with solutions replaced by stubs")
    build.add_argument("--out", default="assignments", help="output folder (default: assignments)")
    build.add_argument(
        "--verify", action="store_true", help="execute them: checks must fail, the solutions must pass"
    )
    build.add_argument(
        "--profile", default="ci", metavar="{ci,cpu,gpu}", help="run size for --verify (default: ci)"
    )
    build.set_defaults(handler=_assignments_build)
    ci = assignment_commands.add_parser(
        "ci",
        help="write the notebooks CI runs under nbval: each with a cell that grades its student version",
    )
    ci.add_argument(
        "--out", default="_build/ci-notebooks", help="output folder (default: _build/ci-notebooks)"
    )
    ci.set_defaults(handler=_assignments_ci)

    data = commands.add_parser(
        "data", help="list | generate | merge | manifest | compare: datasets and the data cache"
    )
    data_commands = data.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = data_commands.add_parser("list", help="show the available datasets and the cached files")
    listing.set_defaults(handler=_data_list, needs_root=False)
    generate = data_commands.add_parser("generate", help="compute a dataset into the cache")
    generate_kinds = generate.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    amplitudes = generate_kinds.add_parser(
        "amplitudes", help="exact gluon amplitudes on RAMBO phase space (load_amplitudes)"
    )
    defaults = _AMPLITUDE_DEFAULTS
    amplitudes.add_argument(
        "--process",
        default=defaults["process"],
        choices=list(AMPLITUDE_PROCESSES),
        help=f"process; quote it in a shell: --process 'gg->gggg' (default: {defaults['process']})",
    )
    amplitudes.add_argument(
        "--events", type=_count(1), default=defaults["n_events"], help="events (default: %(default)s)"
    )
    amplitudes.add_argument(
        "--seed", type=_count(0), default=defaults["seed"], help="seed (default: %(default)s)"
    )
    amplitudes.add_argument(
        "--colour",
        choices=["full", "leading"],
        default=defaults["colour"],
        help="colour sum (default: %(default)s)",
    )
    amplitudes.add_argument(
        "--sqrt-s",
        type=_positive_float,
        default=defaults["sqrt_s"],
        help="partonic centre-of-mass energy in GeV (default: %(default)s)",
    )
    amplitudes.set_defaults(handler=_data_generate_amplitudes, needs_root=False)
    for name, spec in pythia.DATASETS.items():
        what = (
            "Z -> mu mu + jets events" if spec.kind == "events" else f"{' vs '.join(spec.label_names)} jets"
        )
        jets = generate_kinds.add_parser(name, help=f"{what} from Pythia 8 + FastJet (data.pythia.generate)")
        count = "events" if spec.kind == "events" else "jets in all, split over the two labels"
        jets.add_argument("--n", type=_count(1), required=True, help=count)
        jets.add_argument(
            "--jobs",
            type=_count(1),
            default=os.cpu_count() or 1,
            help="worker processes (default: all cores, %(default)s here)",
        )
        jets.add_argument("--seed", type=_count(0), default=0, help="seed (default: 0)")
        jets.add_argument("--chunk", type=_count(0), metavar="k", help="make only chunk k of --of K")
        jets.add_argument("--of", type=_count(1), metavar="K", help="number of chunks")
        jets.add_argument("--out", type=Path, help="output .h5 file (default: in the cache folder)")
        if spec.default_level != "both":
            jets.add_argument(
                "--level",
                choices=["particle", "detector"],
                help=f"particles before or after the detector model (default: {spec.default_level})",
            )
        jets.set_defaults(handler=_data_generate_jets, needs_root=False, level=None)
    merge = data_commands.add_parser("merge", help="join the chunk files of one generated jet dataset")
    merge.add_argument("chunks", nargs="+", type=Path, help="the K chunk files")
    merge.add_argument("--out", type=Path, help="output .h5 file (default: in the cache folder)")
    merge.set_defaults(handler=_data_merge, needs_root=False)
    manifest = data_commands.add_parser(
        "manifest", help="write data/MANIFEST from the shipped files (sha256, sizes, counts, settings)"
    )
    manifest.add_argument("--check", action="store_true", help="only report where it differs from the files")
    manifest.set_defaults(handler=_data_manifest, needs_root=False)
    compare = data_commands.add_parser(
        "compare",
        help=f"measure generated top-tagging jets against the official set's facts ({REFERENCE_TABLE})",
    )
    compare.add_argument(
        "--n", type=_count(2), default=100_000, help="jets of the generated file (%(default)s)"
    )
    compare.add_argument("--seed", type=_count(0), default=0, help="seed of the generated file (default: 0)")
    compare.set_defaults(handler=_data_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``reps4lhc`` command with ``argv`` (default: ``sys.argv[1:]``) and return its exit status."""
    args = _parser().parse_args(argv)
    try:
        if not getattr(args, "needs_root", True):  # data commands work anywhere
            return args.handler(args, None)
        root = args.root.resolve() if args.root is not None else find_root(Path.cwd())
        return args.handler(args, root)
    except (CourseError, FileNotFoundError, CacheError, shipped.ShippedDataError) as err:
        print(f"reps4lhc: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
