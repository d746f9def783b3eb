from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["tradejet.adapters.alpaca.schemas", "tradejet.adapters.alpaca.http", "tradejet.adapters.alpaca.market",
           "tradejet.adapters.alpaca.server"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    res = doctest.testmod(importlib.import_module(name))
    assert res.attempted > 0 and res.failed == 0
