"""The backtest report: ``report.json``, ``trades.parquet``, ``equity.parquet``,
``report.html`` (one self-contained file, charts as inline SVG, no network) and
``equity.png``.

Everything is written into a temporary sibling folder and renamed into place at the
end, so a run that fails or is killed never leaves a half-written report.

>>> import numpy as np, tempfile, pathlib
>>> ts = np.arange(100, dtype=np.int64) * 3_600_000_000_000
>>> series = ReportSeries(ts=ts, equity=10_000 + np.arange(100.0), price=100 + np.arange(100.0),
...                       regime=np.zeros(100, np.int8), proxy_symbol="BTC/USD")
>>> rep = BacktestReport(title="demo", system="crypto", start_ts=int(ts[0]), end_ts=int(ts[-1]),
...                      symbols=["BTC/USD"], metrics={"total_return": 0.0099},
...                      run=RunFigures(bars=100, symbols=1, elapsed_s=0.1, compile_s=0.0, bar_steps_per_s=1000.0))
>>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "run", rep, series, png=False)
>>> sorted(p.name for p in out.iterdir())
['equity.parquet', 'report.html', 'report.json', 'trades.parquet']
"""

from __future__ import annotations

import html
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from tradejet.errors import ConfigError, DataError
from tradejet.kernels.codes import REGIME_TEXT

__all__ = ["RunFigures", "BacktestReport", "ReportSeries", "TradeTable", "write_report", "report_schema",
           "PortfolioRisk", "RiskSeries"]

REGIME_COLOURS = ("#d8f0d8", "#eeeeee", "#fde2c8", "#f8c8c8")  # RISK_ON, NEUTRAL, RISK_OFF, PANIC
MAX_POINTS = 1500


class RunFigures(msgspec.Struct, kw_only=True):
    """The run's own figures."""

    bars: int
    symbols: int
    elapsed_s: float
    compile_s: float
    bar_steps_per_s: float
    prepare_s: float = 0.0  # before the loop, not in elapsed_s: the fill model's bar context, the buffers


class PortfolioRisk(msgspec.Struct, kw_only=True):
    """``report.json``'s ``portfolio_risk``: shares are of equity, VaR/CVaR are losses (positive)."""

    level: float
    horizon_bars: int
    bars_at_risk: int                  # bars holding a position with a known volatility
    breaches: int                      # next-bar loss > ex-ante one-bar VaR
    expected_breaches: float
    kupiec_lr: float | None
    kupiec_p: float | None
    cvar_breach_loss: float | None     # mean loss share in the breaches (the CVaR's realised counterpart)
    mean_cvar: float | None            # mean ex-ante one-bar CVaR share over the breaches
    held_book_breaches: int            # loss of the book held over the next bar (at closes) > its VaR
    held_book_kupiec_p: float | None
    worst_day_loss: float | None       # largest loss over ``horizon_bars`` consecutive bars (non-overlapping blocks)
    mean_var: float | None             # mean ex-ante one-bar VaR share over bars at risk
    max_var: float | None
    symbols: list[str]
    correlation: list[list[float | None]]
    contribution_pair: dict[str, float]
    contribution_strategy: dict[str, float]
    limits: dict[str, float | bool | None]
    refused: dict[str, int]            # entries the portfolio limits refused, by reason


@dataclass
class RiskSeries:
    """Per-bar shares of equity for the chart: ex-ante one-bar VaR and CVaR, the next bar's loss."""

    var: np.ndarray
    cvar: np.ndarray
    loss: np.ndarray


class BacktestReport(msgspec.Struct, kw_only=True):
    """``report.json``: every metric, the config and the run's figures (schema: :func:`report_schema`)."""

    title: str
    system: str
    start_ts: int
    end_ts: int
    symbols: list[str]
    metrics: dict[str, float | int | None]
    run: RunFigures
    schema_version: int = 1
    created_utc: str = ""
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    by_strategy: dict[str, dict[str, float | int | None]] = msgspec.field(default_factory=dict)
    by_pair: dict[str, dict[str, float | int | None]] = msgspec.field(default_factory=dict)
    by_regime: dict[str, dict[str, float | int | None]] = msgspec.field(default_factory=dict)
    warnings: list[str] = msgspec.field(default_factory=list)
    extra: dict[str, Any] = msgspec.field(default_factory=dict)
    """System-specific sections (swing: ``env``, ``tranches``, ``ml_guard``)."""
    portfolio_risk: PortfolioRisk | None = None


@dataclass
class TradeTable:
    """Closed trades as columns (one row a round trip)."""

    entry_ts: np.ndarray
    exit_ts: np.ndarray
    symbol: list[str]
    side: np.ndarray
    qty: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    pnl: np.ndarray
    fees: np.ndarray
    strategy: list[str]
    regime: list[str]

    @classmethod
    def empty(cls) -> TradeTable:
        z = np.empty(0)
        zi = np.empty(0, np.int64)
        return cls(zi, zi, [], zi, z, z, z, z, z, [], [])

    def __len__(self) -> int:
        return int(self.entry_ts.shape[0])


@dataclass
class ReportSeries:
    """Per-bar series for the charts and ``equity.parquet``."""

    ts: np.ndarray            # int64 ns UTC, one per bar
    equity: np.ndarray        # float64
    price: np.ndarray         # float64, the regime proxy's close
    regime: np.ndarray        # int8 codes (kernels.codes.Regime)
    proxy_symbol: str
    cash: np.ndarray | None = None
    trades: TradeTable = field(default_factory=TradeTable.empty)
    risk: RiskSeries | None = None


def report_schema() -> dict[str, Any]:
    """Return the JSON schema of ``report.json``."""
    return msgspec.json.schema(BacktestReport)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------
def _check(series: ReportSeries) -> None:
    n = series.ts.shape[0]
    if n < 2:
        raise DataError(f"a report needs at least 2 bars, got {n}")
    for name in ("equity", "price", "regime"):
        a = getattr(series, name)
        if a.shape[0] != n:
            raise DataError(f"report series {name} has {a.shape[0]} rows for {n} timestamps")
    if np.any(np.diff(series.ts) <= 0):
        raise DataError("report timestamps must increase")
    if series.regime.size and (series.regime.min() < 0 or series.regime.max() >= len(REGIME_TEXT)):
        raise DataError(f"regime codes must be in 0..{len(REGIME_TEXT) - 1}")
    if not np.all(np.isfinite(series.equity)):
        raise DataError(f"equity has a non-finite value at bar {int(np.flatnonzero(~np.isfinite(series.equity))[0])}")


def write_report(out_dir: str | os.PathLike[str], report: BacktestReport, series: ReportSeries, *,
                 png: bool = True) -> Path:
    """Write the whole report into ``out_dir`` (which must not exist or be empty); return it."""
    _check(series)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError("output folder exists and is not empty; choose another --out", key="out",
                          source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{time.time_ns()}")
    tmp.mkdir()
    try:
        if not report.created_utc:
            report = msgspec.structs.replace(
                report, created_utc=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        (tmp / "report.json").write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2))
        _write_parquet(tmp, series)
        (tmp / "report.html").write_text(render_html(report, series), encoding="utf-8")
        if png:
            _write_png(tmp / "equity.png", series, report.title)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if out.exists():
            out.rmdir()
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _write_parquet(folder: Path, s: ReportSeries) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts_type = pa.timestamp("ns", tz="UTC")
    cols = {
        "ts": pa.array(s.ts, ts_type),
        "equity": pa.array(s.equity),
        "price": pa.array(s.price),
        "regime": pa.DictionaryArray.from_arrays(pa.array(s.regime.astype(np.int8)), pa.array(list(REGIME_TEXT))),
    }
    if s.cash is not None:
        cols["cash"] = pa.array(s.cash)
    pq.write_table(pa.table(cols), folder / "equity.parquet", compression="zstd")
    t = s.trades
    pq.write_table(pa.table({
        "entry_ts": pa.array(t.entry_ts, ts_type), "exit_ts": pa.array(t.exit_ts, ts_type),
        "symbol": pa.array(t.symbol, pa.string()), "side": pa.array(t.side, pa.int8()),
        "qty": pa.array(t.qty, pa.float64()), "entry_price": pa.array(t.entry_price, pa.float64()),
        "exit_price": pa.array(t.exit_price, pa.float64()), "pnl": pa.array(t.pnl, pa.float64()),
        "fees": pa.array(t.fees, pa.float64()), "strategy": pa.array(t.strategy, pa.string()),
        "regime": pa.array(t.regime, pa.string()),
    }), folder / "trades.parquet", compression="zstd")


def _write_png(path: Path, s: ReportSeries, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    idx = _downsample_index(s.equity, MAX_POINTS * 2)
    when = (s.ts[idx] // 1_000_000_000).astype("datetime64[s]")
    eq = s.equity[idx]
    dd = _drawdown(s.equity)[idx]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    try:
        ax1.plot(when, eq, color="#1f5fa8", lw=1.2)
        ax1.set_title(title)
        ax1.set_ylabel("equity")
        ax1.grid(alpha=0.3)
        ax2.fill_between(when, dd * 100, 0, color="#c0392b", alpha=0.5, lw=0)
        ax2.set_ylabel("drawdown %")
        ax2.grid(alpha=0.3)
        ax2.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax2.xaxis.get_major_locator()))
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------------
# Chart helpers (inline SVG)
# ---------------------------------------------------------------------------------------
def _drawdown(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, 0.0)


def _downsample_index(y: np.ndarray, max_points: int) -> np.ndarray:
    """Indices keeping first, last, and each bucket's min and max (the line's envelope)."""
    n = y.shape[0]
    if n <= max_points:
        return np.arange(n)
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep = [0, n - 1]
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            seg = y[a:b]
            keep += [a + int(np.argmin(seg)), a + int(np.argmax(seg))]
    return np.unique(np.asarray(keep, dtype=np.int64))


def _nice_ticks(lo: float, hi: float, k: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / k
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:,.2f}"
    return f"{v:.4g}"


def _date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d")


class _Frame:
    """Maps data to pixels inside a chart's plotting area."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float, w: int = 960, h: int = 260,
                 pad: tuple[int, int, int, int] = (10, 20, 30, 70)):
        self.w, self.h = w, h
        self.top, self.right, self.bottom, self.left = pad
        self.x0, self.x1 = x0, x1 if x1 > x0 else x0 + 1
        span = (y1 - y0) or (abs(y0) * 0.01 or 1.0)
        self.y0, self.y1 = y0 - 0.05 * span, y1 + 0.05 * span

    def x(self, v: np.ndarray | float) -> np.ndarray | float:
        return self.left + (v - self.x0) / (self.x1 - self.x0) * (self.w - self.left - self.right)

    def y(self, v: np.ndarray | float) -> np.ndarray | float:
        return self.h - self.bottom - (v - self.y0) / (self.y1 - self.y0) * (self.h - self.top - self.bottom)

    def axes(self, ts: np.ndarray) -> list[str]:
        parts = []
        for t in _nice_ticks(self.y0, self.y1):
            y = self.y(t)
            parts.append(f'<line class="grid" x1="{self.left}" x2="{self.w - self.right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                         f'<text class="tick" x="{self.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
        for k, i in enumerate(np.linspace(0, ts.shape[0] - 1, 6).astype(int)):
            x = self.x(float(ts[i]))
            anchor = "start" if k == 0 else "end" if k == 5 else "middle"
            parts.append(f'<text class="tick" x="{x:.1f}" y="{self.h - self.bottom + 18}" '
                         f'text-anchor="{anchor}">{_date(int(ts[i]))}</text>')
        return parts


def _polyline(fr: _Frame, xs: np.ndarray, ys: np.ndarray, cls: str) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(fr.x(xs), fr.y(ys)))
    return f'<polyline class="{cls}" points="{pts}"/>'


def _svg(fr: _Frame, body: Sequence[str], label: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {fr.w} {fr.h}" role="img" aria-label="{html.escape(label)}" '
            f'data-chart="{html.escape(label)}">' + "".join(body) + "</svg>")


def _equity_chart(s: ReportSeries) -> str:
    idx = _downsample_index(s.equity, MAX_POINTS)
    ts = s.ts.astype(np.float64)
    fr = _Frame(ts[0], ts[-1], float(np.min(s.equity)), float(np.max(s.equity)))
    body = fr.axes(s.ts) + [_polyline(fr, ts[idx], s.equity[idx], "equity")]
    t = s.trades
    if len(t):
        pos = np.clip(np.searchsorted(s.ts, t.exit_ts), 0, s.ts.shape[0] - 1)
        for k in np.linspace(0, len(t) - 1, min(len(t), 400)).astype(int):
            cls = "win" if t.pnl[k] > 0 else "loss"
            x, y = fr.x(ts[pos[k]]), fr.y(s.equity[pos[k]])
            body.append(f'<circle class="trade {cls}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                        f'<title>{html.escape(t.symbol[k])} {html.escape(t.strategy[k])}: '
                        f'{_fmt(float(t.pnl[k]))}</title></circle>')
    return _svg(fr, body, "equity")


def _drawdown_chart(s: ReportSeries) -> str:
    dd = _drawdown(s.equity) * 100
    idx = _downsample_index(dd, MAX_POINTS)
    ts = s.ts.astype(np.float64)
    fr = _Frame(ts[0], ts[-1], float(np.min(dd)), 0.0, h=160)
    xs, ys = fr.x(ts[idx]), fr.y(dd[idx])
    base = fr.y(0.0)
    pts = f"{xs[0]:.1f},{base:.1f} " + " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys)) + f" {xs[-1]:.1f},{base:.1f}"
    return _svg(fr, fr.axes(s.ts) + [f'<polygon class="drawdown" points="{pts}"/>'], "drawdown")


def _regime_chart(s: ReportSeries) -> str:
    ts = s.ts.astype(np.float64)
    fr = _Frame(ts[0], ts[-1], float(np.min(s.price)), float(np.max(s.price)))
    body = []
    change = np.flatnonzero(np.diff(s.regime.astype(np.int64))) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [s.ts.shape[0] - 1]])
    top, bottom = fr.top, fr.h - fr.bottom
    for a, b in zip(starts, ends):
        r = int(s.regime[a])
        if not 0 <= r < len(REGIME_COLOURS):
            continue
        x0, x1 = fr.x(ts[a]), fr.x(ts[b])
        body.append(f'<rect class="regime r{r}" x="{x0:.1f}" y="{top}" width="{max(x1 - x0, 0.5):.1f}" '
                    f'height="{bottom - top}" fill="{REGIME_COLOURS[r]}"><title>{REGIME_TEXT[r]}</title></rect>')
    idx = _downsample_index(s.price, MAX_POINTS)
    body += fr.axes(s.ts) + [_polyline(fr, ts[idx], s.price[idx], "price")]
    t = s.trades
    mine = [k for k in range(len(t)) if t.symbol[k] == s.proxy_symbol]
    for k in mine[:: max(1, len(mine) // 300)]:
        for when, px, cls in ((t.entry_ts[k], t.entry_price[k], "entry"), (t.exit_ts[k], t.exit_price[k], "exit")):
            x, y = fr.x(float(when)), fr.y(float(px))
            d = f"M{x:.1f},{y - 5:.1f} l4,7 l-8,0 z" if cls == "entry" else f"M{x:.1f},{y + 5:.1f} l4,-7 l-8,0 z"
            body.append(f'<path class="marker {cls}" d="{d}"/>')
    legend = "".join(f'<span class="swatch" style="background:{c}"></span>{REGIME_TEXT[i]} '
                     for i, c in enumerate(REGIME_COLOURS))
    return _svg(fr, body, f"regimes under {s.proxy_symbol}") + f'<div class="legend">{legend}</div>'


def _bar_chart(values: Mapping[str, float], label: str) -> str:
    items = [(k, float(v)) for k, v in values.items() if v is not None and math.isfinite(float(v))]
    if not items:
        return f'<p class="empty">no {html.escape(label)} to show</p>'
    h = 40 + 26 * len(items)
    lo, hi = min(0.0, *(v for _, v in items)), max(0.0, *(v for _, v in items))
    fr = _Frame(lo, hi if hi > lo else lo + 1, 0, 1, h=h, pad=(10, 80, 10, 150))
    body = []
    zero = fr.left + (0 - fr.x0) / (fr.x1 - fr.x0) * (fr.w - fr.left - fr.right)
    for i, (k, v) in enumerate(items):
        y = 15 + 26 * i
        x = fr.left + (v - fr.x0) / (fr.x1 - fr.x0) * (fr.w - fr.left - fr.right)
        cls = "pos" if v >= 0 else "neg"
        body.append(f'<text class="tick" x="{fr.left - 8}" y="{y + 14}" text-anchor="end">{html.escape(k)}</text>'
                    f'<rect class="bar {cls}" x="{min(x, zero):.1f}" y="{y}" width="{max(abs(x - zero), 1):.1f}" '
                    f'height="18"><title>{html.escape(k)}: {_fmt(v)}</title></rect>'
                    f'<text class="tick" x="{max(x, zero) + 6:.1f}" y="{y + 14}">{_fmt(v)}</text>')
    body.append(f'<line class="axis" x1="{zero:.1f}" x2="{zero:.1f}" y1="5" y2="{h - 5}"/>')
    return _svg(fr, body, label)


_METRIC_FORMAT = {  # metric -> (label, kind)
    "total_return": ("Total return", "pct"), "cagr": ("CAGR", "pct"), "volatility": ("Volatility (ann.)", "pct"),
    "sharpe": ("Sharpe", "num"), "sortino": ("Sortino", "num"), "max_drawdown": ("Max drawdown", "pct"),
    "max_drawdown_duration_days": ("Longest drawdown (days)", "num"), "calmar": ("Calmar", "num"),
    "win_rate": ("Win rate", "pct"), "profit_factor": ("Profit factor", "num"), "avg_trade": ("Average trade", "num"),
    "exposure": ("Exposure", "pct"), "turnover": ("Turnover", "num"), "fees": ("Fees paid", "num"),
    "trades": ("Trades", "int"), "final_equity": ("Final equity", "num"),
}


def _metric(name: str, v: Any) -> tuple[str, str]:
    label, kind = _METRIC_FORMAT.get(name, (name.replace("_", " "), "num"))
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return label, "n/a"
    if kind == "pct":
        return label, f"{100 * v:.2f}%"
    if kind == "int":
        return label, f"{int(v):,}"
    return label, _fmt(float(v))


def _table(rows: Mapping[str, Mapping[str, Any]], cols: Sequence[str]) -> str:
    if not rows:
        return '<p class="empty">none</p>'
    head = "".join(f"<th>{html.escape(_metric(c, 0)[0])}</th>" for c in cols)
    body = "".join("<tr><th>" + html.escape(k) + "</th>" + "".join(f"<td>{_metric(c, r.get(c))[1]}</td>" for c in cols)
                   + "</tr>" for k, r in rows.items())
    return f'<table class="grid"><tr><th></th>{head}</tr>{body}</table>'


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fafafa;color:#222}
header{background:#14213d;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.8}main{padding:12px 28px;max-width:1100px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:15px;margin:0 0 8px}.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:8px}
.kpi{background:#f4f6fa;border-radius:4px;padding:8px}.kpi b{display:block;font-size:18px}
.kpi span{font-size:12px;color:#555}svg.chart{width:100%;height:auto;display:block}
.grid line,line.grid{stroke:#eee}.tick{font-size:11px;fill:#666}polyline.equity{fill:none;stroke:#1f5fa8;stroke-width:1.5}
polyline.price{fill:none;stroke:#333;stroke-width:1}polygon.drawdown{fill:#c0392b;opacity:.5}
circle.win{fill:#27ae60}circle.loss{fill:#c0392b}path.entry{fill:#27ae60}path.exit{fill:#c0392b}
rect.bar.pos{fill:#27ae60}rect.bar.neg{fill:#c0392b}line.axis{stroke:#999}
table.grid{border-collapse:collapse;font-size:13px}table.grid td,table.grid th{border-bottom:1px solid #eee;padding:4px 10px;text-align:right}
table.grid th:first-child{text-align:left}.legend{font-size:12px;margin-top:4px}
.swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle;border:1px solid #ccc}
.warn{color:#a35200}.empty{color:#888}
"""

_KPIS = ("total_return", "cagr", "sharpe", "max_drawdown", "win_rate", "profit_factor", "trades", "fees")
_GROUP_COLS = ("pnl", "trades", "win_rate", "fees")


def _tranche_section(tr: Mapping[str, Any] | None) -> str:
    """The swing system's scale-in statistics: round trips by the number of tranches filled."""
    if not tr:
        return ""
    ks = sorted({k for d in tr["by_symbol"].values() for k in d} | set(tr["filled"]), key=int)
    head = "".join(f"<th>{html.escape(k)} tranche{'s' if k != '1' else ''}</th>" for k in ks)
    row = lambda name, d: (f"<tr><th>{html.escape(name)}</th>"  # noqa: E731
                           + "".join(f"<td>{int(d.get(k, 0)):,}</td>" for k in ks) + "</tr>")
    body = row("all", tr["filled"]) + "".join(row(sym, d) for sym, d in tr["by_symbol"].items())
    return (f'<section><h2>Scale-in tranches ({int(tr["round_trips"]):,} round trips)</h2>'
            f'<table class="grid"><tr><th></th>{head}</tr>{body}</table></section>')


def _risk_section(report: BacktestReport, s: ReportSeries) -> str:
    if report.portfolio_risk is None:
        return ""
    from tradejet.engine.riskview import risk_html

    return risk_html(report.portfolio_risk, s.ts, s.risk)


def render_html(report: BacktestReport, s: ReportSeries) -> str:
    """Return the report page as one self-contained HTML string (inline CSS and SVG, no scripts)."""
    m = report.metrics
    kpis = "".join(f'<div class="kpi"><b>{_metric(k, m.get(k))[1]}</b><span>{_metric(k, 0)[0]}</span></div>'
                   for k in _KPIS)
    rest = "".join(f"<tr><th>{html.escape(_metric(k, v)[0])}</th><td>{_metric(k, v)[1]}</td></tr>"
                   for k, v in m.items())
    run = report.run
    warnings = "".join(f'<p class="warn">{html.escape(w)}</p>' for w in report.warnings)
    pnl = lambda groups: {k: v.get("pnl") for k, v in groups.items()}  # noqa: E731
    t = s.trades
    trade_rows = "".join(
        f"<tr><th>{_date(int(t.entry_ts[k]))}</th><td>{_date(int(t.exit_ts[k]))}</td><td>{html.escape(t.symbol[k])}</td>"
        f"<td>{html.escape(t.strategy[k])}</td><td>{html.escape(t.regime[k])}</td><td>{_fmt(float(t.qty[k]))}</td>"
        f"<td>{_fmt(float(t.entry_price[k]))}</td><td>{_fmt(float(t.exit_price[k]))}</td><td>{_fmt(float(t.pnl[k]))}</td></tr>"
        for k in range(max(0, len(t) - 50), len(t)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(report.title)}</title><style>{_CSS}</style></head>
<body><header><h1>{html.escape(report.title)}</h1>
<p>{html.escape(report.system)} &middot; {len(report.symbols)} symbols &middot; {_date(report.start_ts)} to {_date(report.end_ts)}
&middot; {run.bars:,} bars in {run.elapsed_s:.2f} s ({run.bar_steps_per_s:,.0f} bar-steps/s; before the loop {run.prepare_s:.2f} s, compile {run.compile_s:.2f} s)</p></header>
<main>{warnings}
<section><div class="kpis">{kpis}</div></section>
<section><h2>Equity</h2>{_equity_chart(s)}<h2>Drawdown (%)</h2>{_drawdown_chart(s)}</section>
<section><h2>Regimes under {html.escape(s.proxy_symbol)}</h2>{_regime_chart(s)}</section>
<section><h2>P&amp;L by strategy</h2>{_bar_chart(pnl(report.by_strategy), "P&L by strategy")}
{_table(report.by_strategy, _GROUP_COLS)}</section>
<section><h2>P&amp;L by pair</h2>{_bar_chart(pnl(report.by_pair), "P&L by pair")}{_table(report.by_pair, _GROUP_COLS)}</section>
{_tranche_section(report.extra.get("tranches"))}
<section><h2>P&amp;L by regime</h2>{_bar_chart(pnl(report.by_regime), "P&L by regime")}{_table(report.by_regime, _GROUP_COLS)}</section>
{_risk_section(report, s)}
<section><h2>All metrics</h2><table class="grid">{rest}</table></section>
<section><h2>Last trades ({len(t):,} in all)</h2><table class="grid"><tr><th>entry</th><th>exit</th><th>symbol</th>
<th>strategy</th><th>regime</th><th>qty</th><th>entry price</th><th>exit price</th><th>P&amp;L</th></tr>{trade_rows}</table></section>
</main></body></html>
"""
