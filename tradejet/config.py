"""Configuration: strict msgspec structs, loaded from TOML plus the environment.

Precedence: built-in defaults < TOML file < environment (``DEPLOYMENT_ENV``,
``LOG_LEVEL``, ``TRADEJET_HOME``). A wrong or unknown field raises
:class:`~tradejet.errors.ConfigError` naming the key and the file.

Later issues add their sections (universe, schedule, strategies, risk, fills, ...) as
nested structs with defaults, so an empty file is always a valid config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from tradejet.errors import ConfigError

__all__ = ["Config", "load_config", "tradejet_home", "default_store_dir", "FillConfig", "PairFillConfig", "MLConfig", "UniverseConfig", "ScheduleConfig", "StrategyShare", "SelectorConfig", "RiskConfig", "PortfolioRiskConfig", "DEFAULT_SYMBOLS", "STRATEGY_NAMES", "IndicatorsConfig", "RegimeConfig", "StrategiesConfig", "BacktestConfig", "LiveConfig"]

_ENV_KEYS = {"DEPLOYMENT_ENV": "deployment_env", "LOG_LEVEL": "log_level", "TRADEJET_HOME": "home"}


# ---------------------------------------------------------------- crypto decision core (issue 4)

__all__ += ["SwingConfig", "DEFAULT_SWING_SYMBOLS"]
__all__ += ["UniverseConfig", "ScheduleConfig", "StrategyShare", "SelectorConfig", "RiskConfig",
            "DEFAULT_SYMBOLS", "STRATEGY_NAMES"]

DEFAULT_SYMBOLS = ("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD", "ADA/USD",
                   "DOT/USD", "LINK/USD", "LTC/USD", "DOGE/USD", "AVAX/USD")
# The strategy names, in the order of their integer codes (kernels/codes.py STRATEGY_TEXT;
# config may not import kernels, a test keeps the two equal).
STRATEGY_NAMES = ("trend_following", "mean_reversion", "breakout", "momentum_rotation", "ml_signal", "defensive",
                  "swing")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# Field constraints checked while decoding (so the error names the exact key); the
# __post_init__ checks repeat them for structs built in Python and add cross-field rules.
_NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
_NonNegFloat = Annotated[float, msgspec.Meta(ge=0.0)]
_Share = Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
_Limit = Annotated[float, msgspec.Meta(gt=0.0, le=10.0)]


def _hhmm_seconds(value: str, key: str) -> int:
    m = _HHMM.match(value)
    if not m:
        raise ValueError(f"{key} must be a UTC time 'HH:MM' (00:00..23:59), was {value!r}")
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60


class UniverseConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The traded pairs (canonical ``BASE/QUOTE`` symbols) and where their metadata comes from.

    ``symbols`` defaults to the ten USD majors; ``add`` / ``remove`` edit that list without
    restating it. ``asset_pairs_file`` is a saved Kraken ``AssetPairs`` response (``None``:
    the copy bundled in the package, recorded 2026-01-12). ``trade_volume_file`` is a saved
    ``TradeVolume`` response giving the account's fee rates; without it, fees follow
    Kraken's base schedule at ``fee_volume_usd`` of 30-day volume ($0: 0.40 % taker,
    0.25 % maker).
    """

    symbols: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SYMBOLS))
    add: list[str] = msgspec.field(default_factory=list)
    remove: list[str] = msgspec.field(default_factory=list)
    asset_pairs_file: str | None = None
    trade_volume_file: str | None = None
    fee_volume_usd: _NonNegFloat = 0.0

    def __post_init__(self) -> None:
        for key in ("symbols", "add", "remove"):
            seen: set[str] = set()
            for s in getattr(self, key):
                if s in seen:
                    raise ValueError(f"{key} lists {s!r} twice")
                seen.add(s)
        if not self.fee_volume_usd >= 0.0:
            raise ValueError(f"fee_volume_usd must be >= 0, was {self.fee_volume_usd}")

    def resolved_symbols(self) -> list[str]:
        """Return ``symbols + add - remove``, order kept.

        >>> UniverseConfig(symbols=["BTC/USD"], add=["ETH/USD"]).resolved_symbols()
        ['BTC/USD', 'ETH/USD']
        """
        out = [s for s in self.symbols if s not in self.remove]
        out += [s for s in self.add if s not in out and s not in self.remove]
        return out


class ScheduleConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The daily UTC downtime window and the states around it.

    TRADING -> DRAINING (``drain_lead_minutes`` before ``window_start``: no new entries,
    resting entry orders cancelled, exits allowed) -> DOWNTIME (``window_start`` to
    ``window_end``: only exits the risk layer forces; retraining runs) -> RESUMING
    (``resume_minutes`` after ``window_end``: load the promoted model, warm up; exits only)
    -> TRADING. The window may cross midnight (``"23:00"`` to ``"01:00"``). Defaults:
    03:00-05:00 UTC, 30 min drain, 30 min resume. ``enabled = false`` trades around the clock.
    """

    enabled: bool = True
    window_start: str = "03:00"
    window_end: str = "05:00"
    drain_lead_minutes: _NonNegInt = 30
    resume_minutes: _NonNegInt = 30

    def __post_init__(self) -> None:
        start = _hhmm_seconds(self.window_start, "window_start")
        end = _hhmm_seconds(self.window_end, "window_end")
        if start == end:
            raise ValueError(f"window_end must differ from window_start, both were {self.window_start!r}")
        if self.drain_lead_minutes < 0 or self.resume_minutes < 0:
            raise ValueError(f"drain_lead_minutes and resume_minutes must be >= 0, were "
                             f"{self.drain_lead_minutes} and {self.resume_minutes}")
        window = (end - start) % 86400
        total = window + 60 * (self.drain_lead_minutes + self.resume_minutes)
        if total >= 86400:
            raise ValueError(f"drain lead + window + resume must be shorter than a day, was {total // 60} minutes")

    @property
    def start_s(self) -> int:
        """Window start, seconds after 00:00 UTC."""
        return _hhmm_seconds(self.window_start, "window_start")

    @property
    def end_s(self) -> int:
        """Window end, seconds after 00:00 UTC."""
        return _hhmm_seconds(self.window_end, "window_end")


class StrategyShare(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One strategy and its share of capital (0..1) in a regime."""

    strategy: str
    share: _Share

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGY_NAMES:
            raise ValueError(f"unknown strategy {self.strategy!r}; known: {', '.join(STRATEGY_NAMES)}")
        if not 0.0 < self.share <= 1.0:
            raise ValueError(f"share of {self.strategy} must be in (0, 1], was {self.share}")


def _shares(*pairs: tuple[str, float]) -> list[StrategyShare]:
    return [StrategyShare(strategy=s, share=w) for s, w in pairs]


def _check_regime_table(key: str, table: list[StrategyShare]) -> None:
    if len(table) > 2:
        raise ValueError(f"{key}: at most 2 strategies may be active, got {len(table)}")
    names = [t.strategy for t in table]
    if len(set(names)) != len(names):
        raise ValueError(f"{key}: strategy listed twice: {names}")
    total = sum(t.share for t in table)
    if total > 1.0 + 1e-9:
        raise ValueError(f"{key}: shares must sum to <= 1, was {total:.6g}")


class SelectorConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Which strategies run in each regime and their capital shares (at most two, sum <= 1).

    Defaults: RISK_ON trend_following 0.6 + breakout 0.4; NEUTRAL mean_reversion 0.5 +
    ml_signal 0.5; RISK_OFF mean_reversion 0.3 + defensive 0.7; PANIC defensive 1.0. The
    defensive share is capital the defensive strategy keeps in cash, so every regime
    allocates 100 % and RISK_OFF caps risk exposure at 30 %. A strategy that drops out on a
    regime change winds down by its own exit rules; what it still holds after
    ``wind_down_minutes`` (default 1440 = one day) is force-closed. Entering PANIC
    flattens every non-defensive position at once.
    """

    risk_on: list[StrategyShare] = msgspec.field(
        default_factory=lambda: _shares(("trend_following", 0.6), ("breakout", 0.4)))
    neutral: list[StrategyShare] = msgspec.field(
        default_factory=lambda: _shares(("mean_reversion", 0.5), ("ml_signal", 0.5)))
    risk_off: list[StrategyShare] = msgspec.field(
        default_factory=lambda: _shares(("mean_reversion", 0.3), ("defensive", 0.7)))
    panic: list[StrategyShare] = msgspec.field(default_factory=lambda: _shares(("defensive", 1.0)))
    wind_down_minutes: _NonNegInt = 1440

    def __post_init__(self) -> None:
        for key in ("risk_on", "neutral", "risk_off", "panic"):
            _check_regime_table(key, getattr(self, key))
        if self.wind_down_minutes < 0:
            raise ValueError(f"wind_down_minutes must be >= 0, was {self.wind_down_minutes}")


class PortfolioRiskConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Portfolio limits that know pairs move together (``[risk.portfolio]``; kernels/portrisk.py).

    The step keeps a zero-mean exponentially weighted covariance of the pairs' per-bar
    returns (half-life ``cov_halflife_bars``, used once a pair has ``min_bars`` returns;
    cold pairs count as perfectly correlated with the largest known volatility). Gaussian
    VaR / CVaR at ``var_level`` over ``horizon_bars`` bars. In PANIC every correlation is
    taken as 1 (``panic_full_correlation``). Periods are in bars; the defaults suit hourly
    bars (a one-week half-life, a one-day horizon).

    Every limit is **off by default** (``None``): they change what a book may hold in
    exactly the correlated selloffs, their right values depend on the user's risk
    appetite and timeframe, and an upgrade must not silently change existing backtests
    and running bots. The estimator always runs (reports and ``tradejet paper`` show it).
    A desk-style setting for the hourly crypto system, measured on 2017-2022 data in
    ``scripts/portfolio_risk_compare.py``::

        [risk.portfolio]
        max_var_share = 0.06       # 1-day 99 % VaR <= 6 % of equity
        max_cvar_share = 0.08
        cluster_corr = 0.7         # pairs correlated >= 0.7 count as one
        target_vol = 0.025         # 1-day book volatility <= 2.5 % of equity

    ``max_var_share`` / ``max_cvar_share``: refuse an entry whose VaR / CVaR after the fill
    exceeds that share of equity. ``cluster_corr``: pairs whose correlation with the
    intent's pair is >= it form one cluster, capped at ``max_cluster_share`` (``None``: the
    per-pair ``max_pair_share``). ``target_vol``: scale entries down so the book's
    volatility over the horizon stays at most that share of equity (never scales up).
    """

    cov_halflife_bars: Annotated[float, msgspec.Meta(ge=2.0, le=1e6)] = 168.0
    min_bars: Annotated[int, msgspec.Meta(ge=2)] = 120
    var_level: Annotated[float, msgspec.Meta(ge=0.5, lt=1.0)] = 0.99
    horizon_bars: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 24
    max_var_share: Annotated[float, msgspec.Meta(gt=0.0, le=10.0)] | None = None
    max_cvar_share: Annotated[float, msgspec.Meta(gt=0.0, le=10.0)] | None = None
    cluster_corr: Annotated[float, msgspec.Meta(ge=-1.0, le=1.0)] | None = None
    max_cluster_share: _Limit | None = None
    target_vol: Annotated[float, msgspec.Meta(gt=0.0, le=10.0)] | None = None
    panic_full_correlation: bool = True

    def __post_init__(self) -> None:
        if not 2.0 <= self.cov_halflife_bars <= 1e6:
            raise ValueError(f"cov_halflife_bars must be in [2, 1e6], was {self.cov_halflife_bars}")
        if self.min_bars < 2:
            raise ValueError(f"min_bars must be >= 2, was {self.min_bars}")
        if not 0.5 <= self.var_level < 1.0:
            raise ValueError(f"var_level must be in [0.5, 1), was {self.var_level}")
        if not 1 <= self.horizon_bars <= 100_000:
            raise ValueError(f"horizon_bars must be in [1, 100000], was {self.horizon_bars}")
        for key in ("max_var_share", "max_cvar_share", "target_vol", "max_cluster_share"):
            v = getattr(self, key)
            if v is not None and not 0.0 < v <= 10.0:
                raise ValueError(f"{key} must be in (0, 10] or unset, was {v}")
        if self.cluster_corr is not None and not -1.0 <= self.cluster_corr <= 1.0:
            raise ValueError(f"cluster_corr must be in [-1, 1] or unset, was {self.cluster_corr}")
        if self.max_cluster_share is not None and self.cluster_corr is None:
            raise ValueError("max_cluster_share is set but cluster_corr is not (the cluster limit is off)")

    @property
    def enabled(self) -> bool:
        """True when any portfolio limit is set."""
        return any(v is not None for v in (self.max_var_share, self.max_cvar_share, self.cluster_corr,
                                           self.target_vol))


class RiskConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Limits checked on every order intent (fractions of equity unless said otherwise).

    Cash-only by default: no leverage, no shorting. ``leverage_enabled`` allows gross
    exposure up to ``max_leverage`` x equity (and shorts if ``allow_short``).
    ``max_pair_share`` caps one pair's share of equity (0.35), ``max_top3_share`` the three
    largest (0.80), ``max_strategy_pair_share`` one strategy's position in one pair (0.25);
    a strategy's total is capped by its selector share. ``max_pair_notional`` is an
    absolute cap in quote currency per pair (``None``: none). The drawdown breaker halts
    new entries when equity falls more than ``max_drawdown`` (0.15) below its peak, until
    reset. ``[risk.portfolio]`` (:class:`PortfolioRiskConfig`): VaR / CVaR, correlated
    clusters and volatility targeting, off by default.
    """

    leverage_enabled: bool = False
    max_leverage: Annotated[float, msgspec.Meta(ge=1.0, le=10.0)] = 1.0
    allow_short: bool = False
    max_pair_share: _Limit = 0.35
    max_top3_share: _Limit = 0.80
    max_strategy_pair_share: _Limit = 0.25
    max_pair_notional: Annotated[float, msgspec.Meta(gt=0.0)] | None = None
    max_drawdown: _Share = 0.15
    portfolio: PortfolioRiskConfig = msgspec.field(default_factory=PortfolioRiskConfig)

    def __post_init__(self) -> None:
        for key in ("max_pair_share", "max_top3_share", "max_strategy_pair_share", "max_drawdown"):
            v = getattr(self, key)
            if not 0.0 < v <= (10.0 if key != "max_drawdown" else 1.0):
                raise ValueError(f"{key} must be in (0, {10 if key != 'max_drawdown' else 1}], was {v}")
        if not 1.0 <= self.max_leverage <= 10.0:
            raise ValueError(f"max_leverage must be in [1, 10], was {self.max_leverage}")
        if self.max_leverage > 1.0 and not self.leverage_enabled:
            raise ValueError(f"max_leverage is {self.max_leverage} but leverage_enabled is false")
        if self.allow_short and not self.leverage_enabled:
            raise ValueError("allow_short needs leverage_enabled (shorting borrows)")
        if self.max_pair_notional is not None and not self.max_pair_notional > 0.0:
            raise ValueError(f"max_pair_notional must be > 0, was {self.max_pair_notional}")


class IndicatorsConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Periods (in bars) of the indicators the strategies and the regime read. Defaults suit hourly bars."""

    ema_fast: int = 12
    ema_slow: int = 48
    ema_long: int = 120
    adx: int = 14
    rsi: int = 14
    bb_period: int = 20
    bb_nbdev: float = 2.0
    atr: int = 14
    donchian_entry: int = 48
    donchian_exit: int = 24
    volume_sma: int = 24
    momentum: list[int] = msgspec.field(default_factory=lambda: [24, 72, 168])
    realized_vol: int = 24

    def __post_init__(self) -> None:
        if len(self.momentum) != 3:
            raise ValueError(f"momentum takes three horizons, got {len(self.momentum)}")
        for name in ("ema_fast", "ema_slow", "ema_long", "adx", "rsi", "bb_period", "atr", "donchian_entry",
                     "donchian_exit", "volume_sma", "realized_vol"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be >= 2, was {getattr(self, name)}")
        if min(self.momentum) < 2:
            raise ValueError(f"momentum horizons must be >= 2, were {self.momentum}")
        if not self.bb_nbdev > 0:
            raise ValueError(f"bb_nbdev must be > 0, was {self.bb_nbdev}")
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"ema_fast ({self.ema_fast}) must be shorter than ema_slow ({self.ema_slow})")


_Frac = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
_BarCount = Annotated[int, msgspec.Meta(ge=1)]


class RegimeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The regime detector (tradejet.kernels.regime); periods in bars, defaults for hourly bars."""

    proxy: str | None = None
    """The market proxy; default BTC/USD when the universe has it, else its first symbol."""
    slope_bars: _BarCount = 6
    vol_lookback: _BarCount = 720
    vol_sample: _BarCount = 1
    dd_window: _BarCount = 168
    fast_window: _BarCount = 24
    panic_drawdown: _Frac = 0.06
    panic_vol_percentile: _Frac = 0.85
    crash_drawdown: _Frac = 0.10
    risk_off_drawdown: _Frac = 1.0
    high_vol_percentile: _Frac = 0.65
    breadth_on: _Frac = 0.50
    breadth_off: _Frac = 0.50
    confirm_bars: _BarCount = 4
    min_dwell_bars: _BarCount = 6
    panic_exit_bars: _BarCount = 12
    risk_off_vol_percentile: _Frac = 0.80


class StrategiesConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-strategy parameter overrides (validated against each strategy's Params struct)."""

    trend_following: dict[str, Any] = msgspec.field(default_factory=dict)
    mean_reversion: dict[str, Any] = msgspec.field(default_factory=dict)
    breakout: dict[str, Any] = msgspec.field(default_factory=dict)
    momentum_rotation: dict[str, Any] = msgspec.field(default_factory=dict)
    ml_signal: dict[str, Any] = msgspec.field(default_factory=dict)
    defensive: dict[str, Any] = msgspec.field(default_factory=dict)


class BacktestConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The compiled backtest and its built-in synthetic market."""

    initial_cash: Annotated[float, msgspec.Meta(gt=0.0)] = 10_000.0
    timeframe: str = "1h"
    synthetic_days: Annotated[float, msgspec.Meta(gt=0.0)] = 365.0
    synthetic_seed: int = 7
    max_order_bars: _BarCount = 10
    """A market order not filled within this many bars is cancelled (e.g. a pair without trades)."""
_Fee = Annotated[float, msgspec.Meta(ge=-0.01, lt=0.1)]


class PairFillConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-pair overrides of the fill costs; an unset field takes FillConfig's value."""

    maker_fee: _Fee | None = None
    """Maker rate, fraction of notional (0.0016 = 0.16 %)."""
    taker_fee: _Fee | None = None
    """Taker rate, fraction of notional."""
    spread: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] | None = None
    """Full relative bid/ask spread (0.0002 = 2 bp); unset: estimated from the bars (Corwin-Schultz)."""


class FillConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The fill model's parameters (backtest and paper fill alike; see tradejet.kernels.fills).

    Pair decimals and minimums (tick size, lot decimals, ordermin, costmin) come from
    the venue's pair metadata, not from here.
    """

    latency_ms: Annotated[float, msgspec.Meta(ge=0.0)] = 0.0
    """Order latency; a market order fills at the open of the first bar starting after
    it (0: the next bar's open)."""
    participation: Annotated[float, msgspec.Meta(gt=0.0)] = 0.10
    """Largest share of a bar's volume one order may take; the rest fills on later bars."""
    impact_coef: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0
    """Y in the square-root law: impact = Y * sigma * sqrt(qty / volume), per bar."""
    max_impact: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.05
    """Cap on the relative impact of one fill."""
    min_spread: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] = 0.0
    """Floor on the spread (relative) when it is estimated from the bars."""
    spread_window: Annotated[int, msgspec.Meta(ge=1)] = 60
    """Bars averaged in the Corwin-Schultz spread estimate."""
    vol_window: Annotated[int, msgspec.Meta(ge=2)] = 60
    """Bars in the volatility and average-volume estimates used for impact."""
    maker_fee: _Fee = 0.0025
    """Default maker rate: Kraken's base tier (0.25 %, < $10k 30-day volume)."""
    taker_fee: _Fee = 0.0040
    """Default taker rate: Kraken's base tier (0.40 %)."""
    pairs: dict[str, PairFillConfig] = msgspec.field(default_factory=dict)
    """Overrides by pair name (e.g. ``"BTC/USD"``)."""

    def costs(self, pair: str) -> tuple[float, float, float]:
        """Return ``(maker_fee, taker_fee, spread)`` for ``pair``; spread NaN = estimate it.

        >>> FillConfig(pairs={"BTC/USD": PairFillConfig(spread=1e-4)}).costs("BTC/USD")
        (0.0025, 0.004, 0.0001)
        """
        p = self.pairs.get(pair) or PairFillConfig()
        return (self.maker_fee if p.maker_fee is None else p.maker_fee,
                self.taker_fee if p.taker_fee is None else p.taker_fee,
                float("nan") if p.spread is None else p.spread)
_PosInt = Annotated[int, msgspec.Meta(ge=1)]
_PosFloat = Annotated[float, msgspec.Meta(gt=0)]
_NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]


class MLConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ML pipeline (issue 6): model parameters, labels, walk-forward, gate limits, time budget.

    Gate 3 floors apply to the out-of-sample window; ``margin`` is how much worse than
    the promoted model's F1 (on the same rows) a candidate may be. Gate 4 limits apply
    to the interim risk simulation (long-only, ``risk_fraction`` of equity per entry,
    held ``horizon`` bars, ``fee_bps`` per side).
    """

    model: Literal["hgb", "logreg"] = "hgb"
    seed: int = 7
    # OpenMP threads for training; 1 by default: on a busy machine more threads spin and
    # crawl (20x slower measured on the shared 2-core box). Raise it on a dedicated host.
    train_threads: _PosInt = 1
    # gradient-boosted trees (HistGradientBoostingClassifier)
    learning_rate: _PosFloat = 0.05
    max_iter: _PosInt = 150
    max_leaf_nodes: Annotated[int, msgspec.Meta(ge=2)] = 15
    min_samples_leaf: _PosInt = 200
    l2_regularization: _NonNegFloat = 1.0
    # logistic-regression baseline
    logreg_c: _PosFloat = 1.0
    # triple-barrier labels, in bars and ATR multiples
    horizon: _PosInt = 24
    atr_period: _PosInt = 14
    take_profit_atr: _PosFloat = 2.0
    stop_loss_atr: _PosFloat = 2.0
    # walk-forward split
    n_folds: Annotated[int, msgspec.Meta(ge=0)] = 3
    oos_fraction: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.2
    embargo_bars: Annotated[int, msgspec.Meta(ge=0)] = 24
    max_rows_per_symbol: Annotated[int, msgspec.Meta(ge=0)] = 0
    # decision threshold on P(take-profit first)
    threshold: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    # gate 3: out-of-sample floors and the margin against the promoted model
    min_precision: float = 0.40
    min_precision_lift: float = 0.02  # precision must also beat the OOS base rate by this much
    min_recall: float = 0.02
    min_f1: float = 0.04
    margin: float = 0.02
    # gate 4: interim risk simulation limits
    risk_fraction: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.05
    fee_bps: _NonNegFloat = 10.0
    max_drawdown: float = 0.30
    max_turnover: float = 120.0
    max_position: float = 0.25
    # the retraining pipeline's time budget (seconds); it must end before DOWNTIME does
    budget_s: _PosFloat = 900.0


class OrdersConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The size of the orders the bot sends, in quote currency (USD), per pair.

    ``tradejet doctor`` checks it against each pair's live ``ordermin`` (base units, at the
    last price) and ``costmin``: an order below them is refused by Kraken. ``notional`` is
    the smallest order the strategies are expected to send; ``pairs`` overrides it by
    symbol (``"BTC/USD" = 50.0``).
    """

    notional: Annotated[float, msgspec.Meta(gt=0.0)] = 20.0
    pairs: dict[str, Annotated[float, msgspec.Meta(gt=0.0)]] = msgspec.field(default_factory=dict)

    def for_pair(self, symbol: str) -> tuple[float, str]:
        """Return ``(notional, config key that sets it)`` for ``symbol``.

        >>> OrdersConfig(pairs={"BTC/USD": 50.0}).for_pair("BTC/USD")
        (50.0, "orders.pairs.'BTC/USD'")
        """
        if symbol in self.pairs:
            return self.pairs[symbol], f"orders.pairs.'{symbol}'"
        return self.notional, "orders.notional"


__all__ += ["OrdersConfig"]


DEFAULT_SWING_SYMBOLS = ("SPY", "QQQ", "IWM", "DIA", "VTI", "IEF", "GLD", "VNQ", "AAPL", "MSFT")


class SwingConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The US equity swing system (``system = "swing"``): daily bars, scale-in pullback entries.

    Defaults and why:

    - Trend: ``close > SMA(sma_trend=200)`` and ``SMA(sma_mid=50) > SMA(200)``: the usual
      long-term uptrend test on daily bars (about a trading year and a quarter).
    - Pullback: ``RSI(rsi_period=2) < rsi_entry=10`` or a close under the lower Bollinger
      band (``bb_period=20``, ``bb_nbdev=2``): a 2-period RSI under 10 is the classic
      short-term oversold reading inside an uptrend (Connors); the band catches slower
      pullbacks the 2-day RSI misses.
    - Scale-in: ``tranches=3`` of 40/30/30 % of the symbol allocation (the first tranche the
      largest, so a trade that resolves at once still matters); a further tranche only after
      the close is ``scale_atr=1.0`` ATR (``atr_period=14``, the ATR at the first entry)
      below the last fill: one daily ATR is about a normal day's range, so a tranche
      is added on a real further decline, not on noise.
    - Exits: the pullback resolved (``close > SMA(sma_exit=5)`` or ``RSI(2) > rsi_exit=70``:
      mean reversion done); a stop ``stop_atr=3.0`` ATRs under the average price (wider than
      the two ATRs the scale-in spans, so the last tranche is not stopped at once); a time
      stop after ``max_hold_bars=10`` bars (two weeks: a pullback that has not resolved by
      then has failed).
    - Portfolio: ``max_open_symbols=5`` with ``max_symbol_allocation=0.20`` of equity each:
      five full positions use the whole cash and never more (cash only, no margin:
      ``cash_only=true`` ignores whatever buying power the broker offers). For the swing
      system these replace ``[risk]``'s per-pair caps (``max_pair_share`` and
      ``max_strategy_pair_share`` = ``max_symbol_allocation``, top three = 3x it) and its
      drawdown breaker; ``[risk] max_pair_notional`` still applies.
      ``max_drawdown=0.25``: the drawdown breaker halts new entries (exits continue) until
      an operator resets it; equities swing wider than the crypto default of 15 % allows.
    - ``commission=0``: Alpaca charges none. ``spread=0.0005`` (5 bp full spread, 2.5 bp a
      side, for every symbol without its own ``[fills.pairs]`` spread): a conservative
      allowance for liquid US ETFs and large caps (SPY quotes about 1 bp). ``None`` estimates
      it from the bars (Corwin-Schultz), which on daily bars reads volatility as spread
      (about 20 bp a side measured on SPY, 2000-2020) and is far too pessimistic here.
    - ML guard: entries (and scale-ins) need the promoted swing model's probability
      ``>= ml_threshold=0.5`` (the model's own decision threshold). No promoted model, a
      model refused at load (integrity), a feature row outside the model's reference
      ranges (widened by ``feature_margin=0.10`` of each range), or score drift (PSI over
      ``psi_bins=10`` bins of the last ``psi_window=250`` scores against the model's
      reference window above ``psi_max=0.25``, the usual "significant shift" level) ->
      ``ml_fallback``: ``block`` (no entries; the default, the safe one) or ``rules-only``.
      ``ml_enabled=false`` trades the rules alone. Features are computed over the last
      ``feature_window=250`` bars of each symbol (the same way in backtest and paper/live).
    - ``scale_backfilled=false``: positions adopted from the broker on start are managed by
      the exits only.
    """

    symbols: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_SWING_SYMBOLS))
    sma_trend: Annotated[int, msgspec.Meta(ge=2)] = 200
    sma_mid: Annotated[int, msgspec.Meta(ge=2)] = 50
    sma_exit: Annotated[int, msgspec.Meta(ge=2)] = 5
    rsi_period: Annotated[int, msgspec.Meta(ge=2)] = 2
    rsi_entry: Annotated[float, msgspec.Meta(ge=1.0, le=50.0)] = 10.0
    rsi_exit: Annotated[float, msgspec.Meta(ge=50.0, le=99.0)] = 70.0
    use_bbands: bool = True
    bb_period: Annotated[int, msgspec.Meta(ge=2)] = 20
    bb_nbdev: Annotated[float, msgspec.Meta(gt=0.0)] = 2.0
    atr_period: Annotated[int, msgspec.Meta(ge=2)] = 14
    tranches: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    tranche_sizes: list[Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]] | None = None
    scale_atr: Annotated[float, msgspec.Meta(ge=0.05, le=20.0)] = 1.0
    stop_atr: Annotated[float, msgspec.Meta(gt=0.0)] | None = 3.0
    max_hold_bars: Annotated[int, msgspec.Meta(ge=1)] | None = 10
    max_open_symbols: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    max_symbol_allocation: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.20
    cash_only: bool = True
    max_drawdown: _Share = 0.25
    commission: Annotated[float, msgspec.Meta(ge=0.0, lt=0.1)] = 0.0
    spread: Annotated[float, msgspec.Meta(ge=0.0, lt=0.5)] | None = 0.0005
    scale_backfilled: bool = False
    ml_enabled: bool = True
    ml_threshold: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.5
    ml_fallback: Literal["block", "rules-only"] = "block"
    feature_margin: Annotated[float, msgspec.Meta(ge=0.0)] = 0.10
    feature_window: Annotated[int, msgspec.Meta(ge=50)] = 250
    psi_max: Annotated[float, msgspec.Meta(gt=0.0)] = 0.25
    psi_bins: Annotated[int, msgspec.Meta(ge=2, le=100)] = 10
    psi_window: Annotated[int, msgspec.Meta(ge=20)] = 250
    synthetic_years: Annotated[float, msgspec.Meta(ge=1.0, le=100.0)] = 8.0
    """Length of the seeded synthetic daily equity market (``tradejet backtest --system swing`` without --data)."""

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("symbols must list at least one symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols lists a symbol twice: {self.symbols}")
        if not self.sma_mid < self.sma_trend:
            raise ValueError(f"sma_mid ({self.sma_mid}) must be shorter than sma_trend ({self.sma_trend})")
        if self.tranche_sizes is not None:
            if len(self.tranche_sizes) != self.tranches:
                raise ValueError(f"tranche_sizes has {len(self.tranche_sizes)} values but tranches is {self.tranches}")
            if sum(self.tranche_sizes) > 1.0 + 1e-9:
                raise ValueError(f"tranche_sizes must sum to <= 1 (of the symbol allocation), was "
                                 f"{sum(self.tranche_sizes):.6g}")
        if self.max_open_symbols * self.max_symbol_allocation > 1.0 + 1e-9 and self.cash_only:
            raise ValueError(f"max_open_symbols x max_symbol_allocation = "
                             f"{self.max_open_symbols * self.max_symbol_allocation:.6g} > 1: more than the cash "
                             f"(cash_only)")


class LiveConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``tradejet live``: where it trades and the limits it enforces on top of [risk]."""

    i_understand_real_money: bool = False
    """The config equivalent of ``--i-understand-real-money``."""
    base_url: str = "https://api.kraken.com"
    ws_public: str | None = None
    """WebSocket v2 URL for market data (default: Kraken's, or REST port + 1 on 127.0.0.1)."""
    ws_private: str | None = None
    max_order_notional: Annotated[float, msgspec.Meta(gt=0.0)] = 1_000.0
    """An order worth more than this (quote currency, at the limit or last price) is refused."""
    max_daily_loss: Annotated[float, msgspec.Meta(gt=0.0)] = 500.0
    """Equity down this much since the UTC day began: no new buys until the next day."""
    kill_switch_file: str | None = None
    """When this file appears, all orders are cancelled and the run stops."""
    dead_mans_switch_s: Annotated[int, msgspec.Meta(ge=15, le=86400)] = 60
    """CancelAllOrdersAfter timeout, re-armed every third of it while the run is alive."""
    tier: Literal["starter", "intermediate", "pro"] = "starter"
    """The account's Kraken verification tier (its rate limits)."""


class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The root configuration."""

    system: Literal["crypto", "swing"] = "crypto"
    deployment_env: Literal["backtest", "paper", "live"] = "paper"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    home: str | None = None
    universe: UniverseConfig = msgspec.field(default_factory=UniverseConfig)
    schedule: ScheduleConfig = msgspec.field(default_factory=ScheduleConfig)
    selector: SelectorConfig = msgspec.field(default_factory=SelectorConfig)
    risk: RiskConfig = msgspec.field(default_factory=RiskConfig)
    fills: FillConfig = msgspec.field(default_factory=FillConfig)
    ml: MLConfig = msgspec.field(default_factory=MLConfig)
    indicators: IndicatorsConfig = msgspec.field(default_factory=IndicatorsConfig)
    regime: RegimeConfig = msgspec.field(default_factory=RegimeConfig)
    strategies: StrategiesConfig = msgspec.field(default_factory=StrategiesConfig)
    backtest: BacktestConfig = msgspec.field(default_factory=BacktestConfig)
    orders: OrdersConfig = msgspec.field(default_factory=OrdersConfig)
    swing: SwingConfig = msgspec.field(default_factory=SwingConfig)
    live: LiveConfig = msgspec.field(default_factory=LiveConfig)


def tradejet_home(env: Mapping[str, str] | None = None) -> Path:
    """Return ``$TRADEJET_HOME``, default ``~/.tradejet``.

    >>> tradejet_home({"TRADEJET_HOME": "/tmp/tj"}).as_posix()
    '/tmp/tj'
    """
    env = os.environ if env is None else env
    home = env.get("TRADEJET_HOME")
    return Path(home).expanduser() if home else Path("~/.tradejet").expanduser()


def default_store_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return the default bar store, ``$TRADEJET_HOME/data``."""
    return tradejet_home(env) / "data"


_PATH_RE = re.compile(r"at `\$\.?([^`]*)`")


def _convert(raw: dict[str, Any], source: str) -> Config:
    try:
        return msgspec.convert(raw, Config)
    except msgspec.ValidationError as e:
        msg = str(e)
        m = _PATH_RE.search(msg)
        key = m.group(1) if m else None
        if key is None and "unknown field" in msg:
            key = msg.split("`")[1] if "`" in msg else None
        raise ConfigError(msg.split(" - at ")[0], key=key, source=source) from None


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load a :class:`Config` from a TOML file and the environment.

    >>> load_config(env={"LOG_LEVEL": "DEBUG"}).log_level
    'DEBUG'
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_bytes()
        except OSError as e:
            raise ConfigError(f"cannot read config: {e.strerror}", source=source) from None
        try:
            raw = msgspec.toml.decode(text)
        except msgspec.DecodeError as e:
            raise ConfigError(f"not valid TOML: {e}", source=source) from None
    for env_key, field in _ENV_KEYS.items():
        if env.get(env_key):
            raw[field] = env[env_key]
            source = f"{source} + ${env_key}" if path is None else source
    return _convert(raw, source)
