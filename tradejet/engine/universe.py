"""The traded universe: canonical symbols, Kraken's names for them, pair metadata, fees.

A canonical symbol is ``BASE/QUOTE`` with common asset names (``BTC/USD``, ``DOGE/USD``);
it is also Kraken's WebSocket v2 symbol. Kraken's other names come from its
``AssetPairs`` response, never from string rules (legacy pairs carry ``X``/``Z``
prefixes, DOGE's key is ``XDGUSD``): the REST pair key (``XXBTZUSD``), ``altname``
(``XBTUSD``), the v1 ``wsname`` (``XBT/USD``), the asset ids (``XXBT``, ``ZUSD``) and
the asset altnames (``XBT``, ``USD``). The one rule applied is Kraken's own v2 renaming
of its legacy asset names, ``XBT -> BTC`` and ``XDG -> DOGE``.

Metadata (price/lot/cost decimals, tick size, ordermin, costmin, status) is read from a
bundled copy of the ten default pairs' entries, taken verbatim from the full response
recorded 2026-01-12 (``tools/extract_asset_pairs.py``), or from any AssetPairs response
handed in (a refreshed one from the adapter). Fees are fractions (0.004 = 0.40 %): the
account's rates from a ``TradeVolume`` response when given, else Kraken's base schedule
at a 30-day volume.

>>> u = Universe.default()
>>> u.symbol_for("XDGUSD"), u.pair("DOGE/USD").base_asset, u.pair("BTC/USD").altname
('DOGE/USD', 'XXDG', 'XBTUSD')
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from tradejet.config import DEFAULT_SYMBOLS, UniverseConfig
from tradejet.errors import ConfigError, DataError
from tradejet.kernels import pairs as kp
from tradejet.kernels.codes import Reject, REJECT_TEXT

__all__ = [
    "Universe",
    "PairInfo",
    "KrakenAssetPair",
    "KrakenAssetPairsResponse",
    "BASE_TAKER_SCHEDULE",
    "BASE_MAKER_SCHEDULE",
    "base_fee",
    "DEFAULT_SYMBOLS",
    "RoundedOrder",
    "parse_asset_pairs",
    "parse_trade_volume",
    "canonical_symbol",
    "bundled_asset_pairs",
]

# Kraken's base fee schedule, [30-day USD volume >=, percent], exactly as the
# AssetPairs response of 2026-01-12 serves it for the ten USD pairs (`fees`,
# `fees_maker`). Responses recorded since (2026-09) return these arrays empty.
BASE_TAKER_SCHEDULE: tuple[tuple[float, float], ...] = (
    (0, 0.40), (10_000, 0.35), (50_000, 0.24), (100_000, 0.22), (250_000, 0.20), (500_000, 0.18),
    (1_000_000, 0.16), (2_500_000, 0.14), (5_000_000, 0.12), (10_000_000, 0.10),
    (100_000_000, 0.08), (500_000_000, 0.05))
BASE_MAKER_SCHEDULE: tuple[tuple[float, float], ...] = (
    (0, 0.25), (10_000, 0.20), (50_000, 0.14), (100_000, 0.12), (250_000, 0.10), (500_000, 0.08),
    (1_000_000, 0.06), (2_500_000, 0.04), (5_000_000, 0.02), (10_000_000, 0.0),
    (100_000_000, 0.0), (500_000_000, 0.0))

# Kraken's legacy asset altnames -> the common names WebSocket v2 uses.
_V2_ASSET = {"XBT": "BTC", "XDG": "DOGE"}


class KrakenAssetPair(msgspec.Struct, kw_only=True, frozen=True):
    """One entry of Kraken's ``/0/public/AssetPairs`` result (wire names; unknown fields ignored)."""

    altname: str
    wsname: str
    aclass_base: str = "currency"
    base: str
    aclass_quote: str = "currency"
    quote: str
    lot: str = "unit"
    cost_decimals: int
    pair_decimals: int
    lot_decimals: int
    lot_multiplier: int = 1
    leverage_buy: list[int] = []
    leverage_sell: list[int] = []
    fees: list[tuple[float, float]] = []
    fees_maker: list[tuple[float, float]] = []
    fee_volume_currency: str | None = None
    margin_call: int | None = None
    margin_stop: int | None = None
    ordermin: str
    costmin: str | None = None
    tick_size: str | None = None
    status: str
    execution_venue: str | None = None
    long_position_limit: int | None = None
    short_position_limit: int | None = None


class KrakenAssetPairsResponse(msgspec.Struct, kw_only=True):
    """The ``{"error": [...], "result": {pair_key: entry}}`` envelope of AssetPairs."""

    error: list[str] = []
    result: dict[str, KrakenAssetPair] | None = None


class _FeeInfo(msgspec.Struct, kw_only=True):
    fee: str | float


class _TradeVolumeResult(msgspec.Struct, kw_only=True):
    currency: str | None = None
    volume: str | float | None = None
    fees: dict[str, _FeeInfo] = {}
    fees_maker: dict[str, _FeeInfo] = {}


class _TradeVolumeResponse(msgspec.Struct, kw_only=True):
    error: list[str] = []
    result: _TradeVolumeResult | None = None


_PAIRS_DECODER = msgspec.json.Decoder(KrakenAssetPairsResponse)


class PairInfo(msgspec.Struct, kw_only=True, frozen=True):
    """One traded pair: every name it goes by and its trading rules (fees as fractions)."""

    symbol: str  # canonical and WebSocket v2: BTC/USD
    index: int  # row in Universe.meta / position in Universe.symbols
    pair_key: str  # REST key: XXBTZUSD
    altname: str  # XBTUSD
    wsname: str  # v1 WebSocket: XBT/USD
    base_asset: str  # XXBT
    base_altname: str  # XBT
    quote_asset: str  # ZUSD
    quote_altname: str  # USD
    pair_decimals: int
    lot_decimals: int
    cost_decimals: int
    tick_size: float
    ordermin: float
    costmin: float
    status: str
    taker_fee: float
    maker_fee: float

    @property
    def ws_symbol(self) -> str:
        """The WebSocket v2 symbol (the canonical one)."""
        return self.symbol

    @property
    def base(self) -> str:
        """The canonical base asset (``BTC``)."""
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        """The canonical quote asset (``USD``)."""
        return self.symbol.split("/")[1]


class RoundedOrder(msgspec.Struct, frozen=True):
    """An order rounded to its pair's rules: ``code`` is ``Reject.OK`` or the minimum it misses."""

    code: int
    qty: float
    price: float

    @property
    def ok(self) -> bool:
        return self.code == Reject.OK

    @property
    def reason(self) -> str:
        return REJECT_TEXT[self.code]


def canonical_symbol(wsname: str) -> str:
    """Return the canonical symbol for a Kraken v1 wsname.

    >>> canonical_symbol("XDG/USD")
    'DOGE/USD'
    """
    base, _, quote = wsname.partition("/")
    if not base or not quote:
        raise DataError(f"wsname must be BASE/QUOTE, was {wsname!r}")
    return f"{_V2_ASSET.get(base, base)}/{_V2_ASSET.get(quote, quote)}"


def base_fee(schedule: Sequence[Sequence[float]], volume_usd: float) -> float:
    """Return the percent fee of the highest tier whose volume threshold is <= ``volume_usd``.

    >>> base_fee(BASE_TAKER_SCHEDULE, 60_000)
    0.24
    """
    if not schedule:
        raise DataError("fee schedule is empty")
    fee = float(schedule[0][1])
    for threshold, pct in schedule:
        if volume_usd >= threshold:
            fee = float(pct)
    return fee


def _load_bytes(source: str | Path | bytes | Mapping[str, Any], what: str) -> tuple[Any, str]:
    """Return (raw, label) where raw is bytes or a mapping."""
    if isinstance(source, Mapping):
        return source, f"<{what} mapping>"
    if isinstance(source, bytes):
        return source, f"<{what} bytes>"
    p = Path(source)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {what}: {e.strerror}", source=str(p)) from None
    if p.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except OSError as e:
            raise DataError(f"not a gzip file: {e}", source=str(p)) from None
    return data, str(p)


def parse_asset_pairs(source: str | Path | bytes | Mapping[str, Any]) -> dict[str, KrakenAssetPair]:
    """Parse an AssetPairs response (file path, ``.json.gz``, bytes or decoded mapping) into ``{pair_key: entry}``.

    The envelope ``{"error": [], "result": {...}}`` or a bare result mapping are both accepted.
    """
    raw, label = _load_bytes(source, "AssetPairs")
    try:
        if isinstance(raw, bytes):
            obj = msgspec.json.decode(raw)
        else:
            obj = raw
        if isinstance(obj, Mapping) and "result" not in obj and "error" not in obj:
            obj = {"error": [], "result": obj}
        resp = msgspec.convert(obj, KrakenAssetPairsResponse)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise DataError(f"not a Kraken AssetPairs response: {e}", source=label) from None
    if resp.error:
        raise DataError(f"AssetPairs response carries errors: {resp.error}", source=label)
    if not resp.result:
        raise DataError("AssetPairs response has no pairs", source=label)
    return resp.result


def parse_trade_volume(source: str | Path | bytes | Mapping[str, Any]) -> _TradeVolumeResult:
    """Parse a TradeVolume response (envelope or bare result)."""
    raw, label = _load_bytes(source, "TradeVolume")
    try:
        obj = msgspec.json.decode(raw) if isinstance(raw, bytes) else raw
        if isinstance(obj, Mapping) and "result" not in obj and "error" not in obj:
            obj = {"error": [], "result": obj}
        resp = msgspec.convert(obj, _TradeVolumeResponse)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise DataError(f"not a Kraken TradeVolume response: {e}", source=label) from None
    if resp.error or resp.result is None:
        raise DataError(f"TradeVolume response carries errors or no result: {resp.error}", source=label)
    return resp.result


def _pct(percent: float) -> float:
    # 0.14 / 100 is 0.0014000000000000002 in binary; go through the decimal text instead.
    return float(Decimal(repr(float(percent))) / 100)


def _to_float(value: str | float | None, what: str, key: str, default: float | None = None) -> float:
    if value is None:
        if default is None:
            raise DataError(f"pair {key}: {what} missing")
        return default
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"pair {key}: {what} is not a number: {value!r}") from None
    if not math.isfinite(x) or x < 0:
        raise DataError(f"pair {key}: {what} must be finite and >= 0, was {value!r}")
    return x


class Universe:
    """The traded pairs in a fixed order, with name lookups and kernel metadata.

    Build it with :meth:`default`, :meth:`from_config` or :meth:`from_asset_pairs`.
    ``symbols[i]`` is row ``i`` of :attr:`meta` (float64, ``kernels.pairs.META_*`` columns).
    """

    def __init__(self, pairs: Sequence[PairInfo]):
        if not pairs:
            raise ConfigError("the universe has no pairs", key="universe.symbols")
        self._pairs: tuple[PairInfo, ...] = tuple(pairs)
        self._by_name: dict[str, PairInfo] = {}
        self._asset: dict[str, str] = {}
        for i, p in enumerate(self._pairs):
            if p.index != i:
                raise DataError(f"pair {p.symbol} has index {p.index}, expected {i}")
            for name in dict.fromkeys((p.symbol, p.pair_key, p.altname, p.wsname)):
                other = self._by_name.get(name)
                if other is not None and other.symbol != p.symbol:
                    raise DataError(f"duplicate mapping: {name!r} names both {other.symbol} and {p.symbol}")
                if other is not None:
                    raise DataError(f"duplicate mapping: {p.symbol} is listed twice")
                self._by_name[name] = p
            for code, canon in ((p.base_asset, p.base), (p.base_altname, p.base), (p.base, p.base),
                                (p.quote_asset, p.quote), (p.quote_altname, p.quote), (p.quote, p.quote)):
                prev = self._asset.get(code)
                if prev is not None and prev != canon:
                    raise DataError(f"duplicate mapping: asset code {code!r} names both {prev} and {canon}")
                self._asset[code] = canon
        meta = np.empty((len(self._pairs), kp.N_META), dtype=np.float64)
        for p in self._pairs:
            row = meta[p.index]
            row[kp.META_PAIR_DECIMALS] = p.pair_decimals
            row[kp.META_LOT_DECIMALS] = p.lot_decimals
            row[kp.META_COST_DECIMALS] = p.cost_decimals
            row[kp.META_TICK_SIZE] = p.tick_size
            row[kp.META_ORDERMIN] = p.ordermin
            row[kp.META_COSTMIN] = p.costmin
            row[kp.META_TAKER_FEE] = p.taker_fee
            row[kp.META_MAKER_FEE] = p.maker_fee
        meta.setflags(write=False)
        self._meta = meta

    # ------------------------------------------------------------------ construction
    @classmethod
    def default(cls) -> Universe:
        """Return the ten default USD pairs with the bundled metadata and base-schedule fees."""
        return cls.from_config(UniverseConfig())

    @classmethod
    def from_config(cls, config: UniverseConfig) -> Universe:
        """Build the universe a :class:`~tradejet.config.UniverseConfig` describes."""
        pairs_source: str | bytes = (config.asset_pairs_file if config.asset_pairs_file is not None
                                     else bundled_asset_pairs())
        return cls.from_asset_pairs(pairs_source, config.resolved_symbols(),
                                    trade_volume=config.trade_volume_file,
                                    fee_volume_usd=config.fee_volume_usd)

    @classmethod
    def from_asset_pairs(
        cls,
        source: str | Path | bytes | Mapping[str, Any],
        symbols: Iterable[str] = DEFAULT_SYMBOLS,
        *,
        trade_volume: str | Path | bytes | Mapping[str, Any] | None = None,
        fee_volume_usd: float = 0.0,
    ) -> Universe:
        """Build a universe from an AssetPairs response.

        Parameters
        ----------
        source : path, bytes or mapping
            A Kraken AssetPairs response (envelope or bare result; ``.json.gz`` accepted).
        symbols : iterable of str
            The pairs to trade, in any of Kraken's name forms; kept in this order.
        trade_volume : path, bytes or mapping, optional
            A TradeVolume response: the account's fee rates per pair (percent). Pairs it
            does not list fall back to the base schedule.
        fee_volume_usd : float
            30-day volume selecting the base-schedule tier when no TradeVolume is given.

        Raises
        ------
        ConfigError
            A symbol is unknown, listed twice, or its pair's status is not ``online``.
        DataError
            The response is malformed, or two pairs claim one name.
        """
        entries = parse_asset_pairs(source)
        index: dict[str, str] = {}
        for key, e in entries.items():
            canon = canonical_symbol(e.wsname)
            for name in dict.fromkeys((key, e.altname, e.wsname, canon)):
                prev = index.get(name)
                if prev is not None and prev != key:
                    raise DataError(f"duplicate mapping: {name!r} names both pairs {prev} and {key}")
                index[name] = key
        tv = parse_trade_volume(trade_volume) if trade_volume is not None else None
        symbols = list(symbols)
        chosen: list[str] = []
        for s in symbols:
            key = index.get(s)
            if key is None:
                raise ConfigError(f"unknown symbol {s!r}: not a pair in the AssetPairs data", key="universe.symbols")
            if key in chosen:
                raise ConfigError(f"symbol {s!r} is listed twice (as {canonical_symbol(entries[key].wsname)})",
                                  key="universe.symbols")
            chosen.append(key)
        out = []
        for i, key in enumerate(chosen):
            e = entries[key]
            canon = canonical_symbol(e.wsname)
            if e.status != "online":
                raise ConfigError(f"pair {canon} ({key}) has status {e.status!r}, not 'online': remove it",
                                  key="universe.symbols")
            base_alt, _, quote_alt = e.wsname.partition("/")
            tick = _to_float(e.tick_size, "tick_size", key, default=10.0 ** -e.pair_decimals)
            if not tick > 0:
                raise DataError(f"pair {key}: tick_size must be > 0, was {e.tick_size!r}")
            taker = maker = None
            if tv is not None:
                for name in (key, e.altname):
                    if name in tv.fees:
                        taker = _to_float(tv.fees[name].fee, "TradeVolume fee", key)
                    if name in tv.fees_maker:
                        maker = _to_float(tv.fees_maker[name].fee, "TradeVolume maker fee", key)
            if taker is None:
                taker = base_fee(e.fees or BASE_TAKER_SCHEDULE, fee_volume_usd)
            if maker is None:
                maker = base_fee(e.fees_maker or BASE_MAKER_SCHEDULE, fee_volume_usd)
            for d, what in ((e.pair_decimals, "pair_decimals"), (e.lot_decimals, "lot_decimals"),
                            (e.cost_decimals, "cost_decimals")):
                if not 0 <= d <= 18:
                    raise DataError(f"pair {key}: {what} must be in 0..18, was {d}")
            out.append(PairInfo(
                symbol=canon, index=i, pair_key=key, altname=e.altname, wsname=e.wsname,
                base_asset=e.base, base_altname=base_alt, quote_asset=e.quote, quote_altname=quote_alt,
                pair_decimals=e.pair_decimals, lot_decimals=e.lot_decimals, cost_decimals=e.cost_decimals,
                tick_size=tick, ordermin=_to_float(e.ordermin, "ordermin", key),
                costmin=_to_float(e.costmin, "costmin", key, default=0.0), status=e.status,
                taker_fee=_pct(taker), maker_fee=_pct(maker)))
        return cls(out)

    def with_pairs(self, add: Iterable[str] = (), remove: Iterable[str] = (), *,
                   source: str | Path | bytes | Mapping[str, Any] | None = None) -> Universe:
        """Return a new universe with ``add`` appended and ``remove`` dropped (metadata from ``source``, default bundled)."""
        remove_syms = {self.symbol_for(r) for r in remove}
        keep = [p.symbol for p in self._pairs if p.symbol not in remove_syms]
        src = bundled_asset_pairs() if source is None else source
        u = Universe.from_asset_pairs(src, [*keep, *add])
        # keep this universe's fee rates for the pairs it already had
        fees = {p.symbol: (p.taker_fee, p.maker_fee) for p in self._pairs}
        return Universe([msgspec.structs.replace(p, taker_fee=fees[p.symbol][0], maker_fee=fees[p.symbol][1])
                         if p.symbol in fees else p for p in u.pairs])

    # ------------------------------------------------------------------ lookups
    @property
    def pairs(self) -> tuple[PairInfo, ...]:
        return self._pairs

    @property
    def symbols(self) -> tuple[str, ...]:
        """Canonical symbols in universe (row) order."""
        return tuple(p.symbol for p in self._pairs)

    @property
    def meta(self) -> np.ndarray:
        """Read-only float64 ``(n_pairs, N_META)`` metadata for kernels (``kernels.pairs.META_*``)."""
        return self._meta

    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    def __repr__(self) -> str:
        return f"Universe({', '.join(self.symbols)})"

    def pair(self, name: str) -> PairInfo:
        """Return the pair called ``name`` in any form (``BTC/USD``, ``XXBTZUSD``, ``XBTUSD``, ``XBT/USD``)."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise ConfigError(f"unknown symbol {name!r}; the universe has {', '.join(self.symbols)}",
                              key="universe.symbols") from None

    def symbol_for(self, name: str) -> str:
        """Return the canonical symbol for any Kraken pair name."""
        return self.pair(name).symbol

    def index(self, name: str) -> int:
        """Return the row of ``name`` in :attr:`meta`."""
        return self.pair(name).index

    def asset(self, code: str) -> str:
        """Return the canonical asset for a Kraken asset id or altname (``XXBT``/``XBT`` -> ``BTC``)."""
        try:
            return self._asset[code]
        except (KeyError, TypeError):
            raise ConfigError(f"unknown asset code {code!r} in this universe", key="universe.symbols") from None

    # ------------------------------------------------------------------ order rules
    def round_order(self, symbol: str, side: int, qty: float, price: float, *, limit: bool = True) -> RoundedOrder:
        """Round ``qty`` down to lot decimals, a limit ``price`` to the tick (buys down, sells up), check minimums.

        >>> Universe.default().round_order("BTC/USD", 1, 0.123456789, 30000.07)
        RoundedOrder(code=0, qty=0.12345678, price=30000.0)
        """
        p = self.pair(symbol)
        if side not in (1, -1):
            raise DataError(f"side must be 1 (buy) or -1 (sell), was {side}")
        for v, what in ((qty, "qty"), (price, "price")):
            if not (isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(v) and v > 0):
                raise DataError(f"{what} must be a finite number > 0, was {v!r}")
        code, q, px = kp.prepare_order_nb(self._meta, p.index, side, float(qty), float(price), limit)
        return RoundedOrder(int(code), float(q), float(px))

    def format_qty(self, symbol: str, qty: float) -> str:
        """Return ``qty`` as the string Kraken expects (rounded down, lot decimals)."""
        p = self.pair(symbol)
        return str(Decimal(repr(float(qty))).quantize(Decimal(1).scaleb(-p.lot_decimals), rounding=ROUND_DOWN))

    def format_price(self, symbol: str, price: float) -> str:
        """Return an already rounded ``price`` with the pair's price decimals."""
        p = self.pair(symbol)
        return f"{price:.{p.pair_decimals}f}"


def bundled_asset_pairs() -> bytes:
    """Return the bytes of the bundled AssetPairs file (ten default pairs, recorded 2026-01-12)."""
    return resources.files("tradejet.engine").joinpath("data/asset_pairs.json").read_bytes()
