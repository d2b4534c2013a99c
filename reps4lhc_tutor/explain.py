"""Explaining taggers: exact Shapley values, SHAP helpers, and symbolic regression with PySR or gplearn.

Two routes from a network to physics, the two halves of chapter 8:

* **Attribution.** :func:`exact_shapley` computes the Shapley values of a model's output by enumerating all
  coalitions of features, with the *interventional* value function
  ``v(S) = E_b f(x_S, b_{~S})``: the features outside the coalition ``S`` are drawn from a background sample.
  Exact and exponential in the number of features, so for a handful of observables; :func:`kernel_shap` is
  the ``shap`` package's sampling approximation with the same value function, for checking and for larger
  models. :func:`ranking` turns either into a global importance, the mean ``|phi_i|``.
* **Formulas.** :func:`symbolic_regression` searches for a closed formula ``y ~ g(x)`` with one interface
  over two backends: PySR (Cranmer 2023; Julia, multi-population evolution) where a working Julia is
  installed, and gplearn (genetic programming in Python) otherwise. :func:`pysr_status` says which, and why,
  without importing PySR in this process (its import would try to download Julia). Both return
  :class:`Formula` objects: a sympy expression with its loss and complexity, callable on arrays, and the
  complexity-accuracy Pareto front of the search.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
from numpy.typing import ArrayLike, NDArray

from .metrics import _check_events
from .optional import import_optional

__all__ = [
    "Formula",
    "SymbolicFit",
    "exact_shapley",
    "formula_from_gplearn",
    "formulas_from_pysr",
    "kernel_shap",
    "pareto_front",
    "pysr_status",
    "ranking",
    "refine_constants",
    "select_best",
    "symbolic_regression",
]

Model = Callable[[NDArray[np.float64]], ArrayLike]
"""A model as a function of a ``(events, features)`` array, returning ``(events,)`` outputs."""

MAX_EXACT_FEATURES = 12  # 2^12 coalitions times the background: beyond this, use kernel_shap


def _events(
    x: ArrayLike, name: str, features: int | None = None, reference: str = "x"
) -> NDArray[np.float64]:
    """Finite ``(events, features)`` with events, and ``features`` columns (as ``reference`` has) if given."""
    array = _check_events(x, name, features, reference)
    if len(array) == 0:
        raise ValueError(f"{name} must have at least one event, got shape {array.shape}.")
    return array


def _evaluate(model: Model, x: NDArray[np.float64]) -> NDArray[np.float64]:
    out = np.asarray(model(x), dtype=np.float64)
    if out.shape not in ((len(x),), (len(x), 1)):
        raise ValueError(
            f"the model must return one number per event, shape ({len(x)},), got {out.shape}; for a "
            f"classifier pass e.g. lambda x: clf.predict_proba(x)[:, 1]."
        )
    return out.reshape(-1)


def exact_shapley(
    model: Model, x: ArrayLike, background: ArrayLike, *, batch_events: int = 100_000
) -> tuple[NDArray[np.float64], float]:
    """Exact interventional Shapley values of ``model`` at the events ``x``, by enumerating coalitions.

    For ``d`` features and a coalition ``S`` (a subset of them) the value is the model's mean over the
    background events ``b`` with the features in ``S`` set to those of the explained event,
    ``v(S) = mean_b f(x_S, b_{~S})``. Feature ``i`` gets

        phi_i = sum_{S not containing i} |S|! (d - |S| - 1)! / d! * [v(S + {i}) - v(S)]

    which satisfies efficiency, ``sum_i phi_i = f(x) - mean_b f(b)``. For a linear model
    ``f = w . x + c`` it is ``phi_i = w_i (x_i - mean_b b_i)``. The model is evaluated on
    ``2^d * len(background)`` rows per explained event.

    Parameters
    ----------
    model
        ``model(array (n, d)) -> (n,)``.
    x : array, shape ``(events, d)``
        The events to explain; ``d <= 12``.
    background : array, shape ``(background, d)``
        Events that stand for "feature unknown"; a few hundred from the training sample are typical.
    batch_events : int
        Rows passed to the model at once, at most: whole events only, so at least ``2^d * len(background)``.

    Returns
    -------
    values : array, shape ``(events, d)``
    base_value : float
        ``mean_b f(b)``, the value of the empty coalition.
    """
    x = _events(x, "x")
    background = _events(background, "background", x.shape[1])
    d = x.shape[1]
    if d > MAX_EXACT_FEATURES:
        raise ValueError(
            f"exact Shapley values need 2^d coalitions; d = {d} > {MAX_EXACT_FEATURES}: use kernel_shap."
        )
    coalitions = np.array(list(itertools.product([False, True], repeat=d)))  # (2^d, d)
    index = {tuple(c): k for k, c in enumerate(coalitions)}
    values = np.empty((len(x), len(coalitions)))  # v(S) per explained event and coalition
    per_event = len(coalitions) * len(background)
    events_per_batch = max(1, batch_events // per_event)
    for start in range(0, len(x), events_per_batch):
        part = x[start : start + events_per_batch]  # (n, d)
        # rows (n, 2^d, background, d): the explained event inside the coalition, the background outside
        rows = np.where(coalitions[None, :, None, :], part[:, None, None, :], background[None, None, :, :])
        out = _evaluate(model, rows.reshape(-1, d)).reshape(len(part), len(coalitions), len(background))
        values[start : start + len(part)] = out.mean(axis=2)
    phi = np.zeros((len(x), d))
    for k, coalition in enumerate(coalitions):
        size = int(coalition.sum())
        for i in np.flatnonzero(~coalition):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            with_i = coalition.copy()
            with_i[i] = True
            phi[:, i] += weight * (values[:, index[tuple(with_i)]] - values[:, k])
    return phi, float(values[0, 0])


def kernel_shap(
    model: Model, x: ArrayLike, background: ArrayLike, *, n_samples: int | str = "auto", seed: int = 0
) -> tuple[NDArray[np.float64], float]:
    """Shapley values from the ``shap`` package's KernelExplainer, with the value function of
    :func:`exact_shapley` (background events for the missing features).

    KernelSHAP fits a weighted linear model on sampled coalitions; with ``n_samples >= 2^d`` it enumerates
    them all and agrees with :func:`exact_shapley` to rounding. Arguments and returns as there;
    ``n_samples`` is the number of coalitions per event (``"auto"``: ``2 d + 2048``).
    """
    shap = import_optional("shap", "kernel_shap", "explain")

    x = _events(x, "x")
    background = _events(background, "background", x.shape[1])
    explainer = shap.KernelExplainer(lambda rows: _evaluate(model, rows), background, seed=seed)
    values = explainer.shap_values(x, nsamples=n_samples, silent=True)
    return np.asarray(values, dtype=np.float64).reshape(x.shape), float(np.ravel(explainer.expected_value)[0])


def ranking(values: ArrayLike, names: Sequence[str]) -> list[tuple[str, float]]:
    """Global importance: ``(name, mean |phi_i|)`` for every feature, the most important first.

    ``values`` has shape ``(events, features)``, one name per feature.
    """
    values = _events(values, "values")
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} names for {values.shape[1]} features.")
    importance = np.abs(values).mean(axis=0)
    order = np.argsort(-importance, kind="stable")
    return [(names[i], float(importance[i])) for i in order]


# ---------------------------------------------------------------------------------------------------------
# Symbolic regression


@dataclass(frozen=True)
class Formula:
    """One formula found by symbolic regression: ``expression`` in ``variables``, its loss and complexity.

    Calling it on an array ``(events, len(variables))`` evaluates the expression event by event.
    """

    expression: sympy.Expr
    variables: tuple[str, ...]
    loss: float  # the backend's fit loss on the training events (mean squared error unless stated)
    complexity: int  # gplearn: nodes of the sympy expression tree; PySR: its own (weighted) node count

    def __call__(self, x: ArrayLike) -> NDArray[np.float64]:
        x = _events(x, "x", len(self.variables), "the formula")
        symbols = sympy.symbols(self.variables)
        function = sympy.lambdify(symbols, self.expression, modules="numpy")
        return np.broadcast_to(np.asarray(function(*x.T), dtype=np.float64), (len(x),)).copy()

    def __str__(self) -> str:
        return f"{self.expression}  (complexity {self.complexity}, loss {self.loss:.4g})"


@dataclass(frozen=True)
class SymbolicFit:
    """The result of :func:`symbolic_regression`."""

    best: Formula  # the best score among the formulas near the lowest loss (select_best; PySR's own choice)
    front: list[Formula] = field(default_factory=list)  # the Pareto front, complexity increasing
    backend: str = ""  # "pysr" or "gplearn"
    reason: str = ""  # why this backend


def _pareto_indices(complexity: Sequence[int], loss: Sequence[float]) -> list[int]:
    """Indices of the Pareto front of (complexity, loss), complexity increasing."""
    front: list[int] = []
    for k in sorted(range(len(loss)), key=lambda k: (complexity[k], loss[k])):
        if not front or (loss[k] < loss[front[-1]] and complexity[k] > complexity[front[-1]]):
            front.append(k)
    return front


def pareto_front(formulas: Sequence[Formula]) -> list[Formula]:
    """The formulas that no simpler-or-equal formula beats in loss, complexity increasing.

    Of several formulas with one complexity the one with the lowest loss is kept; a formula is dropped if a
    formula of lower complexity has a loss as low or lower.
    """
    keep = _pareto_indices([f.complexity for f in formulas], [f.loss for f in formulas])
    return [formulas[k] for k in keep]


def _nodes(expression: sympy.Expr) -> int:
    """Nodes of a sympy expression tree: operations, variables and numbers."""
    return sum(1 for _ in sympy.preorder_traversal(expression))


def formula_from_gplearn(program: Any, variables: Sequence[str]) -> sympy.Expr:
    """The sympy expression of a gplearn ``_Program`` (its prefix list of functions, feature indices and
    constants).

    gplearn's protected operators are written as their ordinary counterparts (``div`` as ``/``, ``sqrt`` of
    ``|x|`` as ``sqrt``, ``log`` of ``|x|`` as ``log``); they agree wherever the ordinary ones are defined
    and the argument is not within ``0.001`` of zero (for ``div`` and ``log``).
    """
    symbols = sympy.symbols(tuple(variables))
    functions = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "neg": lambda a: -a,
        "inv": lambda a: 1 / a,
        "abs": sympy.Abs,
        "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
        "log": lambda a: sympy.log(sympy.Abs(a)),
        "sin": sympy.sin,
        "cos": sympy.cos,
    }
    stack: list[list[Any]] = []
    result = None
    for node in program.program:
        if hasattr(node, "arity"):
            stack.append([node])
        else:
            term = symbols[node] if isinstance(node, int | np.integer) else sympy.Float(float(node))
            if not stack:  # a program of a single terminal
                return term
            stack[-1].append(term)
        while stack and len(stack[-1]) == stack[-1][0].arity + 1:
            function, *arguments = stack.pop()
            if function.name not in functions:
                raise ValueError(f"no sympy form for the gplearn function {function.name!r}.")
            result = functions[function.name](*arguments)
            if stack:
                stack[-1].append(result)
    return result


def pysr_status() -> tuple[bool, str]:
    """Whether PySR can run here, and why (or why not), without importing it in this process.

    PySR's import installs Julia when none is found, which needs network and minutes; here it is imported in
    a subprocess with ``PYTHON_JULIAPKG_OFFLINE=yes``, which fails fast instead of downloading.
    """
    if importlib.util.find_spec("pysr") is None:
        return False, 'pysr is not installed (pip install "reps4lhc_tutor[pysr]"; it needs Julia)'
    env = dict(os.environ, PYTHON_JULIAPKG_OFFLINE="yes")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import pysr"], env=env, capture_output=True, text=True, timeout=300
        )
    except subprocess.TimeoutExpired:
        return False, "importing pysr took more than 5 minutes (is Julia precompiling? try again later)"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"pysr is installed but Julia is not usable offline ({last[:200]})"
    return True, "pysr imports and finds a Julia installation"


def symbolic_regression(
    x: ArrayLike,
    y: ArrayLike,
    variables: Sequence[str],
    *,
    backend: str = "auto",
    binary_operators: Sequence[str] = ("+", "-", "*", "/"),
    unary_operators: Sequence[str] = (),
    generations: int = 20,
    population: int = 1000,
    parsimony: float = 0.001,
    term_coefficients: bool = False,
    seed: int = 0,
) -> SymbolicFit:
    """Search for a formula ``y ~ g(x)`` by genetic programming; prints the backend and why.

    Parameters
    ----------
    x : array, shape ``(events, len(variables))``
    y : array, shape ``(events,)``
    variables
        Names of the columns of ``x``, valid Python identifiers; the formulas are written in them.
    backend
        ``"pysr"``, ``"gplearn"`` or ``"auto"`` (PySR when :func:`pysr_status` says it can run, else
        gplearn).
    binary_operators, unary_operators
        In PySR's spelling: ``+ - * /`` and e.g. ``"sqrt"``, ``"log"``, ``"exp"``, ``"sin"``, ``"cos"``
        (gplearn supports ``sqrt log sin cos neg abs inv``, and protects ``/``, ``sqrt`` and ``log``).
    generations
        gplearn: generations of one population; PySR: ``niterations``.
    population
        gplearn: programs in the population; PySR: ``population_size`` of each of its populations.
    parsimony
        gplearn: penalty per node on the selection fitness (not on the reported loss); PySR:
        ``parsimony``.
    term_coefficients
        gplearn: refit every formula as a linear combination of its top-level terms (see
        :func:`refine_constants`); PySR optimises its constants during the search and ignores this.
    seed
        Random seed (PySR runs deterministically, on one thread).

    Returns
    -------
    SymbolicFit
        The selected formula, the Pareto front of loss (mean squared error) against complexity, and the
        backend.
    """
    x = _events(x, "x", len(variables), "variables")
    y_array = np.asarray(y, dtype=np.float64)
    if y_array.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},), one target per event, got {y_array.shape}.")
    if not np.isfinite(y_array).all():
        raise ValueError("y contains NaN or infinite values.")
    bad = [name for name in variables if not str(name).isidentifier()]
    if bad:
        raise ValueError(f"variable names must be Python identifiers (e.g. n_pf, ptd), got {bad}.")
    if len(set(variables)) != len(variables):
        raise ValueError(f"variable names must be distinct, got {list(variables)}.")
    if backend not in ("auto", "pysr", "gplearn"):
        raise ValueError(f"backend must be 'auto', 'pysr' or 'gplearn', got {backend!r}.")
    if backend == "gplearn":
        chosen, reason = "gplearn", "requested"
    else:
        usable, why = pysr_status()
        if backend == "pysr" and not usable:
            raise RuntimeError(f"backend='pysr' cannot run: {why}. Use backend='gplearn' or 'auto'.")
        chosen, reason = ("pysr", why) if usable else ("gplearn", f"offline Python backend: {why}")
    print(f"symbolic regression: {chosen} ({reason})")
    if chosen == "pysr" and term_coefficients:
        print("term_coefficients is for gplearn: PySR fits the constants of its formulas during the search")
    search = _Search(
        tuple(variables),
        tuple(binary_operators),
        tuple(unary_operators),
        generations,
        population,
        parsimony,
        term_coefficients,
        seed,
    )
    best, front = (_run_pysr if chosen == "pysr" else _run_gplearn)(x, y_array, search)
    return SymbolicFit(best=best, front=front, backend=chosen, reason=reason)


@dataclass(frozen=True)
class _Search:
    """The settings of one symbolic regression, as :func:`symbolic_regression` documents them."""

    variables: tuple[str, ...]
    binary: tuple[str, ...]
    unary: tuple[str, ...]
    generations: int
    population: int
    parsimony: float
    term_coefficients: bool
    seed: int


_GPLEARN_NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def _run_gplearn(
    x: NDArray[np.float64], y: NDArray[np.float64], search: _Search
) -> tuple[Formula, list[Formula]]:
    SymbolicRegressor = import_optional("gplearn.genetic", "the gplearn backend", "explain").SymbolicRegressor

    unknown = [op for op in search.binary if op not in _GPLEARN_NAMES]
    unknown += [op for op in search.unary if op not in ("sqrt", "log", "sin", "cos", "neg", "abs", "inv")]
    if unknown:
        raise ValueError(f"gplearn does not provide the operators {unknown}.")
    regressor = SymbolicRegressor(
        population_size=search.population,
        generations=search.generations,
        function_set=tuple(_GPLEARN_NAMES[op] for op in search.binary) + search.unary,
        metric="mse",
        parsimony_coefficient=search.parsimony,
        random_state=search.seed,
    )
    regressor.fit(x, y)
    # Every program of every generation competes for the front (gplearn keeps them in _programs). A first
    # front by program length keeps the sympy conversions few; the final one counts the nodes of the refined
    # sympy expressions, in which gplearn's redundancies such as x - x have cancelled.
    programs = [p for generation in regressor._programs for p in generation or () if p is not None]
    by_length = _pareto_indices([p.length_ for p in programs], [p.raw_fitness_ for p in programs])

    front = pareto_front(
        [
            refine_constants(
                formula_from_gplearn(programs[k], search.variables),
                search.variables,
                x,
                y,
                term_coefficients=search.term_coefficients,
            )
            for k in by_length
        ]
    )
    return select_best(front), front


def select_best(front: Sequence[Formula], tolerance: float = 1.5) -> Formula:
    """PySR's choice on a Pareto front: the best score among the formulas with a loss within ``tolerance``
    times the lowest.

    The score of a formula is ``-d log(loss) / d complexity`` against the next simpler formula of the front
    (the first formula scores 0): a large drop of the loss for a few more nodes. Losses are floored at the
    smallest positive double, so that an exact fit scores finitely.

    Parameters
    ----------
    front
        A Pareto front, complexity increasing (as :func:`pareto_front` returns it).
    tolerance
        PySR's factor, 1.5.
    """
    if not front:
        raise ValueError("the Pareto front is empty: no formula to select.")
    log_loss = np.log(np.maximum([f.loss for f in front], np.finfo(np.float64).tiny))
    complexity = np.array([f.complexity for f in front], dtype=np.float64)
    score = np.concatenate([[0.0], -np.diff(log_loss) / np.diff(complexity)])
    eligible = np.flatnonzero(log_loss <= log_loss.min() + np.log(tolerance))
    return front[int(eligible[np.argmax(score[eligible])])]


def refine_constants(
    expression: sympy.Expr,
    variables: Sequence[str],
    x: ArrayLike,
    y: ArrayLike,
    *,
    term_coefficients: bool = False,
) -> Formula:
    """The formula ``expression`` with its numerical constants fitted to ``y`` by least squares.

    gplearn draws constants at random and never tunes them; PySR optimises them with BFGS. Here the
    constants of the expression start from their values and are fitted with ``scipy.optimize.least_squares``
    (kept where the fit fails to improve the mean squared error, the returned loss); fitted constants within
    rounding (1e-9 relative) of an integer become that integer.

    Parameters
    ----------
    expression
        A sympy expression in ``variables``.
    x : array, shape ``(events, len(variables))``
    y : array, shape ``(events,)``
    term_coefficients
        Give every term of the top-level sum its own fitted coefficient (``x0 - x1 * x2`` becomes
        ``k0 x0 + k1 x1 x2``), so that the formula is a linear combination of the terms the search found,
        as in multi-gene genetic programming (Searson et al. 2010); a coefficient that fits to 1 disappears.
    """
    from scipy.optimize import least_squares

    variables = tuple(variables)
    x = _events(x, "x", len(variables))
    y = np.asarray(y, dtype=np.float64)
    symbols = sympy.symbols(variables)

    def mse(candidate: Any) -> float:
        with np.errstate(all="ignore"):
            values = sympy.lambdify(symbols, candidate, modules="numpy")(*x.T)
        residual = np.broadcast_to(np.asarray(values, dtype=np.float64), y.shape) - y
        return float(np.mean(residual**2)) if np.isfinite(residual).all() else np.inf

    if term_coefficients:
        expression = sympy.Add(
            *(sympy.Float(float(c)) * rest for c, rest in map(_coefficient, sympy.Add.make_args(expression)))
        )
    template, constants = _parametrise(expression)
    if constants:
        parameters = sympy.symbols(f"k0:{len(constants)}")
        function = sympy.lambdify((*symbols, *parameters), template, modules="numpy")

        def residual(k: NDArray[np.float64]) -> NDArray[np.float64]:
            with np.errstate(all="ignore"):
                values = np.broadcast_to(np.asarray(function(*x.T, *k), dtype=np.float64), y.shape)
            return np.nan_to_num(values - y, nan=1e150, posinf=1e150, neginf=-1e150)

        start = np.array(constants)
        fitted = least_squares(residual, start, method="lm" if len(y) >= len(start) else "trf").x
        candidate = template.xreplace(
            {k: sympy.Float(float(v)) for k, v in zip(parameters, fitted, strict=True)}
        )
        if mse(candidate) < mse(expression):
            expression = candidate
        # A constant within rounding of an integer (1.0 * x, x + 4e-18) becomes that integer, so that sympy
        # cancels it and the complexity counts only what the formula needs.
        integers = {c: sympy.Integer(round(float(c))) for c in expression.atoms(sympy.Float)}
        integers = {
            c: n for c, n in integers.items() if abs(float(c) - int(n)) <= 1e-9 * max(1.0, abs(float(c)))
        }
        rounded = expression.xreplace(integers)
        if integers and mse(rounded) <= mse(expression) + 1e-12 * max(float(np.mean(y**2)), 1e-300):
            expression = rounded
    return Formula(expression, variables, mse(expression), _nodes(expression))


def _coefficient(term: sympy.Expr) -> tuple[float, sympy.Expr]:
    """A term as its numerical coefficient and the rest: ``-2.5 * x * y`` as ``(-2.5, x * y)``."""
    coefficient, rest = term.as_coeff_Mul()
    return float(coefficient), rest


def _parametrise(expression: sympy.Expr) -> tuple[sympy.Expr, list[float]]:
    """``expression`` with each numerical constant replaced by its own symbol ``k0, k1, ...``; their values.

    Each occurrence gets its own parameter, also where two constants happen to be equal (gplearn's crossover
    copies subtrees), so that the fit can move them apart.
    """
    values: list[float] = []

    def walk(node: Any) -> Any:
        if isinstance(node, sympy.Float):
            values.append(float(node))
            return sympy.Symbol(f"k{len(values) - 1}")
        return node.func(*(walk(argument) for argument in node.args)) if node.args else node

    return walk(expression), values


def _run_pysr(
    x: NDArray[np.float64], y: NDArray[np.float64], search: _Search
) -> tuple[Formula, list[Formula]]:
    from pysr import PySRRegressor

    model = PySRRegressor(
        niterations=search.generations,
        population_size=search.population,
        binary_operators=list(search.binary),
        unary_operators=list(search.unary),
        parsimony=search.parsimony,
        random_state=search.seed,
        deterministic=True,
        parallelism="serial",
        progress=False,
    )
    model.fit(x, y, variable_names=list(search.variables))
    return formulas_from_pysr(model.equations_, model.get_best(), search.variables)


def formulas_from_pysr(equations: Any, best: Any, variables: Sequence[str]) -> tuple[Formula, list[Formula]]:
    """The selected formula and the Pareto front from PySR's ``equations_`` table and ``get_best()`` row.

    PySR's table is already its Pareto front (one row per complexity, with ``complexity``, ``loss`` and
    ``sympy_format`` columns); its complexities are PySR's own (node counts with its operator weights).
    """
    variables = tuple(variables)
    formulas = [
        Formula(row["sympy_format"], variables, float(row["loss"]), int(row["complexity"]))
        for _, row in equations.iterrows()
    ]
    chosen = Formula(best["sympy_format"], variables, float(best["loss"]), int(best["complexity"]))
    return chosen, pareto_front(formulas)
