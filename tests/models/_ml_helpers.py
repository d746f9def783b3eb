"""Helpers shared by the ML tests."""

from __future__ import annotations

import msgspec

from tradejet.config import MLConfig


def small_cfg(**over) -> MLConfig:
    """A config that trains in about a second: few trees, one CV fold, loose risk limits."""
    base = dict(max_iter=20, max_leaf_nodes=7, min_samples_leaf=50, n_folds=1, oos_fraction=0.25,
                min_precision=0.3, min_recall=0.05, min_f1=0.1, max_turnover=1000.0, max_drawdown=0.5)
    base.update(over)
    return msgspec.convert(base, MLConfig)
