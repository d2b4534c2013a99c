"""Tests of the optional-dependency imports: the module comes back, or an ImportError names the extra."""

from __future__ import annotations

import sys

import pytest

from reps4lhc_tutor.nn import LGATrRegressor
from reps4lhc_tutor.optional import import_optional


def test_an_installed_module_is_returned():
    assert import_optional("math", "this test", "explain") is sys.modules["math"]


def test_a_missing_module_names_its_package_and_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gplearn.genetic", None)  # the import fails as if it were absent
    with pytest.raises(ImportError, match=r"the gplearn backend needs the gplearn package: pip install "):
        import_optional("gplearn.genetic", "the gplearn backend", "explain")


def test_a_wrapper_without_its_package_says_which_extra_installs_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "lgatr", None)
    with pytest.raises(
        ImportError,
        match=r"LGATrRegressor needs the lgatr package: pip install 'reps4lhc_tutor\[equivariant\]'",
    ):
        LGATrRegressor(n_scalars=0)
