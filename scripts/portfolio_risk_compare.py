#!/usr/bin/env python3
"""One backtest of the crypto system on real data with and without the portfolio risk limits.

Default data: the ten Binance USDT majors, hourly, 2017-08..2022-10 (2018 bear, 2020-03,
2021-05 and 2022 crashes) from $TRADEJET_DATA (default ../shared/data). Prints one JSON
object: per run the max drawdown, return, VaR breach counts (one-bar and per
``horizon_bars`` block, with Kupiec p-values), the days whose loss exceeded the VaR limit,
and what the limits refused; then the differences.

    PYTHONPATH=$PWD python scripts/portfolio_risk_compare.py [--data DIR] [--from 2018-01-01] [--to ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The desk-style limits documented in tradejet.config.PortfolioRiskConfig.
LIMITS = {"max_var_share": 0.06, "max_cvar_share": 0.08, "cluster_corr": 0.7, "target_vol": 0.025}


def _majors(data: Path, tmp: Path) -> Path:
    files = sorted((data / "crypto" / "binance").glob("*USDT_1h_*_2022-10.csv*"))
    if len(files) != 10:
        raise SystemExit(f"expected the 10 *USDT_1h_*_2022-10 files under {data}/crypto/binance, found {len(files)}")
    for f in files:
        (tmp / f.name).symlink_to(f)
    return tmp


def compare(bars, limits: dict | None = None, breaker: float = 1.0) -> dict:
    """Run ``bars`` with the default config and with ``limits``; return the figures."""
    import msgspec
    import numpy as np

    from tradejet.config import Config, PortfolioRiskConfig
    from tradejet.engine.riskview import portfolio_risk
    from tradejet.engine.simulate import run

    limits = LIMITS if limits is None else limits
    base = Config()
    # the drawdown breaker (15 %) trips in 2018 and halts entries for the rest of the run in both,
    # hiding what the portfolio limits do: both runs go without it
    base = msgspec.structs.replace(base, risk=msgspec.structs.replace(base.risk, max_drawdown=breaker))
    on = msgspec.structs.replace(base, risk=msgspec.structs.replace(base.risk, portfolio=PortfolioRiskConfig(**limits)))
    out = {}
    h = on.risk.portfolio.horizon_bars
    threshold = limits.get("max_var_share") or 0.06
    for name, cfg in (("without", base), ("with", on)):
        res = run(bars, cfg)
        # the same yardstick for both runs: the estimator of the limits run
        risk, _ = portfolio_risk(res, on)
        eq = res.equity
        starts = np.arange(0, eq.shape[0] - h, h)
        block_loss = (eq[starts] - eq[starts + h]) / eq[starts]
        out[name] = {
            "max_drawdown": float(res.metrics["max_drawdown"]), "total_return": float(res.metrics["total_return"]),
            "sharpe": float(res.metrics["sharpe"]), "trades": int(res.metrics["trades"]),
            "var_breaches_1bar": risk.breaches, "bars_at_risk": risk.bars_at_risk,
            "kupiec_p_1bar": risk.kupiec_p, "held_book_breaches_1bar": risk.held_book_breaches,
            "held_book_kupiec_p": risk.held_book_kupiec_p, f"blocks_{h}bar": int(starts.size),
            f"blocks_loss_over_{threshold:g}": int((block_loss > threshold).sum()),
            "worst_block_loss": float(block_loss.max()), "mean_var_1bar": risk.mean_var,
            "refused": {k: v for k, v in risk.refused.items() if v}, "elapsed_s": res.elapsed_s,
        }
    w, wo = out["with"], out["without"]
    out["difference"] = {k: w[k] - wo[k] for k in wo if isinstance(wo[k], (int, float)) and not isinstance(wo[k], bool)
                         and k != "elapsed_s" and w[k] is not None and wo[k] is not None}
    out["limits"] = limits
    out["max_drawdown_breaker"] = breaker
    out["bars"] = int(bars.n_bars)
    out["symbols"] = list(bars.symbols)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="folder of candle files (default: the ten USDT majors, hourly)")
    ap.add_argument("--from", dest="start")
    ap.add_argument("--to", dest="end")
    ap.add_argument("--limits", type=json.loads, help=f"[risk.portfolio] fields as JSON (default {json.dumps(LIMITS)})")
    ap.add_argument("--breaker", type=float, default=1.0, help="risk.max_drawdown of both runs (default 1.0: off)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from tradejet.engine.sources import load_bars

    with tempfile.TemporaryDirectory() as tmp:
        if args.data:
            folder = Path(args.data)
        else:
            data = Path(os.environ.get("TRADEJET_DATA", ROOT.parent / "shared" / "data"))
            folder = _majors(data, Path(tmp))
        bars, _ = load_bars(folder)
    if args.start or args.end:
        conv = lambda s: None if s is None else int(np.datetime64(s, "ns").astype(np.int64))  # noqa: E731
        bars = bars.slice_time(conv(args.start), conv(args.end))
    print(json.dumps(compare(bars, args.limits, breaker=args.breaker), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
