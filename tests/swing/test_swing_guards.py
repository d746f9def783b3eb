"""The swing guards: unreconciled block, backfill adoption on start, the ML safety guard in each mode.

The engine is driven by hand here (bars in, each order filled at the next bar's open by a
small broker stand-in that keeps the FakeVenue's positions), so a test can change the
broker's position behind the engine's back at an exact moment.
"""

from __future__ import annotations

import asyncio
import logging
import math

import msgspec
import numpy as np
import pytest
from conftest import path_bars, rise, small_config

from tradejet.engine import Engine
from tradejet.engine.reconcile import reconcile
from tradejet.engine.simulate import run
from tradejet.engine.swing import SwingGuard, psi
from tradejet.io.audit import AuditLog, read_records
from tradejet.io.ledger import Ledger
from tradejet.kernels.codes import Reject, Side, Strategy
from tradejet.messages import Bar, OrderFilled, Position, SubmitOrder
from tradejet.strategies.base import (PS_BACKFILLED, REASON_ENTRY, REASON_SCALE_IN, REASON_SIGNAL_EXIT,
                                      REASON_STOP)
from tradejet.testing import FakeVenue

BASE = rise()
TOP = BASE[-1]
THREE = BASE + [TOP - 12, TOP - 18, TOP - 24, TOP - 12, TOP - 12]  # three tranches, then resolved


class Broker:
    """Fills every order at the next bar's open and keeps the venue's positions, like a broker would."""

    def __init__(self, eng: Engine, venue: FakeVenue, bars):
        self.eng, self.venue, self.bars = eng, venue, bars
        self.out: list[SubmitOrder] = []
        self.t = 0
        self.n = 0

    def qty(self, sym: str) -> float:
        return sum(p.qty for p in self.venue.position_list if p.symbol == sym)

    def set_qty(self, sym: str, qty: float, avg: float) -> None:
        self.venue.position_list = [p for p in self.venue.position_list if p.symbol != sym]
        if qty:
            self.venue.position_list.append(Position(symbol=sym, qty=qty, avg_price=avg))

    def step_to(self, stop: int) -> None:
        b = self.bars
        while self.t < stop:
            t = self.t
            ts = int(b.ts[t])
            for o in self.out:
                self.n += 1
                px = float(b.open[t, 0])
                self.eng.on_fill(OrderFilled(client_order_id=o.client_order_id, venue_order_id=f"v{self.n}",
                                             trade_id=f"x{self.n}", symbol=o.symbol, side=o.side, qty=o.qty, price=px,
                                             fee=0.0, ts_event=ts, ts_init=ts))
                self.set_qty(o.symbol, self.qty(o.symbol) + o.side * o.qty, px)
            cmds = self.eng.on_bar(Bar(symbol=b.symbols[0], ts=ts, open=float(b.open[t, 0]), high=float(b.high[t, 0]),
                                       low=float(b.low[t, 0]), close=float(b.close[t, 0]),
                                       volume=float(b.volume[t, 0])))
            self.out = [c for c in cmds if isinstance(c, SubmitOrder)]
            self.t += 1


def _engine(tmp_path, closes, cfg=None, **kw):
    cfg = cfg or msgspec.structs.replace(small_config(**kw), deployment_env="paper")
    bars = path_bars(closes)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    audit = AuditLog(tmp_path / "audit.jsonl")
    venue = FakeVenue()
    eng = Engine(cfg, venue, ledger, symbols=["TEST"], audit=audit)
    return eng, Broker(eng, venue, bars), ledger, audit


def _intents(eng):
    return [(t, side, reason, code) for t, _, _, side, _, _, reason, code, _ in eng.log.orders]


def test_the_event_driver_fills_three_tranches_with_three_client_ids(tmp_path):
    eng, broker, ledger, audit = _engine(tmp_path, THREE)
    broker.step_to(len(THREE))
    assert [(s, r, c) for _, s, r, c in _intents(eng)] == [
        (Side.BUY, REASON_ENTRY, 0), (Side.BUY, REASON_SCALE_IN, 0), (Side.BUY, REASON_SCALE_IN, 0),
        (Side.SELL, REASON_SIGNAL_EXIT, 0)]
    buys = [o for o in ledger.orders() if o.side == Side.BUY]
    assert len(buys) == 3 and len({o.client_order_id for o in buys}) == 3  # each tranche its own order and id


def test_unreconciled_symbol_blocks_scale_in_but_not_the_exit(tmp_path):
    eng, broker, ledger, audit = _engine(tmp_path, THREE)
    broker.step_to(61)                               # entry sent on bar 60; bar 61 opens next
    broker.out, sent = [], broker.out
    assert len(sent) == 1 and sent[0].side == Side.BUY
    broker.out = sent
    broker.step_to(61)
    # the first tranche fills at bar 61's open; then someone buys 1 share at the broker behind the engine's back
    ts = int(broker.bars.ts[61])
    f = sent[0]
    eng.on_fill(OrderFilled(client_order_id=f.client_order_id, venue_order_id="v0", trade_id="x0", symbol="TEST",
                            side=1, qty=f.qty, price=265.0, fee=0.0, ts_event=ts, ts_init=ts))
    broker.out = []
    broker.set_qty("TEST", f.qty + 1.0, 265.0)
    rep = asyncio.run(reconcile(ledger, broker.venue, engine=eng, audit=audit, ts=ts))
    assert rep.unreconciled == ["TEST"] and eng.ctx.unreconciled[0]
    assert "TEST" in eng.blocked() and "unreconciled" in eng.blocked()["TEST"]
    broker.step_to(63)                               # bars 61, 62: the scale-in setups
    scale = [x for x in _intents(eng) if x[2] == REASON_SCALE_IN]
    assert scale and all(c == Reject.UNRECONCILED for *_, c in scale)
    assert not any(isinstance(o, SubmitOrder) and o.side > 0 for o in broker.out)
    # the operator squares the broker account: the next reconcile unblocks the symbol
    broker.set_qty("TEST", f.qty, 265.0)
    rep = asyncio.run(reconcile(ledger, broker.venue, engine=eng, audit=audit, ts=int(broker.bars.ts[63])))
    assert rep.cleared == ["TEST"] and not eng.ctx.unreconciled[0]
    broker.step_to(len(THREE))
    exits = [x for x in _intents(eng) if x[1] == Side.SELL]
    assert exits and exits[0][3] == Reject.OK        # exits always allowed
    audit.close()
    events = [r.event for r in read_records(tmp_path / "audit.jsonl")]
    assert "reconcile.quantity_mismatch" in events and "entry_blocked_unreconciled" in events
    assert "reconcile.reconciled" in events
    recs = [r for r in read_records(tmp_path / "audit.jsonl") if r.event == "entry_blocked_unreconciled"]
    assert recs[0].data["env"] == "paper" and recs[0].data["symbol"] == "TEST"


def test_an_exit_is_allowed_while_blocked(tmp_path):
    eng, broker, ledger, audit = _engine(tmp_path, BASE + [TOP - 12, TOP - 4, TOP - 4])
    broker.step_to(61)
    broker.step_to(61)
    eng.ctx.unreconciled[0] = True                   # blocked from the first tranche's fill on
    broker.step_to(len(BASE) + 3)
    assert [(s, c) for _, s, _, c in _intents(eng)] == [(Side.BUY, 0), (Side.SELL, 0)]


@pytest.mark.parametrize("scale_backfilled", [False, True])
def test_backfilled_position_is_adopted_on_start_and_managed_by_the_exits(tmp_path, scale_backfilled):
    eng, broker, ledger, audit = _engine(tmp_path, THREE, scale_backfilled=scale_backfilled)
    broker.step_to(60)                               # warm-up from history (a rise: no setup, no orders)
    assert eng.log.orders == []
    broker.set_qty("TEST", 4.0, 265.0)               # found at the broker on start
    rep = asyncio.run(reconcile(ledger, broker.venue, engine=eng, audit=audit, ts=int(broker.bars.ts[60])))
    assert rep.adopted == ["TEST"] and not eng.ctx.unreconciled[0]
    pos = ledger.positions()
    assert [(p.symbol, p.strategy, p.qty, p.backfilled) for p in pos] == [("TEST", Strategy.SWING, 4.0, True)]
    assert eng.ctx.pos_qty[Strategy.SWING, 0] == 4.0 and eng.ctx.pos_state[Strategy.SWING, 0, PS_BACKFILLED] == 1
    broker.step_to(len(THREE))
    kinds = [(s, r) for _, s, r, _ in _intents(eng)]
    if scale_backfilled:
        assert (Side.BUY, REASON_SCALE_IN) in kinds
    else:
        # no scale-in, no entry: only the exit rules; avg 265 - 3 ATR (~3.5) is under bar 62's close of 253
        assert kinds == [(Side.SELL, REASON_STOP)]
    sold = [o for o in ledger.orders() if o.side == Side.SELL]
    assert sold and sold[0].qty == pytest.approx(4.0 + sum(o.qty for o in ledger.orders() if o.side == Side.BUY))
    assert broker.qty("TEST") == pytest.approx(0.0)
    second = asyncio.run(reconcile(ledger, broker.venue, engine=eng, ts=int(broker.bars.ts[-1]), apply=False))
    assert second.clean                              # known from then on


# ---------------------------------------------------------------- the ML guard

def _equity_subset(equities, names=("SPY", "GLD")):
    from tradejet.engine.simulate import MarketBars

    idx = [equities.symbols.index(s) for s in names]
    keep = np.isfinite(equities.close[:, idx]).any(axis=1)
    pick = lambda a: np.ascontiguousarray(a[keep][:, idx])  # noqa: E731
    bars = MarketBars(symbols=list(names), ts=equities.ts[keep], open=pick(equities.open), high=pick(equities.high),
                      low=pick(equities.low), close=pick(equities.close), volume=pick(equities.volume),
                      timeframe_ns=equities.timeframe_ns, source="equities subset")
    return bars.slice_time(1_136_073_600 * 10**9, 1_356_998_400 * 10**9)  # 2006..2012 (with the 2008 crash)


def _swing(**kw):
    from tradejet.config import Config, SwingConfig

    return Config(system="swing", deployment_env="backtest", swing=SwingConfig(**kw))


@pytest.mark.parametrize("fallback", ["block", "rules-only"])
def test_no_promoted_model(tmp_path, fallback, caplog):
    bars = path_bars(THREE)
    cfg = msgspec.structs.replace(small_config(ml_enabled=True, ml_fallback=fallback), home=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="tradejet.engine.swing"):
        res = run(bars, cfg)
    assert res.extra["ml_guard"]["state"] == "no_model"
    rules = run(bars, small_config())
    if fallback == "block":
        assert len(res.orders["qty"]) == 0
    else:
        np.testing.assert_array_equal(res.orders["qty"], rules.orders["qty"])
    assert any("[backtest]" in r.getMessage() and "no promoted swing model" in r.getMessage() for r in caplog.records)


def test_integrity_failure_at_load_blocks_entries(tmp_path, swing_model_home, caplog):
    import shutil

    from tradejet.models.artifacts import ArtifactStore

    home = tmp_path / "home"
    shutil.copytree(swing_model_home, home)
    store = ArtifactStore(home, "swing")
    f = store.path(store.promoted_id()) / "model.onnx"
    blob = bytearray(f.read_bytes())
    blob[len(blob) // 2] ^= 0xFF                     # one flipped byte
    f.write_bytes(bytes(blob))
    cfg = msgspec.structs.replace(small_config(ml_enabled=True), home=str(home))
    with caplog.at_level(logging.WARNING):
        res = run(path_bars(THREE), cfg)
    g = res.extra["ml_guard"]
    assert g["state"] == "refused" and "SHA-256" in g["reason"]
    assert len(res.orders["qty"]) == 0
    assert any("refused" in r.getMessage() for r in caplog.records)


def test_promoted_model_gates_entries_by_its_probability(equities, swing_model_home):
    bars = _equity_subset(equities)
    model, ref, _ = _loaded(swing_model_home)
    mid = float(np.median(model.predict(ref)))      # a threshold half the reference rows clear
    res = {}
    for thr in (0.0, mid, 1.0):
        cfg = msgspec.structs.replace(_swing(ml_threshold=thr, feature_margin=0.5, psi_max=1e9),
                                      home=str(swing_model_home))
        res[thr] = run(bars, cfg)
        assert res[thr].extra["ml_guard"]["state"] == "ok"
    entries = {thr: int((r.orders["reason"] == REASON_ENTRY).sum()) for thr, r in res.items()}
    assert entries[1.0] == 0 < entries[mid] < entries[0.0]
    rules = run(bars, _swing(ml_enabled=False))
    assert entries[0.0] <= int((rules.orders["reason"] == REASON_ENTRY).sum())


def _loaded(home):
    from tradejet.models.artifacts import ArtifactStore

    store = ArtifactStore(home, "swing")
    mid = store.promoted_id()
    return store.load(mid, batch_threads=1), store.validation_rows(mid)["X"], mid


def test_features_outside_the_training_ranges_block_that_symbol(swing_model_home, caplog):
    model, ref, mid = _loaded(swing_model_home)
    cfg = _swing(feature_margin=0.0, psi_window=10_000)
    g = SwingGuard(cfg, 1, ["TEST"], model=model, reference=ref, model_id=mid)
    assert g.state == "ok"
    bars = path_bars(rise(300, 100.0, 0.05) + [200.0])  # a +30 % day after a calm rise: far outside
    scores = [g.step(bars.open[t], bars.high[t], bars.low[t], bars.close[t], bars.volume[t], bars.have[t])[0]
              for t in range(bars.n_bars)]
    assert math.isnan(scores[-1]) and g.blocked_bars[0] >= 1
    assert g.status()["out_of_range"] == ["TEST"]
    rules = SwingGuard(msgspec.structs.replace(cfg, swing=msgspec.structs.replace(cfg.swing, ml_fallback="rules-only")),
                       1, ["TEST"], model=model, reference=ref, model_id=mid)
    with caplog.at_level(logging.INFO, logger="tradejet.engine.swing"):
        last = [rules.step(bars.open[t], bars.high[t], bars.low[t], bars.close[t], bars.volume[t], bars.have[t])[0]
                for t in range(bars.n_bars)][-1]
    assert last == math.inf                          # rules-only: the kernel sees a pass
    assert any("ml_features_out_of_range" in r.getMessage() and "[backtest]" in r.getMessage() for r in caplog.records)


def test_score_drift_disables_the_model(swing_model_home, tmp_path):
    model, ref, mid = _loaded(swing_model_home)
    cfg = _swing(feature_margin=100.0, psi_window=30)   # wide ranges: every row scored
    with AuditLog(tmp_path / "a.jsonl") as audit:
        g = SwingGuard(cfg, 1, ["TEST"], model=model, reference=ref, model_id=mid, audit=audit)
        bars = path_bars(rise(400, 100.0, 0.5))          # a market like none in the reference window
        states = []
        for t in range(bars.n_bars):
            s = g.step(bars.open[t], bars.high[t], bars.low[t], bars.close[t], bars.volume[t], bars.have[t])
            states.append(g.state)
    assert g.state == "drift" and g.last_psi > cfg.swing.psi_max
    assert math.isnan(s[0])                          # block: no entry once disabled
    first = states.index("drift")
    assert all(x == "drift" for x in states[first:])  # stays disabled
    ev = [r for r in read_records(tmp_path / "a.jsonl") if r.event == "swing.ml_guard"]
    assert [e.data["state"] for e in ev] == ["ok", "drift"] and ev[-1].data["env"] == "backtest"


def test_psi_against_a_hand_computed_value():
    ref = np.repeat([0.1, 0.3, 0.5, 0.7], 25)            # quartile edges 0.3, 0.5, 0.7 -> 4 bins of 25 %
    recent = np.array([0.1] * 50 + [0.3] * 25 + [0.5] * 25)  # 50 %, 25 %, 25 %, 0 %
    expect = (0.5 - 0.25) * math.log(0.5 / 0.25) + (1e-4 - 0.25) * math.log(1e-4 / 0.25)
    assert psi(ref, recent, bins=4) == pytest.approx(expect)
    assert psi(ref, ref, bins=4) == 0.0


def test_refresh_follows_a_new_promotion(tmp_path, swing_model_home):
    import shutil

    home = tmp_path / "home"
    g = SwingGuard.from_store(_swing(), ["TEST"], home)
    assert g.state == "no_model" and g.refresh() is False      # nothing promoted yet
    shutil.copytree(swing_model_home / "models", home / "models", dirs_exist_ok=True)
    assert g.refresh() is True and g.state == "ok" and g.model_id is not None
    assert g.refresh() is False                                  # same pointer: nothing to do
