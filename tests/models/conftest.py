from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _ml_helpers import small_cfg

from tradejet.models.data import synthetic_market


@pytest.fixture(scope="session")
def market():
    return synthetic_market(n_symbols=2, n_bars=2500, seed=3)


@pytest.fixture(scope="session")
def trained_base(tmp_path_factory, market) -> Path:
    """A home with one promoted crypto model, trained once per session."""
    from tradejet.models.pipeline import run_retraining

    home = tmp_path_factory.mktemp("trained")
    res = run_retraining("crypto", market, 300, home, cfg=small_cfg())
    assert res.outcome == "promoted", res.reason
    return home


@pytest.fixture
def home(trained_base, tmp_path) -> Path:
    """A private copy of the trained home."""
    dst = tmp_path / "home"
    shutil.copytree(trained_base, dst)
    return dst
