"""Gate 4 of the model pipeline run on the engine itself: a backtest of ``ml_signal`` with the candidate.

The models layer may not import the engine (layering), so the caller (the CLI, the
retraining scheduler, an embedding bot) hands :func:`ml_signal_backtest` to
:func:`tradejet.models.gates.run_gates` / :func:`tradejet.models.pipeline.run_retraining`
as ``risk_backtest``. It rebuilds the out-of-sample window's bars from the candidate's
validation rows (``ts``, ``sym``, ``open``, ``high``, ``low``, ``close``, ``volume``),
pivots the candidate's probabilities into the ``scores`` matrix the compiled driver takes,
and runs :func:`tradejet.engine.simulate.run` with a config in which ``ml_signal`` holds
all the capital in RISK_ON, NEUTRAL and RISK_OFF (PANIC stays ``defensive``, which
flattens everything, as it would live) and enters at the manifest's threshold. Every other
part of the system is the one that would trade: the fill model with its fees, spread and
participation cap, the risk limits and the drawdown breaker, the downtime schedule.

The numbers keep the names of the interim simulation: ``max_drawdown`` (a positive
fraction), ``turnover_per_year`` (traded notional over mean equity, per year),
``max_position`` (the largest single position's value over equity at any bar's close),
``entries``, ``final_equity`` (per unit of starting cash), ``years``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from tradejet.config import Config, StrategyShare
from tradejet.errors import DataError
from tradejet.kernels.codes import Side

__all__ = ["ml_signal_backtest", "bars_from_rows", "REQUIRED_ROWS"]

REQUIRED_ROWS = ("ts", "sym", "open", "high", "low", "close", "volume", "symbols")


def bars_from_rows(rows: dict[str, np.ndarray], values: np.ndarray):
    """Pivot per-row arrays (rows of many symbols) into bars x symbols; return ``(MarketBars, values matrix)``."""
    from tradejet.engine.simulate import MarketBars

    missing = [k for k in REQUIRED_ROWS if k not in rows]
    if missing:
        raise DataError(f"validation rows lack {', '.join(missing)}: re-train to store the out-of-sample bars")
    ts = np.asarray(rows["ts"], np.int64)
    sym = np.asarray(rows["sym"], np.int64)
    symbols = [str(s) for s in rows["symbols"]]
    if len(values) != len(ts):
        raise DataError(f"{len(values)} scores for {len(ts)} validation rows")
    if len(ts) and (sym.min() < 0 or sym.max() >= len(symbols)):
        raise DataError(f"symbol index out of range 0..{len(symbols) - 1} in the validation rows")
    times = np.unique(ts)
    if times.size < 2:
        raise DataError(f"the out-of-sample window holds {times.size} distinct bar times; a backtest needs 2")
    step = np.diff(times)
    timeframe_ns = int(np.min(step))
    ti = np.searchsorted(times, ts)
    T, n = times.size, len(symbols)
    mats = {}
    for k in ("open", "high", "low", "close", "volume"):
        m = np.full((T, n), np.nan)
        m[ti, sym] = np.asarray(rows[k], np.float64)
        mats[k] = m
    sc = np.full((T, n), np.nan)
    sc[ti, sym] = np.asarray(values, np.float64)
    bars = MarketBars(symbols=symbols, ts=times, timeframe_ns=timeframe_ns, source="validation rows", **mats)
    return bars, sc


def _gate_config(base: Config, threshold: float) -> Config:
    only_ml = [StrategyShare(strategy="ml_signal", share=1.0)]
    selector = msgspec.structs.replace(base.selector, risk_on=only_ml, neutral=list(only_ml), risk_off=list(only_ml))
    ml_params = dict(base.strategies.ml_signal)
    ml_params["enter_threshold"] = float(threshold)
    ml_params["exit_threshold"] = float(min(ml_params.get("exit_threshold", 0.45), threshold))
    strategies = msgspec.structs.replace(base.strategies, ml_signal=ml_params)
    # validate the whole thing the way a loaded config is validated (bad overrides are named)
    raw = msgspec.to_builtins(msgspec.structs.replace(base, system="crypto", selector=selector, strategies=strategies))
    return msgspec.convert(raw, Config)


def ml_signal_backtest(rows: dict[str, np.ndarray], proba: np.ndarray, threshold: float, ml_cfg: Any = None,
                       config: Config | None = None) -> dict[str, float]:
    """Backtest ``ml_signal`` on the out-of-sample rows with the candidate's ``proba``; return gate-4 numbers."""
    from tradejet.engine.simulate import _ffill, run

    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), was {threshold}")
    base = config or Config()
    bars, scores = bars_from_rows(rows, proba)
    res = run(bars, _gate_config(base, threshold), scores=scores)
    equity = res.equity
    start = base.backtest.initial_cash
    peak = np.maximum.accumulate(np.concatenate(([start], equity)))[1:]
    dd = float(np.max(1.0 - equity / peak)) if equity.size else 0.0
    f = res.fills
    # positions per bar from the fills (booked at their bar), marked at the close (forward-filled)
    T, n = bars.close.shape
    signed = np.where(f["side"] == Side.BUY, f["qty"], -f["qty"]) if f["qty"].size else np.zeros(0)
    dq = np.zeros((T, n))
    np.add.at(dq, (f["bar"], f["pair"]), signed)
    qty = np.cumsum(dq, axis=0)
    close = np.column_stack([_ffill(bars.close[:, j]) for j in range(n)]) if n else bars.close
    value = np.abs(qty) * np.nan_to_num(close)
    safe = np.where(equity > 0, equity, np.nan)
    max_position = float(np.nanmax(value / safe[:, None])) if T and n else 0.0
    years = (float(bars.ts[-1]) - float(bars.ts[0]) + bars.timeframe_ns) / (365.25 * 86400e9)
    notional = float(np.sum(f["qty"] * f["price"]))
    turnover = notional / float(np.mean(equity)) if equity.size and np.mean(equity) > 0 else 0.0
    entries = int(np.sum(f["side"] == Side.BUY)) if f["side"].size else 0
    return {"final_equity": float(equity[-1] / start), "max_drawdown": dd, "turnover": turnover,
            "turnover_per_year": turnover / years if years > 0 else 0.0, "max_position": max_position,
            "entries": float(entries), "fills": float(f["qty"].size), "trades": float(res.metrics.get("trades", 0)),
            "fees": float(res.metrics.get("fees", 0.0)) / start, "bars": float(T), "years": years}
