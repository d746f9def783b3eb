"""The ``>>>`` examples in the data layer's docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tradejet.io.ring", "tradejet.io.store", "tradejet.io.validate", "tradejet.io.symbols",
           "tradejet.io.timeframes", "tradejet.io.synthetic", "tradejet.kernels.resample"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert res.failed == 0
    assert res.attempted > 0
