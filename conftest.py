"""pytest settings for the whole repository."""

from __future__ import annotations

import pytest

# nbval waits only 5 s for a cell's output messages once the kernel has replied. After a long training
# cell the kernel's output thread can lag longer on a loaded 2-core machine (seen once in a local `make test`,
# notebook 02, cell 12), which fails a cell that ran correctly. How long a cell may run is set separately
# (--nbval-cell-timeout) and stays as it is.
NBVAL_OUTPUT_TIMEOUT_S = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT_S
