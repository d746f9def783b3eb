"""Fixtures: a paper engine with a real ledger and audit log, stopped where it works orders."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tradejet.config import Config
from tradejet.engine.simulate import MarketBars
from tradejet.io.audit import AuditLog
from tradejet.io.ledger import Ledger
from tradejet.io.synthetic import synthetic_market
from tradejet.testing.paper import build_paper


def resting_config() -> Config:
    """Default config with a 5-hour order latency: orders work for 5 bars before they can fill."""
    cfg = Config()
    return msgspec.structs.replace(cfg, fills=msgspec.structs.replace(cfg.fills, latency_ms=5 * 3_600_000.0))


@pytest.fixture(scope="session")
def market():
    return MarketBars.from_synthetic(synthetic_market(days=40, timeframe="1h", seed=7))


@pytest.fixture
def paper_engine(tmp_path, market):
    """``(engine, ledger, audit)``: a paper run stepped until it holds working orders after bar 150."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    audit = AuditLog(tmp_path / "ledger.sqlite.audit.jsonl")
    audit.append("paper_started", {"run_id": "t"})
    cfg = resting_config()
    ledger.set_meta("paper_run", msgspec.json.encode({"run_id": "t", "config": msgspec.json.encode(cfg).decode()})
                    .decode())  # what tradejet paper keeps
    eng, _venue = build_paper(market, cfg, ledger=ledger, audit=audit, run_id="t")

    def stop_when_working(e) -> None:
        if e.bars_done > 150 and e.working:
            e.stop()

    asyncio.run(eng.run(on_bar_done=stop_when_working))
    assert eng.working, "the synthetic run made no resting orders to test with"
    eng.checkpoint()
    yield eng, ledger, audit
    audit.close()
    ledger.close()
