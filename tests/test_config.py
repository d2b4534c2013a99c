"""Profiles, pick/expect, seeding and setup."""

import json

import numpy as np
import pytest
import torch

import reps4lhc_tutor as tutor
from reps4lhc_tutor.config import EXPECT_LOG_ENV, PROFILE_ENV, STRICT_ENV


@pytest.mark.parametrize("profile", tutor.PROFILES)
def test_profile_from_environment(monkeypatch, profile):
    monkeypatch.setenv(PROFILE_ENV, profile.upper())
    assert tutor.active_profile() == profile


def test_default_profile_follows_hardware(monkeypatch):
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    assert tutor.active_profile() == ("gpu" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert tutor.active_profile() == "gpu"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "laptop")
    with pytest.raises(ValueError, match=r"'laptop' is not a profile; use one of ci, cpu, gpu"):
        tutor.active_profile()


@pytest.mark.parametrize(("profile", "expected"), [("ci", 1), ("cpu", 2), ("gpu", 3)])
def test_pick_returns_the_active_value(monkeypatch, profile, expected):
    monkeypatch.setenv(PROFILE_ENV, profile)
    assert tutor.pick(ci=1, cpu=2, gpu=3) == expected


def test_pick_without_the_active_profile_fails(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "gpu")
    with pytest.raises(ValueError, match=r"no value for the active profile 'gpu'; pass gpu="):
        tutor.pick(ci=1, cpu=2)


def test_pick_accepts_none_as_a_value(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "ci")
    assert tutor.pick(ci=None, cpu=1, gpu=2) is None


@pytest.fixture
def strict(monkeypatch):
    """CI, nbval and `reps4lhc notebooks run`: a missed measured band raises."""
    monkeypatch.setenv(STRICT_ENV, "1")


@pytest.fixture
def interactive(monkeypatch):
    """A student's session: no REPS4LHC_STRICT."""
    monkeypatch.delenv(STRICT_ENV, raising=False)


def test_expect_inside_prints_and_returns(monkeypatch, capsys, strict):
    monkeypatch.setenv(PROFILE_ENV, "cpu")
    assert tutor.expect("auc", 0.91, ci=(0.5, 1.0), cpu=(0.9, 0.95), gpu=(0.93, 0.96)) == 0.91
    assert capsys.readouterr().out == "expect auc = 0.91 in [0.9, 0.95] (cpu, measured): ok\n"


@pytest.mark.parametrize("value", [0.89, 0.96, float("nan")])
def test_expect_outside_a_measured_band_raises_when_strict(monkeypatch, strict, value):
    monkeypatch.setenv(PROFILE_ENV, "cpu")
    with pytest.raises(tutor.ExpectationError, match=r"\(cpu, measured\): MISSED"):
        tutor.expect("auc", value, ci=(0.0, 1.0), cpu=(0.9, 0.95), gpu=(0.0, 1.0))


@pytest.mark.parametrize("value", [0.89, float("nan")])
def test_expect_outside_a_measured_band_warns_interactively(monkeypatch, capsys, interactive, value):
    monkeypatch.setenv(PROFILE_ENV, "cpu")
    with pytest.warns(tutor.ExpectationWarning, match=r"outside \[0.9, 0.95\].*recorded cpu-profile run"):
        assert tutor.expect("auc", value, ci=(0.0, 1.0), cpu=(0.9, 0.95), gpu=(0.0, 1.0)) is not None
    assert capsys.readouterr().out.endswith("(cpu, measured): MISSED\n")


@pytest.mark.parametrize("mode", ["strict", "interactive"])
def test_expect_outside_a_target_never_raises(monkeypatch, capsys, request, mode):
    request.getfixturevalue(mode)
    monkeypatch.setenv(PROFILE_ENV, "gpu")
    with pytest.warns(tutor.ExpectationWarning, match=r"missed the gpu-profile target \[0.98, 1\]"):
        assert tutor.expect("auc", 0.9, ci=(0.0, 1.0), cpu=(0.0, 1.0), gpu=tutor.target(0.98, 1.0)) == 0.9
    assert capsys.readouterr().out == "expect auc = 0.9 in [0.98, 1] (gpu, target): MISSED\n"


def test_expect_inside_a_target_is_ok(monkeypatch, capsys, strict):
    monkeypatch.setenv(PROFILE_ENV, "gpu")
    tutor.expect("auc", 0.99, ci=(0.0, 1.0), cpu=(0.0, 1.0), gpu=tutor.target(0.98, 1.0))
    assert capsys.readouterr().out == "expect auc = 0.99 in [0.98, 1] (gpu, target): ok\n"


def test_expect_records_every_call_with_the_kinds_of_all_bands(monkeypatch, tmp_path, strict):
    log = tmp_path / "expect.jsonl"
    monkeypatch.setenv(EXPECT_LOG_ENV, str(log))
    monkeypatch.setenv(PROFILE_ENV, "gpu")
    with pytest.warns(tutor.ExpectationWarning):
        tutor.expect("a", 0.5, ci=(0, 1), cpu=(0, 1), gpu=tutor.target(0.6, 1))
        tutor.expect("b", float("nan"), ci=(0, 1), cpu=(0, 1), gpu=tutor.target(0, 1))
    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first == {
        "name": "a",
        "value": 0.5,
        "profile": "gpu",
        "band": [0.6, 1.0],
        "kind": "target",
        "ok": False,
        "kinds": {"ci": "measured", "cpu": "measured", "gpu": "target"},
    }
    assert second["value"] == "nan" and second["ok"] is False


@pytest.mark.parametrize("value", ["", "0", "no"])
def test_strict_switch_off(monkeypatch, value):
    monkeypatch.setenv(STRICT_ENV, value)
    assert not tutor.config.strict_expectations()


def test_strict_switch_rejects_other_values(monkeypatch):
    monkeypatch.setenv(STRICT_ENV, "sometimes")
    with pytest.raises(ValueError, match=r"REPS4LHC_STRICT='sometimes' is not a switch"):
        tutor.config.strict_expectations()


def test_expect_is_an_assertion_error():
    assert issubclass(tutor.ExpectationError, AssertionError)


def test_expect_missing_bound(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "ci")
    with pytest.raises(ValueError, match=r"no bound for the active profile 'ci'; pass ci=\(lo, hi\)"):
        tutor.expect("auc", 0.9, cpu=(0.0, 1.0), gpu=(0.0, 1.0))


@pytest.mark.parametrize("profile", ["ci", "gpu"])
def test_expect_checks_the_bands_of_every_profile(monkeypatch, profile):
    """An inverted gpu band fails already in a ci run, so CI catches a typo in any band."""
    monkeypatch.setenv(PROFILE_ENV, profile)
    with pytest.raises(ValueError, match=r"expect\('auc', gpu=...\): the band has lo=1.0 > hi=0.0"):
        tutor.expect("auc", 0.5, ci=(0.0, 1.0), cpu=(0.0, 1.0), gpu=tutor.Band(1.0, 0.0))


def test_target_rejects_inverted_band():
    with pytest.raises(ValueError, match=r"target\(\): the band has lo=2.0 > hi=1.0"):
        tutor.target(2.0, 1.0)


def test_expect_rejects_a_malformed_band(monkeypatch):
    monkeypatch.setenv(PROFILE_ENV, "ci")
    with pytest.raises(ValueError, match=r"a band is \(lo, hi\) or tutor.target\(lo, hi\), got \(0.5,\)"):
        tutor.expect("auc", 0.5, ci=(0.5,))


def test_seeding_repeats_random_streams():
    tutor.seed_everything(7)
    first = (np.random.rand(3), torch.rand(3))  # noqa: NPY002 -- the legacy global stream is what gets seeded
    tutor.seed_everything(7)
    second = (np.random.rand(3), torch.rand(3))  # noqa: NPY002
    np.testing.assert_array_equal(first[0], second[0])
    torch.testing.assert_close(first[1], second[1], rtol=0, atol=0)


@pytest.mark.parametrize("seed", [-1, 1.5, "3"])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        tutor.seed_everything(seed)


def test_setup_reports_profile_device_versions(monkeypatch, capsys):
    monkeypatch.setenv(PROFILE_ENV, "ci")
    cfg = tutor.setup(seed=3)
    out = capsys.readouterr().out
    assert cfg == tutor.RunConfig(profile="ci", device=tutor.get_device(), seed=3)
    assert out.startswith("profile: ci   device: ")
    assert f"torch {torch.__version__}" in out and "reps4lhc_tutor" in out


def test_device_is_usable():
    device = tutor.get_device()
    assert torch.ones(2, device=device).sum().item() == 2.0
