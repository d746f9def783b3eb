"""The compiled backtest from Python: build the arrays, run the ``@njit`` driver, assemble results.

>>> from tradejet.io.synthetic import synthetic_market
>>> from tradejet.config import Config
>>> bars = MarketBars.from_synthetic(synthetic_market(days=30, timeframe="1h", seed=3))
>>> res = run(bars, Config())
>>> res.equity.shape == (bars.n_bars,), res.metrics["final_equity"] > 0
(True, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from tradejet.config import Config
from tradejet.errors import ConfigError, DataError
from tradejet.io.timeframes import parse_timeframe
from tradejet.kernels.codes import REGIME_TEXT, REJECT_TEXT, STRATEGY_TEXT, Reject
from tradejet.kernels import fills as F
from tradejet.kernels.regime import regime_init
from tradejet.kernels.schedule import N_SCHED
from tradejet.strategies import params_table
from tradejet.strategies.base import MAX_INTENTS, N_IP, REASON_TEXT, indicator_state

__all__ = ["MarketBars", "BacktestResult", "run", "build_context", "bar_context_array"]


@dataclass
class MarketBars:
    """Aligned bars of a universe: ``(n_bars, n_symbols)`` arrays, NaN where a symbol has no bar."""

    symbols: list[str]
    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe_ns: int
    source: str = "memory"

    def __post_init__(self) -> None:
        T = self.ts.shape[0]
        n = len(self.symbols)
        if T < 2 or n < 1:
            raise DataError(f"need at least 2 bars and 1 symbol, got {T} bars of {n} symbols", source=self.source)
        for name in ("open", "high", "low", "close", "volume"):
            a = getattr(self, name)
            if a.shape != (T, n):
                raise DataError(f"{name} has shape {a.shape}, expected {(T, n)}", source=self.source)
            setattr(self, name, np.ascontiguousarray(a, dtype=np.float64))
        if np.any(np.diff(self.ts) <= 0):
            raise DataError("bar timestamps must increase", source=self.source)
        if len(set(self.symbols)) != n:
            raise DataError(f"duplicate symbols: {self.symbols}", source=self.source)

    @property
    def n_bars(self) -> int:
        return int(self.ts.shape[0])

    @property
    def have(self) -> np.ndarray:
        return np.isfinite(self.close)

    @classmethod
    def from_synthetic(cls, market) -> MarketBars:
        """Take a :class:`tradejet.io.synthetic.SyntheticMarket` (symbols x bars) as bars x symbols."""
        t = lambda a: np.ascontiguousarray(np.asarray(a, dtype=np.float64).T)  # noqa: E731
        return cls(symbols=list(market.symbols), ts=np.asarray(market.ts, np.int64), open=t(market.open),
                   high=t(market.high), low=t(market.low), close=t(market.close), volume=t(market.volume),
                   timeframe_ns=parse_timeframe(market.timeframe), source="synthetic")

    @classmethod
    def align(cls, series: dict[str, dict[str, np.ndarray]], timeframe_ns: int, source: str = "files") -> MarketBars:
        """Align per-symbol bar dicts (``ts`` + OHLCV arrays) on the union of their timestamps."""
        if not series:
            raise DataError("no bars to align", source=source)
        ts = np.unique(np.concatenate([np.asarray(s["ts"], np.int64) for s in series.values()]))
        n = len(series)
        out = {k: np.full((ts.size, n), np.nan) for k in ("open", "high", "low", "close", "volume")}
        for j, s in enumerate(series.values()):
            idx = np.searchsorted(ts, np.asarray(s["ts"], np.int64))
            for k in out:
                out[k][idx, j] = s[k]
        return cls(symbols=list(series), ts=ts, timeframe_ns=timeframe_ns, source=source, **out)

    def slice_time(self, start_ns: int | None, end_ns: int | None) -> MarketBars:
        lo = 0 if start_ns is None else int(np.searchsorted(self.ts, start_ns, "left"))
        hi = self.n_bars if end_ns is None else int(np.searchsorted(self.ts, end_ns, "right"))
        if hi - lo < 2:
            raise DataError(f"the date range holds {max(hi - lo, 0)} bars; a backtest needs at least 2",
                            source=self.source)
        s = slice(lo, hi)
        return MarketBars(symbols=self.symbols, ts=self.ts[s], open=self.open[s], high=self.high[s], low=self.low[s],
                          close=self.close[s], volume=self.volume[s], timeframe_ns=self.timeframe_ns,
                          source=self.source)


@dataclass
class BacktestResult:
    """Everything a backtest produced; arrays are per bar unless said otherwise."""

    symbols: list[str]
    ts: np.ndarray
    equity: np.ndarray
    cash: np.ndarray
    regime: np.ndarray          # int8 codes
    active: np.ndarray          # int64 bitmask of ACTIVE strategies
    trading_state: np.ndarray   # int8 codes
    fills: dict[str, np.ndarray]
    orders: dict[str, np.ndarray]
    trades: dict[str, Any]
    metrics: dict[str, float]
    by_strategy: dict[str, dict[str, float]]
    by_pair: dict[str, dict[str, float]]
    by_regime: dict[str, dict[str, float]]
    proxy: str
    close_proxy: np.ndarray     # the proxy's close, forward-filled over its missing bars
    bars: int
    elapsed_s: float
    compile_s: float
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)   # system-specific sections (swing: tranches, ml_guard)
    close: np.ndarray | None = None  # (bars, symbols) closes, NaN where a symbol has no bar (risk report)
    prepare_s: float = 0.0  # before the loop (not in elapsed_s): context, the fill model's bar context, buffers

    @property
    def bar_steps_per_s(self) -> float:
        return self.bars * len(self.symbols) / self.elapsed_s if self.elapsed_s > 0 else math.inf


def _proxy_index(symbols: list[str], proxy: str | None) -> int:
    if proxy is not None:
        if proxy not in symbols:
            raise ConfigError(f"regime proxy {proxy!r} is not among the symbols {symbols}", key="regime.proxy")
        return symbols.index(proxy)
    for name in ("BTC/USD", "XBT/USD", "BTC/USDT", "XBT/USDT", "BTC"):
        if name in symbols:
            return symbols.index(name)
    return 0


def _regime_params(cfg) -> np.ndarray:
    from tradejet.engine.regime import regime_params

    return regime_params(cfg.regime)


def _ind_params(cfg) -> np.ndarray:
    from tradejet.strategies.base import DEFAULT_IND_PARAMS, IP_SMA_EXIT, IP_SMA_TREND

    i = cfg.indicators
    smas = DEFAULT_IND_PARAMS[IP_SMA_TREND:IP_SMA_EXIT + 1]
    if cfg.system == "swing":
        from tradejet.engine.swing import sma_periods

        smas = sma_periods(cfg)
    ip = np.array([i.ema_fast, i.ema_slow, i.ema_long, i.adx, i.rsi, i.bb_period, i.bb_nbdev, i.atr,
                   i.donchian_entry, i.donchian_exit, i.volume_sma, *i.momentum, i.realized_vol, *smas],
                  dtype=np.float64)
    assert ip.shape == (N_IP,)
    return ip


def _pair_meta(symbols: list[str], cfg, fill_cfg) -> tuple[np.ndarray, np.ndarray]:
    """(risk meta (n, N_META), fill pair rows (n, N_PAIR)) from the universe when it knows a symbol."""
    from tradejet.engine.universe import Universe
    from tradejet.kernels import pairs as KP

    try:
        uni = Universe.from_config(cfg.universe)
    except Exception:  # noqa: BLE001 - a universe that cannot load must not stop a backtest on files
        uni = None
    n = len(symbols)
    meta = np.zeros((n, KP.N_META))
    rows = np.empty((n, F.N_PAIR))
    for j, sym in enumerate(symbols):
        # fees: a per-pair override in [fills.pairs] wins, then the venue's metadata, then [fills]
        over = fill_cfg.pairs.get(sym)
        _, _, spread = fill_cfg.costs(sym)
        if uni is not None and sym in uni:
            m = uni.meta[uni.index(sym)].copy()
            if over is not None and over.maker_fee is not None:
                m[KP.META_MAKER_FEE] = over.maker_fee
            if over is not None and over.taker_fee is not None:
                m[KP.META_TAKER_FEE] = over.taker_fee
            meta[j] = m
            rows[j] = F.pair_row(tick_size=m[KP.META_TICK_SIZE], lot_decimals=m[KP.META_LOT_DECIMALS],
                                 ordermin=m[KP.META_ORDERMIN], costmin=m[KP.META_COSTMIN],
                                 maker_fee=m[KP.META_MAKER_FEE], taker_fee=m[KP.META_TAKER_FEE], spread=spread)
        else:  # unknown to the venue's metadata: no rounding or minimums
            mk, tk, _ = fill_cfg.costs(sym)
            meta[j, KP.META_PAIR_DECIMALS] = np.nan
            meta[j, KP.META_LOT_DECIMALS] = np.nan
            meta[j, KP.META_COST_DECIMALS] = np.nan
            meta[j, KP.META_TICK_SIZE] = np.nan
            meta[j, KP.META_TAKER_FEE] = tk
            meta[j, KP.META_MAKER_FEE] = mk
            rows[j] = F.pair_row(maker_fee=mk, taker_fee=tk, spread=spread)
    return meta, rows


def build_context(symbols: list[str], cfg: Config):
    """Return ``(ctx, pair_rows, fill_cfg_array)`` for a run over ``symbols`` with ``cfg``."""
    from tradejet.engine.risk import RiskLimits, portfolio_params
    from tradejet.engine.schedule import Schedule
    from tradejet.engine.selector import Selector
    from tradejet.engine.step import make_context

    try:
        strat = params_table(msgspec.structs.asdict(cfg.strategies))
    except Exception as e:  # StrategyError -> a config error naming the section
        raise ConfigError(str(e), key="strategies") from None
    proxy = cfg.regime.proxy
    if cfg.system == "swing":  # the swing strategy alone, [swing] periods and limits (engine/swing.py)
        from tradejet.engine.swing import effective_config, proxy_symbol, swing_row
        from tradejet.kernels.codes import Strategy

        strat[Strategy.SWING] = swing_row(cfg)
        proxy = proxy_symbol(symbols, proxy)
        cfg = effective_config(cfg, symbols)
    fill_cfg = cfg.fills
    meta, rows = _pair_meta(symbols, cfg, fill_cfg)
    ip = _ind_params(cfg)
    ind_state, ind_off = indicator_state(ip, len(symbols))
    rp = _regime_params(cfg)
    sel = Selector(cfg.selector)
    sched = Schedule(cfg.schedule).params.copy()
    assert sched.shape == (N_SCHED,)
    ctx = make_context(n_pairs=len(symbols), cash=cfg.backtest.initial_cash, ind_state=ind_state, ind_off=ind_off,
                       ind_params=ip, regime_state=regime_init(rp), regime_params=rp,
                       proxy=_proxy_index(symbols, proxy), sched_params=sched,
                       table_strategy=sel.table_strategy, table_share=sel.table_share,
                       wind_down_ns=sel.wind_down_ns, limits=RiskLimits(cfg.risk).array.copy(), meta=meta, strat_params=strat,
                       portfolio_params=portfolio_params(cfg.risk))
    return ctx, rows, F.config_array(fill_cfg), fill_cfg


def run(bars: MarketBars, config: Config | None = None, *, scores: np.ndarray | None = None,
        progress=None, chunk: int = 50_000, bar_context: np.ndarray | None = None, guard=None,
        log_returns: np.ndarray | None = None) -> BacktestResult:
    """Run the system of ``config`` (crypto or swing) over ``bars``; return a :class:`BacktestResult`.

    ``scores`` (bars x symbols, probabilities, NaN = none) feed ``ml_signal``; without
    them that strategy never enters. ``progress(done_bars, total_bars)``, when given, is
    called between chunks of ``chunk`` bars (the loop itself never calls Python).
    ``bar_context``, when given, is :func:`bar_context_array` of the same bars and fill
    windows, computed once and reused (sweeps run many configs over one set of bars), and
    ``log_returns`` the array it filled beside it (optional: without it, the indicators take
    their log returns themselves; the same values).
    For ``system = "swing"`` without ``scores``, the swing ML guard
    (:class:`tradejet.engine.swing.SwingGuard`; default: the promoted swing model of
    ``$TRADEJET_HOME``) scores the bars one by one before the loop; its status is in
    ``result.extra["ml_guard"]``, the tranche statistics in ``result.extra["tranches"]``.
    """
    from numba import typeof

    from tradejet.engine.driver import N_FL, N_OL, N_WK, run_bars_nb, run_nb
    from tradejet.engine.step import new_buffers

    cfg = config or Config()
    t_start = time.perf_counter()
    ctx, pair_rows, fcfg, fill_cfg = build_context(bars.symbols, cfg)
    T, n = bars.close.shape
    if cfg.system == "swing" and scores is None:
        from tradejet.engine.swing import SwingGuard, guard_scores

        if guard is None:
            from tradejet.config import tradejet_home

            home = cfg.home if cfg.home else tradejet_home()
            guard = SwingGuard.from_store(cfg, bars.symbols, home)
        scores = guard_scores(guard, bars)
    if scores is None:
        scores = np.full((T, n), np.nan)
    elif scores.shape != (T, n):
        raise DataError(f"scores have shape {scores.shape}, expected {(T, n)}")
    scores = np.ascontiguousarray(scores, dtype=np.float64)
    if bar_context is None:
        log_returns = np.empty((T, n))
        bar_ctx = bar_context_array(bars, fcfg, log_returns)
    elif bar_context.shape != (n, T, F.N_BAR):
        raise DataError(f"bar_context has shape {bar_context.shape}, expected {(n, T, F.N_BAR)}")
    else:
        bar_ctx = bar_context
        if log_returns is not None and log_returns.shape != (T, n):
            raise DataError(f"log_returns have shape {log_returns.shape}, expected {(T, n)}")
    lr = np.empty((0, n)) if log_returns is None else np.ascontiguousarray(log_returns, dtype=np.float64)
    latency_bars = int(fcfg[F.CFG.LATENCY_NS] // bars.timeframe_ns)
    intents, out = new_buffers()
    slots = 4 * MAX_INTENTS
    work = np.zeros((slots, F.N_ORD))
    wk = np.zeros((slots, N_WK))
    cap = 100_000 + 4 * T
    fills_log = np.zeros((cap, N_FL))
    orders_log = np.zeros((cap, N_OL))
    equity = np.empty(T)
    cash = np.empty(T)
    regime = np.empty(T, np.int8)
    active = np.empty(T, np.int64)
    tstate = np.empty(T, np.int8)
    counters = np.zeros(5, np.int64)
    have = bars.have
    prepare_s = time.perf_counter() - t_start
    compile_s = 0.0
    from tradejet.engine import precompile

    if run_bars_nb.signatures == []:  # first call in this process: compile (or load the cache) outside the timer
        t0 = time.perf_counter()
        precompile.parent_share()  # a cold start with a compile helper: our half of the callees
        run_bars_nb.compile(tuple(typeof(a) for a in _warm_args(ctx, bars, scores, bar_ctx, pair_rows, fcfg, False)))
        precompile.wait("decide")  # the helper compiles the decision step (the driver calls its address): load it
        # the callees the driver calls through their addresses, and the lanes when ready: loaded
        # (or compiled, without a helper) here, outside the loop's timer
        callees = _warm_args(ctx, bars, scores, bar_ctx, pair_rows, fcfg, True, precompile.ready("lanes"))[-2:]
        compile_s = time.perf_counter() - t0
    else:
        callees = _warm_args(ctx, bars, scores, bar_ctx, pair_rows, fcfg, True)[-2:]
    t0 = time.perf_counter()
    for a in range(0, T, max(1, chunk)):
        b = min(T, a + max(1, chunk))
        # until the helper has built the indicator lanes, one pair at a time (the same values)
        run_nb(ctx, bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume, have, scores, bar_ctx,
               pair_rows, fcfg, latency_bars, cfg.backtest.max_order_bars, intents, out, work, wk, fills_log,
               orders_log, equity, cash, regime, active, tstate, counters, a, b, lanes=precompile.ready("lanes"),
               callees=callees, log_returns=lr)
        if progress is not None:
            progress(b, T)
    elapsed = time.perf_counter() - t0
    warnings = []
    if counters[2]:
        warnings.append(f"{counters[2]} accepted orders were dropped: more than {slots} working orders at once")
    if counters[0] > cap or counters[1] > cap:
        warnings.append(f"logs kept the first {cap} fills/orders of {counters[0]}/{counters[1]}")
    res = _assemble(bars, cfg, ctx, fills_log[:min(counters[0], cap)], orders_log[:min(counters[1], cap)], equity,
                    cash, regime, active, tstate, elapsed, compile_s, warnings)
    res.prepare_s = prepare_s
    if cfg.system == "swing":
        from tradejet.engine.swing import tranche_stats

        res.extra["tranches"] = tranche_stats(res.fills, bars.symbols)
        if guard is not None:
            res.extra["ml_guard"] = guard.status()
    return res


def bar_context_array(bars: MarketBars, fcfg: np.ndarray, log_returns: np.ndarray | None = None) -> np.ndarray:
    """Return the fill model's causal per-bar estimates ``(n_symbols, n_bars, N_BAR)``.

    They depend on the bars and on ``fcfg``'s spread and volatility windows only.
    ``log_returns``, a ``(n_bars, n_symbols)`` float64 array when given, receives each
    symbol's log returns over its own bars, which the estimates compute anyway (NaN on its
    first bar and where it has none): :func:`run` hands them to the indicators.
    """
    from tradejet.engine.driver import bar_context_nb

    T, n = bars.close.shape
    out = np.empty((n, T, F.N_BAR))
    lr = np.empty((0, n)) if log_returns is None else log_returns
    if lr.shape[0] and (lr.shape != (T, n) or lr.dtype != np.float64 or not lr.flags.c_contiguous):
        raise ValueError(f"log_returns must be a C-contiguous float64 array of shape {(T, n)}, "
                         f"was {lr.dtype} {lr.shape}")
    bar_context_nb(bars.open, bars.high, bars.low, bars.close, bars.volume, fcfg[F.CFG.SPREAD_WINDOW],
                   fcfg[F.CFG.VOL_WINDOW], out, lr)
    return out


def _warm_args(ctx, bars, scores, bar_ctx, pair_rows, fcfg, callees, lanes=False) -> tuple:
    """:func:`tradejet.engine.driver.run_args` for a 2-bar slice of the run, the same types: to
    compile the driver without running it, or (``callees``) to compile or load what it calls
    through addresses."""
    from tradejet.engine.driver import N_FL, N_OL, N_WK, run_args
    from tradejet.engine.step import new_buffers

    intents, out = new_buffers()
    sl = slice(0, 2)
    return run_args(ctx, bars.ts[sl], bars.open[sl], bars.high[sl], bars.low[sl], bars.close[sl], bars.volume[sl],
                    bars.have[sl], scores[sl], np.ascontiguousarray(bar_ctx[:, sl]), pair_rows, fcfg, 0, 10, intents,
                    out, np.zeros((4, F.N_ORD)), np.zeros((4, N_WK)), np.zeros((4, N_FL)), np.zeros((4, N_OL)),
                    np.empty(2), np.empty(2), np.empty(2, np.int8), np.empty(2, np.int64), np.empty(2, np.int8),
                    np.zeros(5, np.int64), 0, 2, lanes=lanes, callees=callees)


def _assemble(bars, cfg, ctx, fl, ol, equity, cash, regime, active, tstate, elapsed, compile_s, warnings):
    from tradejet.engine.driver import (
        FL_BAR, FL_FEE, FL_ORDER, FL_PAIR, FL_PNL, FL_PRICE, FL_QTY, FL_REGIME, FL_SIDE, FL_STRATEGY, OL_BAR,
        OL_CODE, OL_ORDER, OL_PAIR, OL_PRICE, OL_QTY, OL_REASON, OL_SIDE, OL_STRATEGY,
    )
    from tradejet.kernels.metrics import periods_per_year, summarize

    syms = bars.symbols
    fills = {"bar": fl[:, FL_BAR].astype(np.int64), "ts": bars.ts[fl[:, FL_BAR].astype(np.int64)],
             "pair": fl[:, FL_PAIR].astype(np.int64), "strategy": fl[:, FL_STRATEGY].astype(np.int64),
             "side": fl[:, FL_SIDE].astype(np.int8), "qty": fl[:, FL_QTY], "price": fl[:, FL_PRICE],
             "fee": fl[:, FL_FEE], "pnl": fl[:, FL_PNL], "order": fl[:, FL_ORDER].astype(np.int64),
             "regime": fl[:, FL_REGIME].astype(np.int8)}
    orders = {"bar": ol[:, OL_BAR].astype(np.int64), "pair": ol[:, OL_PAIR].astype(np.int64),
              "strategy": ol[:, OL_STRATEGY].astype(np.int64), "side": ol[:, OL_SIDE].astype(np.int8),
              "qty": ol[:, OL_QTY], "price": ol[:, OL_PRICE], "reason": ol[:, OL_REASON].astype(np.int64),
              "code": ol[:, OL_CODE].astype(np.int64), "order": ol[:, OL_ORDER].astype(np.int64)}
    trades = _round_trips(bars, fills)

    start = cfg.backtest.initial_cash
    calendar = "equities" if cfg.system == "swing" else "crypto"
    ppy = periods_per_year(bars.timeframe_ns, calendar)
    # position value per bar: equity - cash (long-only book) -> exposure
    position = equity - cash
    notional = fills["qty"] * fills["price"]
    safe_equity = np.where(equity > 0, equity, 1e-12)
    metrics = summarize(safe_equity, start, position, trades["pnl"], notional, fills["fee"], ppy)
    metrics["final_equity"] = float(equity[-1])
    metrics["trades"] = int(len(trades["pnl"]))
    metrics["fees"] = float(fills["fee"].sum())
    rejected = orders["code"] != Reject.OK
    metrics["orders"] = int(len(orders["code"]))
    metrics["orders_rejected"] = int(rejected.sum())

    def group(labels_trades, labels_fills, names):
        outd = {}
        for g, name in enumerate(names):
            tm = labels_trades == g
            fm = labels_fills == g
            if not tm.any() and not fm.any():
                continue
            pnl = trades["pnl"][tm]
            outd[name] = {"pnl": float(pnl.sum()), "trades": int(tm.sum()),
                          "win_rate": float((pnl > 0).mean()) if tm.any() else None,
                          "fees": float(fills["fee"][fm].sum())}
        return outd

    by_strategy = group(trades["strategy_code"], fills["strategy"], STRATEGY_TEXT)
    by_pair = group(trades["pair_code"], fills["pair"], syms)
    by_regime = group(trades["regime_code"], fills["regime"], REGIME_TEXT)
    reasons = {}
    for code in np.unique(orders["code"][rejected]):
        reasons[REJECT_TEXT[int(code)]] = int((orders["code"] == code).sum())
    metrics.update({f"rejected: {k}": v for k, v in reasons.items()})
    return BacktestResult(symbols=syms, ts=bars.ts, equity=equity, cash=cash, regime=regime, active=active,
                          trading_state=tstate, fills=fills, orders=orders, trades=trades, metrics=metrics,
                          by_strategy=by_strategy, by_pair=by_pair, by_regime=by_regime,
                          proxy=syms[ctx.proxy], close_proxy=_ffill(bars.close[:, ctx.proxy]), bars=bars.n_bars, elapsed_s=elapsed, compile_s=compile_s,
                          warnings=warnings, close=bars.close)


def _ffill(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    ok = np.isfinite(x)
    if not ok.any():
        return x
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    x = x[idx]
    first = int(np.argmax(ok))
    x[:first] = x[first]
    return x


def _round_trips(bars, fills) -> dict[str, Any]:
    """Pair fills into round trips per (strategy, pair): flat -> position -> flat."""
    open_ = {}
    rows = []
    for i in range(len(fills["qty"])):
        key = (int(fills["strategy"][i]), int(fills["pair"][i]))
        side = int(fills["side"][i])
        q = float(fills["qty"][i])
        st = open_.get(key)
        if st is None:
            st = open_[key] = {"qty": 0.0, "entry_ts": int(fills["ts"][i]), "cost": 0.0, "bought": 0.0,
                               "exit_value": 0.0, "sold": 0.0, "pnl": 0.0, "fees": 0.0,
                               "regime": int(fills["regime"][i]), "side": side}
        st["qty"] += side * q
        st["fees"] += float(fills["fee"][i])
        st["pnl"] += float(fills["pnl"][i])
        if side == st["side"]:
            st["cost"] += q * float(fills["price"][i])
            st["bought"] += q
        else:
            st["exit_value"] += q * float(fills["price"][i])
            st["sold"] += q
        if abs(st["qty"]) <= 1e-12 * max(st["bought"], 1.0):
            rows.append((key[0], key[1], st["side"], st["bought"], st["entry_ts"], int(fills["ts"][i]),
                         st["cost"] / st["bought"], st["exit_value"] / st["sold"] if st["sold"] else math.nan,
                         st["pnl"] - st["fees"], st["fees"], st["regime"]))
            del open_[key]
    cols = list(zip(*rows)) if rows else [[] for _ in range(11)]
    strategy, pair, side, qty, entry_ts, exit_ts, entry_px, exit_px, pnl, fees, regime = cols
    return {
        "strategy_code": np.asarray(strategy, np.int64), "pair_code": np.asarray(pair, np.int64),
        "regime_code": np.asarray(regime, np.int64), "side": np.asarray(side, np.int8),
        "qty": np.asarray(qty, np.float64), "entry_ts": np.asarray(entry_ts, np.int64),
        "exit_ts": np.asarray(exit_ts, np.int64), "entry_price": np.asarray(entry_px, np.float64),
        "exit_price": np.asarray(exit_px, np.float64), "pnl": np.asarray(pnl, np.float64),
        "fees": np.asarray(fees, np.float64),
        "strategy": [STRATEGY_TEXT[s] for s in strategy], "symbol": [bars.symbols[p] for p in pair],
        "regime": [REGIME_TEXT[r] for r in regime], "open_positions": len(open_),
    }


_ = REASON_TEXT
