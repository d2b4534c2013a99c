"""Fixtures shared by the package tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from uncertainty_toy import one_thread


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a module's tests on one torch thread (``pytestmark = pytest.mark.usefixtures(...)``): small
    networks gain nothing from intra-op threads and lose a lot when other jobs share the cores."""
    with one_thread():
        yield
