"""Portfolio risk of a run, for the report and ``tradejet paper``'s status.

What the risk limits saw, replayed from a run's bars and fills through the step's own
estimator (:func:`tradejet.kernels.portrisk.replay_risk_nb`): the ex-ante one-bar VaR and
CVaR of the book held after each bar against the loss that followed (equity change over
the next bar), the number of breaches and Kupiec's proportion-of-failures test of whether
the breach rate fits the level (:func:`tradejet.kernels.riskstats.kupiec_test`); the same
over non-overlapping ``horizon_bars`` blocks; the universe's return correlations; and each
pair's and strategy's share of the risk (Euler contributions to volatility, averaged over
the run). :class:`RiskMonitor` does the breach count online for the paper status.

>>> from tradejet.io.synthetic import synthetic_market
>>> from tradejet.config import Config
>>> from tradejet.engine.simulate import MarketBars, run
>>> res = run(MarketBars.from_synthetic(synthetic_market(days=60, timeframe="1h", seed=3)), Config())
>>> risk, series = portfolio_risk(res, Config())
>>> risk.breaches <= risk.bars_at_risk and len(risk.correlation) == len(res.symbols)
True
"""

from __future__ import annotations

import html
import math
import numpy as np

from tradejet.config import Config
from tradejet.engine.report import PortfolioRisk, RiskSeries
from tradejet.engine.risk import portfolio_params
from tradejet.kernels import portrisk as kp
from tradejet.kernels.codes import REJECT_TEXT, STRATEGY_TEXT, Regime, Reject
from tradejet.kernels.riskstats import kupiec_test

__all__ = ["PortfolioRisk", "RiskSeries", "portfolio_risk", "return_correlation", "RiskMonitor", "risk_html",
           "PORTFOLIO_CODES"]

PORTFOLIO_CODES = (Reject.VAR_LIMIT, Reject.CVAR_LIMIT, Reject.CONCENTRATION_CLUSTER, Reject.VOL_TARGET)


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def return_correlation(close: np.ndarray) -> np.ndarray:
    """Pearson correlation of simple close-to-close returns, pairwise over bars both pairs have (NaN: < 3)."""
    C = np.asarray(close, np.float64)
    T, n = C.shape
    r = np.full((T, n), np.nan)
    for p in range(n):
        idx = np.flatnonzero(np.isfinite(C[:, p]) & (C[:, p] > 0))
        if idx.size > 1:
            r[idx[1:], p] = C[idx[1:], p] / C[idx[:-1], p] - 1.0
    out = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            m = np.isfinite(r[:, i]) & np.isfinite(r[:, j])
            if m.sum() < 3:
                continue
            a, b = r[m, i], r[m, j]
            sa, sb = a.std(), b.std()
            c = 1.0 if i == j else (float(np.mean((a - a.mean()) * (b - b.mean())) / (sa * sb)) if sa > 0 and sb > 0
                                    else math.nan)
            out[i, j] = out[j, i] = c
    return out


def _kupiec(breaches: int, n: int, level: float) -> tuple[float | None, float | None]:
    if n <= 0:
        return None, None
    lr, p = kupiec_test(breaches, n, level)
    return _f(lr), _f(p)


def portfolio_risk(res, cfg: Config, close: np.ndarray | None = None) -> tuple[PortfolioRisk, RiskSeries]:
    """Return the run's :class:`PortfolioRisk` and its chart series.

    ``res`` is a :class:`~tradejet.engine.simulate.BacktestResult` (its ``close`` is used
    unless ``close``, bars x symbols, is given).
    """
    C = np.ascontiguousarray(res.close if close is None else close, np.float64)
    T, n = C.shape
    pc = cfg.risk.portfolio
    pp = portfolio_params(cfg.risk)
    f = res.fills
    fill_qty = np.asarray(f["side"], np.float64) * np.asarray(f["qty"], np.float64)
    S = len(STRATEGY_TEXT)
    sigma = np.empty(T)
    hyp = np.empty(T)
    comp_pair = np.zeros(n)
    comp_strat = np.zeros(S)
    kp.replay_risk_nb(C, np.isfinite(C), np.asarray(res.regime, np.int64), np.asarray(f["bar"], np.int64),
                      np.asarray(f["pair"], np.int64), np.asarray(f["strategy"], np.int64), fill_qty, S, pp, sigma,
                      hyp, comp_pair, comp_strat)
    eq = np.asarray(res.equity, np.float64)
    z, ck, sh = pp[kp.PP_Z], pp[kp.PP_CVAR_K], pp[kp.PP_SQRT_H]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = z * sigma / eq
        cvar = ck * sigma / eq
        loss = np.full(T, np.nan)
        loss[:-1] = (eq[:-1] - eq[1:]) / eq[:-1]
    at_risk = np.isfinite(var) & (var > 0) & np.isfinite(loss)
    n_risk = int(at_risk.sum())
    breach = at_risk & (loss > var)
    nb = int(breach.sum())
    lr, p = _kupiec(nb, n_risk, pc.var_level)
    # the held book's own P&L over the next bar: the clean test of the model (no fills inside)
    hyp_loss = -hyp / eq
    hb = int((at_risk & np.isfinite(hyp_loss) & (hyp_loss > var)).sum())
    _, hp = _kupiec(hb, n_risk, pc.var_level)
    h = pc.horizon_bars
    starts = np.arange(0, T - h, h)
    block = (eq[starts] - eq[starts + h]) / eq[starts] if starts.size else np.empty(0)
    tot_p = comp_pair.sum()
    tot_s = comp_strat.sum()
    corr = return_correlation(C)
    codes = np.asarray(res.orders["code"])
    limits = {"max_var_share": pc.max_var_share, "max_cvar_share": pc.max_cvar_share,
              "cluster_corr": pc.cluster_corr,
              "max_cluster_share": (pc.max_cluster_share if pc.max_cluster_share is not None or pc.cluster_corr is None
                                    else cfg.risk.max_pair_share),
              "target_vol": pc.target_vol, "panic_full_correlation": pc.panic_full_correlation,
              "cov_halflife_bars": pc.cov_halflife_bars, "min_bars": pc.min_bars}
    risk = PortfolioRisk(
        level=pc.var_level, horizon_bars=h, bars_at_risk=n_risk, breaches=nb,
        expected_breaches=n_risk * (1.0 - pc.var_level), kupiec_lr=lr, kupiec_p=p,
        cvar_breach_loss=_f(float(loss[breach].mean())) if nb else None,
        mean_cvar=_f(float(cvar[breach].mean())) if nb else None,
        held_book_breaches=hb, held_book_kupiec_p=hp,
        worst_day_loss=_f(float(block.max())) if block.size else None,
        mean_var=_f(float(var[at_risk].mean())) if n_risk else None,
        max_var=_f(float(var[at_risk].max())) if n_risk else None,
        symbols=list(res.symbols), correlation=[[_f(x) for x in row] for row in corr],
        contribution_pair={s: float(comp_pair[i] / tot_p) for i, s in enumerate(res.symbols)
                           if tot_p > 0 and comp_pair[i] != 0},
        contribution_strategy={STRATEGY_TEXT[s]: float(comp_strat[s] / tot_s) for s in range(S)
                               if tot_s > 0 and comp_strat[s] != 0},
        limits=limits, refused={REJECT_TEXT[c]: int((codes == c).sum()) for c in PORTFOLIO_CODES})
    return risk, RiskSeries(var=var, cvar=cvar, loss=loss)


class RiskMonitor:
    """Online VaR backtest of a running engine: call :meth:`update` after every bar.

    Compares each bar's equity change with the one-bar VaR of the book held after the
    previous bar (the engine's own estimator), so ``breaches`` / ``bars_at_risk`` are the
    numbers :func:`portfolio_risk` reports for the same run.
    """

    def __init__(self, config: Config, n_pairs: int, n_strategies: int = len(STRATEGY_TEXT)):
        self.pp = portfolio_params(config.risk)
        self.level = config.risk.portfolio.var_level
        self._vals = np.zeros(n_pairs)
        self._marginal = np.zeros(n_pairs)
        self._prev: tuple[float, float] | None = None  # (equity, one-bar VaR) after the previous bar
        self.bars_at_risk = 0
        self.breaches = 0
        self.var = math.nan
        self.cvar = math.nan
        self.equity = math.nan
        self.contribution_pair = np.zeros(n_pairs)
        self.contribution_strategy = np.zeros(n_strategies)

    def update(self, ctx, equity: float, regime: int) -> None:
        """Book the bar just stepped (``ctx``: the engine's context)."""
        if self._prev is not None:
            e0, v0 = self._prev
            if v0 > 0 and math.isfinite(v0) and e0 > 0:
                self.bars_at_risk += 1
                if e0 - equity > v0:
                    self.breaches += 1
        mark = np.where(np.isfinite(ctx.mark), ctx.mark, 0.0)
        vals = self._vals
        np.sum(ctx.pos_qty * mark, axis=0, out=vals)
        panic = regime == Regime.PANIC and self.pp[kp.PP_PANIC_CORR1] != 0
        sigma, _, _ = kp.book_risk_nb(ctx.port_cov, ctx.port_vec, self.pp, vals, panic, self._marginal)
        v1 = self.pp[kp.PP_Z] * sigma
        self.var, self.cvar, self.equity = v1, self.pp[kp.PP_CVAR_K] * sigma, equity
        if sigma > 0:
            self.contribution_pair = vals * self._marginal / sigma
            self.contribution_strategy = (ctx.pos_qty * mark) @ self._marginal / sigma
        else:
            self.contribution_pair[:] = 0.0
            self.contribution_strategy[:] = 0.0
        self._prev = (equity, v1)

    def on_bar(self, engine) -> None:
        """``Engine.run(on_bar_done=monitor.on_bar)``: book the bar the engine just stepped."""
        from tradejet.engine.step import INFO_EQUITY, INFO_REGIME

        info = engine.ctx.info
        self.update(engine.ctx, float(info[INFO_EQUITY]), int(info[INFO_REGIME]))

    def kupiec(self) -> tuple[float | None, float | None]:
        """Kupiec's (LR, p-value) for the breaches so far."""
        return _kupiec(self.breaches, self.bars_at_risk, self.level)

    def correlation(self, ctx) -> np.ndarray:
        """The engine's current (EWMA) correlation matrix; NaN where an element is not warm yet."""
        cov = ctx.port_cov[kp.COV_VAL]
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            return cov / np.outer(sd, sd)


# ---------------------------------------------------------------------------------------
# HTML (inline SVG) for the backtest report
# ---------------------------------------------------------------------------------------
def _pct(x: float | None, d: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{d}f}%"


def _heat_colour(c: float | None) -> str:
    if c is None or not math.isfinite(c):
        return "#dddddd"
    c = max(-1.0, min(1.0, c))
    if c >= 0:  # white -> red
        g = int(255 - 190 * c)
        return f"rgb(255,{g},{g})"
    g = int(255 + 190 * c)
    return f"rgb({g},{g},255)"


def _heatmap(risk: PortfolioRisk) -> str:
    n = len(risk.symbols)
    cell, left, top = 44, 90, 70
    w, h = left + n * cell + 70, top + n * cell + 10
    body = []
    for i, s in enumerate(risk.symbols):
        lab = html.escape(s)
        body.append(f'<text class="tick" x="{left - 6}" y="{top + i * cell + cell / 2 + 4}" text-anchor="end">{lab}</text>')
        x = left + i * cell + cell / 2
        body.append(f'<text class="tick" x="{x}" y="{top - 8}" text-anchor="start" '
                    f'transform="rotate(-45 {x} {top - 8})">{lab}</text>')
        for j in range(n):
            c = risk.correlation[i][j]
            body.append(f'<rect class="corr" x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                        f'height="{cell - 1}" fill="{_heat_colour(c)}"><title>{lab} / {html.escape(risk.symbols[j])}: '
                        f'{"n/a" if c is None else f"{c:.2f}"}</title></rect>')
            body.append(f'<text class="tick" x="{left + j * cell + cell / 2}" y="{top + i * cell + cell / 2 + 4}" '
                        f'text-anchor="middle">{"" if c is None else f"{c:.2f}"}</text>')
    return (f'<svg class="heatmap" viewBox="0 0 {w} {h}" width="{w}" role="img" aria-label="correlation heatmap" '
            f'data-chart="correlation heatmap">' + "".join(body) + "</svg>")


def _var_chart(ts: np.ndarray, rs: RiskSeries, max_points: int = 1500) -> str:
    T = ts.shape[0]
    step = max(1, T // max_points)
    w, hgt, pad = 960, 240, 40
    loss = np.where(np.isfinite(rs.loss), rs.loss, 0.0)
    var = np.where(np.isfinite(rs.var), rs.var, 0.0)
    cvar = np.where(np.isfinite(rs.cvar), rs.cvar, 0.0)
    # per block of `step` bars: the largest loss and the VaR / CVaR at that bar (so breaches stay visible)
    idx = np.array([a + int(np.argmax(loss[a:a + step])) for a in range(0, T, step)], np.int64)
    top = max(float(np.max(cvar[idx], initial=0.0)), float(np.max(loss[idx], initial=0.0)), 1e-6)
    bot = min(float(np.min(loss[idx], initial=0.0)), 0.0)
    X = lambda i: pad + (w - 2 * pad) * (i / max(T - 1, 1))  # noqa: E731
    Y = lambda v: hgt - pad + (pad - (hgt - pad)) * ((v - bot) / (top - bot))  # noqa: E731
    line = lambda a, cls: (f'<polyline class="{cls}" points="' + " ".join(f"{X(i):.1f},{Y(a[i]):.1f}" for i in idx)  # noqa: E731
                           + '"/>')
    breach = [i for i in idx if rs.var[i] > 0 and rs.loss[i] > rs.var[i]]
    dots = "".join(f'<circle class="breach" cx="{X(i):.1f}" cy="{Y(loss[i]):.1f}" r="2.5"/>' for i in breach)
    ticks = "".join(f'<text class="tick" x="{pad - 4}" y="{Y(v) + 4:.1f}" text-anchor="end">{100 * v:.1f}%</text>'
                    f'<line class="grid" x1="{pad}" x2="{w - pad}" y1="{Y(v):.1f}" y2="{Y(v):.1f}"/>'
                    for v in np.linspace(bot, top, 5))
    return (f'<svg class="chart" viewBox="0 0 {w} {hgt}" role="img" aria-label="VaR against losses" '
            f'data-chart="VaR against losses">{ticks}'
            f'<polyline class="loss" points="' + " ".join(f"{X(i):.1f},{Y(loss[i]):.1f}" for i in idx) + '"/>'
            + line(cvar, "cvar") + line(var, "var") + dots + "</svg>"
            '<div class="legend"><span class="swatch" style="background:#999"></span>next-bar loss'
            '<span class="swatch" style="background:#1f5fa8"></span>VaR<span class="swatch" '
            'style="background:#8e44ad"></span>CVaR<span class="swatch" style="background:#c0392b"></span>breach</div>')


RISK_CSS = ("polyline.var{fill:none;stroke:#1f5fa8;stroke-width:1.2}polyline.cvar{fill:none;stroke:#8e44ad;"
            "stroke-width:1;stroke-dasharray:3 2}polyline.loss{fill:none;stroke:#999;stroke-width:.6}"
            "circle.breach{fill:#c0392b}svg.heatmap{max-width:100%;height:auto}")


def risk_html(risk: PortfolioRisk, ts: np.ndarray | None, series: RiskSeries | None) -> str:
    """Return the report's portfolio-risk section (inline SVG)."""
    lv = f"{100 * risk.level:g}%"
    kp_txt = "n/a" if risk.kupiec_p is None else f"{risk.kupiec_p:.3g}"
    fits = "" if risk.kupiec_p is None else (" (the breach rate fits the level)" if risk.kupiec_p >= 0.05
                                             else " (the breach rate does <b>not</b> fit the level at 5%)")
    rows = [("Bars at risk", f"{risk.bars_at_risk:,}"),
            (f"One-bar {lv} VaR breaches", f"{risk.breaches:,} (expected {risk.expected_breaches:,.1f})"),
            ("Kupiec LR / p-value", f"{'n/a' if risk.kupiec_lr is None else f'{risk.kupiec_lr:.3g}'} / {kp_txt}"),
            ("Mean / max one-bar VaR", f"{_pct(risk.mean_var, 3)} / {_pct(risk.max_var, 3)}"),
            ("Mean loss in breaches / mean CVaR there", f"{_pct(risk.cvar_breach_loss, 3)} / {_pct(risk.mean_cvar, 3)}"),
            ("Breaches of the held book (no fills) / Kupiec p",
             f"{risk.held_book_breaches:,} / {'n/a' if risk.held_book_kupiec_p is None else f'{risk.held_book_kupiec_p:.3g}'}"),
            (f"Worst {risk.horizon_bars}-bar loss", _pct(risk.worst_day_loss))]
    rows += [(f"refused: {k}", f"{v:,}") for k, v in risk.refused.items()]
    rows += [(f"limit {k}", html.escape(str(v))) for k, v in risk.limits.items()]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)

    def contrib(d: dict[str, float]) -> str:
        if not d:
            return '<p class="empty">no positions held</p>'
        return ('<table class="grid"><tr><th></th><th>share of risk</th></tr>'
                + "".join(f"<tr><th>{html.escape(k)}</th><td>{100 * v:.1f}%</td></tr>"
                          for k, v in sorted(d.items(), key=lambda kv: -kv[1])) + "</table>")

    chart = _var_chart(ts, series) if ts is not None and series is not None else ""
    return (f'<style>{RISK_CSS}</style><section><h2>Portfolio risk: ex-ante VaR / CVaR against realised losses</h2>{chart}'
            f'<p>{risk.breaches:,} breaches in {risk.bars_at_risk:,} bars at risk{fits}.</p>'
            f'<table class="grid">{table}</table></section>'
            f'<section><h2>Correlation of returns</h2>{_heatmap(risk)}</section>'
            f'<section><h2>Risk contribution (Euler, mean over the run)</h2><h3>per pair</h3>'
            f'{contrib(risk.contribution_pair)}<h3>per strategy</h3>{contrib(risk.contribution_strategy)}</section>')
