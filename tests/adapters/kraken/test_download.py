"""``download_bars``: Trades + OHLC into the bar store, against the sandbox on 127.0.0.1 (its own
candles are the oracle) and against httpx.MockTransport for broken answers."""

from __future__ import annotations

import asyncio
import json

import httpx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.adapters.kraken.download import MARKER, download_bars
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.sandbox import Sandbox
from tradejet.adapters.kraken.sandbox.market import SyntheticMarket
from tradejet.adapters.kraken.sandbox.pairs import PAIRS
from tradejet.adapters.kraken.sandbox.tape import candle_trades, trades_page
from tradejet.errors import DataError, ResponseError, VenueUnavailable
from tradejet.io.store import BarStore

NS = 10**9
KEY = "XXBTZUSD"
HISTORY = 1000  # closed candles at start: 720 in the OHLC window (719 closed + forming), the rest Trades only
LIMIT = (5, 40.0)  # sandbox: 5 calls burst, 40/s; the client is set just below it


def market(seed: int = 3) -> SyntheticMarket:
    return SyntheticMarket({KEY: 85000.0, "SOLUSD": 140.0}, seed=seed, history=HISTORY)


def expected(m: SyntheticMarket, key: str = KEY, first: int = 0) -> dict[str, np.ndarray]:
    """The sandbox's own closed candles, as its OHLC endpoint formats them."""
    rows = np.array([m.candle(key, i) for i in range(first, m.index)])
    pd = PAIRS[key]["pair_decimals"]
    return {"ts": rows[:, 0].astype(np.int64) * NS, "open": np.round(rows[:, 1], pd), "high": np.round(rows[:, 2], pd),
            "low": np.round(rows[:, 3], pd), "close": np.round(rows[:, 4], pd),
            "volume": np.array([float(f"{v:.8f}") for v in rows[:, 5]]), "trades": rows[:, 6]}


def assert_bars_equal(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(got["ts"], want["ts"])
    for c in ("open", "high", "low", "close", "trades"):
        np.testing.assert_array_equal(got[c], want[c], err_msg=c)
    np.testing.assert_allclose(got["volume"], want["volume"], rtol=1e-12, atol=0)


def client(sb: Sandbox, **kw) -> KrakenHttp:
    # headroom below the server: requests sent in budget can arrive bunched up
    return KrakenHttp(base_url=sb.base_url, public_burst=LIMIT[0] - 2, public_rate=LIMIT[1] * 0.8, **kw)


# ---- the sandbox's tape ---------------------------------------------------------------------------

@given(st.integers(0, 2**16), st.integers(0, 3000), st.sampled_from(sorted(PAIRS)))
def test_the_tape_of_a_candle_aggregates_back_to_that_candle(seed, i, key):
    m = SyntheticMarket({key: 1.0 if key.startswith(("XDG", "ADA", "XXRP")) else 100.0}, seed=seed, history=10)
    t, o, h, lo, c, v, n = m.candle(key, i)
    pd = PAIRS[key]["pair_decimals"]
    rows = candle_trades(m, key, i)
    prices = [float(r[1][0]) for r in rows]
    assert len(rows) == n >= 4
    assert prices[0] == float(f"{o:.{pd}f}") and prices[-1] == float(f"{c:.{pd}f}")
    assert max(prices) == float(f"{h:.{pd}f}") and min(prices) == float(f"{lo:.{pd}f}")
    units = sum(int(r[1][1].replace(".", "")) for r in rows)
    assert units == int(f"{v:.8f}".replace(".", ""))  # volumes add up exactly, in 1e-8 units
    ts = [x[0] for x in rows]
    assert ts == sorted(ts) and t * NS < ts[0] and ts[-1] < (t + 60) * NS  # inside the candle, never on an edge


def test_trades_pages_follow_the_ns_cursor_without_gaps_or_repeats():
    m = market()
    all_rows, cursor = [], str(m.t0 * NS - 1)
    while True:
        rows, last = trades_page(m, KEY, 40, cursor, 37)
        if not rows:
            assert last == cursor
            break
        assert int(last) > int(cursor) and rows[-1][2] == pytest.approx(int(last) / NS)
        all_rows += rows
        cursor = last
    want = [r for i in range(40) for _, r in candle_trades(m, KEY, i)]
    assert all_rows == want
    recent, _ = trades_page(m, KEY, 40, None, 10)
    assert recent == want[-10:]


# ---- download against the sandbox -----------------------------------------------------------------

def test_download_spanning_trades_and_ohlc_equals_the_sandbox_candles(tmp_path):
    m = market()
    store = BarStore(tmp_path)
    seen = []

    async def main():
        async with Sandbox(market=m, public_limit=LIMIT) as sb, client(sb) as k:
            r = await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS + 7,
                                    trades_per_call=100, progress=lambda d, e, p: seen.append((d, e, p)))
            return r, sb.public_limit.refused, [p for meth, p in sb.requests]

    r, refused, paths = asyncio.run(main())
    assert refused == 0  # the client's limiter kept every call under the server's budget
    assert r.from_ohlc == 719 and r.from_trades == HISTORY - 719 and r.added == HISTORY
    assert paths.count("/0/public/Trades") > 5 and r.calls == len(paths)
    assert_bars_equal(store.read("kraken", "BTC/USD", "1m"), expected(m))
    assert {p for *_, p in seen} == {"trades", "ohlc"} and seen[-1][0] == seen[-1][1] == m.index * 60 * NS + m.t0 * NS
    assert [d for d, *_ in seen] == sorted(d for d, *_ in seen)  # progress only moves forward
    marker = json.loads((store.series_dir("kraken", "BTC/USD", "1m") / MARKER).read_text())
    assert marker["covered"] == [m.t0 * NS, (m.t0 + m.index * 60) * NS]


def test_the_sandbox_refuses_public_calls_over_its_budget():
    async def main():
        async with Sandbox(seed=1, public_limit=(3, 1.0)) as sb, httpx.AsyncClient(base_url=sb.base_url) as raw:
            return [(await raw.get("/0/public/Time")).json()["error"] for _ in range(6)]

    errors = asyncio.run(main())
    assert errors[:3] == [[], [], []] and ["EGeneral:Too many requests"] in errors[3:]


def test_an_interrupted_download_resumes_without_lost_or_repeated_candles(tmp_path):
    m = market(seed=5)
    store = BarStore(tmp_path)

    async def main():
        async with Sandbox(market=m, public_limit=LIMIT) as sb:
            pages = []

            def progress(done, end, phase):
                pages.append(done)
                if len(pages) == 4:  # the venue breaks down in the middle of the trades
                    sb.faults.inject("http_500", "Trades", count=10)

            async with client(sb, retries=0) as k:
                with pytest.raises(VenueUnavailable):
                    await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS,
                                        trades_per_call=60, flush_every=2, progress=progress)
            partial = store.read("kraken", "BTC/USD", "1m")
            sb.faults.clear()
            async with client(sb) as k:
                r2 = await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS,
                                         trades_per_call=60)
                r3 = await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS)
                sb.advance(5)
                r4 = await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS)
            return partial, r2, r3, r4

    partial, r2, r3, r4 = asyncio.run(main())
    want = expected(m)
    n = partial["ts"].size
    assert 0 < n < HISTORY - 719  # stopped inside the trades part, with whole candles only
    assert_bars_equal(partial, {c: a[:n] for c, a in want.items()})
    assert r2.resumed and r2.start == int(want["ts"][n]) and r2.added == HISTORY - n and r2.replaced == 0
    assert r3.calls == 1 and r3.added == 0 and "up to date" in r3.summary()
    assert r4.added == 5 and r4.from_trades == 0
    assert_bars_equal(store.read("kraken", "BTC/USD", "1m"), want)


def test_asking_for_older_history_fills_the_front_and_keeps_the_rest(tmp_path):
    m = market(seed=9)
    store = BarStore(tmp_path)

    async def main():
        async with Sandbox(market=m, public_limit=LIMIT) as sb, client(sb) as k:
            a = await download_bars(k, store, pair="SOLUSD", symbol="SOL/USD", timeframe="1m",
                                    since_ns=(m.t0 + 200 * 60) * NS)
            b = await download_bars(k, store, pair="SOLUSD", symbol="SOL/USD", timeframe="1m", since_ns=m.t0 * NS)
            return a, b

    a, b = asyncio.run(main())
    assert a.added == HISTORY - 200 and b.added == 200 and b.from_ohlc == 0
    assert_bars_equal(store.read("kraken", "SOL/USD", "1m"), expected(m, "SOLUSD"))


def test_ohlc_only_range_stores_closed_candles_and_never_the_forming_one(tmp_path):
    m = market()
    store = BarStore(tmp_path)

    async def main():
        async with Sandbox(market=m) as sb, client(sb) as k:
            return await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m",
                                       since_ns=(m.t0 + (HISTORY - 10) * 60) * NS)

    r = asyncio.run(main())
    assert r.calls == 1 and r.from_trades == 0 and r.added == 10
    assert_bars_equal(store.read("kraken", "BTC/USD", "1m"), expected(m, first=HISTORY - 10))


def test_a_timeframe_kraken_does_not_serve_is_refused(tmp_path):
    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(lambda r: httpx.Response(500))) as k:
            await download_bars(k, BarStore(tmp_path), pair=KEY, symbol="BTC/USD", timeframe="2m", since_ns=0)

    with pytest.raises(DataError, match="Kraken serves candles of 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 15d.*2m"):
        asyncio.run(main())


# ---- broken answers (MockTransport) ----------------------------------------------------------------

T0 = 1_700_000_000 - 1_700_000_000 % 60


def venue(trades=None, ohlc=None):
    """A fake Kraken: a 3-row OHLC window starting at T0 + 600 and the given Trades pages."""
    def handler(request: httpx.Request) -> httpx.Response:
        ep = request.url.path.rsplit("/", 1)[-1]
        if ep == "OHLC":
            body = ohlc if ohlc is not None else {"error": [], "result": {KEY: [
                [T0 + 600 + 60 * j, "10.0", "11.0", "9.0", "10.5", "10.2", "1.5", 3] for j in range(3)],
                "last": T0 + 660}}
            return httpx.Response(200, json=body) if isinstance(body, dict) else httpx.Response(200, content=body)
        assert ep == "Trades"
        return httpx.Response(200, json=trades(request))
    return httpx.MockTransport(handler)


def run_download(transport, tmp_path):
    async def main():
        async with KrakenHttp(transport=transport, public_burst=100, public_rate=1000) as k:
            return await download_bars(k, BarStore(tmp_path), pair=KEY, symbol="BTC/USD", timeframe="1m",
                                       since_ns=T0 * NS)
    return asyncio.run(main())


def page(rows, last):
    return {"error": [], "result": {KEY: rows, "last": last}}


def test_the_fake_venue_works_end_to_end(tmp_path):
    trades = lambda r: page([["10.0", "1.0", T0 + 1.5, "b", "m", "", 1], ["12.0", "2.0", T0 + 700.0, "b", "m", "", 2]],
                            str((T0 + 700) * NS))
    r = run_download(venue(trades), tmp_path)
    got = BarStore(tmp_path).read("kraken", "BTC/USD", "1m")
    assert r.from_trades == 1 and r.from_ohlc == 2 and got["ts"].tolist() == [T0 * NS, (T0 + 600) * NS, (T0 + 660) * NS]
    assert got["volume"].tolist() == [1.0, 1.5, 1.5]


@pytest.mark.parametrize("rows,last,match", [
    ([["abc", "1.0", T0 + 1.0, "b", "m", "", 1]], "1", r"Kraken Trades: .*trade 0 .*price 'abc' is not a number"),
    ([["10.0", "-1", T0 + 1.0, "b", "m", "", 1]], "1", r"Kraken Trades: .*volume must be >= 0, was '-1'"),
    ([["10.0", "1", T0 + 5.0, "b", "m", "", 1], ["10.0", "1", T0 + 2.0, "b", "m", "", 2]], "1",
     r"Kraken Trades: .*trade 1 .* is older than the one before it"),
    ([["10.0", "1", T0 + 5.0, "b", "m", "", 1]], "5", r"Kraken Trades: .*`last` cursor '5' does not move"),
    ([["10.0", "1", T0 + 5.0, "b", "m", "", 1]], "soon", r"Kraken Trades: .*`last` cursor 'soon' does not move"),
    ([[10.0, "1", T0 + 5.0, "b", "m", "", 1]], "1",
     r"Kraken Trades: unexpected response: Expected `str`, got `float` - at `result.XXBTZUSD\[0\]\[0\]`"),
])
def test_broken_trades_pages_name_endpoint_row_and_field(tmp_path, rows, last, match):
    with pytest.raises(ResponseError, match=match):
        run_download(venue(lambda r: page(rows, last)), tmp_path)


@pytest.mark.parametrize("ohlc,match", [
    ({"error": [], "result": {KEY: [[T0 + 630, "1", "1", "1", "1", "1", "1", 1], [T0 + 690, "1", "1", "1", "1", "1",
                                                                                   "1", 1]], "last": T0 + 630}},
     r"Kraken OHLC: .*not on the 1m grid"),
    ({"error": [], "result": {KEY: [[T0 + 600, "x", "1", "1", "1", "1", "1", 1], [T0 + 660, "1", "1", "1", "1", "1",
                                                                                  "1", 1]], "last": T0 + 600}},
     r"Kraken OHLC: .*open 'x' is not a number"),
    ({"error": [], "result": {KEY: [], "last": T0}}, r"Kraken OHLC: unexpected response: no candles"),
    ({"error": [], "result": {KEY: []}}, r"Kraken OHLC: .*`result.last` is missing"),
    (b"<html>502 Bad Gateway</html>", r"Kraken OHLC: response is not a Kraken envelope"),
    ({"error": ["EQuery:Unknown asset pair"]}, r"Kraken OHLC: EQuery:Unknown asset pair"),
])
def test_broken_ohlc_answers_give_clear_errors(tmp_path, ohlc, match):
    trades = lambda r: page([], str(T0 * NS))
    with pytest.raises(Exception, match=match):
        run_download(venue(trades, ohlc), tmp_path)
    assert not (BarStore(tmp_path).series_dir("kraken", "BTC/USD", "1m") / "bars.parquet").exists()


def test_a_damaged_progress_file_is_named(tmp_path):
    d = BarStore(tmp_path).series_dir("kraken", "BTC/USD", "1m")
    d.mkdir(parents=True)
    (d / MARKER).write_text("{not json")
    with pytest.raises(DataError, match=r"download.json: download progress file is damaged.*delete it to start over"):
        run_download(venue(lambda r: page([], "0")), tmp_path)


def test_a_venue_whose_since_is_inclusive_does_not_count_a_trade_twice(tmp_path):
    tape = [(T0 + 1.0, "10.0", "1.0"), (T0 + 2.0, "11.0", "2.0"), (T0 + 61.0, "12.0", "4.0"), (T0 + 62.0, "9.0", "8.0"),
            (T0 + 130.0, "10.0", "16.0"), (T0 + 700.0, "10.0", "32.0")]

    def trades(request):
        since = int(request.url.params["since"])
        rows = [[p, q, t, "b", "m", "", j + 1] for j, (t, p, q) in enumerate(tape) if round(t * NS) >= since][:2]
        return page(rows, str(round(rows[-1][2] * NS)) if rows else str(since))

    r = run_download(venue(trades), tmp_path)
    got = BarStore(tmp_path).read("kraken", "BTC/USD", "1m")
    assert r.from_trades == 3 and r.trades == 5
    assert got["volume"].tolist()[:3] == [3.0, 12.0, 16.0] and got["trades"].tolist()[:3] == [2.0, 2.0, 1.0]
    assert got["high"].tolist()[:3] == [11.0, 12.0, 10.0] and got["low"].tolist()[:3] == [10.0, 9.0, 10.0]


def test_a_recorded_kraken_ohlc_page_is_stored_as_recorded_without_its_forming_candle(recorded, tmp_path):
    body = recorded("OHLC_BTCUSD_60.json")
    rows = json.loads(body)["result"]["BTC/USD"]
    trades_body = json.loads(recorded("Trades_BTCUSD.json"))  # its trades lie in the forming candle

    def handler(request):
        ep = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, content=body) if ep == "OHLC" else httpx.Response(200, json=trades_body)

    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(handler), public_burst=100, public_rate=1000) as k:
            return await download_bars(k, BarStore(tmp_path), pair="BTC/USD", symbol="BTC/USD", timeframe="1h",
                                       since_ns=(rows[0][0] - 7200) * NS)

    r = asyncio.run(main())
    got = BarStore(tmp_path).read("kraken", "BTC/USD", "1h")
    assert r.from_ohlc == len(rows) - 1 and r.from_trades == 0
    assert got["ts"].tolist() == [row[0] * NS for row in rows[:-1]]
    assert got["close"].tolist() == [float(row[4]) for row in rows[:-1]]
    assert got["volume"].tolist() == [float(row[6]) for row in rows[:-1]]
    assert got["trades"].tolist() == [float(row[7]) for row in rows[:-1]]


class GappyMarket(SyntheticMarket):
    """A replay like recorded data: some candles had no trade (flat, volume 0), some one print."""

    def candle(self, pair, i):
        t, o, h, lo, c, v, n = super().candle(pair, i)
        if i % 7 == 3:
            return t, o, o, o, o, 0.0, 0
        return (t, o, h, lo, c, v, 1) if i % 5 == 1 else (t, o, h, lo, c, v, n)


def test_empty_and_thin_candles_of_a_replay_stay_consistent_between_ohlc_trades_and_download(tmp_path):
    m = GappyMarket({KEY: 85000.0}, seed=4, history=800)
    store = BarStore(tmp_path)

    async def main():
        async with Sandbox(market=m) as sb, client(sb) as k:
            ohlc = await k.ohlc(KEY, 1)
            r = await download_bars(k, store, pair=KEY, symbol="BTC/USD", timeframe="1m", since_ns=m.t0 * NS)
            return ohlc, r

    ohlc, r = asyncio.run(main())
    counts = {row.time: row.count for row in ohlc.rows[:-1]}
    assert {counts[m.t0 + 60 * i] for i in range(81, 800) if i % 7 == 3} == {0}
    assert {counts[m.t0 + 60 * i] for i in range(81, 800) if i % 5 == 1 and i % 7 != 3} == {4}
    want = expected(m)
    keep = want["volume"] > 0  # no trades, no candle: on both paths
    want = {c: a[keep] for c, a in want.items()}
    want["trades"] = np.maximum(want["trades"], 4)
    assert r.from_trades + r.from_ohlc == keep.sum() < 800
    assert_bars_equal(store.read("kraken", "BTC/USD", "1m"), want)
