"""Risk: limits from config, the per-intent check, the drawdown breaker, unreconciled blocks.

A thin facade over :mod:`tradejet.kernels.risk`. The event driver calls
:meth:`RiskGate.check` for every intent; the compiled driver calls
``check_intent_nb`` with the same arrays (:attr:`RiskLimits.array`,
:attr:`RiskGate.risk_state`, :attr:`RiskGate.unreconciled`, the portfolio's arrays).

>>> from tradejet.engine.universe import Universe
>>> from tradejet.engine.portfolio import Portfolio
>>> from tradejet.engine.selector import Selector
>>> u = Universe.default(); pf = Portfolio(u, cash=1_000.0); sel = Selector(); _ = sel.update(0, 0)
>>> gate = RiskGate(u)
>>> gate.check(pf, sel, strategy="trend_following", symbol="BTC/USD", side=1, qty=0.004, price=50_000.0).reason
'accepted'
>>> gate.check(pf, sel, strategy="trend_following", symbol="BTC/USD", side=1, qty=0.1, price=50_000.0).reason
'insufficient cash'
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from tradejet.config import RiskConfig
from tradejet.errors import DataError
from tradejet.kernels import portrisk as kp
from tradejet.kernels import risk as kr
from tradejet.kernels.codes import N_STRATEGIES, OrderType, REJECT_TEXT, Regime, Reject, TradingState
from tradejet.kernels.portfolio import equity_nb
from tradejet.messages import OrderIntent

from tradejet.engine.portfolio import Portfolio, _strategy_index
from tradejet.engine.selector import Selector
from tradejet.engine.universe import Universe

__all__ = ["RiskLimits", "RiskGate", "RiskDecision", "Reject", "portfolio_params"]


def portfolio_params(config: RiskConfig | None = None) -> np.ndarray:
    """Return the portfolio-limit vector the step reads (``kernels.portrisk.PP_*``) from a :class:`RiskConfig`.

    Unset limits become ``inf`` (off); an unset ``max_cluster_share`` is ``max_pair_share``.

    >>> from tradejet.config import PortfolioRiskConfig
    >>> p = portfolio_params(RiskConfig(portfolio=PortfolioRiskConfig(max_var_share=0.05)))
    >>> float(p[kp.PP_MAX_VAR]), bool(np.isinf(p[kp.PP_TARGET_VOL]))
    (0.05, True)
    """
    config = RiskConfig() if config is None else config
    c = config.portfolio
    inf = math.inf
    return kp.port_params(
        halflife_bars=c.cov_halflife_bars, min_bars=c.min_bars, level=c.var_level, horizon_bars=c.horizon_bars,
        max_var=inf if c.max_var_share is None else c.max_var_share,
        max_cvar=inf if c.max_cvar_share is None else c.max_cvar_share,
        cluster_corr=inf if c.cluster_corr is None else c.cluster_corr,
        max_cluster_share=(config.max_pair_share if c.max_cluster_share is None else c.max_cluster_share),
        target_vol=inf if c.target_vol is None else c.target_vol, panic_corr1=c.panic_full_correlation)


class RiskLimits:
    """The limit vector the risk kernel reads (``kernels.risk.LIM_*``), from a :class:`RiskConfig`."""

    def __init__(self, config: RiskConfig | None = None):
        config = RiskConfig() if config is None else config
        self.config = config
        a = np.empty(kr.N_LIM, dtype=np.float64)
        a[kr.LIM_LEVERAGE] = config.max_leverage if config.leverage_enabled else 1.0
        a[kr.LIM_ALLOW_SHORT] = 1.0 if (config.allow_short and config.leverage_enabled) else 0.0
        a[kr.LIM_MAX_PAIR_SHARE] = config.max_pair_share
        a[kr.LIM_MAX_TOP3_SHARE] = config.max_top3_share
        a[kr.LIM_MAX_STRATEGY_PAIR_SHARE] = config.max_strategy_pair_share
        a[kr.LIM_MAX_PAIR_NOTIONAL] = math.inf if config.max_pair_notional is None else config.max_pair_notional
        a[kr.LIM_MAX_DRAWDOWN] = config.max_drawdown
        a.setflags(write=False)
        self.array = a

    @property
    def cash_only(self) -> bool:
        return bool(self.array[kr.LIM_LEVERAGE] <= 1.0)


class RiskDecision(msgspec.Struct, frozen=True):
    """The outcome of one check: ``code`` (``Reject.OK`` = accepted) and the rounded qty and price."""

    code: int
    qty: float
    price: float

    @property
    def ok(self) -> bool:
        return self.code == Reject.OK

    @property
    def reason(self) -> str:
        return REJECT_TEXT[self.code]


class RiskGate:
    """Checks intents against the limits, the trading state, the breaker and reconciliation.

    Parameters
    ----------
    universe : Universe
        Pair order and metadata (decimals, minimums, taker fee).
    limits : RiskLimits or RiskConfig, optional
        Defaults to the documented :class:`~tradejet.config.RiskConfig`.
    """

    def __init__(self, universe: Universe, limits: RiskLimits | RiskConfig | None = None):
        self.universe = universe
        self.limits = limits if isinstance(limits, RiskLimits) else RiskLimits(limits)
        #: ``[peak equity, tripped]``; pass to the kernels.
        self.risk_state = np.array([np.nan, 0.0])
        #: ``True`` where a pair is blocked for new entries until reconciled.
        self.unreconciled = np.zeros(len(universe), dtype=np.bool_)
        #: the portfolio limits (``[risk.portfolio]``) and their covariance state; see :meth:`update_bar`.
        self.port_params = portfolio_params(self.limits.config)
        self.port_cov, self.port_vec = kp.port_state(len(universe))
        self._pending0 = None

    def update_bar(self, close, have=None) -> None:
        """Advance the portfolio limits' covariance by one bar of closes (universe order; NaN = no bar)."""
        c = np.ascontiguousarray(close, dtype=np.float64)
        if c.shape != (len(self.universe),):
            raise DataError(f"close must have one value per pair ({len(self.universe)}), got shape {c.shape}")
        h = np.isfinite(c) if have is None else np.ascontiguousarray(have, dtype=np.bool_)
        kp.cov_update_nb(self.port_cov, self.port_vec, self.port_params, c, h)

    # ------------------------------------------------------------------ breaker and blocks
    def update_equity(self, equity: float) -> bool:
        """Feed the latest equity to the drawdown breaker; return whether it is tripped."""
        return bool(kr.update_breaker_nb(self.risk_state, float(equity), self.limits.array[kr.LIM_MAX_DRAWDOWN]))

    def reset_breaker(self, equity: float) -> None:
        """Clear the breaker by hand; the peak restarts at ``equity``."""
        if not math.isfinite(equity):
            raise DataError(f"equity must be finite, was {equity}")
        kr.reset_breaker_nb(self.risk_state, float(equity))

    @property
    def breaker_tripped(self) -> bool:
        return bool(self.risk_state[kr.RS_TRIPPED])

    def mark_unreconciled(self, symbol: str, blocked: bool = True) -> None:
        """Block (or release) new entries in ``symbol`` until reconciliation agrees."""
        self.unreconciled[self.universe.index(symbol)] = blocked

    # ------------------------------------------------------------------ checks
    def check(self, portfolio: Portfolio, selector: Selector, *, strategy: int | str, symbol: str, side: int,
              qty: float, price: float, limit: bool = False, reduce_only: bool = False, forced: bool = False,
              trading_state: int = TradingState.TRADING, regime: int = Regime.NEUTRAL,
              pending=None) -> RiskDecision:
        """Check one intent; return the decision with the qty/price rounded to the pair's rules.

        ``price`` is the limit price (``limit=True``) or the reference price of a market order.
        With ``[risk.portfolio]`` limits set, the portfolio checks run too (feed bars with
        :meth:`update_bar`); ``regime`` (PANIC: correlations 1) and ``pending`` (strategies x
        pairs signed qty of working orders, counted as filled) are theirs.
        """
        if portfolio.universe is not self.universe and portfolio.universe.symbols != self.universe.symbols:
            raise DataError("portfolio and risk gate use different universes")
        s = _strategy_index(strategy)
        p = self.universe.index(symbol)
        if not 0 <= int(trading_state) <= 3:
            raise DataError(f"trading_state must be a TradingState code 0..3, was {trading_state}")
        flags = (kr.INTENT_LIMIT if limit else 0) | (kr.INTENT_REDUCE_ONLY if reduce_only else 0) | \
                (kr.INTENT_FORCED if forced else 0)
        if pending is None:
            if self._pending0 is None or self._pending0.shape != portfolio.pos_qty.shape:
                self._pending0 = np.zeros_like(portfolio.pos_qty)
            pending = self._pending0
        elif np.shape(pending) != portfolio.pos_qty.shape:
            raise DataError(f"pending must have shape {portfolio.pos_qty.shape}, got {np.shape(pending)}")
        equity = equity_nb(portfolio.account, portfolio.pos_qty, portfolio.pos_avg, portfolio.mark)
        code, q, px = kp.check_intent_portfolio_nb(
            p, s, int(side), float(qty), float(price), flags, int(trading_state), self.universe.meta,
            self.limits.array, selector.shares, selector.status, self.unreconciled, portfolio.account,
            portfolio.pos_qty, portfolio.pos_avg, portfolio.mark, self.risk_state,
            np.ascontiguousarray(pending, dtype=np.float64), self.port_cov, self.port_vec, self.port_params,
            int(regime), float(equity))
        return RiskDecision(int(code), float(q), float(px))

    def check_intent(self, intent: OrderIntent, portfolio: Portfolio, selector: Selector, *,
                     trading_state: int = TradingState.TRADING, forced: bool = False,
                     price: float | None = None) -> RiskDecision:
        """Check an :class:`~tradejet.messages.OrderIntent`.

        Market orders are valued at ``price`` if given, else the portfolio's mark.
        """
        if not 0 <= intent.strategy < N_STRATEGIES:
            return RiskDecision(Reject.INVALID_INTENT, 0.0, float("nan"))
        limit = intent.order_type == OrderType.LIMIT
        if limit:
            px = intent.limit_price
        elif price is not None:
            px = price
        else:
            px = float(portfolio.mark[self.universe.index(intent.symbol)])
        return self.check(portfolio, selector, strategy=intent.strategy, symbol=intent.symbol, side=intent.side,
                          qty=intent.qty, price=px, limit=limit, reduce_only=intent.reduce_only, forced=forced,
                          trading_state=trading_state)
