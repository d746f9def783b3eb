"""The walk-forward report: ``report.html`` (self-contained, like the backtest's), ``walkforward.json``, Parquet tables."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from tradejet.engine.report import _CSS, MAX_POINTS, _date, _downsample_index, _fmt, _Frame, _polyline, _svg

__all__ = ["write_walkforward", "render_walkforward"]

_EXTRA_CSS = """
rect.win{fill:#f4f6fa}circle.pt{fill:#1f5fa8}polyline.param{fill:none;stroke:#1f5fa8;stroke-width:1.5}
polyline.is{fill:none;stroke:#888;stroke-width:1.5;stroke-dasharray:4 3}polyline.oos{fill:none;stroke:#1f5fa8;stroke-width:1.5}
rect.bar.over{fill:#c0392b}rect.bar.fine{fill:#27ae60}.scroll{overflow-x:auto}.scroll td,.scroll th{white-space:nowrap}
"""


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _stitched_chart(ts: np.ndarray, equity: np.ndarray, res) -> str:
    idx = _downsample_index(equity, MAX_POINTS)
    x = ts.astype(np.float64)
    fr = _Frame(x[0], x[-1], float(np.min(equity)), float(np.max(equity)))
    body = []
    # shade every other test window
    starts = np.searchsorted(ts, _window_starts(res))
    bounds = list(starts) + [ts.shape[0] - 1]
    for k in range(len(bounds) - 1):
        if k % 2:
            x0, x1 = fr.x(x[bounds[k]]), fr.x(x[bounds[k + 1]])
            body.append(f'<rect class="win" x="{x0:.1f}" y="{fr.top}" width="{max(x1 - x0, .5):.1f}" '
                        f'height="{fr.h - fr.top - fr.bottom}"/>')
    body += fr.axes(ts) + [_polyline(fr, x[idx], equity[idx], "equity")]
    return _svg(fr, body, "stitched out-of-sample equity")


def _window_starts(res) -> list[int]:
    out, n = [], 0
    for w in res.windows:
        out.append(int(res.oos_ts[n]))
        n += w.test_end - w.test_start
    return out


def _series_chart(xs: list[int], series: list[tuple[np.ndarray, str]], label: str, h: int = 180) -> str:
    x = np.asarray(xs, np.float64)
    ys = np.concatenate([s for s, _ in series])
    ys = ys[np.isfinite(ys)]
    if x.size == 0 or ys.size == 0:
        return f'<p class="empty">no {html.escape(label)} to show</p>'
    fr = _Frame(x[0], x[-1] if x[-1] > x[0] else x[0] + 1, float(ys.min()), float(ys.max()), h=h)
    body = fr.axes(np.asarray(xs, np.int64))
    for s, cls in series:
        ok = np.isfinite(s)
        if ok.sum() >= 2:
            body.append(_polyline(fr, x[ok], s[ok], cls))
        for xi, yi in zip(x[ok], s[ok]):
            body.append(f'<circle class="pt" cx="{fr.x(xi):.1f}" cy="{fr.y(yi):.1f}" r="3">'
                        f'<title>{_fmt(float(yi))}</title></circle>')
    return _svg(fr, body, label)


def _logit_histogram(logits: np.ndarray) -> str:
    if logits.size == 0:
        return '<p class="empty">no splits</p>'
    lo, hi = float(np.floor(logits.min())), float(np.ceil(logits.max()))
    if hi <= lo:
        hi = lo + 1
    edges = np.linspace(lo, hi, 21)
    counts, _ = np.histogram(logits, edges)
    fr = _Frame(lo, hi, 0.0, float(counts.max()), h=180)
    body = []
    ymax = fr.y(0.0)
    for c, a, b in zip(counts, edges[:-1], edges[1:]):
        cls = "over" if b <= 0 else "fine"
        x0, x1 = fr.x(a), fr.x(b)
        y = fr.y(float(c))
        body.append(f'<rect class="bar {cls}" x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, .5):.1f}" '
                    f'height="{max(ymax - y, 0):.1f}"><title>[{a:.2f}, {b:.2f}): {int(c)}</title></rect>')
    z = fr.x(0.0)
    body.append(f'<line class="axis" x1="{z:.1f}" x2="{z:.1f}" y1="{fr.top}" y2="{ymax:.1f}"/>')
    for t in np.linspace(lo, hi, 6):
        body.append(f'<text class="tick" x="{fr.x(t):.1f}" y="{fr.h - fr.bottom + 18}" text-anchor="middle">'
                    f'{t:.1f}</text>')
    return _svg(fr, body, "PBO logits")


def _pct(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.1f}%"


def render_walkforward(res, manifest: dict, *, initial_cash: float, title: str) -> str:
    """Return the walk-forward report page (inline CSS and SVG, no scripts)."""
    eq = res.oos_equity(initial_cash)
    ppy = res.periods_per_year
    from tradejet.engine.walkforward import window_metric

    oos_sharpe = window_metric(res.oos_returns, "sharpe", ppy)
    oos_total = float(eq[-1] / initial_cash - 1) if eq.size else math.nan
    pbo = res.pbo
    kpis = [("windows", f"{len(res.windows)} ({res.mode})"), ("trials", f"{res.n_trials}"),
            (f"mean IS {res.metric}", _fmt(float(np.nanmean(res.is_metric)))),
            (f"mean OOS {res.metric}", _fmt(float(np.nanmean(res.oos_metric)))),
            ("survival (OOS / IS)", _pct(res.survival)), ("OOS windows > 0", _pct(res.oos_positive_share)),
            ("stitched OOS Sharpe", _fmt(oos_sharpe)), ("stitched OOS return", _pct(oos_total)),
            ("PBO (CSCV)", _pct(pbo.pbo) if pbo else "n/a"),
            ("P(OOS loss)", _pct(pbo.prob_oos_loss) if pbo else "n/a"),
            ("deflated Sharpe (best)", _fmt(res.dsr)), ("best full-span Sharpe", _fmt(res.best_full_sharpe))]
    kpi_html = "".join(f'<div class="kpi"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
                       for k, v in kpis)
    ts_starts = _window_starts(res)
    names = sorted({k for p in res.params for k in p})
    stab = []
    for name in names:
        vals = [_num(p.get(name)) for p in res.params]
        if all(v is not None for v in vals):
            distinct = len(set(vals))
            stab.append(f"<h3>{html.escape(name)} <small>({distinct} distinct value{'s' if distinct != 1 else ''} "
                        f"over {len(vals)} windows)</small></h3>"
                        + _series_chart(ts_starts, [(np.asarray(vals, np.float64), "param")], name, h=150))
    head = "".join(f'<th title="{html.escape(n)}">{html.escape(".".join(n.split(".")[-2:]))}</th>' for n in names)
    rows = []
    for k, w in enumerate(res.windows):
        cells = "".join(f"<td>{html.escape(_fmt(v) if isinstance(v, float) else str(v))}</td>"
                        for v in (res.params[k].get(n) for n in names))
        rows.append(f"<tr><th>{k}</th><td>{_date(int(res.ts[w.train_start]))}</td>"
                    f"<td>{_date(int(res.ts[w.test_start]))}</td>"
                    f"<td>{_date(int(res.ts[w.test_end - 1]))}</td><td>{res.chosen[k]}</td>{cells}"
                    f"<td>{_fmt(float(res.is_metric[k]))}</td><td>{_fmt(float(res.oos_metric[k]))}</td></tr>")
    table = (f'<div class="scroll"><table class="grid"><tr><th>#</th><th>train from</th><th>test from</th><th>test to</th><th>task</th>'
             f"{head}<th>IS {res.metric}</th><th>OOS {res.metric}</th></tr>{''.join(rows)}</table></div>")
    warnings = "".join(f'<p class="warn">{html.escape(w)}</p>' for w in res.warnings)
    is_oos = _series_chart(ts_starts, [(res.is_metric, "is"), (res.oos_metric, "oos")],
                           f"in-sample vs out-of-sample {res.metric}")
    pbo_html = (f"<p>{pbo.n_blocks} blocks, {pbo.logits.size:,} splits of {pbo.n_trials} trials; PBO = share of "
                f"logits &le; 0 (red): the in-sample best did no better than the median out of sample. "
                f"Performance degradation slope (OOS on IS Sharpe): {_fmt(pbo.degradation)}.</p>"
                + _logit_histogram(pbo.logits)) if pbo else '<p class="empty">not computed</p>'
    sym = manifest.get("symbols", [])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}{_EXTRA_CSS}</style></head>
<body><header><h1>{html.escape(title)}</h1>
<p>{len(sym)} symbols &middot; {_date(manifest['start_ns'])} to {_date(manifest['end_ns'])} &middot; {res.n_trials} parameter
sets &middot; choose by {html.escape(res.metric)} &middot; {res.mode} windows</p></header>
<main>{warnings}
<section><div class="kpis">{kpi_html}</div></section>
<section><h2>Stitched out-of-sample equity</h2>{_stitched_chart(res.oos_ts, eq, res)}</section>
<section><h2>In-sample (dashed) vs out-of-sample {html.escape(res.metric)} per window</h2>{is_oos}</section>
<section><h2>Parameter stability across windows</h2>{''.join(stab) or '<p class="empty">no numeric parameters</p>'}
{table}</section>
<section><h2>Probability of backtest overfitting (CSCV)</h2>{pbo_html}</section>
<section><h2>Deflated Sharpe ratio</h2><p>Best of {res.n_trials} trials over the whole span: task {res.best_full},
annualised Sharpe {_fmt(res.best_full_sharpe)}; probability its true Sharpe beats the best that {res.n_trials}
skill-less trials would show by chance: <b>{_fmt(res.dsr)}</b> (Bailey &amp; L&oacute;pez de Prado 2014; 0.95 is the
usual bar).</p></section>
</main></body></html>
"""


def write_walkforward(out: str | os.PathLike[str], res, manifest: dict, *, initial_cash: float, title: str) -> Path:
    """Write ``report.html``, ``walkforward.json``, ``windows.parquet`` and ``oos_equity.parquet``; return the HTML path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    page = render_walkforward(res, manifest, initial_cash=initial_cash, title=title)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    eq = res.oos_equity(initial_cash)
    pq.write_table(pa.table({"ts": pa.array(res.oos_ts, pa.int64()), "returns": res.oos_returns, "equity": eq}),
                   out / "oos_equity.parquet")
    w = res.windows
    pq.write_table(pa.table({
        "window": [x.index for x in w], "train_start": [x.train_start for x in w], "train_end": [x.train_end for x in w],
        "test_start": [x.test_start for x in w], "test_end": [x.test_end for x in w], "task": res.chosen,
        "params": [json.dumps(p, sort_keys=True) for p in res.params], "is_metric": res.is_metric,
        "oos_metric": res.oos_metric, "is_sharpe": res.is_sharpe, "oos_sharpe": res.oos_sharpe}),
        out / "windows.parquet")

    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    summary = {"mode": res.mode, "metric": res.metric, "windows": len(w), "trials": res.n_trials,
               "survival": clean(res.survival), "oos_positive_share": clean(res.oos_positive_share),
               "pbo": clean(res.pbo.pbo) if res.pbo else None,
               "prob_oos_loss": clean(res.pbo.prob_oos_loss) if res.pbo else None,
               "deflated_sharpe": clean(res.dsr), "best_task": res.best_full,
               "best_sharpe": clean(res.best_full_sharpe), "oos_final_equity": clean(float(eq[-1])),
               "chosen": res.chosen, "warnings": res.warnings}
    (out / "walkforward.json").write_text(json.dumps(summary, indent=2))
    return path
