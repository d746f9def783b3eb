"""Property test of the sandbox's books: random orders, cancels and candles keep the ledger exact."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tradejet.adapters.kraken.sandbox import Exchange, Refusal, SyntheticMarket
from tradejet.adapters.kraken.sandbox.pairs import PAIRS, START_PRICES

KEY = "k"

action = st.one_of(
    st.tuples(st.just("order"), st.sampled_from(["XXBTZUSD", "SOLUSD"]), st.sampled_from(["buy", "sell"]),
              st.sampled_from(["market", "limit", "stop-loss", "take-profit"]), st.floats(0.001, 0.05),
              st.floats(0.9, 1.1)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("advance"), st.integers(1, 3)),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(action, min_size=1, max_size=40), st.integers(0, 5))
def test_random_sessions_keep_balances_exact(actions, seed):
    prices = {k: START_PRICES[k] for k in ("XXBTZUSD", "SOLUSD")}
    ex = Exchange(SyntheticMarket(prices, seed=seed), seed=seed)
    acct = ex.add_account(KEY, "c2VjcmV0", {"ZUSD": "5000", "XXBT": "0.05", "SOL": "5"})
    start = dict(acct.balances)
    for a in actions:
        try:
            if a[0] == "order":
                _, pair, side, ot, vol, rel = a
                r = PAIRS[pair]
                px = ex.market.last_price(pair) * rel
                p = {"pair": pair, "type": side, "ordertype": ot,
                     "volume": f"{Decimal(str(vol)) * (10 if pair == 'SOLUSD' else 1):.8f}"}
                if ot != "market":
                    p["price"] = f"{px:.{r['pair_decimals']}f}"
                ex.private("AddOrder", acct, p)
            elif a[0] == "cancel":
                open_ = [t for t, o in ex.orders.items() if o.status == "open"]
                if open_:
                    ex.private("CancelOrder", acct, {"txid": open_[a[1] % len(open_)]})
            else:
                ex.advance(a[1])
        except Refusal as e:
            assert str(e).startswith(("EOrder:", "EGeneral:Invalid arguments", "EAPI:Rate limit"))
        # invariants after every step
        for asset, v in acct.balances.items():
            if asset != "ZUSD":
                assert v >= 0, (asset, v)
            assert ex._available(acct, asset) >= -Decimal("1e-8") or asset == "ZUSD"
        cls = [o.cl_ord_id for o in ex.orders.values() if o.status == "open" and o.cl_ord_id]
        assert len(cls) == len(set(cls))
    # the ledger: every balance change is explained by the recorded trades
    expect = dict(start)
    for t in ex.trades.values():
        base = PAIRS[t["pair"]]["base"]
        cost, fee, vol = Decimal(t["cost"]), Decimal(t["fee"]), Decimal(t["vol"])
        sign = 1 if t["type"] == "buy" else -1
        expect[base] = expect.get(base, Decimal(0)) + sign * vol
        expect["ZUSD"] = expect["ZUSD"] - sign * cost - fee
        rate = Decimal("0.0025") if t["maker"] else Decimal("0.0040")
        assert abs(fee - cost * rate) <= Decimal("0.00001")
    assert {k: v for k, v in acct.balances.items()} == {k: v for k, v in expect.items() if k in acct.balances}
    for o in ex.orders.values():
        assert o.status in ("open", "closed", "canceled")
        assert (o.status == "closed") == (o.vol_exec == o.vol)
