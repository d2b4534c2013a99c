"""The `reps4lhc data` commands: list the datasets and the cache, generate amplitudes into it."""

import os

import numpy as np
import pytest
from test_jet_sources import fake_file

from reps4lhc_tutor.cli import main
from reps4lhc_tutor.data import cache, load_amplitudes, pythia, registry, shipped
from reps4lhc_tutor.physics.phasespace import PowerLawLuminosity


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    """An empty cache, and a working directory outside any course repository (data commands need none)."""
    monkeypatch.setenv(cache.DATA_ENV, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_list_shows_processes_defaults_and_an_empty_cache(capsys, folder):
    status, out, _ = run(capsys, "data", "list")
    assert status == 0
    for process in ("gg->gg ", "gg->ggg ", "gg->gggg ", "gg->ggggg "):
        assert process in out
    assert "100000 events, seed 0, sqrt_s 1000 GeV, full colour, cuts pt > 20 GeV and Delta R > 0.4" in out
    assert f"Cache folder {folder.resolve()}" in out and "0 files, 0 B" in out


def test_generate_then_list_then_generate_again(capsys, folder):
    status, out, err = run(capsys, "data", "generate", "amplitudes", "--process", "gg->gg", "--events", "700")
    assert status == 0
    assert "gg->gg, 700 events, seed 0, full colour, sqrt_s 1000 GeV: generated in" in out
    assert "700/700" in err  # the progress bar
    (path,) = folder.iterdir()
    assert str(path) in out

    status, out, _ = run(capsys, "data", "list")
    assert status == 0 and "1 file," in out
    assert f"{path.name}  " in out and "gg->gg, 700 events, seed 0" in out and " kB  " in out

    status, out, _ = run(capsys, "data", "generate", "amplitudes", "--process", "gg->gg", "--events", "700")
    assert status == 0 and "read from the cache" in out


def test_generate_passes_every_option_to_the_loader(capsys, folder):
    argv = ["--process", "gg->ggg", "--events", "50", "--seed", "4", "--colour", "leading", "--sqrt-s", "800"]
    status, out, _ = run(capsys, "data", "generate", "amplitudes", *argv)
    assert status == 0 and "gg->ggg, 50 events, seed 4, leading colour, sqrt_s 800 GeV" in out
    same = load_amplitudes("gg->ggg", n_events=50, seed=4, colour="leading", sqrt_s=800.0, progress=False)
    assert same.metadata["from_cache"] is True
    assert np.all(same.momenta[:, 0, 0] == 400.0)


def test_list_describes_a_luminosity(capsys):
    lumi = PowerLawLuminosity(lo=400.0, hi=900.0)
    load_amplitudes("gg->gg", n_events=30, sqrt_s=lumi, progress=False)
    status, out, _ = run(capsys, "data", "list")
    assert status == 0 and "gg->gg, 30 events, seed 0, full colour, sqrt_s 400-900 GeV (power_law 3)" in out


def test_list_flags_damaged_files(capsys, folder):
    folder.mkdir()
    (folder / "amplitudes-gg-gg-0000000000000000.npz").write_bytes(b"broken")
    status, out, _ = run(capsys, "data", "list")
    assert status == 0 and "amplitudes-gg-gg-0000000000000000.npz       6 B  damaged: delete it" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--process", "gg->gq"], "invalid choice: 'gg->gq'"),
        (["--events", "0"], "must be an integer >= 1"),
        (["--events", "many"], "invalid integer value"),
        (["--seed", "-2"], "must be an integer >= 0"),
        (["--colour", "subleading"], "invalid choice"),
        (["--sqrt-s", "-1"], "must be a finite number > 0"),
    ],
)
def test_bad_options_are_usage_errors(capsys, folder, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["data", "generate", "amplitudes", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not folder.exists()


def test_a_damaged_cache_file_is_one_line_and_status_2(capsys, folder):
    run(capsys, "data", "generate", "amplitudes", "--process", "gg->gg", "--events", "20")
    (path,) = folder.iterdir()
    path.write_bytes(b"broken")
    status, _, err = run(capsys, "data", "generate", "amplitudes", "--process", "gg->gg", "--events", "20")
    assert status == 2 and err.startswith("reps4lhc: error: cache file") and "delete it" in err


def test_help_lists_the_data_commands(capsys):
    with pytest.raises(SystemExit):
        main(["data", "--help"])
    out = capsys.readouterr().out
    assert "list" in out and "generate" in out


# `reps4lhc data generate top-tagging|quark-gluon|zjets` and `data merge`: the generator is replaced by a
# recorder here (tests/test_pythia.py runs the real one).


@pytest.fixture
def fake_generate(monkeypatch, tmp_path):
    from reps4lhc_tutor.data import pythia

    calls = []

    def generate(name, n_jets, seed=0, *, jobs=1, chunk=None, level=None, out=None, progress=True):
        calls.append({"name": name, "n": n_jets, "seed": seed, "jobs": jobs, "chunk": chunk, "level": level})
        path = out if out is not None else tmp_path / f"{name}.h5"
        path.write_bytes(b"0" * 2048)
        return path

    monkeypatch.setattr(pythia, "generate", generate)
    return calls


def test_generate_jets_passes_every_option(capsys, fake_generate, tmp_path):
    argv = ["--n", "2000", "--jobs", "2", "--seed", "7", "--chunk", "1", "--of", "3", "--level", "particle"]
    status, out, _ = run(capsys, "data", "generate", "top-tagging", *argv, "--out", str(tmp_path / "t.h5"))
    assert status == 0
    assert fake_generate == [
        {"name": "top-tagging", "n": 2000, "seed": 7, "jobs": 2, "chunk": (1, 3), "level": "particle"}
    ]
    assert f"{tmp_path / 't.h5'} (2.0 kB)" in out and "chunk 1 of 3" in out and "data merge" in out

    status, out, _ = run(capsys, "data", "generate", "zjets", "--n", "10")
    assert status == 0
    jobs = os.cpu_count() or 1  # the default: all cores
    assert fake_generate[-1] == {
        "name": "zjets",
        "n": 10,
        "seed": 0,
        "jobs": jobs,
        "chunk": None,
        "level": None,
    }


def test_generate_jets_uses_all_cores_by_default(capsys, fake_generate, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert run(capsys, "data", "generate", "quark-gluon", "--n", "4")[0] == 0
    assert fake_generate[-1]["jobs"] == 7
    with pytest.raises(SystemExit):
        main(["data", "generate", "quark-gluon", "--help"])
    assert "worker processes (default: all cores, 7 here)" in capsys.readouterr().out


def test_generate_jets_announces_itself_before_it_starts(capsys, monkeypatch, folder):
    monkeypatch.setattr(pythia, "missing_generator", lambda: None)
    printed_before = []

    def generate(name, n_jets, seed=0, *, jobs=1, chunk=None, level=None, out=None, progress=True):
        printed_before.append(capsys.readouterr().out)
        path = pythia.generated_path(name, n_jets, seed, level, chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"0")
        return path

    monkeypatch.setattr(pythia, "generate", generate)
    status, out, _ = run(
        capsys, "data", "generate", "quark-gluon", "--n", "3000", "--seed", "2", "--jobs", "3"
    )
    assert status == 0 and len(printed_before) == 1
    path = pythia.generated_path("quark-gluon", 3000, 2)
    assert printed_before[0] == pythia.generation_notice("quark-gluon", 3000, 2, 3) + "\n"
    assert (
        "Generating 3000 quark-gluon jets with Pythia 8 + FastJet on 3 worker processes" in printed_before[0]
    )
    estimate = pythia._duration(pythia.estimated_seconds("quark-gluon", 3000, 3))
    assert f"{estimate} here" in printed_before[0] and f"Writing {path}." in printed_before[0]
    assert printed_before[0].rstrip().endswith("run: reps4lhc data generate quark-gluon --n 3000 --seed 2")
    assert out.startswith(f"{path} (")
    run(capsys, "data", "generate", "quark-gluon", "--n", "3000", "--seed", "2")  # already there: no notice
    assert printed_before[1] == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["quark-gluon", "--n", "10", "--chunk", "0"], "--chunk k and --of K go together"),
        (["quark-gluon", "--n", "0"], "must be an integer >= 1, got 0"),
        (["quark-gluon"], "the following arguments are required: --n"),
        (["zjets", "--n", "5", "--level", "particle"], "unrecognized arguments: --level particle"),
        (["w-tagging", "--n", "5"], "invalid choice: 'w-tagging'"),
    ],
)
def test_generate_jets_usage_errors(capsys, fake_generate, argv, message):
    try:
        status = main(["data", "generate", *argv])
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    assert status == 2 and message in capsys.readouterr().err
    assert fake_generate == []


def test_generate_jets_reports_missing_generators(capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "fastjet", None)
    status, _, err = run(capsys, "data", "generate", "top-tagging", "--n", "4")
    assert status == 2 and err.startswith("reps4lhc: error:") and 'pip install "reps4lhc_tutor[data]"' in err


def test_merge_reports_chunks_that_do_not_fit(capsys, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    status, _, err = run(capsys, "data", "merge", str(bad))
    assert status == 2 and "not a readable generated jet file" in err


def test_list_shows_every_jet_dataset_with_each_source(capsys, folder, tmp_path, monkeypatch):
    fake_file(tmp_path / "data" / "top-tagging.h5", "top-tagging", 4)
    shipped.write_manifest(tmp_path / "data")
    monkeypatch.setenv(shipped.SHIPPED_ENV, str(tmp_path / "data"))
    fake_file(pythia.generated_path("quark-gluon", 6, 1), "quark-gluon", 6, seed=1)
    zjets = registry.OFFICIAL["zjets"]
    official = registry.local_path(zjets, zjets.files[0])
    official.parent.mkdir(parents=True)
    official.write_bytes(b"x" * 3000)
    status, out, _ = run(capsys, "data", "list")
    assert status == 0
    lines = out.splitlines()
    top, qg, z = (lines.index(f"  {name}") for name in ("top-tagging", "quark-gluon", "zjets"))
    assert lines[top + 1].startswith("    shipped    present, verified (0.0 MB")
    assert lines[top + 2].startswith("    generated  not generated (make it with `reps4lhc data generate")
    assert lines[top + 3].startswith("    official   not downloaded (3 files, doi:10.5281/zenodo.2603256")
    assert "not listed in" in lines[qg + 1]
    assert (
        lines[qg + 2].startswith("    generated  1 file in the cache,") and "6 jets seed 1" in lines[qg + 2]
    )
    assert lines[z + 3].startswith("    official   downloaded 1 of 68 files, 3.0 kB")
    assert "quark-gluon, 6 jets, seed 1, particle level" in out  # the cache listing describes the .h5 file
