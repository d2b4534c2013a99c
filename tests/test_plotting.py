"""Tests of reps4lhc_tutor.plotting on the Agg backend: returned objects and the numbers drawn."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from reps4lhc_tutor import History, metrics, plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def step_values(ax, label):
    """Values of the step line called ``label`` in ``ax``."""
    (patch,) = [p for p in ax.patches if isinstance(p, StepPatch) and p.get_label() == label]
    return patch.get_data().values


def test_style_is_scoped_and_needs_no_latex():
    default_colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    with plotting.style():
        assert tuple(plt.rcParams["axes.prop_cycle"].by_key()["color"]) == plotting.COLORS
        assert plt.rcParams["text.usetex"] is False
        _, ax = plt.subplots()
        (line,) = ax.plot([0, 1])
        assert line.get_color() == plotting.COLORS[0]
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"] == default_colors
    with matplotlib.rc_context():  # restores what use_style changes
        plotting.use_style()
        assert plt.rcParams["font.size"] == plotting.RC_PARAMS["font.size"]


def test_plot_history():
    history = History(train_loss=[1.0, 0.5, 0.4], val_loss=[1.1, 0.6, 0.7], best_epoch=1)
    fig, ax = plotting.plot_history(history)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["training"].get_ydata(), history.train_loss)
    np.testing.assert_array_equal(lines["validation"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines["best epoch"].get_xdata(), [2, 2])  # 0-based epoch 1 is the 2nd
    assert ax.get_yscale() == "log"


def test_plot_history_negative_losses_and_given_axes():
    _, ax = plt.subplots()
    history = History(train_loss=[0.3, -0.2, -0.5])  # e.g. a Gaussian NLL; no validation
    fig, returned = plotting.plot_history(history, ax=ax)
    assert returned is ax and fig is ax.figure
    assert ax.get_yscale() == "linear"
    assert [line.get_label() for line in ax.get_lines()] == ["training"]


def test_hist_ratio_values_are_ratios_of_counts():
    rng = np.random.default_rng(5)
    samples = {
        "data": rng.normal(size=2000),
        "sim A": rng.normal(0.2, 1.0, 1500),
        "sim B": rng.normal(size=900),
    }
    weights = {"sim B": rng.uniform(0.5, 2.0, 900)}
    edges = np.linspace(-4, 4, 17)
    fig, (ax_main, ax_ratio) = plotting.hist_ratio(samples, "data", edges, weights=weights, xlabel="x")
    assert isinstance(fig, Figure) and isinstance(ax_main, Axes) and isinstance(ax_ratio, Axes)
    reference, _ = np.histogram(samples["data"], edges)
    for name, values in samples.items():
        counts, _ = np.histogram(values, edges, weights=weights.get(name))
        np.testing.assert_allclose(step_values(ax_main, name), counts, rtol=1e-12)
        expected = np.where(reference > 0, counts / np.where(reference > 0, reference, 1), np.nan)
        np.testing.assert_allclose(step_values(ax_ratio, name), expected, rtol=1e-12)
    assert np.isnan(step_values(ax_ratio, "sim A")).any()  # empty reference bins are left blank
    assert ax_ratio.get_xlabel() == "x"


def test_hist_ratio_density():
    samples = {"a": np.array([0.1, 0.2, 1.5]), "b": np.array([0.5, 1.2, 1.7, 1.9])}
    _, (ax_main, ax_ratio) = plotting.hist_ratio(samples, "a", bins=2, density=True)
    # common edges [0.1, 1.0, 1.9], width 0.9: densities a = (2/3, 1/3) / 0.9, b = (1/4, 3/4) / 0.9
    np.testing.assert_allclose(step_values(ax_main, "b"), np.array([0.25, 0.75]) / 0.9)
    np.testing.assert_allclose(step_values(ax_ratio, "b"), [0.25 / (2 / 3), 0.75 / (1 / 3)])


def test_hist_ratio_bad_inputs():
    with pytest.raises(ValueError, match="reference 'c' is not among"):
        plotting.hist_ratio({"a": [1.0], "b": [2.0]}, "c")
    with pytest.raises(ValueError, match="NaN"):
        plotting.hist_ratio({"a": [1.0, np.nan]}, "a")
    with pytest.raises(ValueError, match="unknown samples"):
        plotting.hist_ratio({"a": [1.0]}, "a", weights={"b": [1.0]})


def test_plot_roc():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1], 500)
    scores = {"good": rng.normal(size=1000) + 2 * labels, "weak": rng.normal(size=1000) + 0.5 * labels}
    fig, ax = plotting.plot_roc(labels, scores)
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    curves = {line.get_label().split(" (")[0]: line for line in ax.get_lines()}
    assert set(curves) == {"good", "weak", "random"}
    assert f"{metrics.auc(labels, scores['good']):.3f}" in curves["good"].get_label()
    eff_bkg, eff_sig, _ = metrics.roc_curve(labels, scores["good"])
    keep = eff_bkg > 0
    np.testing.assert_allclose(curves["good"].get_xdata(), eff_sig[keep])
    np.testing.assert_allclose(curves["good"].get_ydata(), 1 / eff_bkg[keep])


def test_plot_pulls():
    pulls = np.random.default_rng(4).normal(size=5000)
    pulls[:3] = 10.0  # outside the plotted range
    fig, ax = plotting.plot_pulls(pulls, bins=20)
    assert isinstance(fig, Figure)
    (patch,) = [p for p in ax.patches if isinstance(p, StepPatch)]
    values, edges, _ = patch.get_data()
    assert np.sum(values * np.diff(edges)) == pytest.approx(4997 / 5000)  # normalised to all pulls
    assert "3 outside" in patch.get_label()
    (gaussian,) = [line for line in ax.get_lines() if line.get_label() == "unit Gaussian"]
    assert np.max(gaussian.get_ydata()) == pytest.approx(1 / np.sqrt(2 * np.pi), rel=1e-4)
    with pytest.raises(ValueError, match="finite"):
        plotting.plot_pulls([np.inf])


def test_plot_calibration_draws_each_classifier_and_the_diagonal():
    rng = np.random.default_rng(6)
    p = rng.random(4000)
    labels = (rng.random(4000) < p).astype(int)
    probabilities = {"honest": p, "overconfident": p**3 / (p**3 + (1 - p) ** 3)}
    fig, ax = plotting.plot_calibration(labels, probabilities, n_bins=8)
    assert isinstance(fig, Figure) and isinstance(ax, Axes)
    assert len(ax.containers) == 2  # one errorbar per classifier
    drawn = {container.get_label(): container for container in ax.containers}
    assert set(drawn) == set(probabilities)
    for name, values in probabilities.items():
        mean, fraction, counts = metrics.calibration(labels, values, 8)
        line, _, (bars,) = drawn[name].lines
        np.testing.assert_allclose(line.get_xdata(), mean)
        np.testing.assert_allclose(line.get_ydata(), fraction)
        half_lengths = [abs(s[1, 1] - s[0, 1]) / 2 for s in bars.get_segments()]
        np.testing.assert_allclose(half_lengths, np.sqrt(fraction * (1 - fraction) / counts))
    (diagonal,) = [line for line in ax.get_lines() if line.get_label() == "calibrated"]
    np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
    np.testing.assert_array_equal(diagonal.get_ydata(), [0, 1])
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert sorted(legend) == ["calibrated", "honest", "overconfident"]


def test_plot_calibration_on_given_axes_and_bad_probabilities():
    _, ax = plt.subplots()
    labels, p = np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.3, 0.9])
    fig, returned = plotting.plot_calibration(labels, {"a": p}, ax=ax)
    assert returned is ax and fig is ax.figure
    assert len(ax.containers) == 1
    with pytest.raises(ValueError, match="sigmoid"):
        plotting.plot_calibration(labels, {"logits": np.log(p / (1 - p))})
