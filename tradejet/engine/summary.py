"""Turn a :class:`~tradejet.engine.simulate.BacktestResult` into the report's structs."""

from __future__ import annotations

import math

import msgspec
import numpy as np

from tradejet.config import Config
from tradejet.engine.report import BacktestReport, ReportSeries, RunFigures, TradeTable
from tradejet.kernels.codes import REJECT_TEXT, Reject

__all__ = ["to_report"]


def _clean(d: dict) -> dict:
    """JSON-safe metric values: NaN -> None, inf -> None (with the key kept)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _clean(v)
        elif isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


def to_report(res, cfg: Config, *, title: str) -> tuple[BacktestReport, ReportSeries]:
    """Return ``(report.json struct, chart series)`` for one backtest result."""
    proxy = res.symbols.index(res.proxy)
    warnings = list(res.warnings)
    breaker = res.orders["code"] == Reject.BREAKER
    if breaker.any():
        first = int(res.orders["bar"][np.argmax(breaker)])
        warnings.append(f"{REJECT_TEXT[Reject.BREAKER]}: first entry refused at bar {first} "
                        f"({int(breaker.sum())} entries refused in all; reset it to trade again)")
    if res.trades["open_positions"]:
        warnings.append(f"{res.trades['open_positions']} positions still open at the end (valued at the last close)")
    report = BacktestReport(
        title=title, system=cfg.system, start_ts=int(res.ts[0]), end_ts=int(res.ts[-1]), symbols=list(res.symbols),
        metrics=_clean(res.metrics),
        run=RunFigures(bars=res.bars, symbols=len(res.symbols), elapsed_s=res.elapsed_s, compile_s=res.compile_s,
                       prepare_s=getattr(res, "prepare_s", 0.0),
                       bar_steps_per_s=res.bar_steps_per_s if math.isfinite(res.bar_steps_per_s) else 0.0),
        config=msgspec.to_builtins(cfg), by_strategy=_clean(res.by_strategy), by_pair=_clean(res.by_pair),
        by_regime=_clean(res.by_regime), warnings=warnings,
        extra=_clean({"env": cfg.deployment_env, **getattr(res, "extra", {})}) if cfg.system == "swing" else {})
    price = res.close_proxy if hasattr(res, "close_proxy") else None
    if price is None:
        price = np.full(res.ts.shape[0], np.nan)
    tr = res.trades
    trades = TradeTable(entry_ts=tr["entry_ts"], exit_ts=tr["exit_ts"], symbol=tr["symbol"], side=tr["side"],
                        qty=tr["qty"], entry_price=tr["entry_price"], exit_price=tr["exit_price"], pnl=tr["pnl"],
                        fees=tr["fees"], strategy=tr["strategy"], regime=tr["regime"])
    risk = risk_series = None
    if getattr(res, "close", None) is not None:
        from tradejet.engine.riskview import portfolio_risk

        risk, risk_series = portfolio_risk(res, cfg)
        report = msgspec.structs.replace(report, portfolio_risk=risk)
    series = ReportSeries(ts=res.ts, equity=res.equity, price=price, regime=res.regime.astype(np.int8),
                          proxy_symbol=res.proxy, cash=res.cash, trades=trades, risk=risk_series)
    _ = proxy
    return report, series
