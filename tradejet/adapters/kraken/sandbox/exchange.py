"""The sandbox's exchange state and its Kraken endpoints (transport-free, so tests can call it).

Each handler takes the request parameters (strings, as Kraken receives them) and returns
the ``result`` object Kraken would send, or raises :class:`Refusal` with Kraken's exact
error string. Authentication, nonces and rate limits are checked in :meth:`Exchange.private`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from tradejet.adapters.kraken.orders import valid_cl_ord_id
from tradejet.adapters.kraken.ratelimit import TIERS, TRADING, DecayingCounter, rest_cost, trade_cost
from tradejet.adapters.kraken.sandbox.keys import AccountInfo, check_permission
from tradejet.adapters.kraken.sandbox.market import MarketSource
from tradejet.adapters.kraken.sandbox.matching import match_order
from tradejet.adapters.kraken.sandbox.pairs import MAKER_FEE, PAIRS, TAKER_FEE, WS_SYMBOLS
from tradejet.adapters.kraken.sandbox.public import MarketData, Refusal

__all__ = ["Refusal", "Exchange", "Account", "SandboxOrder"]


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(prefix: str, rng: random.Random) -> str:
    a = string.ascii_uppercase + string.digits
    return f"{prefix}{''.join(rng.choices(a, k=5))}-{''.join(rng.choices(a, k=5))}-{''.join(rng.choices(a, k=6))}"


def _fmt(x: float | Decimal, decimals: int) -> str:
    return f"{float(x):.{decimals}f}"


def _dec_places(s: str) -> int:
    return len(s.split(".", 1)[1]) if "." in s else 0


@dataclass
class SandboxOrder:
    txid: str
    pair: str
    side: str
    ordertype: str
    vol: Decimal
    price: float  # limit price / trigger price (0 for market)
    price2: float
    cl_ord_id: str | None
    userref: int
    post_only: bool
    oflags: str
    opentm: float
    placed_index: int  # first candle that may fill it
    hold_asset: str
    hold: Decimal
    status: str = "open"
    vol_exec: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    avg_price: float = 0.0
    closetm: float | None = None
    reason: str | None = None
    trades: list[str] = field(default_factory=list)
    timeinforce: str = "GTC"


@dataclass
class Account:
    key: str
    secret: str
    balances: dict[str, Decimal]
    last_nonce: int = 0
    rest: DecayingCounter | None = None
    pairs: dict[str, DecayingCounter] = field(default_factory=dict)
    ws_tokens: dict[str, float] = field(default_factory=dict)
    dms_deadline: float | None = None
    permissions: frozenset[str] | None = None  # None: every permission (see sandbox.keys)


class Exchange(MarketData, AccountInfo):
    """Balances, orders, trades and market replay of one sandbox."""

    def __init__(self, market: MarketSource, *, tier: str = "starter", seed: int = 0,
                 clock: Callable[[], float] = time.time, taker_fee: float = TAKER_FEE, maker_fee: float = MAKER_FEE,
                 participation: float | None = None):
        self.market = market
        if participation is not None and not participation > 0:
            raise ValueError(f"participation must be > 0, was {participation}")
        # the shared fill model's cap: one candle fills at most participation * its volume
        # (rounded down to the lot); None fills any size at once
        self.participation = participation
        self.tier = TIERS[tier]
        self.clock = clock
        self.taker_fee = Decimal(str(taker_fee))
        self.maker_fee = Decimal(str(maker_fee))
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, SandboxOrder] = {}
        self.trades: dict[str, dict[str, Any]] = {}
        self._rng = random.Random(seed)
        self.status = "online"
        self.listeners: list[Callable[[str, Any], None]] = []  # (event, payload) for the WebSocket side
        self._trade_seq = 1
        self._owner: dict[str, str] = {}  # txid -> API key

    # -- accounts and authentication --------------------------------------------------------------

    def add_account(self, key: str, secret: str, balances: dict[str, str | float] | None = None,
                    permissions: frozenset[str] | None = None) -> Account:
        now = self.clock()
        bal = {a: Decimal(str(v)) for a, v in (balances or {"ZUSD": "10000"}).items()}
        acct = Account(key, secret, bal, rest=DecayingCounter(self.tier.rest_max, self.tier.rest_decay, now),
                       permissions=permissions)
        self.accounts[key] = acct
        return acct

    def authenticate(self, path: str, headers: dict[str, str], body: str, nonce: str | None) -> Account:
        """Check API-Key, API-Sign and the nonce exactly as Kraken does; return the account."""
        acct = self.accounts.get(headers.get("api-key", ""))
        if acct is None:
            raise Refusal("EAPI:Invalid key")
        if nonce is None or not nonce.isdigit():
            raise Refusal("EAPI:Invalid nonce")
        sig = headers.get("api-sign", "")
        digest = hashlib.sha256((nonce + body).encode()).digest()
        want = base64.b64encode(hmac.new(base64.b64decode(acct.secret), path.encode() + digest,
                                         hashlib.sha512).digest()).decode()
        if not hmac.compare_digest(sig.encode(), want.encode()):
            raise Refusal("EAPI:Invalid signature")
        n = int(nonce)
        if n <= acct.last_nonce:
            raise Refusal("EAPI:Invalid nonce")
        acct.last_nonce = n
        return acct

    def charge(self, acct: Account, endpoint: str, params: dict[str, Any]) -> None:
        """Count the call against Kraken's limits; refuse when over."""
        now = self.clock()
        if endpoint in TRADING:
            pair = self._pair(params.get("pair")) if params.get("pair") else None
            age = None
            if endpoint in ("CancelOrder", "AmendOrder", "EditOrder"):
                o = self._find(params)
                if o is None:
                    return
                pair, age = o.pair, now - o.opentm
            if pair is None:
                return
            c = acct.pairs.setdefault(pair, DecayingCounter(self.tier.trade_max, self.tier.trade_decay, now))
            cost = trade_cost(endpoint, age, len(params.get("orders", [])) or 1)
            if c.level(now) + cost > c.limit:
                raise Refusal("EOrder:Rate limit exceeded")
            c.add(cost, now)
        else:
            assert acct.rest is not None
            cost = rest_cost(endpoint)
            if acct.rest.level(now) + cost > acct.rest.limit:
                raise Refusal("EAPI:Rate limit exceeded")
            acct.rest.add(cost, now)

    # -- helpers ---------------------------------------------------------------------------------

    def _find(self, params: dict[str, Any]) -> SandboxOrder | None:
        if params.get("txid"):
            return self.orders.get(str(params["txid"]))
        cl = params.get("cl_ord_id")
        if cl:
            for o in self.orders.values():
                if o.cl_ord_id == cl and o.status == "open":
                    return o
        return None

    def _available(self, acct: Account, asset: str) -> Decimal:
        held = sum((o.hold for o in self.orders.values()
                    if o.status == "open" and o.hold_asset == asset and self._owner.get(o.txid) == acct.key),
                   Decimal(0))
        return acct.balances.get(asset, Decimal(0)) - held

    def _emit(self, event: str, payload: Any) -> None:
        for fn in list(self.listeners):
            fn(event, payload)

    # -- private endpoints ------------------------------------------------------------------------

    def private(self, endpoint: str, acct: Account, params: dict[str, Any]) -> Any:
        fn = getattr(self, f"priv_{endpoint}", None)
        if fn is None:
            raise Refusal("EGeneral:Unknown method")
        if self.status == "maintenance":
            raise Refusal("EService:Unavailable")
        check_permission(acct.permissions, endpoint)
        self.charge(acct, endpoint, params)
        return fn(acct, params)

    def priv_Balance(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        return {k: _fmt(v, 10 if k != "ZUSD" else 4) for k, v in a.balances.items()}

    def priv_BalanceEx(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        out = {}
        for k, v in a.balances.items():
            d = 10 if k != "ZUSD" else 4
            out[k] = {"balance": _fmt(v, d), "hold_trade": _fmt(v - self._available(a, k), d)}
        return out

    def priv_TradeBalance(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        eq = Decimal(0)
        for asset, v in a.balances.items():
            if asset == "ZUSD":
                eq += v
            else:
                key = next((k for k, r in PAIRS.items() if r["base"] == asset), None)
                if key:
                    eq += v * Decimal(str(self.market.last_price(key)))
        e = _fmt(eq, 4)
        return {"eb": e, "tb": e, "m": "0.0000", "n": "0.0000", "c": "0.0000", "v": "0.0000", "e": e, "mf": e,
                "uv": "0.0000"}

    def order_info(self, o: SandboxOrder, trades: bool = False) -> dict[str, Any]:
        r = PAIRS[o.pair]
        pd, alt = r["pair_decimals"], r["altname"]
        words = {"market": "market", "limit": f"limit {_fmt(o.price, pd)}",
                 "stop-loss": f"stop loss {_fmt(o.price, pd)}", "take-profit": f"take profit {_fmt(o.price, pd)}"}
        info: dict[str, Any] = {
            "refid": None, "userref": o.userref, "cl_ord_id": o.cl_ord_id, "status": o.status, "opentm": o.opentm,
            "starttm": 0, "expiretm": 0,
            "descr": {"pair": alt, "type": o.side, "ordertype": o.ordertype,
                      "price": _fmt(o.price, pd) if o.ordertype != "market" else "0", "price2": "0",
                      "leverage": "none", "order": f"{o.side} {_fmt(o.vol, 8)} {alt} @ {words[o.ordertype]}",
                      "close": ""},
            "vol": _fmt(o.vol, 8), "vol_exec": _fmt(o.vol_exec, 8), "cost": _fmt(o.cost, r["cost_decimals"]),
            "fee": _fmt(o.fee, r["cost_decimals"]), "price": _fmt(o.avg_price, pd), "stopprice": "0.00000",
            "limitprice": "0.00000", "misc": "", "oflags": o.oflags, "reason": o.reason,
        }
        if o.cl_ord_id is None:
            del info["cl_ord_id"]
        if o.status != "open":
            info["closetm"] = o.closetm
        if trades and o.trades:
            info["trades"] = list(o.trades)
        return info

    def _mine(self, a: Account) -> list[SandboxOrder]:
        return [o for o in self.orders.values() if self._owner.get(o.txid) == a.key]

    def priv_OpenOrders(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        cl = p.get("cl_ord_id")
        return {"open": {o.txid: self.order_info(o, p.get("trades") == "true") for o in self._mine(a)
                         if o.status == "open" and (not cl or o.cl_ord_id == cl)}}

    def priv_ClosedOrders(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        cl = p.get("cl_ord_id")
        start = float(p["start"]) if p.get("start") else None
        closed = [o for o in self._mine(a) if o.status != "open" and (not cl or o.cl_ord_id == cl)
                  and (start is None or o.opentm > start)]
        closed.sort(key=lambda o: -(o.closetm or 0))
        ofs = int(p.get("ofs", 0) or 0)
        return {"closed": {o.txid: self.order_info(o, p.get("trades") == "true") for o in closed[ofs:ofs + 50]},
                "count": len(closed)}

    def priv_QueryOrders(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        txids = [t for t in str(p.get("txid", "")).split(",") if t]
        if not txids:
            raise Refusal("EGeneral:Invalid arguments:txid")
        out = {}
        for t in txids:
            o = self.orders.get(t)
            if o is None or self._owner.get(t) != a.key:
                raise Refusal("EOrder:Invalid order")
            out[t] = self.order_info(o, p.get("trades") == "true")
        return out

    def priv_TradesHistory(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        start = float(p["start"]) if p.get("start") else None
        mine = {k: v for k, v in self.trades.items() if v["_owner"] == a.key and (start is None or v["time"] > start)}
        items = sorted(mine.items(), key=lambda kv: -kv[1]["time"])
        ofs = int(p.get("ofs", 0) or 0)
        return {"trades": {k: {f: x for f, x in v.items() if not f.startswith("_")} for k, v in items[ofs:ofs + 50]},
                "count": len(items)}

    def priv_GetWebSocketsToken(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        token = base64.b64encode(self._rng.randbytes(30)).decode()
        a.ws_tokens[token] = self.clock() + 900
        return {"token": token, "expires": 900}

    def _num(self, v: Any, name: str) -> Decimal:
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise Refusal(f"EGeneral:Invalid arguments:{name}") from None
        if not d.is_finite() or d <= 0:
            raise Refusal(f"EGeneral:Invalid arguments:{name}")
        return d

    def validate_order(self, a: Account, p: dict[str, Any], pair: str | None = None) -> SandboxOrder:
        key = self._pair(pair or p.get("pair"))
        r = PAIRS[key]
        side, ot = p.get("type"), p.get("ordertype")
        if side not in ("buy", "sell"):
            raise Refusal("EGeneral:Invalid arguments:type")
        if ot not in ("market", "limit", "stop-loss", "take-profit"):
            raise Refusal("EGeneral:Invalid arguments:ordertype")
        vol_s = str(p.get("volume", ""))
        vol = self._num(vol_s, "volume")
        if _dec_places(vol_s) > r["lot_decimals"]:
            raise Refusal("EGeneral:Invalid arguments:volume")
        price = Decimal(0)
        if ot != "market":
            price_s = str(p.get("price", ""))
            price = self._num(price_s, "price")
            if _dec_places(price_s) > r["pair_decimals"]:
                raise Refusal("EGeneral:Invalid arguments:price")
            if price % Decimal(r["tick_size"]) != 0:
                raise Refusal("EOrder:Tick size check failed")
        flags = [f for f in str(p.get("oflags", "")).split(",") if f]
        if vol < Decimal(r["ordermin"]):
            raise Refusal("EOrder:Order minimum not met")
        ref = price if ot == "limit" else Decimal(str(self.market.last_price(key)))
        if vol * ref < Decimal(r["costmin"]):
            raise Refusal("EOrder:Cost minimum not met")
        tif = str(p.get("timeinforce", "GTC") or "GTC")
        if tif not in ("GTC", "IOC"):
            raise Refusal("EGeneral:Invalid arguments:timeinforce")
        cl = p.get("cl_ord_id") or None
        if cl is not None and not valid_cl_ord_id(str(cl)):
            raise Refusal("EGeneral:Invalid arguments:cl_ord_id")
        if cl is not None and p.get("userref"):
            raise Refusal("EGeneral:Invalid arguments:cl_ord_id and userref are mutually exclusive")
        try:
            userref = int(p.get("userref", 0) or 0)
        except ValueError:
            raise Refusal("EGeneral:Invalid arguments:userref") from None
        if cl is not None and any(o.cl_ord_id == cl and o.status == "open" for o in self._mine(a)):
            raise Refusal("EOrder:Duplicate order")  # cl_ord_id is unique over open orders
        if self.status in ("maintenance",):
            raise Refusal("EService:Unavailable")
        if self.status == "cancel_only":
            raise Refusal("EService:Market in cancel_only mode")
        if side == "buy":
            est = ref * Decimal("1.02") if ot != "limit" else ref
            hold_asset, hold = "ZUSD", (vol * est * (1 + self.taker_fee)).quantize(Decimal("0.0001"))
        else:
            hold_asset, hold = r["base"], vol
        if self._available(a, hold_asset) < hold:
            raise Refusal("EOrder:Insufficient funds")
        oflags = ",".join(dict.fromkeys([*(f for f in flags if f in ("post", "fcib", "fciq", "nompp")), "fciq"]))
        return SandboxOrder(
            txid=_id("O", self._rng), pair=key, side=side, ordertype=ot, vol=vol, price=float(price), price2=0.0,
            cl_ord_id=cl, userref=userref, post_only="post" in flags, oflags=oflags,
            opentm=round(self.clock(), 4), placed_index=self.market.index + 1, hold_asset=hold_asset, hold=hold,
            timeinforce=tif)

    def place(self, a: Account, o: SandboxOrder) -> None:
        self.orders[o.txid] = o
        self._owner[o.txid] = a.key
        self._emit("order", (a.key, o, "new"))

    def priv_AddOrder(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        o = self.validate_order(a, p)
        descr = {"order": self.order_info(o)["descr"]["order"]}
        if str(p.get("validate", "")).lower() == "true":
            return {"descr": descr}
        self.place(a, o)
        return {"descr": descr, "txid": [o.txid]}

    def priv_AddOrderBatch(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        orders = p.get("orders")
        if not isinstance(orders, list) or not 2 <= len(orders) <= 15:
            raise Refusal("EGeneral:Invalid arguments:orders")
        out, built = [], []
        for spec in orders:
            try:
                o = self.validate_order(a, spec, p.get("pair"))
                built.append(o)
                out.append({"descr": {"order": self.order_info(o)["descr"]["order"]}, "txid": o.txid,
                            **({"cl_ord_id": o.cl_ord_id} if o.cl_ord_id else {})})
            except Refusal as e:
                out.append({"error": str(e)})
        if not p.get("validate"):
            for o in built:
                self.place(a, o)
        else:
            for row in out:
                row.pop("txid", None)
        return {"orders": out}

    def priv_AmendOrder(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        o = self._find(p)
        if o is None or self._owner.get(o.txid) != a.key or o.status != "open":
            raise Refusal("EOrder:Unknown order")
        r = PAIRS[o.pair]
        if p.get("order_qty"):
            q = self._num(p["order_qty"], "order_qty")
            if q < o.vol_exec or q < Decimal(r["ordermin"]):
                raise Refusal("EOrder:Invalid order")
            if o.side == "sell":
                o.hold = q
            o.vol = q
        if p.get("limit_price"):
            if o.ordertype != "limit":
                raise Refusal("EGeneral:Invalid arguments:limit_price")
            px = self._num(p["limit_price"], "limit_price")
            if px % Decimal(r["tick_size"]) != 0:
                raise Refusal("EOrder:Tick size check failed")
            o.price = float(px)
        if o.side == "buy":
            o.hold = (o.vol * Decimal(str(o.price or self.market.last_price(o.pair))) * (1 + self.taker_fee))
        self._emit("order", (a.key, o, "amended"))
        return {"amend_id": _id("T", self._rng)}

    def priv_EditOrder(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        o = self._find(p)
        if o is None or self._owner.get(o.txid) != a.key or o.status != "open":
            raise Refusal("EOrder:Unknown order")
        spec = {"pair": o.pair, "type": o.side, "ordertype": o.ordertype,
                "volume": p.get("volume") or str(o.vol), "price": p.get("price") or str(o.price),
                "oflags": p.get("oflags") or o.oflags}
        old_hold, o.hold = o.hold, Decimal(0)  # the replacement may use the funds the old one holds
        try:
            new = self.validate_order(a, spec)
        except Refusal:
            o.hold = old_hold
            raise
        self._close(o, "canceled", "Order replaced")
        self.place(a, new)
        return {"descr": {"order": self.order_info(new)["descr"]["order"]}, "txid": new.txid,
                "originaltxid": o.txid, "volume": _fmt(new.vol, 8), "price": str(p.get("price") or ""),
                "orders_cancelled": 1, "status": "ok"}

    def _close(self, o: SandboxOrder, status: str, reason: str | None) -> None:
        o.status, o.reason, o.closetm, o.hold = status, reason, round(self.clock(), 4), Decimal(0)
        self._emit("order", (self._owner[o.txid], o, status))

    def priv_CancelOrder(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        o = self._find(p)
        if o is None or self._owner.get(o.txid) != a.key or o.status != "open":
            raise Refusal("EOrder:Unknown order")
        self._close(o, "canceled", "User requested")
        return {"count": 1}

    def priv_CancelAll(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        n = 0
        for o in self._mine(a):
            if o.status == "open":
                self._close(o, "canceled", "User requested")
                n += 1
        return {"count": n}

    def priv_CancelAllOrdersAfter(self, a: Account, p: dict[str, Any]) -> Any:  # noqa: N802
        try:
            timeout = int(p.get("timeout", ""))
        except ValueError:
            raise Refusal("EGeneral:Invalid arguments:timeout") from None
        now = self.clock()
        a.dms_deadline = now + timeout if timeout > 0 else None
        return {"currentTime": _rfc3339(now), "triggerTime": _rfc3339(a.dms_deadline) if a.dms_deadline else "0"}

    def check_dead_mans_switch(self) -> None:
        now = self.clock()
        for a in self.accounts.values():
            if a.dms_deadline is not None and now >= a.dms_deadline:
                a.dms_deadline = None
                for o in self._mine(a):
                    if o.status == "open":
                        self._close(o, "canceled", "Dead man's switch")

    # -- the market moves ---------------------------------------------------------------------------

    def advance(self, n: int = 1) -> list[str]:
        """Close the forming candle ``n`` times; fill what the closed candles allow. Return trade ids."""
        filled: list[str] = []
        for _ in range(n):
            m = self.market
            before = m.index
            m.advance(1)
            if m.index == before:  # a replay that reached its end stands still
                break
            new_open = m.candle
            for o in sorted((o for o in self.orders.values() if o.status == "open"), key=lambda o: o.opentm):
                if m.index < o.placed_index:
                    continue
                if m.index == o.placed_index:
                    # the first candle after the order opened: only its open is known yet. A
                    # market order fills there; a marketable limit or a gapped trigger too.
                    _, op, *_, vol, _n = new_open(o.pair, m.index)
                    op, hi, lo, cl = op, op, op, op
                else:
                    # later: checked against each candle that opened after placement, once closed
                    _, op, hi, lo, cl, vol, _n = new_open(o.pair, m.index - 1)
                match = match_order(o.side, o.ordertype, o.price, o.post_only, op, hi, lo, cl)
                if match is None:
                    if o.timeinforce == "IOC":
                        self._close(o, "canceled", "IOC")
                    continue
                if match.cancel_reason:
                    self._close(o, "canceled", match.cancel_reason)
                    continue
                qty = o.vol - o.vol_exec
                if self.participation is not None:
                    cap = (Decimal(repr(self.participation * vol)).quantize(Decimal("1e-8"), rounding="ROUND_DOWN"))
                    qty = min(qty, cap)
                if qty > 0:
                    filled.append(self._fill(o, match.price, match.maker, qty))
                if o.status == "open" and o.timeinforce == "IOC":
                    self._close(o, "canceled", "IOC")
            self._emit("candle", m.index)
            self.check_dead_mans_switch()
        return filled

    def _fill(self, o: SandboxOrder, price: float, maker: bool, qty: Decimal | None = None) -> str:
        r = PAIRS[o.pair]
        acct = self.accounts[self._owner[o.txid]]
        px = Decimal(_fmt(price, r["pair_decimals"]))
        left = o.vol - o.vol_exec
        qty = left if qty is None else min(qty, left)
        # the hold shrinks with the part filled (a partial fill frees its share)
        o.hold -= (o.hold * qty / left).quantize(Decimal("1e-10")) if left > 0 else o.hold
        cost = (qty * px).quantize(Decimal(1).scaleb(-r["cost_decimals"]))
        fee = (cost * (self.maker_fee if maker else self.taker_fee)).quantize(Decimal(1).scaleb(-r["cost_decimals"]))
        base = r["base"]
        bal = acct.balances
        if o.side == "buy":
            bal["ZUSD"] = bal.get("ZUSD", Decimal(0)) - cost - fee
            bal[base] = bal.get(base, Decimal(0)) + qty
        else:
            bal[base] = bal.get(base, Decimal(0)) - qty
            bal["ZUSD"] = bal.get("ZUSD", Decimal(0)) + cost - fee
        o.vol_exec += qty
        o.cost += cost
        o.fee += fee
        o.avg_price = float(o.cost / o.vol_exec)
        tid = _id("T", self._rng)
        o.trades.append(tid)
        now = round(self.clock(), 4)
        self.trades[tid] = {
            "ordertxid": o.txid, "postxid": _id("T", self._rng), "pair": o.pair, "aclass": "forex", "time": now,
            "type": o.side, "ordertype": o.ordertype, "price": _fmt(px, r["pair_decimals"]),
            "cost": _fmt(cost, r["cost_decimals"]), "fee": _fmt(fee, r["cost_decimals"]), "vol": _fmt(qty, 8),
            "margin": "0.00000", "leverage": "0", "misc": "", "trade_id": self._trade_seq, "maker": maker,
            "_owner": acct.key, "_cl_ord_id": o.cl_ord_id,
        }
        self._trade_seq += 1
        self._emit("trade", (acct.key, o, tid))
        if o.vol_exec >= o.vol:
            self._close(o, "closed", None)
        return tid


__all__ += ["WS_SYMBOLS"]
