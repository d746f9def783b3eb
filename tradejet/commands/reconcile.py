"""``tradejet reconcile``: compare a ledger with its venue and print the differences.

For a paper ledger the venue is rebuilt: the run's bars and config (kept in the ledger)
are replayed through the event driver and the paper venue, without writing anything,
up to the last bar the ledger completed; then ledger and venue are compared. Exit
code 0 when clean, 1 when there are findings. ``--apply`` records the findings and
applies what can be applied (missed fills, adopted positions, expired orders).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from tradejet.config import tradejet_home
from tradejet.errors import DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconcile", help="compare a ledger with its venue and print the differences")
    p.add_argument("--ledger", metavar="PATH", help="ledger file (default $TRADEJET_HOME/paper/ledger.sqlite)")
    p.add_argument("--apply", action="store_true", help="record the findings and apply missed fills / adoptions")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.set_defaults(func=run_command)


def rebuild_paper_venue(ledger):
    """Replay the paper run recorded in ``ledger`` up to its last completed bar; return ``(engine, venue)``."""
    import msgspec

    from tradejet.commands.paper import resume_point
    from tradejet.config import Config
    from tradejet.engine.sources import load_bars
    from tradejet.testing.paper import build_paper

    raw = ledger.get_meta("paper_run")
    if raw is None:
        raise DataError("this ledger records no paper run (only paper ledgers can be rebuilt here)",
                        source=str(ledger.path))
    meta = json.loads(raw)
    cfg = msgspec.json.decode(meta["config"].encode(), type=Config)
    src = meta["source"]
    if "synthetic_equities" in src:  # the swing system's synthetic daily equity market
        from tradejet.engine.swing import synthetic_equities

        years, seed = src["synthetic_equities"]
        bars = synthetic_equities(years=years, seed=seed)
    elif "synthetic" in src:
        from tradejet.engine.simulate import MarketBars
        from tradejet.io.synthetic import synthetic_market

        days, tf, seed = src["synthetic"]
        bars = MarketBars.from_synthetic(synthetic_market(days=days, timeframe=tf, seed=seed))
    else:
        bars, _ = load_bars(src["data"], src.get("timeframe"), equities=cfg.system == "swing")
    bars = bars.slice_time(*src["range"])
    done = resume_point(ledger, bars)
    eng, venue = build_paper(bars, cfg, run_id=meta["run_id"], stop=done)
    eng.record = False
    asyncio.run(eng.run())
    return eng, venue


def run_command(args: argparse.Namespace) -> int:
    from tradejet.engine.reconcile import reconcile
    from tradejet.io.audit import AuditLog
    from tradejet.io.ledger import Ledger

    path = Path(args.ledger) if args.ledger else tradejet_home() / "paper" / "ledger.sqlite"
    if not path.is_file():
        raise DataError("no such ledger", source=str(path))
    with Ledger(path) as ledger:
        eng, venue = rebuild_paper_venue(ledger)
        audit = AuditLog(path.with_name(path.name + ".audit.jsonl")) if args.apply else None
        try:
            rep = asyncio.run(reconcile(ledger, venue, symbols=eng.symbols, audit=audit, ts=venue.bar_ts,
                                        apply=args.apply, system=eng.config.system))
        finally:
            if audit is not None:
                audit.close()
    if args.json:
        import msgspec

        print(msgspec.json.encode({"clean": rep.clean, "findings": rep.findings}).decode())
    else:
        for f in rep.findings:
            print(f"{f.kind}\t{f.symbol or '-'}\t{f.detail}")
        print(f"reconcile: {'clean' if rep.clean else f'{len(rep.findings)} differences'} "
              f"({eng.bars_done:,} bars replayed against {path})")
    return 0 if rep.clean else 1
