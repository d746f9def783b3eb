from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradejet.adapters.kraken.errors import InvalidArguments, OrderMinimumNotMet
from tradejet.adapters.kraken.http import KrakenHttp
from tradejet.adapters.kraken.orders import build_add_order, exit_volume, round_price, round_volume
from tradejet.errors import VenueUnavailable

from .conftest import check_signed, form, ok

BTC = {"altname": "XBTUSD", "base": "XXBT", "quote": "ZUSD", "pair_decimals": 1, "lot_decimals": 8,
       "cost_decimals": 5, "tick_size": "0.1", "ordermin": "0.00005", "costmin": "0.5", "status": "online"}
DOGE = {"altname": "XDGUSD", "base": "XXDG", "quote": "ZUSD", "pair_decimals": 7, "lot_decimals": 8,
        "tick_size": "0.0000001", "ordermin": "50", "costmin": "0.5"}
ODD_TICK = {"altname": "X", "base": "A", "quote": "B", "pair_decimals": 2, "lot_decimals": 3, "tick_size": "0.05"}


def test_rounding_examples():
    assert round_price(37500.04, BTC) == "37500.0"
    assert round_price("37500.05", BTC) == "37500.1"
    assert round_price(0.123456789, DOGE) == "0.1234568"
    assert round_price(1.23, ODD_TICK) == "1.25" and round_price(1.22, ODD_TICK) == "1.20"
    assert round_volume(1.999999999, BTC) == "1.99999999"
    assert round_volume("0.00005", BTC) == "0.00005000"
    with pytest.raises(InvalidArguments, match="volume must be > 0"):
        round_volume(0, BTC)
    with pytest.raises(InvalidArguments, match="price must be finite"):
        round_price(float("nan"), BTC)


@given(st.floats(1e-6, 1e6), st.sampled_from([BTC, DOGE, ODD_TICK]))
def test_price_lands_on_a_tick_within_half_a_tick(price, meta):
    tick = Decimal(meta["tick_size"])
    try:
        out = Decimal(round_price(price, meta))
    except InvalidArguments:
        assert Decimal(repr(price)) < tick / 2  # only a price below half a tick refuses to round
        return
    assert out % tick == 0
    assert abs(out - Decimal(repr(price))) <= tick / 2


@given(st.floats(1e-3, 1e6), st.sampled_from([BTC, DOGE, ODD_TICK]))
def test_volume_rounds_down_within_one_lot(vol, meta):
    try:
        out = Decimal(round_volume(vol, meta))
    except InvalidArguments:
        return
    step = Decimal(1).scaleb(-meta["lot_decimals"])
    v = Decimal(repr(vol))
    assert out <= v < out + step
    assert out.as_tuple().exponent >= -meta["lot_decimals"]


def test_minimums_checked_before_sending():
    with pytest.raises(OrderMinimumNotMet, match="below ordermin 0.00005"):
        build_add_order("XXBTZUSD", BTC, "buy", "limit", 0.00004, price=50000)
    with pytest.raises(OrderMinimumNotMet, match="below costmin 0.5"):
        build_add_order("XXBTZUSD", BTC, "buy", "limit", 0.00005, price=5000)
    with pytest.raises(OrderMinimumNotMet, match="costmin"):
        build_add_order("XXBTZUSD", BTC, "buy", "market", 0.00005, ref_price=5000)
    p = build_add_order("XXBTZUSD", BTC, "buy", "market", 0.0001, ref_price=80000)
    assert p["volume"] == "0.00010000" and "price" not in p


def test_order_types_and_flags():
    p = build_add_order("XXBTZUSD", BTC, 1, "limit", 0.01, price=80000.04, post_only=True, timeinforce="GTC",
                        cl_ord_id="abc", validate=True)
    assert p == {"pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "0.01000000",
                 "price": "80000.0", "oflags": "post", "timeinforce": "GTC", "cl_ord_id": "abc", "validate": "true"}
    s = build_add_order("XXBTZUSD", BTC, -1, "stop-loss", 0.01, price=70000)
    assert s["type"] == "sell" and s["price"] == "70000.0"
    t = build_add_order("XXBTZUSD", BTC, "sell", "take-profit", 0.01, price=90000)
    assert t["ordertype"] == "take-profit"
    with pytest.raises(InvalidArguments, match="needs a price"):
        build_add_order("XXBTZUSD", BTC, "buy", "limit", 0.01)
    with pytest.raises(InvalidArguments, match="post-only"):
        build_add_order("XXBTZUSD", BTC, "buy", "market", 0.01, post_only=True)
    with pytest.raises(InvalidArguments, match="side"):
        build_add_order("XXBTZUSD", BTC, "long", "market", 0.01)
    with pytest.raises(InvalidArguments, match="cancel_only"):
        build_add_order("ACAEUR", {**BTC, "status": "cancel_only"}, "buy", "market", 0.01)
    assert len(build_add_order("XXBTZUSD", BTC, "buy", "market", 0.01)["cl_ord_id"]) == 36


def test_exit_volume_never_exceeds_holding():
    assert exit_volume("0.123456789", BTC) == "0.12345678"
    assert exit_volume("100.5", DOGE, fee_in_base="0.4") == "100.10000000"


# ---- the lost AddOrder answer -----------------------------------------------------------------

class LossyKraken:
    """A MockTransport venue that books AddOrder and then 'loses' the answer (timeout) N times."""

    def __init__(self, lose: int, *, placed_before_loss: bool = True, lookup_fails: bool = False):
        self.lose = lose
        self.placed_before_loss = placed_before_loss
        self.lookup_fails = lookup_fails
        self.orders: dict[str, dict] = {}
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        check_signed(request)
        ep = request.url.path.rsplit("/", 1)[1]
        self.calls.append(ep)
        f = form(request)
        if ep == "AddOrder":
            cl = f["cl_ord_id"]
            if any(o["cl_ord_id"] == cl for o in self.orders.values()):
                return httpx.Response(200, json={"error": ["EGeneral:Invalid arguments:cl_ord_id already used"]})
            if self.lose > 0:
                self.lose -= 1
                if self.placed_before_loss:
                    self.orders[f"O{len(self.orders)}"] = self._order(f)
                raise httpx.ReadTimeout("answer lost", request=request)
            txid = f"O{len(self.orders)}"
            self.orders[txid] = self._order(f)
            return ok({"descr": {"order": "buy"}, "txid": [txid]})
        if self.lookup_fails:
            return httpx.Response(503)
        if ep == "OpenOrders":
            return ok({"open": {k: v for k, v in self.orders.items() if v["cl_ord_id"] == f.get("cl_ord_id")}})
        if ep == "ClosedOrders":
            return ok({"closed": {}, "count": 0})
        raise AssertionError(ep)

    @staticmethod
    def _order(f):
        return {"status": "open", "opentm": 1.0, "cl_ord_id": f["cl_ord_id"],
                "descr": {"pair": f["pair"], "type": f["type"], "ordertype": f["ordertype"], "price": "0",
                          "price2": "0", "leverage": "none", "order": f"{f['type']} {f['volume']}"},
                "vol": f["volume"], "vol_exec": "0", "cost": "0", "fee": "0", "price": "0"}


def _place(venue, creds, clock):
    async def main():
        async with KrakenHttp(creds, transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock) as k:
            return await k.add_order(build_add_order("XXBTZUSD", BTC, "buy", "market", 0.01, ref_price=80000))
    return asyncio.run(main())


def test_lost_answer_after_the_order_was_placed_is_not_resent(creds, clock):
    venue = LossyKraken(lose=1, placed_before_loss=True)
    r = _place(venue, creds, clock)
    assert len(venue.orders) == 1 and r.txid == ["O0"]
    assert venue.calls.count("AddOrder") == 1 and "OpenOrders" in venue.calls


def test_lost_request_that_never_arrived_is_resent_once(creds, clock):
    venue = LossyKraken(lose=1, placed_before_loss=False)
    r = _place(venue, creds, clock)
    assert len(venue.orders) == 1 and r.txid == ["O0"]
    assert venue.calls.count("AddOrder") == 2
    i = venue.calls.index("OpenOrders")
    assert venue.calls.index("AddOrder") < i < len(venue.calls) - 1  # looked up before resending


def test_lookup_failure_means_outcome_unknown_and_no_resend(creds, clock):
    venue = LossyKraken(lose=1, placed_before_loss=False, lookup_fails=True)
    with pytest.raises(VenueUnavailable, match="outcome unknown"):
        _place(venue, creds, clock)
    assert venue.calls.count("AddOrder") == 1


def test_ohlc_since_pages_until_caught_up(clock):
    rows = [[t, "1", "2", "0.5", "1.5", "1.2", "3", 4] for t in range(0, 60 * 1000, 60)]

    def venue(request):
        since = int(request.url.params.get("since", 0))
        newer = [r for r in rows if r[0] >= since][:720]
        return ok({"XXBTZUSD": newer, "last": newer[-2][0] if len(newer) > 1 else since})

    async def main():
        async with KrakenHttp(transport=httpx.MockTransport(venue), sleep=clock.sleep, clock=clock) as k:
            return await k.ohlc_since("XXBTZUSD", 1, 0)

    got = asyncio.run(main())
    assert [r.time for r in got] == [r[0] for r in rows[:-1]]  # the final (forming) row is left out


def test_lookup_ignores_orders_that_do_not_echo_our_cl_ord_id(creds, clock):
    """A venue that ignores the cl_ord_id filter must not make an unrelated order look like ours."""
    venue = LossyKraken(lose=1, placed_before_loss=False)
    unrelated = LossyKraken._order({"cl_ord_id": "x", "pair": "XBTUSD", "type": "buy", "ordertype": "market",
                                    "volume": "1"})
    del unrelated["cl_ord_id"]
    inner = venue.__call__

    def ignoring_filter(request):
        if request.url.path.endswith("/ClosedOrders"):
            venue.calls.append("ClosedOrders")
            return ok({"closed": {"OUNRELATED": {**unrelated, "status": "closed"}}, "count": 1})
        return inner(request)

    r = _place(ignoring_filter, creds, clock)
    assert r.txid == ["O0"] and venue.calls.count("AddOrder") == 2


def test_submit_order_message_maps_to_add_order():
    from tradejet.adapters.kraken.orders import submit_params
    from tradejet.kernels.codes import OrderType, Side
    from tradejet.messages import SubmitOrder

    o = SubmitOrder(client_order_id="c-1", symbol="BTC/USD", side=Side.BUY, qty=0.0123456789,
                    order_type=OrderType.LIMIT, ts_init=0, limit_price=80000.04, post_only=True)
    assert submit_params(o, "XXBTZUSD", BTC) == {
        "pair": "XXBTZUSD", "type": "buy", "ordertype": "limit", "volume": "0.01234567", "price": "80000.0",
        "oflags": "post", "cl_ord_id": "c-1"}
    s = SubmitOrder(client_order_id="c-2", symbol="BTC/USD", side=Side.SELL, qty=0.01,
                    order_type=OrderType.STOP_LOSS, ts_init=0, stop_price=70000)
    assert submit_params(s, "XXBTZUSD", BTC)["price"] == "70000.0"
    with pytest.raises(InvalidArguments, match="needs a price"):
        submit_params(SubmitOrder(client_order_id="c-3", symbol="BTC/USD", side=Side.BUY, qty=0.01,
                                  order_type=OrderType.LIMIT, ts_init=0), "XXBTZUSD", BTC)
    with pytest.raises(InvalidArguments, match="margin"):
        submit_params(SubmitOrder(client_order_id="c-4", symbol="BTC/USD", side=Side.SELL, qty=0.01,
                                  order_type=OrderType.MARKET, ts_init=0, reduce_only=True), "XXBTZUSD", BTC)


def test_resend_refused_as_duplicate_finds_the_late_first_order(creds, clock):
    """The first AddOrder lands only after the lookup said 'not there': the resend is refused
    (cl_ord_id in use) and the client returns the first order instead of an error."""
    venue = LossyKraken(lose=1, placed_before_loss=False)
    inner = venue.__call__
    state = {"looked": 0}

    def late(request):
        ep = request.url.path.rsplit("/", 1)[1]
        if ep == "ClosedOrders":
            state["looked"] += 1
            if state["looked"] == 2:  # the second (last) lookup
                # the delayed first request is booked by the venue now, after both lookups
                f = {"cl_ord_id": last_cl[0], "pair": "XXBTZUSD", "type": "buy", "ordertype": "market",
                     "volume": "0.01000000"}
                venue.orders["OLATE"] = LossyKraken._order(f)
        if ep == "AddOrder":
            last_cl[0] = form(request)["cl_ord_id"]
        return inner(request)

    last_cl = [""]
    r = _place(late, creds, clock)
    assert r.txid == ["OLATE"] and list(venue.orders) == ["OLATE"]
