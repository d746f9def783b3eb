"""The compiled driver's bar context: each pair's fill-model rows, from that pair's own bars."""

from __future__ import annotations

import numpy as np
import pytest

from tradejet.engine.driver import bar_context_nb
from tradejet.kernels.fills import N_BAR, market_context_nb
from tradejet.kernels.indicators import log_return_value


def _bars(rng, T, n):
    mid = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, (T, n)), axis=0))
    o = mid * np.exp(rng.normal(0, 0.0005, (T, n)))
    c = mid * np.exp(rng.normal(0, 0.0005, (T, n)))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.001, (T, n))))
    lo = np.minimum(o, c) / np.exp(np.abs(rng.normal(0, 0.001, (T, n))))
    v = rng.gamma(2.0, 5.0, (T, n))
    return o, h, lo, c, v


@pytest.mark.parametrize("T", [1, 17, 40, 203])
def test_bar_context_is_each_pairs_market_context_on_its_own_bars(T):
    """Pair 0 has every bar (written straight into its rows), pair 1 misses a run and some
    scattered bars, pair 2 starts late, pair 3 has none: each equals market_context_nb on
    the bars it has, NaN rows where it has none."""
    rng = np.random.default_rng(T)
    o, h, lo, c, v = _bars(rng, T, 4)
    gone = np.zeros((T, 4), bool)
    gone[T // 3: T // 2, 1] = True
    gone[rng.random(T) < 0.1, 1] = True
    gone[: T // 2, 2] = True
    gone[:, 3] = True
    for a in (o, h, lo, c, v):
        a[gone] = np.nan
    out = np.full((4, T, N_BAR), -1.0)  # stale values must all be overwritten
    lr = np.full((T, 4), -1.0)
    bar_context_nb(o, h, lo, c, v, 5, 7, out, lr)
    for p in range(4):
        keep = ~gone[:, p]
        want = np.full((T, N_BAR), np.nan)
        if keep.any():
            want[keep] = market_context_nb(o[keep, p], h[keep, p], lo[keep, p], c[keep, p], v[keep, p], 5, 7)
        np.testing.assert_array_equal(out[p], want)
        # the log returns over the pair's own bars: a plain loop, one log_return_value a bar (the
        # kernels' log, _core.flog, which the bar context takes four bars at a time)
        want_lr = np.full(T, np.nan)
        prev = None
        for t in np.flatnonzero(keep):
            if prev is not None:
                want_lr[t] = log_return_value(c[t, p], prev)
            prev = c[t, p]
        np.testing.assert_array_equal(lr[:, p], want_lr)
    again = np.full((4, T, N_BAR), -1.0)
    bar_context_nb(o, h, lo, c, v, 5, 7, again, np.empty((0, 4)))  # no rows: the log returns are not kept
    np.testing.assert_array_equal(again, out)


def test_run_with_the_bar_contexts_log_returns_or_without_is_the_same_run():
    """The sweep path (bar context and log returns computed once, handed in), the plain path, and
    a bar context without log returns (the indicators take their own): one result."""
    from tradejet.config import Config
    from tradejet.engine.simulate import MarketBars, bar_context_array, build_context, run
    from tradejet.errors import DataError
    from tradejet.io.synthetic import synthetic_market

    bars = MarketBars.from_synthetic(synthetic_market(days=20, timeframe="5m", seed=4))
    cfg = Config()
    fcfg = build_context(bars.symbols, cfg)[2]
    lr = np.empty(bars.close.shape)
    ctx = bar_context_array(bars, fcfg, lr)
    plain = run(bars, cfg)
    handed = run(bars, cfg, bar_context=ctx, log_returns=lr)
    without = run(bars, cfg, bar_context=ctx)
    for res in (handed, without):
        np.testing.assert_array_equal(res.equity, plain.equity)
        assert len(res.fills["qty"]) == len(plain.fills["qty"])
    with pytest.raises(ValueError, match="log_returns must be a C-contiguous float64 array of shape"):
        bar_context_array(bars, fcfg, np.empty((3, 3)))
    with pytest.raises(ValueError, match="log_returns must be"):
        bar_context_array(bars, fcfg, np.asfortranarray(lr))
    with pytest.raises(DataError, match="log_returns have shape"):
        run(bars, cfg, bar_context=ctx, log_returns=lr[1:])
