"""Pre-flight checks against Kraken before money moves (``tradejet doctor``).

Each check returns a :class:`Check`: passed, failed (with the fix) or skipped (with why).
Private checks reveal the key's permissions the way Kraken reports them: a call the key
may not make is refused with ``EGeneral:Permission denied``. Orders are only *validated*
(``AddOrder validate=true`` places nothing) and the cancel check cancels an order id that
does not exist, so ``EOrder:Unknown order`` is the passing answer. Secrets never appear in a
check: the key is shown masked, tokens and balances not at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING

from tradejet.adapters.kraken.errors import PermissionDenied, UnknownOrder
from tradejet.errors import (
    AuthError,
    InvalidNonce,
    OrderRejected,
    RateLimited,
    TradejetError,
    VenueError,
    VenueUnavailable,
)

if TYPE_CHECKING:
    from tradejet.adapters.kraken.http import KrakenHttp
    from tradejet.adapters.kraken.schemas import AssetPair

__all__ = ["Check", "PairOrder", "run_checks", "NONCE_FIX", "MAX_SKEW_S", "PERMISSION_NAMES"]

MAX_SKEW_S = 5.0  # Kraken: "the clock must be within a few seconds"
NONCE_FIX = ("EAPI:Invalid nonce: the top cause is an API key shared with another client (another bot, script,"
             " machine or tradejet process with a different TRADEJET_HOME): Kraken keeps one nonce sequence per"
             " key, so give every program its own API key. Other causes: a client that used a higher-resolution"
             " nonce on this key before (create a new key), or the nonce file under $TRADEJET_HOME/nonce deleted"
             " while the clock went back. Keep the key's nonce window at 0.")
PERMISSION_NAMES = {
    "Balance": "Query Funds", "TradeVolume": "Query Funds", "OpenOrders": "Query Open Orders & Trades",
    "ClosedOrders": "Query Closed Orders & Trades", "AddOrder": "Create & Modify Orders",
    "CancelOrder": "Cancel/Close Orders", "GetWebSocketsToken": "Access WebSockets API",
}
_FAKE_TXID = "ONOSCH-DOCTR-CHECK0"  # shaped like a Kraken txid (6-5-6) but never issued: "Unknown order"


@dataclass
class Check:
    """One line of the doctor's table: ``ok`` True (pass), False (fail) or None (skipped)."""

    name: str
    ok: bool | None
    detail: str
    fix: str = ""

    @property
    def status(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.ok]


@dataclass(frozen=True)
class PairOrder:
    """A universe pair and the order size the config will send for it (quote currency)."""

    symbol: str  # BTC/USD
    pair: str  # Kraken's key: XXBTZUSD
    notional: float
    setting: str = "orders.notional"  # the config key that sets ``notional`` (named in the fix)


class _KeyBroken(Exception):
    """The key or secret is wrong: further private calls would fail alike (and risk a lockout)."""


def _private_failure(endpoint: str, e: Exception) -> Check:
    name = f"{PERMISSION_NAMES.get(endpoint, endpoint)} ({endpoint})"
    text = str(e)
    if isinstance(e, PermissionDenied):
        return Check(name, False, f"refused: {text}",
                     f"enable '{PERMISSION_NAMES.get(endpoint, endpoint)}' for this key at kraken.com Settings ->"
                     " API (edit the key's permissions)")
    if isinstance(e, InvalidNonce):
        return Check(name, False, f"refused: {text}", NONCE_FIX)
    if isinstance(e, RateLimited):
        return Check(name, False, f"refused: {text}",
                     "the key's rate counter is full: another client may be using this key; wait a minute and"
                     " run doctor again")
    if isinstance(e, VenueUnavailable):
        return Check(name, None, f"not checked: Kraken is unavailable ({text})")
    return Check(name, False, f"refused: {text}", "see Kraken's error text; run doctor again after fixing it")


def _auth_failure(e: AuthError) -> Check:
    text = str(e)
    if "Invalid signature" in text:
        fix = ("the API secret does not belong to this key or was copied wrongly: copy the private key again"
               " exactly as Kraken shows it (base64, no spaces or line breaks) into KRAKEN_API_SECRET")
    elif "Invalid key" in text:
        fix = ("Kraken does not know this API key (deleted, mistyped, or from another account): copy it again"
               " from Settings -> API into KRAKEN_API_KEY. Do not retry in a loop: repeated invalid keys lead"
               " to EGeneral:Temporary lockout")
    elif "Temporary lockout" in text:
        fix = "too many failed calls with this key: wait 15 minutes before trying again"
    else:
        fix = "check KRAKEN_API_KEY and KRAKEN_API_SECRET"
    return Check("API key and signature", False, f"refused: {text}", fix)


async def _private(checks: list[Check], endpoint: str, call, describe: Callable[[object], str]) -> bool:
    """Run one private check; append its line; raise _KeyBroken on a wrong key/secret."""
    name = f"{PERMISSION_NAMES.get(endpoint, endpoint)} ({endpoint})"
    try:
        result = await call()
    except PermissionDenied as e:
        checks.append(_private_failure(endpoint, e))
        return False
    except AuthError as e:
        checks.append(_auth_failure(e))
        raise _KeyBroken from e
    except VenueError as e:
        checks.append(_private_failure(endpoint, e))
        return False
    checks.append(Check(name, True, describe(result)))
    return True


def _order_volume(info: AssetPair, price: float) -> str:
    """The smallest volume meeting ordermin and costmin at ``price``, in the pair's lot decimals."""
    step = Decimal(1).scaleb(-info.lot_decimals)
    need = max(Decimal(info.ordermin or "0"), Decimal(info.costmin or "0") / Decimal(repr(price)) * Decimal("1.05"))
    return str(max(need, step).quantize(step, rounding=ROUND_UP))


def _far_price(info: AssetPair, last: float) -> str:
    """Half the last price, on the tick: a buy there would rest, never fill (and validate places nothing)."""
    tick = Decimal(info.tick_size) if info.tick_size else Decimal(1).scaleb(-info.pair_decimals)
    px = (Decimal(repr(last)) / 2 / tick).quantize(Decimal(1), rounding=ROUND_DOWN) * tick
    return str(max(px, tick).quantize(Decimal(1).scaleb(-info.pair_decimals)))


def _fmt_qty(x: float) -> str:
    return f"{x:.8f}".rstrip("0").rstrip(".")


async def run_checks(client: KrakenHttp, pairs: Sequence[PairOrder], *, has_credentials: bool,
                     key_hint: str = "", nonce_hint: str = "", clock: Callable[[], float] = time.time,
                     max_skew: float = MAX_SKEW_S) -> list[Check]:
    """Run every check against ``client`` (its base URL) and return the table's lines, in order."""
    checks: list[Check] = []

    # -- public: reachability, status, clock ---------------------------------------------------
    try:
        status = await client.system_status()
    except TradejetError as e:
        checks.append(Check("Kraken reachable", False, f"{client.base_url}: {e}",
                            "check the network and --base-url (the sandbox prints its URL when it starts)"))
        return checks
    if status.status == "online":
        checks.append(Check("system status (SystemStatus)", True, f"online at {status.timestamp}"))
    else:
        why = {"maintenance": "Kraken is in maintenance: nothing trades",
               "cancel_only": "only cancels are accepted", "post_only": "only post-only limit orders are accepted",
               "limit_only": "only limit orders are accepted"}.get(status.status, "not online")
        checks.append(Check("system status (SystemStatus)", False, f"{status.status}: {why}",
                            "wait until SystemStatus is 'online' (status.kraken.com lists maintenance windows);"
                            " tradejet live refuses to start before that"))
    try:
        t0 = clock()
        server = await client.time()
        t1 = clock()
        # unixtime is whole seconds (truncated): Kraken's clock was in [unixtime, unixtime + 1)
        skew = (t0 + t1) / 2 - (server.unixtime + 0.5)
        err = 0.5 + (t1 - t0) / 2
        ahead = "ahead of" if skew >= 0 else "behind"
        text = f"local clock {abs(skew):.1f} s {ahead} Kraken (+-{err:.1f} s)"
        if abs(skew) - err > max_skew:
            checks.append(Check("clock skew (Time)", False, text,
                                f"sync the clock with NTP (timedatectl set-ntp true, or chronyc makestep); more than"
                                f" {max_skew:g} s off breaks order deadlines and the dead-man's switch"))
        else:
            checks.append(Check("clock skew (Time)", True, text))
    except TradejetError as e:
        checks.append(Check("clock skew (Time)", False, f"no answer: {e}", "check the network and --base-url"))

    # -- pair metadata (public) ----------------------------------------------------------------
    meta: dict[str, AssetPair] = {}
    prices: dict[str, float] = {}
    if pairs:
        try:
            meta = await client.asset_pairs([p.pair for p in pairs])
            tick = await client.ticker([p.pair for p in pairs])
            for key, info in meta.items():
                row = tick.get(key) or tick.get(info.altname)
                if row is not None:
                    prices[key] = float(row.c[0])
        except TradejetError as e:
            checks.append(Check("pairs (AssetPairs, Ticker)", False, f"no answer: {e}",
                                "check the universe's symbols and --base-url"))

    # -- private: key, permissions, nonce, fees ------------------------------------------------
    n_private = 0
    nonce_ok: bool | None = None
    if not has_credentials:
        checks.append(Check("API key and signature", False, "no credentials",
                            "set KRAKEN_API_KEY and KRAKEN_API_SECRET (environment or a .env file)"))
    else:
        try:
            await _private(checks, "Balance", client.balance, lambda r: f"{len(r)} asset(s) listed (amounts not shown)")
            n_private += 1
            if checks[-1].ok is not None:  # answered (even "Permission denied"): key and signature are good
                checks.insert(len(checks) - 1, Check("API key and signature", True, f"key {key_hint} accepted"))
            await _private(checks, "OpenOrders", client.open_orders, lambda r: f"{len(r)} open order(s)")
            await _private(checks, "ClosedOrders", client.closed_orders, lambda r: f"{r.count} closed order(s)")
            n_private += 2
            await _check_add_order(checks, client, pairs, meta, prices)
            await _private(checks, "CancelOrder", lambda: _cancel_unknown(client), str)
            await _private(checks, "GetWebSocketsToken", client.get_websockets_token,
                           lambda r: f"token received (valid {r.expires} s; not shown)")
            n_private += 2
            tv_ok = await _private(checks, "TradeVolume", lambda: client.trade_volume([p.pair for p in pairs] or None),
                                   lambda r: _fee_text(r, pairs))
            n_private += 1
            if tv_ok:
                checks[-1].name = "fee tier (TradeVolume)"
            if any(NONCE_FIX in c.fix for c in checks):
                nonce_ok = False
            elif any(c.ok for c in checks if "(" in c.name and c.name.split("(")[-1].rstrip(")").split()[0]
                     in PERMISSION_NAMES):
                nonce_ok = True
        except _KeyBroken:
            skipped = "not checked: fix the API key/secret first"
            for ep in ("Balance", "OpenOrders", "ClosedOrders", "AddOrder", "CancelOrder", "GetWebSocketsToken",
                       "TradeVolume"):
                if not any(f"({ep}" in c.name for c in checks):
                    extra = " validate" if ep == "AddOrder" else ""
                    checks.append(Check(f"{PERMISSION_NAMES[ep]} ({ep}{extra})", None, skipped))
    if nonce_ok is True:
        checks.append(Check("nonce", True, f"{n_private}+ private calls accepted with increasing nonces; {nonce_hint}"))
    elif nonce_ok is False:
        checks.append(Check("nonce", False, "Kraken refused a nonce (EAPI:Invalid nonce)", NONCE_FIX))
    else:
        checks.append(Check("nonce", None, "not checked: no private call succeeded"))

    # -- per pair: status, ordermin, costmin vs the configured order size ------------------------
    for p in pairs:
        checks.append(_pair_check(p, meta, prices))
    return checks


async def _cancel_unknown(client: KrakenHttp) -> str:
    try:
        res = await client.cancel_order(txid=_FAKE_TXID)
    except UnknownOrder:
        return "cancel of an unknown order id answered EOrder:Unknown order: the key may cancel"
    except OrderRejected as e:  # refused for the id itself, past the permission check
        return f"cancel of a made-up order id refused as such ({e}), not for permissions: the key may cancel"
    raise VenueError(f"Kraken CancelOrder of the nonexistent order {_FAKE_TXID} answered {res}: expected"
                     " EOrder:Unknown order")


async def _check_add_order(checks: list[Check], client: KrakenHttp, pairs: Sequence[PairOrder],
                           meta: dict[str, AssetPair], prices: dict[str, float]) -> None:
    name = "Create & Modify Orders (AddOrder validate)"
    p = next((p for p in pairs if p.pair in meta and p.pair in prices), None)
    if p is None:
        checks.append(Check(name, None, "not checked: no pair with metadata and a price"))
        return
    info, last = meta[p.pair], prices[p.pair]
    params = {"pair": p.pair, "type": "buy", "ordertype": "limit", "volume": _order_volume(info, last),
              "price": _far_price(info, last), "validate": "true"}
    try:
        res = await client.add_order(params)
    except PermissionDenied as e:
        checks.append(_private_failure("AddOrder", e))
        checks[-1].name = name
        return
    except AuthError:
        raise
    except OrderRejected as e:  # refused by the order checks, after the permission check: the key may trade
        checks.append(Check(name, True, f"validated {p.symbol} order refused by the order checks ({e}); the key"
                                        " may create orders"))
        return
    except VenueError as e:
        checks.append(_private_failure("AddOrder", e))
        checks[-1].name = name
        return
    if res.txid:  # validate=true must place nothing: a venue that placed it is dangerous
        for txid in res.txid:
            try:
                await client.cancel_order(txid=txid)
            except TradejetError:
                pass
        checks.append(Check(name, False, f"validate=true placed order(s) {res.txid} (cancelled again)",
                            "this venue ignores validate=true: do not trade through it"))
        return
    checks.append(Check(name, True, f"validate=true accepted: {res.descr.order}"))


def _fee_text(r: object, pairs: Sequence[PairOrder]) -> str:
    fees = getattr(r, "fees", {})
    maker = getattr(r, "fees_maker", {})
    parts = []
    for p in pairs[:3]:
        if p.pair in fees:
            mk = f" / maker {float(maker[p.pair].fee):.2f} %" if p.pair in maker else ""
            parts.append(f"{p.symbol} taker {float(fees[p.pair].fee):.2f} %{mk}")
    more = ", ..." if len(pairs) > 3 else ""
    vol = getattr(r, "volume", "?")
    return f"30-day volume {vol} {getattr(r, 'currency', '')}" + (f"; {', '.join(parts)}{more}" if parts else "")


def _pair_check(p: PairOrder, meta: dict[str, AssetPair], prices: dict[str, float]) -> Check:
    name = f"pair {p.symbol}"
    info = meta.get(p.pair)
    if info is None:
        return Check(name, False, f"Kraken does not list {p.pair}", "remove it from universe.symbols")
    if info.status != "online":
        return Check(name, False, f"status {info.status!r}",
                     "the pair does not trade normally: remove it from universe.symbols or wait for Kraken")
    price = prices.get(p.pair)
    if price is None or not (math.isfinite(price) and price > 0):
        return Check(name, False, "no last price (Ticker)", "check the pair on Kraken")
    ordermin = float(info.ordermin or 0)
    costmin = float(info.costmin or 0)
    qty = p.notional / price
    base = p.symbol.split("/")[0]
    quote = p.symbol.split("/")[-1]
    need = max(ordermin * price, costmin)
    if qty < ordermin:
        return Check(name, False, f"{p.notional:g} {quote} buys {_fmt_qty(qty)} {base} < ordermin {info.ordermin}"
                                  f" (at {price:g})",
                     f"raise {p.setting} to at least {math.ceil(need * 1.1 * 100) / 100:g} {quote} (ordermin"
                     f" {info.ordermin} {base} x price, +10 % for price moves)")
    if p.notional < costmin:
        return Check(name, False, f"{p.notional:g} {quote} < costmin {info.costmin} {quote}",
                     f"raise {p.setting} to at least {costmin:g} {quote}")
    return Check(name, True, f"online; {p.notional:g} {quote} = {_fmt_qty(qty)} {base} >= ordermin {info.ordermin},"
                             f" >= costmin {info.costmin or 0}")
