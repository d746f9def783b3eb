"""A bot that embeds tradejet's engine and drives it itself (no asyncio needed).

It owns its market data and its venue; tradejet decides. Per timestamp: hand the
venue's executions to the engine (``on_fill`` / ``on_order_event``), then the bars
(``on_bar``); the engine answers with the orders to send (already in the ledger, with
client ids made before sending) and the cancels. Here the "venue" is tradejet's paper
venue pushed bar by bar, and the bars come from the synthetic market.

    python examples/embedded_bot.py [--days 30] [--ledger /tmp/bot.sqlite]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tradejet.adapters.paper import PaperVenue
from tradejet.config import Config
from tradejet.engine import Engine
from tradejet.engine.simulate import MarketBars
from tradejet.io.ledger import Ledger
from tradejet.io.synthetic import synthetic_market
from tradejet.messages import Bar, CancelOrder, OrderFilled


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=float, default=30)
    ap.add_argument("--ledger", default=str(Path(tempfile.mkdtemp()) / "bot.sqlite"))
    args = ap.parse_args()

    cfg = Config()
    bars = MarketBars.from_synthetic(synthetic_market(days=args.days, timeframe="1h", seed=7))
    with Ledger(args.ledger) as ledger:
        engine = Engine(cfg, None, ledger, symbols=bars.symbols, run_id="bot")
        venue = PaperVenue(bars.symbols, engine.pair_rows, engine.fill_cfg, cash=cfg.backtest.initial_cash,
                           timeframe_ns=bars.timeframe_ns)
        for t in range(bars.n_bars):
            ts = int(bars.ts[t])
            row = {p: (bars.open[t, p], bars.high[t, p], bars.low[t, p], bars.close[t, p], bars.volume[t, p])
                   for p in range(len(bars.symbols)) if bars.have[t, p]}
            for ev in venue.process_bars(ts, row):  # the venue's executions since the last bar
                engine.on_fill(ev) if isinstance(ev, OrderFilled) else engine.on_order_event(ev)
            commands = []
            for p, (o, h, lo, c, v) in row.items():
                commands += engine.on_bar(Bar(symbol=bars.symbols[p], ts=ts, open=o, high=h, low=lo, close=c,
                                              volume=v, timeframe_ns=bars.timeframe_ns))
            commands += engine.flush(ts)
            for cmd in commands:
                venue.cancel_now(cmd.client_order_id) if isinstance(cmd, CancelOrder) else venue.submit_now(cmd)
        engine.close()
        snap = ledger.snapshot()
    print(f"{engine.bars_done} bars, {snap.orders} orders, {snap.fills} fills, equity {snap.equity:,.2f}; "
          f"ledger {args.ledger}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
