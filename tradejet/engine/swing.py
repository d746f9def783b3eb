"""The US equity swing system in the engine: its effective config, its ML safety guard, its book helpers.

One step, two drivers: with ``config.system == "swing"`` both the compiled backtest
(:func:`tradejet.engine.simulate.run`) and the event driver
(:class:`tradejet.engine.live.Engine`) build their context through
:func:`effective_config`: the :mod:`tradejet.strategies.swing` strategy ACTIVE with the
whole capital in every regime (the crypto regime table does not apply), no downtime
window (US market hours are the broker adapter's business), the ``[swing]`` indicator
periods, per-symbol limits and drawdown breaker, and the commission as the fee.

The ML safety guard (:class:`SwingGuard`) turns each bar cross-section into the
``scores`` the swing kernel reads. It runs the same code in both drivers (the backtest
calls it bar by bar before its loop, the event driver once per step), so both see the
same scores:

- model state: ``off`` (``ml_enabled = false``), ``ok``, ``no_model`` (nothing promoted),
  ``refused`` (the promoted model failed its integrity check at load), ``drift`` (the
  PSI of the recent scores against the model's reference window went over
  ``psi_max``: the model is disabled for the rest of the run);
- per symbol and bar: the model's probability when the state is ``ok``, the symbol has
  a full feature window (``feature_window`` bars; before that it is warming up) and the
  feature row lies inside the model's reference ranges; otherwise the fallback: NaN
  (``block``: the kernel refuses the entry) or +inf (``rules-only``: the rules decide
  alone).

The reference window is what the model store keeps with each model: its out-of-sample
validation rows (the most recent part of its training data). Ranges are their per
feature min/max widened by ``feature_margin`` of the range; the PSI reference is the
model's scores on them. Every state change and every blocked symbol is logged (the
environment named in each line) and written to the audit log.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import msgspec
import numpy as np

from tradejet.config import Config, PairFillConfig, RiskConfig, ScheduleConfig, SelectorConfig, StrategyShare
from tradejet.errors import ConfigError, ModelError, StrategyError
from tradejet.kernels.codes import Strategy

__all__ = ["effective_config", "strategy_params", "swing_row", "SwingGuard", "psi", "feature_rows",
           "adopt_in_book", "GUARD_STATES"]

log = logging.getLogger(__name__)

GUARD_STATES = ("off", "ok", "no_model", "refused", "drift")
_PROXIES = ("SPY", "VTI", "DIA", "QQQ", "IWM")


def effective_config(cfg: Config, symbols: list[str] | None = None) -> Config:
    """Return the config the engine runs for the swing system (see the module doc)."""
    sw = cfg.swing
    only = [StrategyShare(strategy="swing", share=1.0)]
    sel = SelectorConfig(risk_on=list(only), neutral=list(only), risk_off=list(only), panic=list(only),
                         wind_down_minutes=cfg.selector.wind_down_minutes)
    r = cfg.risk
    a = sw.max_symbol_allocation
    risk = RiskConfig(leverage_enabled=False if sw.cash_only else r.leverage_enabled,
                      max_leverage=1.0 if sw.cash_only else r.max_leverage, allow_short=False,
                      max_pair_share=a, max_top3_share=min(10.0, 3 * a), max_strategy_pair_share=a,
                      max_pair_notional=r.max_pair_notional, max_drawdown=sw.max_drawdown)
    pairs = dict(cfg.fills.pairs)
    if sw.spread is not None:
        for s in symbols or []:
            own = pairs.get(s) or PairFillConfig()
            if own.spread is None:
                pairs[s] = msgspec.structs.replace(own, spread=sw.spread)
    fills = msgspec.structs.replace(cfg.fills, maker_fee=sw.commission, taker_fee=sw.commission, pairs=pairs)
    ind = msgspec.structs.replace(cfg.indicators, rsi=sw.rsi_period, bb_period=sw.bb_period, bb_nbdev=sw.bb_nbdev,
                                  atr=sw.atr_period)
    return msgspec.structs.replace(cfg, selector=sel, risk=risk, fills=fills, indicators=ind,
                                   schedule=ScheduleConfig(enabled=False))


def proxy_symbol(symbols: list[str], configured: str | None) -> str | None:
    """The regime proxy for swing: the configured one, else the first broad index fund present."""
    if configured is not None:
        return configured
    return next((s for s in _PROXIES if s in symbols), None)


def strategy_params(cfg: Config):
    """Return the swing kernel's :class:`~tradejet.strategies.swing.Params` from ``[swing]``."""
    from tradejet.strategies.swing import Params

    sw = cfg.swing
    try:
        return Params(max_position_fraction=sw.max_symbol_allocation, stop_atr=sw.stop_atr, take_profit_atr=None,
                      max_hold_bars=sw.max_hold_bars, rsi_entry=sw.rsi_entry, rsi_exit=sw.rsi_exit,
                      tranches=sw.tranches, tranche_sizes=sw.tranche_sizes, scale_atr=sw.scale_atr,
                      max_open_symbols=sw.max_open_symbols, use_bbands=sw.use_bbands,
                      scale_backfilled=sw.scale_backfilled, ml_threshold=sw.ml_threshold if sw.ml_enabled else None)
    except StrategyError as e:
        raise ConfigError(str(e), key="swing") from None


def swing_row(cfg: Config) -> np.ndarray:
    return strategy_params(cfg).to_array()


def sma_periods(cfg: Config) -> tuple[int, int, int]:
    sw = cfg.swing
    return sw.sma_trend, sw.sma_mid, sw.sma_exit


# ---------------------------------------------------------------- book helpers

def adopt_in_book(ctx, p: int, qty: float, avg: float, ts: int) -> None:
    """Put a position adopted from the broker in the Context under ``swing``, marked backfilled."""
    from tradejet.strategies.base import IV_ATR, on_entry_fill_nb
    from tradejet.strategies.swing import adopt_state

    s = Strategy.SWING
    ctx.pos_qty[s, p] = qty
    ctx.pos_avg[s, p] = avg
    ps = ctx.pos_state[s, p]
    if qty > 0:
        on_entry_fill_nb(ps, ctx.strat_params[s], ts, avg, ctx.iv[p, IV_ATR], True)
        adopt_state(ps, ctx.strat_params[s], qty, avg)


# ---------------------------------------------------------------- ML guard

def psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of ``recent`` against ``reference`` (bins at the reference's quantiles).

    >>> r = np.linspace(0, 1, 1000)
    >>> round(psi(r, r), 6)
    0.0
    >>> psi(r, np.full(100, 0.99)) > 1.0
    True
    """
    reference = np.asarray(reference, np.float64)
    recent = np.asarray(recent, np.float64)
    reference = reference[np.isfinite(reference)]
    recent = recent[np.isfinite(recent)]
    if reference.size == 0 or recent.size == 0:
        return math.nan
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1) / reference.size
    a = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=edges.size + 1) / recent.size
    e = np.maximum(e, eps)
    a = np.maximum(a, eps)
    return float(np.sum((a - e) * np.log(a / e)))


class _History:
    """The last ``window`` bars of each symbol (the feature window), shared by both drivers."""

    def __init__(self, n: int, window: int):
        self.w = window
        self.buf = np.zeros((n, 5, 2 * window))
        self.len = np.zeros(n, np.int64)

    def push(self, p: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        k = self.len[p]
        if k == self.buf.shape[2]:  # keep the last window-1 bars, then append
            self.buf[p, :, : self.w - 1] = self.buf[p, :, k - self.w + 1:k]
            k = self.w - 1
        self.buf[p, :, k] = (o, h, lo, c, v)
        self.len[p] = k + 1

    def window(self, p: int) -> np.ndarray:
        k = self.len[p]
        return self.buf[p, :, max(0, k - self.w):k]


def feature_rows(history: _History, have: np.ndarray, width: int) -> np.ndarray:
    """The current feature row of every symbol with a bar (NaN rows otherwise), float32."""
    from tradejet.models.features import compute_features

    out = np.full((have.shape[0], width), np.nan, np.float32)
    for p in np.flatnonzero(have):
        win = history.window(p)
        if win.shape[1] < 2:
            continue
        out[p] = compute_features(win[0], win[1], win[2], win[3], win[4])[-1]
    return out


class SwingGuard:
    """The ML safety guard of the swing system: model state, range checks, drift; scores per bar.

    Build it with :meth:`from_store` (the promoted swing model in ``$TRADEJET_HOME/models/swing``)
    or directly with a loaded model and its reference rows (tests, embedding bots).
    """

    def __init__(self, cfg: Config, n_symbols: int, symbols: list[str] | None = None, *, model=None,
                 reference: np.ndarray | None = None, state: str | None = None, reason: str = "",
                 model_id: str | None = None, audit=None):
        sw = cfg.swing
        self.sw = sw
        self.env = cfg.deployment_env
        self.symbols = list(symbols) if symbols is not None else [str(i) for i in range(n_symbols)]
        self.audit = audit
        self.model = model
        self.model_id = model_id
        self.home = None  # set by from_store: where refresh() looks for a newly promoted model
        self.fallback = math.nan if sw.ml_fallback == "block" else math.inf
        self.history = _History(n_symbols, sw.feature_window)
        self.blocked_bars = np.zeros(n_symbols, np.int64)   # per symbol: bars with features out of range
        self._out_of_range = np.zeros(n_symbols, np.bool_)
        self.recent = np.full(sw.psi_window, np.nan)
        self.n_recent = 0
        self.last_psi = math.nan
        self.state = "off"
        self.reason = "ml_enabled = false: rules only"
        self.width = 0
        if not sw.ml_enabled:
            return
        if model is None:
            self._set_state(state or "no_model", reason or "no promoted swing model")
            return
        self._use(model, reference, model_id)

    def _use(self, model, reference, model_id) -> None:
        if reference is None or len(reference) == 0:
            raise ModelError("the swing guard needs the model's reference rows (its validation window)")
        self.model, self.model_id = model, model_id
        self.recent[:] = np.nan
        self.n_recent = 0
        self.last_psi = math.nan
        self.blocked_bars[:] = 0
        self._out_of_range[:] = False
        ref = np.asarray(reference, np.float32)
        self.width = ref.shape[1]
        lo = np.nanmin(ref, axis=0).astype(np.float64)
        hi = np.nanmax(ref, axis=0).astype(np.float64)
        pad = self.sw.feature_margin * (hi - lo)
        self.lo = lo - pad
        self.hi = hi + pad
        self.ref_scores = np.asarray(model.predict(ref), np.float64)
        names = getattr(model, "names", None)
        self._names = list(names) if names is not None and len(names) == self.width else [
            f"f{j}" for j in range(self.width)]
        self._set_state("ok", f"model {model_id or '?'} loaded")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_store(cls, cfg: Config, symbols: list[str], home, *, audit=None) -> SwingGuard:
        """Load the promoted swing model with every integrity check; a missing or refused one sets the state."""

        n = len(symbols)
        if not cfg.swing.ml_enabled:
            return cls(cfg, n, symbols, audit=audit)
        mid, model, reference, why = _load_promoted(home)
        if model is None:
            g = cls(cfg, n, symbols, state="no_model" if mid is None else "refused", reason=why, model_id=mid,
                    audit=audit)
        else:
            g = cls(cfg, n, symbols, model=model, reference=reference, model_id=mid, audit=audit)
        g.home = home
        return g

    def refresh(self) -> bool:
        """Follow the promotion pointer (paper/live, e.g. once a session): a newly promoted model
        is loaded with every check and replaces the current one (drift history restarts); a
        refused one blocks (or falls back) like at start. Return True when the model changed.

        Never called by the drivers themselves, so a backtest and a replay stay deterministic.
        """
        if self.home is None or not self.sw.ml_enabled:
            return False
        from tradejet.models.artifacts import ArtifactStore

        try:
            ptr = ArtifactStore(self.home, "swing").pointer()
        except ModelError as e:
            self._set_state("refused", f"promotion pointer unreadable: {e}")
            return False
        if ptr is None or ptr.promoted == self.model_id:
            return False
        mid, model, reference, why = _load_promoted(self.home)
        if model is None:
            self.model, self.model_id = None, mid
            self._set_state("refused" if mid is not None else "no_model", why)
            return True
        self._use(model, reference, mid)
        return True

    # ---------------------------------------------------------------- per bar
    @property
    def active(self) -> bool:
        return self.state == "ok"

    def step(self, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
             have: np.ndarray) -> np.ndarray:
        """Take one bar cross-section; return the scores the swing kernel sees for it."""
        n = have.shape[0]
        if self.state == "off":
            return np.full(n, math.nan)
        for p in np.flatnonzero(have):
            self.history.push(p, o[p], h[p], lo[p], c[p], v[p])
        if self.state != "ok":
            return np.full(n, self.fallback)
        warm = have & (self.history.len >= self.sw.feature_window)  # a full window: features as in training
        X = feature_rows(self.history, warm, self.width)
        scores = np.full(n, self.fallback)
        ok = warm & np.all(np.isfinite(X), axis=1)
        ok &= np.all((X >= self.lo) & (X <= self.hi), axis=1)
        for p in np.flatnonzero(warm):
            self._out_of_range[p] = not ok[p]
            if not ok[p]:
                self.blocked_bars[p] += 1
                if self.blocked_bars[p] == 1:  # logged once per symbol; counted every bar (status)
                    bad = [self._names[j] for j in np.flatnonzero(~((X[p] >= self.lo) & (X[p] <= self.hi)))]
                    self._event("ml_features_out_of_range", {"symbol": self.symbols[p], "features": bad,
                                                             "fallback": self.sw.ml_fallback}, warn=True)
        idx = np.flatnonzero(ok)
        if idx.size:
            prob = np.asarray(self.model.predict(np.ascontiguousarray(X[idx])), np.float64)
            scores[idx] = prob
            for x in prob:
                self.recent[self.n_recent % self.recent.size] = x
                self.n_recent += 1
            if self.n_recent >= self.recent.size:
                self.last_psi = psi(self.ref_scores, self.recent, self.sw.psi_bins)
                if self.last_psi > self.sw.psi_max:
                    self._set_state("drift", f"score PSI {self.last_psi:.3f} over the last {self.recent.size} scores "
                                    f"> psi_max {self.sw.psi_max}: model {self.model_id or '?'} disabled")
                    scores[:] = self.fallback
        return scores

    def status(self) -> dict[str, Any]:
        return {"env": self.env, "state": self.state, "reason": self.reason, "model": self.model_id,
                "fallback": self.sw.ml_fallback, "psi": None if math.isnan(self.last_psi) else round(self.last_psi, 4),
                "out_of_range": [self.symbols[p] for p in np.flatnonzero(self._out_of_range)],
                "out_of_range_bars": {self.symbols[p]: int(self.blocked_bars[p])
                                      for p in np.flatnonzero(self.blocked_bars)}}

    def _set_state(self, state: str, reason: str) -> None:
        self.state, self.reason = state, reason
        effect = ("entries need the model's score" if state == "ok" else
                  f"entries {'blocked' if self.sw.ml_fallback == 'block' else 'on the rules alone'}")
        self._event("ml_guard", {"state": state, "reason": reason, "effect": effect}, warn=state != "ok")

    def _event(self, event: str, data: dict, *, warn: bool) -> None:
        data = {"env": self.env, **data}
        (log.warning if warn else log.info)("[%s] swing %s: %s", self.env, event, data)
        if self.audit is not None:
            self.audit.append(f"swing.{event}", data)


def _load_promoted(home):
    """``(model id, model, reference rows, why)``: the promoted swing model after every integrity check."""
    from tradejet.models.artifacts import ArtifactStore

    store = ArtifactStore(home, "swing")
    mid = store.promoted_id()
    if mid is None:
        return None, None, None, f"no promoted swing model in {store.root}"
    try:
        model = store.load(mid, batch_threads=1)
        reference = store.validation_rows(mid)["X"]
    except (ModelError, OSError, KeyError, ValueError) as e:
        return mid, None, None, f"model {mid} refused at load: {e}"
    return mid, model, reference, ""


def guard_scores(guard: SwingGuard, bars) -> np.ndarray:
    """Run ``guard`` over every bar of ``bars`` (a MarketBars) in order: the backtest's scores, bar by bar."""
    T, n = bars.close.shape
    out = np.full((T, n), np.nan)
    have = bars.have
    for t in range(T):
        out[t] = guard.step(bars.open[t], bars.high[t], bars.low[t], bars.close[t], bars.volume[t], have[t])
    return out


def tranche_stats(fills: dict[str, np.ndarray], symbols: list[str]) -> dict[str, Any]:
    """How many tranches each swing round trip filled: ``{"1": k1, "2": k2, ...}`` overall and per symbol.

    ``fills`` are the driver's fill columns (``strategy``, ``pair``, ``side``, ``qty``, ``order``):
    a round trip runs from flat to flat; its tranches are the distinct buy orders filled in it.
    """
    open_: dict[int, tuple[float, set]] = {}
    overall: dict[str, int] = {}
    per: dict[str, dict[str, int]] = {}
    for i in range(len(fills["qty"])):
        if int(fills["strategy"][i]) != Strategy.SWING:
            continue
        p = int(fills["pair"][i])
        q, orders = open_.get(p, (0.0, set()))
        side = int(fills["side"][i])
        if side > 0:
            orders = orders | {int(fills["order"][i])}
        q += side * float(fills["qty"][i])
        if abs(q) <= 1e-9 * max(1.0, float(fills["qty"][i])):
            k = str(len(orders))
            overall[k] = overall.get(k, 0) + 1
            d = per.setdefault(symbols[p], {})
            d[k] = d.get(k, 0) + 1
            open_.pop(p, None)
        else:
            open_[p] = (q, orders)
    total = sum(overall.values())
    return {"round_trips": total, "filled": dict(sorted(overall.items())),
            "share": {k: v / total for k, v in sorted(overall.items())} if total else {},
            "by_symbol": {s: dict(sorted(v.items())) for s, v in sorted(per.items())},
            "open": len(open_)}


SYNTH_TICKERS = ("SPY", "QQQ", "IWM", "DIA", "VTI", "IEF", "GLD", "VNQ", "AAPL", "MSFT")


def synthetic_equities(*, years: float = 8.0, seed: int = 7, symbols=SYNTH_TICKERS):
    """A seeded synthetic US equity market of daily bars (weekdays, 00:00 UTC), as MarketBars.

    A market factor switches between a bull state (+15 %/yr, 14 % vol) and a bear state
    (-25 %/yr, 32 % vol; a bear lasts about three months, a bull about three years); each
    symbol has its own beta (0.3..1.4), idiosyncratic volatility and start price; opens
    gap from the previous close, highs and lows extend the body. Same seed, same bars.

    >>> b = synthetic_equities(years=1, seed=1)
    >>> b.n_bars, b.symbols[0], bool((b.high >= b.close).all())
    (261, 'SPY', True)
    """
    from tradejet.engine.simulate import MarketBars

    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-05")
    days = np.arange(start, start + np.timedelta64(int(round(years * 365.25)), "D"))
    days = days[np.is_busday(days)]
    T, n = days.size, len(symbols)
    bear = np.zeros(T, np.bool_)
    state = False
    for t in range(T):
        if rng.random() < (1 / 63 if state else 1 / 750):
            state = not state
        bear[t] = state
    mkt = np.where(bear, rng.normal(-0.25 / 252, 0.32 / 15.87, T), rng.normal(0.15 / 252, 0.14 / 15.87, T))
    beta = rng.uniform(0.3, 1.4, n)
    idio = rng.uniform(0.004, 0.015, n)
    r = mkt[:, None] * beta[None, :] + rng.normal(0.0, 1.0, (T, n)) * idio[None, :]
    close = rng.uniform(40.0, 300.0, n)[None, :] * np.exp(np.cumsum(r, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.003, (T, n)))
    body_hi = np.maximum(open_, close)
    body_lo = np.minimum(open_, close)
    high = body_hi * np.exp(np.abs(rng.normal(0.0, 0.005, (T, n))))
    low = body_lo * np.exp(-np.abs(rng.normal(0.0, 0.005, (T, n))))
    volume = np.exp(rng.normal(14.0, 0.4, (T, n)))
    ts = days.astype("datetime64[ns]").astype(np.int64)
    return MarketBars(symbols=list(symbols), ts=ts, open=open_, high=high, low=low, close=close, volume=volume,
                      timeframe_ns=86_400_000_000_000, source=f"synthetic equities, seed {seed}")
