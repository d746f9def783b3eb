"""Reference data the sandbox serves: the ten USD majors as Kraken listed them on 2026-01-12.

Values (decimals, ordermin, costmin, tick_size) are those of Kraken's AssetPairs response
of that day (the ``AssetPairs_full_2026-01-12`` recording); fee schedules are Kraken's
base Pro schedule. ``ws`` is the WebSocket v2 symbol (BTC/DOGE, not XBT/XDG).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PAIRS", "ASSETS", "WS_SYMBOLS", "START_PRICES", "TAKER_FEE", "MAKER_FEE", "pair_record"]

TAKER_FEE = 0.0040  # Kraken Pro base tier (30-day volume < $10k)
MAKER_FEE = 0.0025
_FEES = [[0, 0.4], [10000, 0.35], [50000, 0.24], [100000, 0.22], [250000, 0.2], [500000, 0.18],
         [1000000, 0.16], [2500000, 0.14], [5000000, 0.12], [10000000, 0.1]]
_FEES_MAKER = [[0, 0.25], [10000, 0.2], [50000, 0.14], [100000, 0.12], [250000, 0.1], [500000, 0.08],
               [1000000, 0.06], [2500000, 0.04], [5000000, 0.02], [10000000, 0.0]]

# key: (altname, v1 wsname, v2 symbol, base, pair_decimals, cost_decimals, ordermin, tick_size, long limit)
_ROWS = {
    "XXBTZUSD": ("XBTUSD", "XBT/USD", "BTC/USD", "XXBT", 1, 5, "0.00005", "0.1", 300),
    "XETHZUSD": ("ETHUSD", "ETH/USD", "ETH/USD", "XETH", 2, 5, "0.001", "0.01", 4000),
    "SOLUSD": ("SOLUSD", "SOL/USD", "SOL/USD", "SOL", 2, 5, "0.02", "0.01", 37000),
    "XXRPZUSD": ("XRPUSD", "XRP/USD", "XRP/USD", "XXRP", 5, 8, "1.65", "0.00001", 3200000),
    "ADAUSD": ("ADAUSD", "ADA/USD", "ADA/USD", "ADA", 6, 6, "4.4", "0.000001", 4000000),
    "DOTUSD": ("DOTUSD", "DOT/USD", "DOT/USD", "DOT", 4, 5, "0.6", "0.0001", 570000),
    "LINKUSD": ("LINKUSD", "LINK/USD", "LINK/USD", "LINK", 5, 6, "0.2", "0.00001", 98000),
    "XLTCZUSD": ("LTCUSD", "LTC/USD", "LTC/USD", "XLTC", 2, 5, "0.04", "0.01", 18000),
    "XDGUSD": ("XDGUSD", "XDG/USD", "DOGE/USD", "XXDG", 7, 9, "13", "0.0000001", 30000000),
    "AVAXUSD": ("AVAXUSD", "AVAX/USD", "AVAX/USD", "AVAX", 2, 5, "0.1", "0.01", 110000),
}
START_PRICES = {"XXBTZUSD": 85000.0, "XETHZUSD": 3000.0, "SOLUSD": 140.0, "XXRPZUSD": 2.1, "ADAUSD": 0.65,
                "DOTUSD": 4.2, "LINKUSD": 14.0, "XLTCZUSD": 85.0, "XDGUSD": 0.16, "AVAXUSD": 22.0}


def pair_record(key: str) -> dict[str, Any]:
    """Return one AssetPairs record with every field Kraken sends, in Kraken's order."""
    alt, wsname, _ws, base, pd, cd, ordermin, tick, long_limit = _ROWS[key]
    return {
        "altname": alt, "wsname": wsname, "aclass_base": "currency", "base": base, "aclass_quote": "currency",
        "quote": "ZUSD", "lot": "unit", "cost_decimals": cd, "pair_decimals": pd, "lot_decimals": 8,
        "lot_multiplier": 1, "leverage_buy": [2, 3], "leverage_sell": [2, 3], "fees": _FEES,
        "fees_maker": _FEES_MAKER, "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
        "ordermin": ordermin, "costmin": "0.5", "tick_size": tick, "status": "online",
        "long_position_limit": long_limit, "short_position_limit": long_limit // 2,
    }


PAIRS: dict[str, dict[str, Any]] = {k: pair_record(k) for k in _ROWS}
WS_SYMBOLS: dict[str, str] = {row[2]: k for k, row in _ROWS.items()}

_ASSET_ALT = {"XXBT": "XBT", "XETH": "ETH", "XXRP": "XRP", "XLTC": "LTC", "XXDG": "XDG", "ZUSD": "USD"}
ASSETS: dict[str, dict[str, Any]] = {}
for _base in [*(r[3] for r in _ROWS.values()), "ZUSD"]:
    ASSETS[_base] = {"aclass": "currency", "altname": _ASSET_ALT.get(_base, _base),
                     "decimals": 4 if _base == "ZUSD" else 10, "display_decimals": 2 if _base == "ZUSD" else 5,
                     "collateral_value": 1.0 if _base == "ZUSD" else 0.9, "status": "enabled",
                     "margin_rate": "0.02"}
ALIASES: dict[str, str] = {}
for _k, _row in _ROWS.items():
    for _name in (_k, _row[0], _row[2], _row[2].replace("/", ""), _row[1]):
        ALIASES[_name] = _k
__all__ += ["ALIASES"]
