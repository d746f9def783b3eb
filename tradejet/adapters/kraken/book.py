"""Kraken WebSocket v2 order book: apply snapshot/updates, verify the CRC32 checksum.

Checksum (Kraken's "Spot WebSocket book checksum" guide): top 10 asks low->high, then top
10 bids high->low; for each level the price and the quantity written with the pair's
precision, the ``.`` removed and leading zeros stripped, concatenated; CRC32 of the
whole string. Prices and quantities must keep full precision: parse the JSON with
``parse_float=Decimal`` and pass the pair's decimals.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from tradejet.errors import DataError

__all__ = ["Book", "ChecksumMismatch", "book_checksum", "level_token"]


class ChecksumMismatch(DataError):
    """The local book disagrees with Kraken's checksum: resubscribe for a fresh snapshot."""


def level_token(x: Decimal | float | str, decimals: int) -> str:
    """Return one price/qty as the checksum wants it.

    >>> level_token("45285.2", 1), level_token("0.001", 8)
    ('452852', '100000')
    """
    s = f"{Decimal(str(x)):.{decimals}f}".replace(".", "").lstrip("0")
    return s or "0"


def book_checksum(asks: Iterable[tuple[Any, Any]], bids: Iterable[tuple[Any, Any]], price_decimals: int,
                  qty_decimals: int) -> int:
    """Return the CRC32 of the top 10 levels (``asks`` low->high, ``bids`` high->low)."""
    parts = []
    for levels in (asks, bids):
        for i, (p, q) in enumerate(levels):
            if i == 10:
                break
            parts.append(level_token(p, price_decimals) + level_token(q, qty_decimals))
    return zlib.crc32("".join(parts).encode()) & 0xFFFFFFFF


class Book:
    """One symbol's book kept from ``book`` channel messages."""

    def __init__(self, symbol: str, depth: int = 10, price_decimals: int = 1, qty_decimals: int = 8):
        self.symbol = symbol
        self.depth = depth
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self.asks: dict[Decimal, Decimal] = {}
        self.bids: dict[Decimal, Decimal] = {}

    def sorted_asks(self) -> list[tuple[Decimal, Decimal]]:
        """Return asks low -> high."""
        return sorted(self.asks.items())

    def sorted_bids(self) -> list[tuple[Decimal, Decimal]]:
        """Return bids high -> low."""
        return sorted(self.bids.items(), reverse=True)

    def checksum(self) -> int:
        """Return the CRC32 of the local top 10 levels, as Kraken computes it."""
        return book_checksum(self.sorted_asks(), self.sorted_bids(), self.price_decimals, self.qty_decimals)

    def _set(self, side: dict[Decimal, Decimal], levels: Iterable[Mapping[str, Any]]) -> None:
        for lv in levels:
            p, q = Decimal(str(lv["price"])), Decimal(str(lv["qty"]))
            if q == 0:
                side.pop(p, None)
            else:
                side[p] = q

    def _truncate(self) -> None:
        for side, rev in ((self.asks, False), (self.bids, True)):
            for p in sorted(side, reverse=rev)[self.depth:]:
                del side[p]

    def apply(self, kind: str, data: Mapping[str, Any]) -> None:
        """Apply one ``snapshot`` or ``update`` item; raise ChecksumMismatch when it does not verify."""
        if kind == "snapshot":
            self.asks.clear()
            self.bids.clear()
        self._set(self.asks, data.get("asks", ()))
        self._set(self.bids, data.get("bids", ()))
        self._truncate()
        want = data.get("checksum")
        if want is not None and int(want) != self.checksum():
            raise ChecksumMismatch(f"book {self.symbol}: checksum {self.checksum()} != Kraken's {want}"
                                   f" after {kind}; resubscribe", source="kraken ws book")
