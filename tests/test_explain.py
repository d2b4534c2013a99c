"""Tests of reps4lhc_tutor.explain: exact Shapley values against closed forms and the Shapley axioms,
KernelSHAP against the exact values, the importance ranking, the Pareto front, the gplearn -> sympy
conversion, the symbolic-regression front end (gplearn recovers x0^2 + x1 on noise-free data) and the PySR
probe, which is exercised with a faked subprocess so that no test depends on Julia being installed."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import sympy
from gplearn import functions as gp
from gplearn._program import _Program
from gplearn.fitness import _fitness_map

from reps4lhc_tutor import explain
from reps4lhc_tutor.explain import Formula

# Shapley values below are sums of a few hundred products and differences of O(1-10) numbers; double
# precision rounding leaves ~1e-15 there, so 1e-12 catches any wrong weight or coalition (errors O(0.1)) while
# staying far from rounding.
EXACT = 1e-12

X0, X1 = sympy.symbols("x0 x1")


def interacting_model(x):
    """A non-linear model with interactions between features 0 and 1 and non-additive terms."""
    return x[:, 0] * x[:, 1] + np.sin(x[:, 2]) + x[:, 3] ** 2


def samples(seed, events, background, d):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(events, d)), rng.normal(1.0, 2.0, size=(background, d))


# ---------------------------------------------------------------------------------------------------------
# exact_shapley


@pytest.mark.parametrize("d", [1, 3, 5])
def test_linear_model_gives_weight_times_offset_from_background_mean(d):
    x, background = samples(d, events=7, background=30, d=d)
    w = np.linspace(-2.0, 3.0, d) + 0.5
    c = 1.7
    phi, base = explain.exact_shapley(lambda rows: rows @ w + c, x, background)
    assert phi.shape == (7, d)
    np.testing.assert_allclose(phi, w * (x - background.mean(axis=0)), rtol=0, atol=EXACT)
    assert base == pytest.approx(float(background.mean(axis=0) @ w + c), abs=EXACT)


def test_efficiency_and_base_value_with_interactions():
    x, background = samples(1, events=6, background=25, d=4)
    phi, base = explain.exact_shapley(interacting_model, x, background)
    expected_base = interacting_model(background).mean()
    assert base == pytest.approx(expected_base, abs=EXACT)
    np.testing.assert_allclose(phi.sum(axis=1), interacting_model(x) - expected_base, rtol=0, atol=EXACT)
    # the interaction makes this a real test of the weights: the values are not those of the additive parts
    additive = np.column_stack([x[:, 0] * background[:, 1].mean(), x[:, 1] * background[:, 0].mean()])
    assert np.abs(phi[:, :2] - additive).max() > 0.1


def test_symmetric_features_get_equal_values_and_an_ignored_feature_gets_zero():
    def model(x):  # symmetric under x0 <-> x1; x2 ignored; x3 interacts with both
        return x[:, 0] * x[:, 1] + np.exp(-((x[:, 0] - x[:, 1]) ** 2)) + np.sin(x[:, 0] + x[:, 1]) * x[:, 3]

    rng = np.random.default_rng(2)
    half = rng.normal(size=(15, 4))
    background = np.concatenate([half, half[:, [1, 0, 2, 3]]])  # symmetric under the swap of columns 0, 1
    x = rng.normal(size=(5, 4))
    x[:, 1] = x[:, 0]
    phi, _ = explain.exact_shapley(model, x, background)
    np.testing.assert_allclose(phi[:, 0], phi[:, 1], rtol=0, atol=EXACT)
    # dummy: each coalition with and without feature 2 gives bitwise identical model outputs, so exactly 0
    assert np.all(phi[:, 2] == 0.0)
    assert np.abs(phi[:, 3]).min() > 0  # the non-dummy neighbour is not trivially zero
    # not vacuous: with x0 != x1 the two values differ
    x[:, 1] = x[:, 0] + 1.0
    phi, _ = explain.exact_shapley(model, x, background)
    assert np.abs(phi[:, 0] - phi[:, 1]).min() > 1e-3


def test_product_with_one_background_event_hand_computed():
    # f = x0 x1, one background event b: v({}) = b0 b1, v({0}) = x0 b1, v({1}) = b0 x1, v({0,1}) = x0 x1, so
    # phi_0 = [(x0 b1 - b0 b1) + (x0 x1 - b0 x1)] / 2 = (x0 - b0)(x1 + b1) / 2 and, by symmetry,
    # phi_1 = (x1 - b1)(x0 + b0) / 2. With x = (3, 5), b = (1, 2): phi = (7, 6), base 2, all exact in binary.
    def product(x):
        return x[:, 0] * x[:, 1]

    phi, base = explain.exact_shapley(product, [[3.0, 5.0]], [[1.0, 2.0]])
    assert phi.tolist() == [[7.0, 6.0]]
    assert base == 2.0
    rng = np.random.default_rng(4)
    x, b = rng.normal(size=(8, 2)), rng.normal(size=(1, 2))
    phi, base = explain.exact_shapley(product, x, b)
    expected = np.column_stack(
        [(x[:, 0] - b[0, 0]) * (x[:, 1] + b[0, 1]) / 2, (x[:, 1] - b[0, 1]) * (x[:, 0] + b[0, 0]) / 2]
    )
    np.testing.assert_allclose(phi, expected, rtol=0, atol=EXACT)
    assert base == pytest.approx(b[0, 0] * b[0, 1], abs=EXACT)


@pytest.mark.parametrize("d", [3, 4, 6])
def test_three_way_product_is_shared_equally(d):
    # f = x0 x1 x2 with the background at the origin: v(S) = 0 unless S contains {0, 1, 2}, so only the last
    # feature of the three to join brings f(x). Summing the weights |S|! (d - |S| - 1)! / d! over the
    # coalitions that hold the other two gives 1/3 for every d; the extra features are dummies.
    x = np.random.default_rng(d).normal(size=(4, d))
    phi, base = explain.exact_shapley(lambda r: r[:, 0] * r[:, 1] * r[:, 2], x, np.zeros((1, d)))
    third = x[:, 0] * x[:, 1] * x[:, 2] / 3
    np.testing.assert_allclose(phi[:, :3], np.column_stack([third] * 3), rtol=0, atol=EXACT)
    assert np.all(phi[:, 3:] == 0.0)
    assert base == 0.0


def test_batching_changes_neither_values_nor_exceeds_the_batch():
    x, background = samples(5, events=9, background=10, d=3)  # 2^3 * 10 = 80 rows per explained event
    calls = []

    def model(rows):
        calls.append(len(rows))
        return interacting_model(np.column_stack([rows, rows[:, :1]]))

    reference, base = explain.exact_shapley(model, x, background)
    assert calls == [9 * 80]
    calls.clear()
    batched, batched_base = explain.exact_shapley(model, x, background, batch_events=200)  # 2 events a call
    assert max(calls) <= 200 and sum(calls) == 9 * 80
    np.testing.assert_array_equal(batched, reference)
    assert batched_base == base


def test_model_with_a_column_output_is_accepted():
    x, background = samples(6, events=3, background=5, d=2)
    flat, base = explain.exact_shapley(lambda r: r[:, 0] * r[:, 1], x, background)
    column, column_base = explain.exact_shapley(lambda r: (r[:, 0] * r[:, 1])[:, None], x, background)
    np.testing.assert_array_equal(column, flat)
    assert column_base == base


def _sum(rows):
    return rows.sum(axis=1)


GOOD = np.ones((2, 3))


@pytest.mark.parametrize(
    ("x", "background", "match"),
    [
        (np.ones(3), GOOD, r"x must be 2-d with shape \(events, features\), got shape \(3,\)"),
        (np.ones((0, 3)), GOOD, r"x must have at least one event, got shape \(0, 3\)"),
        (GOOD, np.ones(3), r"background must be 2-d with shape \(events, features\)"),
        (np.ones((2, 3, 1)), GOOD, r"x must be 2-d with shape \(events, features\), got shape \(2, 3, 1\)"),
        (np.array([[1.0, np.nan, 0.0]]), GOOD, "x contains 1 NaN or infinite values"),
        (GOOD, np.array([[1.0, 2.0, np.inf]]), "background contains 1 NaN or infinite values"),
        (GOOD, np.ones((4, 2)), "background has 2 features but x has 3"),
    ],
)
def test_exact_shapley_input_errors(x, background, match):
    with pytest.raises(ValueError, match=match):
        explain.exact_shapley(_sum, x, background)


def test_exact_shapley_refuses_too_many_features():
    d = explain.MAX_EXACT_FEATURES + 1
    with pytest.raises(ValueError, match=rf"d = {d} > {d - 1}: use kernel_shap"):
        explain.exact_shapley(_sum, np.ones((1, d)), np.zeros((1, d)))


@pytest.mark.parametrize(
    "model", [lambda r: np.zeros(len(r) + 1), lambda r: np.zeros((len(r), 2)), lambda r: np.float64(1.0)]
)
def test_exact_shapley_rejects_a_model_of_the_wrong_shape(model):
    with pytest.raises(ValueError, match=r"the model must return one number per event, shape \(16,\)"):
        explain.exact_shapley(model, np.ones((1, 2)), np.zeros((4, 2)))  # 2^2 coalitions x 4 = 16 rows


# ---------------------------------------------------------------------------------------------------------
# kernel_shap


@pytest.mark.parametrize("d", [3, 5])
def test_kernel_shap_with_all_coalitions_matches_exact(d):
    # With n_samples >= 2^d KernelSHAP enumerates every coalition and its weighted least squares reproduces
    # the Shapley values up to rounding (measured: <= 6e-15 here, values up to 10). 1e-10 leaves room for
    # another BLAS, while sampled coalitions are far off: with 2^d - 4 samples the same call misses by
    # 0.1-0.6. The three-way product matters: for a model with only pairwise interactions the coalitions of
    # size 1 and d - 1 that shap always enumerates already give the exact values.
    def model(r):
        return r[:, 0] * r[:, 1] * r[:, 2] + np.sin(r[:, 1]) + r[:, -1] ** 2 * r[:, 0]

    x, background = samples(10 + d, events=4, background=12, d=d)
    exact, base = explain.exact_shapley(model, x, background)
    approx, approx_base = explain.kernel_shap(model, x, background, n_samples=2**d)
    assert approx.shape == (4, d)
    np.testing.assert_allclose(approx, exact, rtol=0, atol=1e-10)
    assert approx_base == pytest.approx(base, abs=1e-10)


def test_kernel_shap_input_errors():
    with pytest.raises(ValueError, match="background has 2 features but x has 3"):
        explain.kernel_shap(_sum, GOOD, np.ones((4, 2)))
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        explain.kernel_shap(_sum, [[np.nan, 1.0, 2.0]], GOOD)


# ---------------------------------------------------------------------------------------------------------
# ranking


def test_ranking_orders_by_mean_absolute_value():
    values = np.array([[0.1, -3.0, 1.0, 0.0], [-0.3, 1.0, -1.0, 0.0], [0.2, 2.0, 1.0, 0.0]])
    result = explain.ranking(values, ["a", "b", "c", "d"])
    assert [name for name, _ in result] == ["b", "c", "a", "d"]
    np.testing.assert_allclose([v for _, v in result], [2.0, 1.0, 0.2, 0.0], rtol=0, atol=1e-15)
    assert all(isinstance(v, float) for _, v in result)
    # ties keep the order of the names
    assert [n for n, _ in explain.ranking([[1.0, -1.0, 1.0]], ["p", "q", "r"])] == ["p", "q", "r"]


def test_ranking_errors():
    with pytest.raises(ValueError, match="2 names for 3 features"):
        explain.ranking(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match=r"values contains \d+ NaN"):
        explain.ranking([[1.0, np.nan]], ["a", "b"])
    with pytest.raises(ValueError, match=r"values must be 2-d with shape \(events, features\)"):
        explain.ranking([1.0, 2.0], ["a", "b"])


# ---------------------------------------------------------------------------------------------------------
# Pareto front and Formula


def formula(expression, loss, complexity):
    return Formula(expression, ("x0", "x1"), loss, complexity)


def test_pareto_front_keeps_the_best_of_each_complexity_and_drops_dominated():
    constant = formula(sympy.Float(0.5), 1.0, 1)
    line = formula(X1 + 0.3, 0.5, 3)
    line_worse = formula(X0 + 0.1, 0.7, 3)  # same complexity, higher loss: dropped
    beaten = formula(X0 * X1 + 1, 0.6, 5)  # more complex than `line` but worse: dropped
    tied = formula(X1 * 1.0 + 0.3 + X0 - X0, 0.5, 4)  # as good as the simpler `line`: dropped
    exact = formula(X0**2 + X1, 0.0, 5)
    longer = formula(X0**2 + X1 + X0 - X0, 0.0, 9)  # no better than `exact`: dropped
    front = explain.pareto_front([longer, beaten, exact, line_worse, tied, line, constant])
    assert front == [constant, line, exact]
    assert explain.pareto_front([]) == []


def test_formula_evaluates_on_arrays():
    x = np.array([[1.0, 2.0], [-2.0, 0.5], [0.0, 3.0]])
    f = formula(X0**2 + sympy.sin(X1) * X0, 0.0, 7)
    np.testing.assert_allclose(f(x), x[:, 0] ** 2 + np.sin(x[:, 1]) * x[:, 0], rtol=1e-15)
    constant = formula(sympy.Float(2.5), 0.0, 1)(x)
    assert constant.shape == (3,) and constant.tolist() == [2.5, 2.5, 2.5]
    constant[0] = 0.0  # a writable copy, not a broadcast view
    one_variable = formula(X1, 0.0, 1)(x)
    assert one_variable.tolist() == [2.0, 0.5, 3.0]
    assert "complexity 7" in str(f) and "loss 0" in str(f)


def test_formula_rejects_the_wrong_number_of_columns():
    with pytest.raises(ValueError, match="x has 3 features but the formula has 2"):
        formula(X0 + X1, 0.0, 3)(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"x must be 2-d with shape \(events, features\)"):
        formula(X0 + X1, 0.0, 3)(np.ones(2))


# ---------------------------------------------------------------------------------------------------------
# gplearn programs -> sympy


def gplearn_program(prefix, n_features=2):
    """A gplearn _Program built from a prefix list (gplearn checks that it is a valid program)."""
    return _Program(
        function_set=[gp.add2, gp.sub2, gp.mul2, gp.div2, gp.sqrt1, gp.log1, gp.inv1, gp.neg1, gp.abs1],
        arities={1: [gp.sqrt1, gp.log1, gp.inv1, gp.neg1, gp.abs1], 2: [gp.add2, gp.sub2, gp.mul2, gp.div2]},
        init_depth=(2, 4),
        init_method="half and half",
        n_features=n_features,
        const_range=(-1.0, 1.0),
        metric=_fitness_map["mse"],
        p_point_replace=0.05,
        parsimony_coefficient=0.001,
        random_state=np.random.RandomState(0),
        program=prefix,
    )


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ([gp.div2, 0, 1], X0 / X1),
        ([gp.sqrt1, gp.sub2, 0, 1], sympy.sqrt(sympy.Abs(X0 - X1))),
        ([gp.log1, gp.mul2, 0, 0.5], sympy.log(sympy.Abs(X0 * sympy.Float(0.5)))),
        ([gp.inv1, gp.add2, 1, 0.25], 1 / (X1 + sympy.Float(0.25))),
        ([gp.neg1, gp.abs1, 0], -sympy.Abs(X0)),
        (
            [gp.add2, gp.div2, 0, gp.sqrt1, 1, gp.log1, gp.mul2, 0, 1],
            X0 / sympy.sqrt(sympy.Abs(X1)) + sympy.log(sympy.Abs(X0 * X1)),
        ),
        ([1], X1),
        ([-0.75], sympy.Float(-0.75)),
    ],
)
def test_formula_from_gplearn_writes_protected_operators_as_ordinary_ones(prefix, expected):
    program = gplearn_program(prefix)
    expression = explain.formula_from_gplearn(program, ["x0", "x1"])
    assert sympy.simplify(expression - expected) == 0
    # and the expression computes what gplearn computes where the protections do not act (|arguments| > 0.001)
    x = np.random.default_rng(8).uniform(0.5, 2.0, size=(20, 2)) * np.array([1.0, -1.0])
    values = Formula(expression, ("x0", "x1"), 0.0, 1)(x)
    np.testing.assert_allclose(values, np.broadcast_to(program.execute(x), (20,)), rtol=1e-13, atol=0)


def test_formula_from_gplearn_rejects_functions_without_a_sympy_form():
    program = gplearn_program([gp.add2, 0, 1])
    program.program = [gp.max2, 0, 1]
    with pytest.raises(ValueError, match="no sympy form for the gplearn function 'max'"):
        explain.formula_from_gplearn(program, ["x0", "x1"])


def test_refine_constants_fits_the_constants_by_least_squares():
    x = np.linspace(-1.0, 1.0, 41)[:, None]
    y = 2.0 * x[:, 0] + 3.0
    a = sympy.Symbol("a")
    fitted = explain.refine_constants(sympy.Float(0.5) * a + sympy.Float(0.1), ["a"], x, y)
    # a linear least-squares problem solved by Levenberg-Marquardt: exact to rounding (~1e-15)
    assert float(fitted.expression.coeff(a)) == pytest.approx(2.0, abs=1e-10)
    assert float(fitted.expression.subs(a, 0)) == pytest.approx(3.0, abs=1e-10)
    assert fitted.loss < 1e-20 and fitted.complexity == 5 and fitted.variables == ("a",)
    # without numerical constants the expression is kept and its mean squared error reported
    plain = explain.refine_constants(a**2, ["a"], x, y)
    assert plain.expression == a**2
    assert plain.loss == pytest.approx(np.mean((x[:, 0] ** 2 - y) ** 2), rel=1e-14)


# ---------------------------------------------------------------------------------------------------------
# symbolic_regression


def test_gplearn_recovers_a_simple_formula_from_noise_free_data(capsys):
    # y = x0^2 + x1, noise free. 500 programs over at most 10 generations find it for each of the seeds 0-7
    # (checked when writing the test) in well under a second; gplearn stops as soon as the error is 0.
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(300, 2))
    y = x[:, 0] ** 2 + x[:, 1]
    fit = explain.symbolic_regression(
        x,
        y,
        ["x0", "x1"],
        backend="gplearn",
        binary_operators=("+", "-", "*"),
        population=500,
        generations=10,
    )
    assert capsys.readouterr().out.strip() == "symbolic regression: gplearn (requested)"
    assert fit.backend == "gplearn" and fit.reason == "requested"
    best = fit.best
    assert sympy.simplify(best.expression - (X0**2 + X1)) == 0
    assert best.variables == ("x0", "x1")
    np.testing.assert_allclose(best(x), y, rtol=0, atol=1e-9)
    assert best.loss < 1e-12
    assert len(fit.front) >= 2
    complexities = [f.complexity for f in fit.front]
    losses = [f.loss for f in fit.front]
    assert all(a < b for a, b in itertools.pairwise(complexities))
    assert all(a > b for a, b in itertools.pairwise(losses))
    assert fit.front[-1] == best


def test_gplearn_front_of_an_inexact_search_is_a_pareto_front():
    # No short formula fits y exactly with these operators, so the search ends with several candidates of one
    # complexity after the constants are refined (this seed: 6 of them before the final Pareto selection,
    # 4 after). The front must still be complexity-increasing, loss-decreasing, and each reported loss must be
    # the mean squared error of the formula as evaluated (same arithmetic up to summation order: rel 1e-9).
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(200, 2))
    y = x[:, 0] / (1.5 + x[:, 1]) + x[:, 1] ** 3
    fit = explain.symbolic_regression(
        x, y, ["x0", "x1"], backend="gplearn", population=200, generations=5, seed=2
    )
    complexities = [f.complexity for f in fit.front]
    losses = [f.loss for f in fit.front]
    assert len(fit.front) >= 3
    assert all(a < b for a, b in itertools.pairwise(complexities))
    assert all(a > b for a, b in itertools.pairwise(losses))
    for f in [fit.best, *fit.front]:
        assert f.loss == pytest.approx(np.mean((f(x) - y) ** 2), rel=1e-9)
    assert fit.best.loss < np.var(y)  # better than the best constant


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": np.zeros((50, 1))}, r"y must have shape \(50,\), one target per event, got \(50, 1\)"),
        ({"y": np.zeros(49)}, r"y must have shape \(50,\)"),
        ({"y": np.r_[np.zeros(49), np.nan]}, "y contains NaN or infinite values"),
        ({"x": np.ones((50, 3))}, "x has 3 features"),
        ({"x": np.r_[np.ones((49, 2)), [[np.inf, 0.0]]]}, "x contains 1 NaN"),
        ({"variables": ["x 0", "1x"]}, r"Python identifiers.*\['x 0', '1x'\]"),
        ({"variables": ["a", "a"]}, r"variable names must be distinct, got \['a', 'a'\]"),
        ({"backend": "julia"}, r"backend must be 'auto', 'pysr' or 'gplearn', got 'julia'"),
        ({"binary_operators": ("+", "^")}, r"gplearn does not provide the operators \['\^'\]"),
        ({"unary_operators": ("exp", "sin")}, r"gplearn does not provide the operators \['exp'\]"),
    ],
)
def test_symbolic_regression_input_errors(kwargs, match):
    arguments = {"x": np.ones((50, 2)), "y": np.zeros(50), "variables": ["a", "b"], "backend": "gplearn"}
    arguments.update(kwargs)
    x, y, variables = arguments.pop("x"), arguments.pop("y"), arguments.pop("variables")
    with pytest.raises(ValueError, match=match):
        explain.symbolic_regression(x, y, variables, population=20, generations=1, **arguments)


def _no_probe():
    raise AssertionError("pysr_status must not run for backend='gplearn'")


def test_auto_falls_back_to_gplearn_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(explain, "pysr_status", lambda: (False, "no Julia here"))
    x = np.random.default_rng(1).uniform(-1.0, 1.0, size=(60, 2))
    fit = explain.symbolic_regression(x, x[:, 0] + x[:, 1], ["a", "b"], population=50, generations=2)
    assert fit.backend == "gplearn"
    assert fit.reason == "offline Python backend: no Julia here"
    printed = capsys.readouterr().out.strip()
    assert printed == "symbolic regression: gplearn (offline Python backend: no Julia here)"


def test_auto_uses_pysr_when_it_can_run(monkeypatch, capsys):
    monkeypatch.setattr(explain, "pysr_status", lambda: (True, "pysr imports"))
    seen = {}
    chosen = formula(X0 + X1, 0.0, 3)

    def fake_run_pysr(x, y, search):
        seen.update(x=x, y=y, search=search)
        return chosen, [chosen]

    monkeypatch.setattr(explain, "_run_pysr", fake_run_pysr)
    x = np.ones((5, 2))
    fit = explain.symbolic_regression(
        x, np.arange(5), ["x0", "x1"], unary_operators=("sin",), generations=7, population=33, seed=4
    )
    assert capsys.readouterr().out.strip() == "symbolic regression: pysr (pysr imports)"
    assert (fit.backend, fit.reason, fit.best, fit.front) == ("pysr", "pysr imports", chosen, [chosen])
    search = seen["search"]
    assert search.variables == ("x0", "x1") and search.binary == ("+", "-", "*", "/")
    assert (search.unary, search.generations, search.population, search.seed) == (("sin",), 7, 33, 4)
    assert seen["y"].dtype == np.float64 and seen["y"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_pysr_backend_that_cannot_run_names_the_fix(monkeypatch, capsys):
    monkeypatch.setattr(explain, "pysr_status", lambda: (False, "pysr is not installed"))
    fix = r"backend='pysr' cannot run: pysr is not installed\. Use backend='gplearn' or 'auto'"
    with pytest.raises(RuntimeError, match=fix):
        explain.symbolic_regression(np.ones((5, 2)), np.zeros(5), ["a", "b"], backend="pysr")
    assert capsys.readouterr().out == ""  # nothing announced for a run that does not happen


def test_gplearn_backend_does_not_probe_pysr(monkeypatch, capsys):
    monkeypatch.setattr(explain, "pysr_status", _no_probe)
    x = np.random.default_rng(2).uniform(-1.0, 1.0, size=(40, 1))
    fit = explain.symbolic_regression(x, 2 * x[:, 0], ["t"], backend="gplearn", population=30, generations=1)
    assert fit.backend == "gplearn" and fit.best.variables == ("t",)
    assert "gplearn (requested)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# pysr_status, with the import probe faked


def _fake_find_spec(found):
    real = explain.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "pysr":
            return object() if found else None
        return real(name, *args, **kwargs)

    return find_spec


def _fake_run(returncode, stderr="", calls=None):
    def run(command, **kwargs):
        if calls is not None:
            calls.append((command, kwargs))
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr=stderr)

    return run


def test_pysr_status_when_pysr_is_not_installed(monkeypatch):
    monkeypatch.setattr(explain.importlib.util, "find_spec", _fake_find_spec(found=False))
    calls = []
    monkeypatch.setattr(explain.subprocess, "run", _fake_run(0, calls=calls))
    usable, reason = explain.pysr_status()
    assert usable is False
    assert "pysr is not installed" in reason and 'pip install "reps4lhc_tutor[pysr]"' in reason
    assert calls == []  # no subprocess when there is nothing to import


def test_pysr_status_when_the_import_fails(monkeypatch):
    monkeypatch.setattr(explain.importlib.util, "find_spec", _fake_find_spec(found=True))
    calls = []
    stderr = "Traceback (most recent call last):\n  ...\nRuntimeError: could not find Julia\n"
    monkeypatch.setattr(explain.subprocess, "run", _fake_run(1, stderr, calls))
    usable, reason = explain.pysr_status()
    assert usable is False
    assert reason == "pysr is installed but Julia is not usable offline (RuntimeError: could not find Julia)"
    # the probe imports pysr in a separate interpreter with juliapkg told not to download
    ((command, kwargs),) = calls
    assert command == [sys.executable, "-c", "import pysr"]
    assert kwargs["env"]["PYTHON_JULIAPKG_OFFLINE"] == "yes"
    monkeypatch.setattr(explain.subprocess, "run", _fake_run(1, ""))
    assert explain.pysr_status() == (False, "pysr is installed but Julia is not usable offline (no message)")


def test_pysr_status_when_the_import_times_out(monkeypatch):
    monkeypatch.setattr(explain.importlib.util, "find_spec", _fake_find_spec(found=True))

    def run(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(explain.subprocess, "run", run)
    usable, reason = explain.pysr_status()
    assert usable is False and "more than 5 minutes" in reason


def test_pysr_status_when_pysr_imports(monkeypatch):
    monkeypatch.setattr(explain.importlib.util, "find_spec", _fake_find_spec(found=True))
    monkeypatch.setattr(explain.subprocess, "run", _fake_run(0))
    assert explain.pysr_status() == (True, "pysr imports and finds a Julia installation")


# ---------------------------------------------------------------------------------------------------------
# formulas_from_pysr


def test_formulas_from_pysr_table():
    equations = pd.DataFrame(
        {
            "complexity": [1, 3, 5, 7],
            "loss": [0.9, 0.4, 0.0, 0.0],
            "score": [0.0, 0.4, 10.0, 0.0],
            "equation": ["x1", "x1 + 0.3", "x0^2 + x1", "x0^2 + x1 + 0"],
            "sympy_format": [X1, X1 + sympy.Float(0.3), X0**2 + X1, X0**2 + X1 + X0 * 0 + sympy.Float(0.0)],
        }
    )
    best, front = explain.formulas_from_pysr(equations, equations.iloc[1], ["x0", "x1"])
    assert best == Formula(X1 + sympy.Float(0.3), ("x0", "x1"), 0.4, 3)
    assert [f.complexity for f in front] == [1, 3, 5]  # the complexity-7 row is no better than complexity 5
    assert [f.loss for f in front] == [0.9, 0.4, 0.0]
    assert front[2].expression == X0**2 + X1
    assert all(type(f.loss) is float and type(f.complexity) is int for f in [best, *front])
    np.testing.assert_allclose(best(np.array([[5.0, 1.0]])), [1.3], rtol=1e-15)


def test_refine_constants_fits_the_constants_of_a_structure():
    # gplearn's constants are random draws; the structure c^2 + k c + 1 with a wrong k must come back with the
    # k of the data (noise-free, so to rounding), and the loss must be the mean squared error of the result.
    c = np.linspace(-1, 1, 101)[:, None]
    y = c[:, 0] ** 2 + 0.8792 * c[:, 0] + 1
    symbol = sympy.Symbol("c")
    refined = explain.refine_constants(symbol**2 + sympy.Float(0.3) * symbol + 1, ["c"], c, y)
    (constant,) = refined.expression.atoms(sympy.Float)
    assert float(constant) == pytest.approx(0.8792, abs=1e-10)
    assert refined.loss == pytest.approx(np.mean((refined(c) - y) ** 2), abs=1e-15)
    assert refined.loss < 1e-20
    assert refined.complexity == 8  # Add(Pow(c, 2), Mul(k, c), 1): 8 nodes


def test_refine_constants_keeps_a_formula_without_constants_and_never_worsens():
    c = np.linspace(-1, 1, 51)[:, None]
    y = np.cos(3 * c[:, 0])
    symbol = sympy.Symbol("c")
    exact = explain.refine_constants(symbol**2 + 1, ["c"], c, y)  # no Float: nothing to fit
    assert exact.expression == symbol**2 + 1
    assert exact.loss == pytest.approx(np.mean((c[:, 0] ** 2 + 1 - y) ** 2))
    start = sympy.Float(0.5) * symbol**2 + sympy.Float(0.2)
    refined = explain.refine_constants(start, ["c"], c, y)
    assert refined.loss <= np.mean((0.5 * c[:, 0] ** 2 + 0.2 - y) ** 2)


def test_refine_constants_turns_constants_within_rounding_of_an_integer_into_integers():
    # What a gplearn program such as mul(1.0, x) or add(x, 4e-18) leaves after the fit: the integer form is
    # as good to rounding and simpler, so 1.0 * a + 4.6e-18 must come back as a (one node).
    a = sympy.Symbol("a")
    x = np.linspace(-1.0, 1.0, 21)[:, None]
    refined = explain.refine_constants(sympy.Float(1.0) * a + sympy.Float(4.6e-18), ["a"], x, x[:, 0])
    assert refined.expression == a and refined.complexity == 1 and refined.loss == 0.0
    # a constant that is not an integer stays a float
    kept = explain.refine_constants(sympy.Float(0.1) * a, ["a"], x, 0.75 * x[:, 0])
    assert kept.expression.atoms(sympy.Float) and float(kept.expression.coeff(a)) == pytest.approx(0.75)


def test_refine_constants_fits_equal_constants_separately():
    # gplearn's crossover copies subtrees, so a program can hold one constant twice, here 0.2 * a + 0.2 * b.
    # The data need 0.3 and -0.7: only a fit with one parameter per occurrence reaches them.
    a, b = sympy.symbols("a b")
    x = np.random.default_rng(4).normal(size=(50, 2))
    y = 0.3 * x[:, 0] - 0.7 * x[:, 1]
    refined = explain.refine_constants(sympy.Float(0.2) * a + sympy.Float(0.2) * b, ["a", "b"], x, y)
    assert float(refined.expression.coeff(a)) == pytest.approx(0.3, abs=1e-10)
    assert float(refined.expression.coeff(b)) == pytest.approx(-0.7, abs=1e-10)
    assert refined.loss < 1e-20


# ---------------------------------------------------------------------------------------------------------
# select_best and term coefficients


def test_select_best_takes_the_steepest_drop_among_formulas_near_the_lowest_loss():
    # losses 1 -> 1e-2 -> 1e-30 -> 0.8e-30: the drop to the exact formula (complexity 7) is the steepest per
    # node; the last one is lower still but within the factor 1.5 and buys almost nothing.
    front = [
        formula(sympy.Float(1.3), 1.0, 1),
        formula(X0 + 1, 1e-2, 3),
        formula(X0**2 + X0 + 1, 1e-30, 7),
        formula(X0**2 + X0 + X1 * 1e-16 + 1, 0.8e-30, 11),
    ]
    assert explain.select_best(front) == front[2]
    # the same front where the last formula is much better: the only eligible one, whatever its score
    sharper = [*front[:3], formula(X0**2 + X0 + X1 * 1e-16 + 1, 1e-31, 11)]
    assert explain.select_best(sharper) == sharper[3]
    # exact fits (loss 0) are floored, not turned into an infinite or NaN score
    exact = [formula(sympy.Float(1.3), 1.0, 1), formula(X0, 0.0, 1 + 2)]
    assert explain.select_best(exact) == exact[1]
    assert explain.select_best(front[:1]) == front[0]
    with pytest.raises(ValueError, match="the Pareto front is empty"):
        explain.select_best([])


def test_refine_constants_with_term_coefficients_fits_a_linear_combination_of_the_terms():
    # x0 - x1 * x0 has no numerical constant, so without term coefficients nothing is fitted; with them it
    # becomes k0 x0 + k1 x0 x1, and the data 2 x0 - 0.5 x0 x1 fix k0 and k1 to rounding.
    x = np.random.default_rng(7).normal(size=(60, 2))
    y = 2.0 * x[:, 0] - 0.5 * x[:, 0] * x[:, 1]
    plain = explain.refine_constants(X0 - X1 * X0, ["x0", "x1"], x, y)
    assert plain.expression == X0 - X1 * X0
    weighted = explain.refine_constants(X0 - X1 * X0, ["x0", "x1"], x, y, term_coefficients=True)
    assert sympy.expand(weighted.expression).coeff(X0, 1).coeff(X1, 0) == pytest.approx(2.0, abs=1e-10)
    assert sympy.expand(weighted.expression).coeff(X0 * X1) == pytest.approx(-0.5, abs=1e-10)
    assert weighted.loss < 1e-20
    # a term whose coefficient fits to 1 keeps no coefficient: x0^2 + 0.3 x1 on the data x0^2 + 0.8 x1
    refit = explain.refine_constants(
        X0**2 + sympy.Float(0.3) * X1, ["x0", "x1"], x, x[:, 0] ** 2 + 0.8 * x[:, 1], term_coefficients=True
    )
    assert refit.expression.coeff(X0**2) == 1 and refit.expression.coeff(X0**2).is_Integer
    assert float(refit.expression.coeff(X1)) == pytest.approx(0.8, abs=1e-10)


def test_symbolic_regression_passes_term_coefficients_to_gplearn_and_pysr_says_it_ignores_them(
    monkeypatch, capsys
):
    seen = {}

    def fake_gplearn(x, y, search):
        seen["search"] = search
        only = Formula(X0, ("x0", "x1"), 0.0, 1)
        return only, [only]

    monkeypatch.setattr(explain, "_run_gplearn", fake_gplearn)
    x = np.zeros((5, 2))
    explain.symbolic_regression(x, np.zeros(5), ["x0", "x1"], backend="gplearn", term_coefficients=True)
    assert seen["search"].term_coefficients is True
    monkeypatch.setattr(explain, "pysr_status", lambda: (True, "pysr imports"))
    monkeypatch.setattr(explain, "_run_pysr", fake_gplearn)
    capsys.readouterr()
    explain.symbolic_regression(x, np.zeros(5), ["x0", "x1"], backend="auto", term_coefficients=True)
    assert "term_coefficients is for gplearn" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("module", "call"),
    [
        ("shap", lambda: explain.kernel_shap(lambda x: x[:, 0], np.zeros((2, 1)), np.zeros((3, 1)))),
        (
            "gplearn.genetic",
            lambda: explain.symbolic_regression(np.zeros((5, 1)), np.zeros(5), ["a"], backend="gplearn"),
        ),
    ],
)
def test_a_missing_explain_dependency_names_the_extra_to_install(monkeypatch, module, call):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail as if the package were absent
    with pytest.raises(ImportError, match=r"pip install 'reps4lhc_tutor\[explain\]'"):
        call()
