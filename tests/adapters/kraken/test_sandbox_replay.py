"""The sandbox replaying recorded bars (``--data``) and filling in parts under the participation cap."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.sandbox.market import ArrayMarket
from tradejet.cli import main
from tradejet.commands.sandbox import replay_market
from tradejet.errors import ConfigError, DataError


def _market(n=30, vol=2.0, start=5):
    ts = 1_700_000_000 - 1_700_000_000 % 3600 + 3600 * np.arange(n)
    px = 100.0 + np.arange(n, dtype=float)
    a = np.column_stack([px, px + 1, px - 1, px + 0.5, np.full(n, vol)])
    return ArrayMarket({"XXBTZUSD": a * [800, 800, 800, 800, 1]}, ts, interval_s=3600, start=start)


def _buy(sb, qty: str, tif: str = "GTC"):
    ex = sb.exchange
    acct = next(iter(ex.accounts.values()))
    o = ex.validate_order(acct, {"pair": "XXBTZUSD", "type": "buy", "ordertype": "market", "volume": qty,
                                 "cl_ord_id": "c1", "timeinforce": tif})
    ex.place(acct, o)
    return acct, o


def test_a_market_order_fills_in_parts_capped_by_participation_times_volume():
    sb = Sandbox(market=_market(vol=2.0), participation=0.1, balances={"ZUSD": "1000000"})
    acct, o = _buy(sb, "1.0")
    hold0 = o.hold
    sb.advance(1)
    assert o.vol_exec == Decimal("0.2") and o.status == "open"  # 10 % of a 2.0 candle
    assert float(o.hold) == pytest.approx(float(hold0) * 0.8, rel=1e-9)  # the filled part is released
    sb.advance(4)
    assert o.vol_exec == Decimal("1.0") and o.status == "closed" and len(o.trades) == 5
    trades = [sb.exchange.trades[t] for t in o.trades]
    cost = sum(Decimal(t["cost"]) + Decimal(t["fee"]) for t in trades)
    assert acct.balances["ZUSD"] == Decimal("1000000") - cost
    assert acct.balances["XXBT"] == Decimal("1.0")
    # the admin view lists the trades with their client ids
    st = sb.state()["trades"]
    assert set(st) == set(o.trades) and all(t["cl_ord_id"] == "c1" for t in st.values())


def test_ioc_cancels_the_part_the_cap_left():
    sb = Sandbox(market=_market(vol=2.0), participation=0.1, balances={"ZUSD": "1000000"})
    _, o = _buy(sb, "1.0", tif="IOC")
    sb.advance(1)
    assert (o.vol_exec, o.status, o.reason) == (Decimal("0.2"), "canceled", "IOC")


def test_without_a_cap_it_fills_at_once():
    sb = Sandbox(market=_market(vol=0.001), balances={"ZUSD": "1000000"})
    _, o = _buy(sb, "1.0")
    sb.advance(1)
    assert o.status == "closed" and len(o.trades) == 1


def test_the_replay_stands_still_at_the_end_of_its_data():
    m = _market(n=8, start=6)
    sb = Sandbox(market=m)
    sb.advance(5)
    assert m.index == 7 and m.finished
    with pytest.raises(DataError, match="start"):
        _market(n=8, start=8)
    with pytest.raises(DataError, match="step by 3600"):
        ArrayMarket({"XXBTZUSD": np.ones((3, 5))}, np.array([0, 3600, 9000]), interval_s=3600)


def test_replay_market_reads_a_bar_store_and_serves_its_candles(tmp_path):
    import asyncio

    from tradejet.adapters.kraken.http import KrakenHttp
    from tradejet.io.store import BarStore
    from tradejet.io.synthetic import synthetic_market

    syn = synthetic_market(days=3, timeframe="1h", seed=3, symbols=["BTC/USD", "DOGE/USD"])
    syn.to_store(BarStore(tmp_path / "s"))
    m = replay_market(str(tmp_path / "s"), start=40)
    assert sorted(m.pairs) == ["XDGUSD", "XXBTZUSD"]
    j = syn.symbols.index("BTC/USD")
    t, o, h, lo, c, v, n = m.candle("XXBTZUSD", 10)
    assert (t, o, h, lo, c, v) == (int(syn.ts[10] // 10**9), syn.open[j, 10], syn.high[j, 10], syn.low[j, 10],
                                   syn.close[j, 10], syn.volume[j, 10])

    async def main():
        async with Sandbox(market=m) as sb, KrakenHttp(base_url=sb.base_url) as k:
            return await k.ohlc("XBTUSD", 60)

    res = asyncio.run(main())
    assert res.rows[-1].time == int(syn.ts[40] // 10**9)  # the forming candle is the recorded one
    assert res.last == int(syn.ts[39] // 10**9)


def test_replay_market_refuses_what_it_cannot_replay(tmp_path):
    from tradejet.io.store import BarStore
    from tradejet.io.synthetic import synthetic_market

    synthetic_market(days=2, timeframe="2h", seed=3, symbols=["BTC/USD"]).to_store(BarStore(tmp_path / "a"))
    with pytest.raises(ConfigError, match="intervals"):
        replay_market(str(tmp_path / "a"))
    synthetic_market(days=2, timeframe="1h", seed=3, symbols=["BTC/EUR"]).to_store(BarStore(tmp_path / "b"))
    with pytest.raises(ConfigError, match="BTC/EUR"):
        replay_market(str(tmp_path / "b"))


def test_sandbox_command_names_a_bad_data_folder(tmp_path, capsys):
    assert main(["sandbox", "--data", str(tmp_path / "nope"), "--port", "0"]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["sandbox", "--participation", "0", "--port", "0"]) == 2
    assert "--participation" in capsys.readouterr().err


def test_cl_ord_id_is_a_uuid_or_at_most_18_characters_of_text():
    from tradejet.adapters.kraken.sandbox.exchange import Refusal

    sb = Sandbox(market=_market(), balances={"ZUSD": "1000000"})
    ex = sb.exchange
    acct = next(iter(ex.accounts.values()))
    base = {"pair": "XXBTZUSD", "type": "buy", "ordertype": "market", "volume": "0.01"}
    with pytest.raises(Refusal, match="cl_ord_id"):
        ex.validate_order(acct, {**base, "cl_ord_id": "x" * 19})
    for ok in ("x" * 18, "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000"):
        assert ex.validate_order(acct, {**base, "cl_ord_id": ok}).cl_ord_id == ok
