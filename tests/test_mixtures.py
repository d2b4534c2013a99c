"""Tests of mixed_samples, the two samples of set signal fractions that CWoLa trains on."""

from __future__ import annotations

import numpy as np
import pytest

from reps4lhc_tutor.data import mixed_samples


def _labels(n_signal: int, n_background: int, seed: int = 0) -> np.ndarray:
    """Shuffled labels: ``n_signal`` ones and ``n_background`` zeros."""
    labels = np.repeat([1, 0], [n_signal, n_background])
    return np.random.default_rng(seed).permutation(labels)


@pytest.mark.parametrize(
    ("fractions", "size", "expected"),
    [
        ((0.8, 0.2), 100, (80, 20)),
        ((0.3, 0.1), 10, (3, 1)),
        ((0.5, 0.5), 60, (30, 30)),
        ((0.33, 0.07), 50, (16, 4)),  # round(16.5) = 16 and round(3.5) = 4: Python's round, half to even
        ((1.0, 0.0), 40, (40, 0)),
        ((0.0, 0.25), 40, (0, 10)),
        ((1, 0), 40, (40, 0)),  # integer fractions
    ],
)
def test_each_sample_holds_exactly_round_f_size_signal_jets(fractions, size, expected):
    labels = _labels(200, 300)
    index, mixed = mixed_samples(labels, fractions, size, np.random.default_rng(1))
    assert index.shape == mixed.shape == (2 * size,)
    assert index.dtype == mixed.dtype == np.int64
    first, second = labels[index[:size]], labels[index[size:]]
    assert (int(first.sum()), int(second.sum())) == expected
    assert (first.size, second.size) == (size, size)


def test_samples_are_disjoint_and_index_real_jets():
    labels = _labels(150, 250)
    index, _ = mixed_samples(labels, (0.7, 0.3), 150, np.random.default_rng(2))  # all 150 signal jets
    assert np.unique(index).size == index.size  # no jet twice, within or across the samples
    assert ((index >= 0) & (index < labels.size)).all()


def test_every_jet_can_be_used():
    # 60 signal and 40 background jets are exactly what (0.8, 0.4) with size 50 needs
    labels = _labels(60, 40)
    index, _ = mixed_samples(labels, (0.8, 0.4), 50, np.random.default_rng(3))
    np.testing.assert_array_equal(np.sort(index), np.arange(100))


def test_mixed_labels_are_the_sample_membership():
    labels = _labels(100, 100)
    index, mixed = mixed_samples(labels, (0.6, 0.2), 70, np.random.default_rng(4))
    np.testing.assert_array_equal(mixed, np.repeat([1, 0], 70))
    # the mixed labels are not the true labels: CWoLa never sees those
    assert not np.array_equal(mixed, labels[index])


def test_samples_are_shuffled():
    # signal and background are mixed within each sample, not stacked signal first
    labels = _labels(200, 200)
    index, _ = mixed_samples(labels, (0.5, 0.5), 100, np.random.default_rng(5))
    for sample in (index[:100], index[100:]):
        true = labels[sample]
        assert not (np.all(np.diff(true) <= 0) or np.all(np.diff(true) >= 0))


def test_reproducible_for_a_seed_and_different_for_another():
    labels = _labels(300, 300)
    first = mixed_samples(labels, (0.7, 0.3), 100, np.random.default_rng(6))
    again = mixed_samples(labels, (0.7, 0.3), 100, np.random.default_rng(6))
    other = mixed_samples(labels, (0.7, 0.3), 100, np.random.default_rng(7))
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(np.sort(first[0]), np.sort(other[0]))  # another choice of jets, not only order


def test_bool_and_float_labels_are_accepted():
    labels = _labels(50, 50)
    expected, _ = mixed_samples(labels, (0.6, 0.2), 40, np.random.default_rng(8))
    for converted in (labels.astype(bool), labels.astype(float), labels.tolist()):
        index, _ = mixed_samples(converted, (0.6, 0.2), 40, np.random.default_rng(8))
        np.testing.assert_array_equal(index, expected)


# --- errors -------------------------------------------------------------------------------------------------


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.mark.parametrize(
    ("n_signal", "n_background", "fractions", "size", "message"),
    [
        (30, 200, (0.8, 0.2), 100, "need 100 signal and 100 background jets, but labels hold 30 and 200"),
        (200, 30, (0.8, 0.2), 100, "need 100 signal and 100 background jets, but labels hold 200 and 30"),
        # one jet short of exactly enough (test_every_jet_can_be_used)
        (59, 40, (0.8, 0.4), 50, "need 60 signal and 40 background jets, but labels hold 59 and 40"),
        (60, 39, (0.8, 0.4), 50, "need 60 signal and 40 background jets, but labels hold 60 and 39"),
        # each sample alone fits, the two together do not: the samples share no jet
        (49, 500, (0.5, 0.5), 50, "need 50 signal and 50 background jets, but labels hold 49 and 500"),
    ],
)
def test_too_few_jets_raise_and_say_what_is_needed(n_signal, n_background, fractions, size, message):
    with pytest.raises(ValueError, match=message) as info:
        mixed_samples(_labels(n_signal, n_background), fractions, size, _rng())
    assert "lower size" in str(info.value)


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ((-0.1, 0.2), "f1 must be a signal fraction in"),
        ((0.5, 1.2), "f2 must be a signal fraction in"),
        ((True, 0.2), "f1 must be a signal fraction in"),
        ((0.5, False), "f2 must be a signal fraction in"),
        ((float("nan"), 0.2), "f1 must be a signal fraction in"),
        (("0.5", 0.2), "f1 must be a signal fraction in"),
        ((0.5, 0.3, 0.1), r"signal_fractions must be a pair \(f1, f2\)"),
        ((0.5,), r"signal_fractions must be a pair \(f1, f2\)"),
    ],
)
def test_bad_fractions_raise(fractions, message):
    with pytest.raises(ValueError, match=message):
        mixed_samples(_labels(100, 100), fractions, 10, _rng())


@pytest.mark.parametrize("size", [0, -5, 2.5, 10.0, True, "10", None])
def test_bad_size_raises(size):
    with pytest.raises(ValueError, match="size must be a positive integer"):
        mixed_samples(_labels(100, 100), (0.6, 0.2), size, _rng())


def test_numpy_integer_size_is_accepted():
    index, _ = mixed_samples(_labels(100, 100), (0.6, 0.2), np.int64(20), _rng())
    assert index.shape == (40,)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 2, 1]),
        np.array([0.0, 0.5, 1.0, 1.0]),
        np.array([-1, 1, 1, 0]),
        np.zeros((10, 2), dtype=int),
        np.array(["s", "b"]),
    ],
    ids=["two", "half", "minus one", "2-d", "strings"],
)
def test_bad_labels_raise(labels):
    with pytest.raises(ValueError, match=r"labels must be a 1-d array of 0 \(background\) and 1 \(signal\)"):
        mixed_samples(labels, (1.0, 0.0), 1, _rng())


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)], ids=["int", "None", "RandomState"])
def test_rng_must_be_a_generator(rng):
    with pytest.raises(TypeError, match=r"np.random.default_rng\(0\)"):
        mixed_samples(_labels(10, 10), (0.5, 0.5), 4, rng)
