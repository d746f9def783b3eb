"""Kraken wire types -> :mod:`tradejet.messages` (strings converted to float once, times to ns).

Balances: assets carrying a suffix (``DOT.S``, ``ADA.F``, ``XBT.M``, ``ETH.B``, ``USD.HOLD``,
...) are staking/earn/margin variants, never tradable spot balances: they are excluded
here (see :func:`is_spot_asset`).
"""

from __future__ import annotations

from collections.abc import Mapping

from tradejet.adapters.kraken.schemas import (
    BalanceExEntry,
    OHLCResult,
    OrderInfo,
    TradeInfo,
)
from tradejet.kernels.codes import ORDER_TYPE_TEXT, Side
from tradejet.messages import Balance, Bar, OrderFilled, OrderStatusReport

__all__ = ["other_balances", "execution_fill", "is_spot_asset", "spot_balances", "ohlc_bars", "order_report", "trade_fill", "side_code",
           "order_type_code", "seconds_to_ns"]

NS = 1_000_000_000


def seconds_to_ns(t: float | str | int) -> int:
    """Return Kraken's (fractional) seconds as int ns, exact for integer seconds.

    >>> seconds_to_ns("1705260547.4728658")
    1705260547472865800
    """
    s = str(t)
    if "." in s:
        whole, frac = s.split(".", 1)
        frac = (frac + "000000000")[:9]
        return int(whole) * NS + int(frac) * (1 if not whole.startswith("-") else -1)
    return int(s) * NS


def is_spot_asset(asset: str) -> bool:
    """Return whether a balance key is a tradable spot asset (no ``.S``/``.F``/``.M``/``.B``... suffix).

    >>> is_spot_asset("XXBT"), is_spot_asset("DOT.S"), is_spot_asset("USD.HOLD")
    (True, False, False)
    """
    return "." not in asset


def spot_balances(balances: Mapping[str, str] | Mapping[str, BalanceExEntry]) -> list[Balance]:
    """Return spot balances (suffixed variants dropped); ``available`` subtracts ``hold_trade``."""
    out = []
    for asset, v in balances.items():
        if not is_spot_asset(asset):
            continue
        if isinstance(v, BalanceExEntry):
            total = float(v.balance)
            out.append(Balance(asset=asset, total=total, available=total - float(v.hold_trade)))
        else:
            total = float(v)
            out.append(Balance(asset=asset, total=total, available=total))
    return out


def other_balances(balances: Mapping[str, str] | Mapping[str, BalanceExEntry],
                   assets: Mapping[str, object] | None = None) -> dict[str, dict[str, float]]:
    """Return the suffixed (staking/earn/margin/hold) balances as ``{asset_id: {suffix: amount}}``.

    ``DOT.S`` -> ``{"DOT": {"S": ...}}``; with ``assets`` (the ``Assets`` result) an altname
    prefix is mapped to Kraken's asset id (``XBT.M`` -> ``XXBT``). These are never tradable.

    >>> other_balances({"ZUSD": "5", "DOT.S": "2", "XBT.M": "1"}, {"XXBT": {"altname": "XBT"}})
    {'DOT': {'S': 2.0}, 'XXBT': {'M': 1.0}}
    """
    alt = {}
    for key, rec in (assets or {}).items():
        name = rec.get("altname") if isinstance(rec, Mapping) else getattr(rec, "altname", None)
        if name:
            alt[name] = key
    out: dict[str, dict[str, float]] = {}
    for asset, v in balances.items():
        if is_spot_asset(asset):
            continue
        base, _, suffix = asset.partition(".")
        amount = float(v.balance) if isinstance(v, BalanceExEntry) else float(v)
        out.setdefault(alt.get(base, base), {})[suffix] = amount
    return out


def ohlc_bars(symbol: str, res: OHLCResult, interval_min: int, *, include_forming: bool = False) -> list[Bar]:
    """Return the committed candles as Bars (open time in ns); the forming candle is dropped.

    A row is committed when its open time is at or before ``last`` (Kraken's cursor of the
    last committed candle); the rows after it are still forming.
    """
    tf = interval_min * 60 * NS
    return [Bar(symbol=symbol, ts=r.time * NS, open=float(r.open), high=float(r.high), low=float(r.low),
                close=float(r.close), volume=float(r.volume), trades=float(r.count), timeframe_ns=tf)
            for r in res.rows if include_forming or r.time <= res.last]


def side_code(side: str) -> int:
    return Side.BUY if side == "buy" else Side.SELL if side == "sell" else Side.NONE


def order_type_code(ordertype: str) -> int:
    return ORDER_TYPE_TEXT.index(ordertype) if ordertype in ORDER_TYPE_TEXT else -1


def order_report(txid: str, info: OrderInfo, symbol: str | None = None) -> OrderStatusReport:
    """Return the venue's view of one order for reconciliation."""
    d = info.descr
    ts = info.closetm if info.closetm not in (None, 0, "0") else info.opentm
    filled = float(info.vol_exec)
    limit = float(d.price) if d.ordertype == "limit" and d.price not in ("", "0") else float("nan")
    return OrderStatusReport(
        client_order_id=info.cl_ord_id, venue_order_id=txid, symbol=symbol or d.pair,
        side=side_code(d.type), order_type=order_type_code(d.ordertype), qty=float(info.vol),
        filled_qty=filled, status=info.status, ts_event=seconds_to_ns(ts),
        avg_price=float(info.price) if filled > 0 else float("nan"), limit_price=limit)


def trade_fill(trade_id: str, info: TradeInfo, *, client_order_id: str | None = None,
               symbol: str | None = None, ts_init: int = 0) -> OrderFilled:
    """Return one execution from ``TradesHistory``/``QueryTrades`` (fee in quote currency)."""
    return OrderFilled(
        client_order_id=client_order_id or info.cl_ord_id or "", venue_order_id=info.ordertxid,
        trade_id=trade_id, symbol=symbol or info.pair, side=side_code(info.type), qty=float(info.vol),
        price=float(info.price), fee=float(info.fee), ts_event=seconds_to_ns(info.time), ts_init=ts_init,
        liquidity="maker" if info.maker else "taker")


def execution_fill(d: Mapping[str, object], *, ts_init: int = 0) -> OrderFilled | None:
    """Return the fill of one WebSocket v2 ``executions`` item with ``exec_type == "trade"``, else None.

    The WebSocket is a hint: reconcile against REST (QueryOrders, TradesHistory).
    """
    from tradejet.adapters.kraken.ws import parse_rfc3339_ns

    if d.get("exec_type") != "trade":
        return None
    fees = d.get("fees") or []
    fee = sum(float(f["qty"]) for f in fees) if isinstance(fees, list) else 0.0  # type: ignore[index]
    return OrderFilled(
        client_order_id=str(d.get("cl_ord_id") or ""), venue_order_id=str(d["order_id"]),
        trade_id=str(d.get("exec_id") or d.get("trade_id")), symbol=str(d["symbol"]), side=side_code(str(d["side"])),
        qty=float(d["last_qty"]), price=float(d["last_price"]), fee=fee,  # type: ignore[arg-type]
        ts_event=parse_rfc3339_ns(str(d["timestamp"])), ts_init=ts_init,
        liquidity="maker" if d.get("liquidity_ind") == "m" else "taker")
