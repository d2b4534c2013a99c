"""Imports of the optional dependencies, each named with the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]


def import_optional(module: str, what: str, extra: str) -> ModuleType:
    """Import ``module``, or raise an ImportError saying that ``what`` needs it and how to install it.

    Parameters
    ----------
    module
        E.g. ``"lgatr"`` or ``"gplearn.genetic"``; the message names its top-level package.
    what
        What needs it, e.g. ``"LGATrRegressor"``.
    extra
        The extra of ``reps4lhc_tutor`` that installs it, e.g. ``"equivariant"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = module.split(".")[0]
        raise ImportError(
            f"{what} needs the {package} package: pip install 'reps4lhc_tutor[{extra}]' "
            f"(or pip install {package})."
        ) from err
