"""Wire the event driver to the paper venue over replayed bars (tests, ``tradejet paper``, embedders).

>>> from tradejet.config import Config
>>> from tradejet.engine.simulate import MarketBars
>>> from tradejet.io.synthetic import synthetic_market
>>> bars = MarketBars.from_synthetic(synthetic_market(days=10, timeframe="1h", seed=3))
>>> eng = run_paper(bars, Config())
>>> eng.bars_done == bars.n_bars
True
"""

from __future__ import annotations

import asyncio
import math

import numpy as np

__all__ = ["build_paper", "run_paper", "fills_array", "orders_array", "FILL_COLUMNS", "ORDER_COLUMNS"]

FILL_COLUMNS = ("bar", "pair", "strategy", "side", "qty", "price", "fee", "pnl", "order", "regime")
ORDER_COLUMNS = ("bar", "pair", "strategy", "side", "qty", "price", "reason", "code", "order")


def build_paper(bars, config, *, ledger=None, audit=None, speed: float = math.inf, fast_until: int = 0,
                stop: int | None = None, run_id: str = "tj", checkpoint_bars: int = 500, scorer=None, guard=None):
    """Return ``(engine, venue)``: an :class:`~tradejet.engine.Engine` trading a :class:`PaperVenue` replay of ``bars``.

    ``scorer``: ml_signal's streaming model scores (crypto); ``guard``: the swing system's ML
    guard (default: built from the promoted swing model).
    """
    from tradejet.adapters.paper import PaperVenue, ReplayFeed
    from tradejet.engine import Engine

    eng = Engine(config, None, ledger, symbols=list(bars.symbols), run_id=run_id, audit=audit,
                 checkpoint_bars=checkpoint_bars, scorer=scorer, guard=guard)
    venue = PaperVenue(list(bars.symbols), eng.pair_rows, eng.fill_cfg, cash=config.backtest.initial_cash,
                       timeframe_ns=bars.timeframe_ns, feed=ReplayFeed(bars, speed=speed, fast_until=fast_until,
                                                                       stop=stop))
    eng.adapter = venue
    return eng, venue


def run_paper(bars, config, **kw):
    """Run :func:`build_paper`'s engine to the end of the bars; return the engine."""
    eng, _ = build_paper(bars, config, **kw)
    asyncio.run(eng.run())
    return eng


def fills_array(engine) -> dict[str, np.ndarray]:
    """The engine's fills as arrays named like ``BacktestResult.fills``."""
    a = np.array(engine.log.fills, dtype=np.float64).reshape(-1, len(FILL_COLUMNS))
    return {k: a[:, j] for j, k in enumerate(FILL_COLUMNS)}


def orders_array(engine) -> dict[str, np.ndarray]:
    """Every intent the engine's step wrote (accepted or not), named like ``BacktestResult.orders``."""
    a = np.array(engine.log.orders, dtype=np.float64).reshape(-1, len(ORDER_COLUMNS))
    return {k: a[:, j] for j, k in enumerate(ORDER_COLUMNS)}
