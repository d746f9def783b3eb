"""Benchmarks run when asked for: ``python -m pytest benchmarks``.

pyproject's default ``-m 'not slow and not online and not benchmark'`` would deselect
them; a run that collects this folder wants exactly these, so the filter is lifted here
(before pytest's own mark filtering, hence ``tryfirst``). ``python -m pytest`` alone
never collects this folder (testpaths = tests).
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    if config.option.markexpr == "not slow and not online and not benchmark":
        config.option.markexpr = ""
