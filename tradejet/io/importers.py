"""Importers: read bar and trade files into validated columns and write them to the store.

Formats (``fmt``):

``kraken``
    Kraken's downloadable OHLCVT CSV: no header, ``unix_seconds,open,high,low,close,volume,trades``
    (``trades`` may be absent); floats in plain or exponent notation. Also read straight out
    of the ZIP archive Kraken publishes (``archive.zip`` picks the member named
    ``<PAIR>_<minutes>.csv`` for the symbol and timeframe, or name it: ``archive.zip:member.csv``).
``kraken-trades``
    Kraken's trade-history CSV (no header: ``unix_seconds,price,volume``), or a headered
    trades file (``timestamp[_ms],...,price,amount``); aggregated into bars of the timeframe
    by :func:`tradejet.kernels.resample.trades_to_bars_nb` (``trades`` = prints per bar).
``csv``
    A headered CSV (``.csv`` or ``.csv.gz``): column names matched case-insensitively
    (``timestamp``/``time``/``date``/``ts``..., ``open``/``o``, ..., ``volume``/``vol``,
    optional ``trades``/``count``); the timestamp may be Unix seconds, milliseconds,
    microseconds or nanoseconds (told apart by magnitude) or ISO 8601 text (UTC unless it
    carries an offset).
``parquet``
    A Parquet file with the same column names; ``ts`` may be an Arrow timestamp.

Every file is parsed with ``pyarrow.csv`` (multi-threaded); a file pyarrow refuses (a word
where a number belongs, a short row) is re-read row by row so each bad row is named by
line. Then :func:`tradejet.io.validate.validate_bars` runs, in ``strict`` mode (first bad
row raises) or ``quarantine`` mode (bad rows go to ``<store>/rejected/<file>.rejected.csv``
with their reasons).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tradejet.errors import DataError
from tradejet.io.store import BarStore, WriteResult
from tradejet.io.symbols import canonical_symbol
from tradejet.io.timeframes import FLOAT_COLUMNS, fmt_ts, parse_timeframe, timeframe_name
from tradejet.io.validate import NEG_VOLUME, NON_FINITE, NON_POSITIVE, TS_BACKWARDS, UNPARSEABLE, \
    ValidationReport, validate_bars, write_rejected

__all__ = ["FORMATS", "Parsed", "FileReport", "ImportReport", "read_file", "detect_format", "import_files",
           "read_kraken_ohlcvt", "read_kraken_trades", "read_csv", "read_parquet", "aggregate_trades"]

FORMATS = ("kraken", "kraken-trades", "csv", "parquet")
NS = 1_000_000_000

ALIASES = {
    "ts": ("ts", "timestamp", "time", "date", "datetime", "open_time", "opentime", "unix", "timestamp_ms",
           "time_ms", "date_time", "time_period_start", "t"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price"),
    "volume": ("volume", "vol", "v", "base_volume", "volume_base"),
    "trades": ("trades", "count", "trade_count", "number_of_trades", "n_trades", "tradecount", "num_trades"),
    "adj_close": ("adj_close", "adj close", "adjclose", "adjusted_close"),  # equities: split/dividend adjusted
    "price": ("price", "p"),
    "qty": ("amount", "volume", "qty", "quantity", "size", "vol"),
}


@dataclass
class Parsed:
    """Columns read from one file, before validation.

    ``cols``: ``ts`` int64 ns plus float64 columns (bars: open..trades; trades: price, qty);
    ``lines``: the source line of each row; ``pre``/``notes``: rows that could not be parsed.
    """

    source: str
    kind: str  # "bars" or "trades"
    cols: dict[str, np.ndarray]
    lines: np.ndarray
    pre: np.ndarray | None = None
    notes: dict[int, str] = field(default_factory=dict)


# -- opening files -----------------------------------------------------------------------------

def _split_member(path: str) -> tuple[str, str | None]:
    low = path.lower()
    k = low.find(".zip:")
    if k >= 0:
        return path[:k + 4], path[k + 5:]
    return path, None


def _pair(symbol: str | None) -> str:
    return canonical_symbol(symbol).replace("/", "") if symbol else ""


def _zip_member(path: str, member: str | None, fmt: str, symbol: str | None, timeframe: str | None) -> str:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"cannot open ZIP archive: {e}", source=path) from None
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if member is not None:
            if member not in names:
                raise DataError(f"no member {member!r} in the archive (has {len(names)} files, e.g. {names[:3]})",
                                source=path)
            return member
        csvs = [n for n in names if n.lower().endswith((".csv", ".csv.gz"))]
        if len(csvs) == 1:
            return csvs[0]
        pair = _pair(symbol)
        wanted = []
        if pair and fmt == "kraken" and timeframe:
            wanted.append(f"{pair}_{parse_timeframe(timeframe) // (60 * NS)}.csv")
        if pair and fmt == "kraken-trades":
            wanted.append(f"{pair}.csv")
        for n in csvs:
            if Path(n).name.upper() in {w.upper() for w in wanted}:
                return n
        raise DataError(f"cannot tell which of the archive's {len(csvs)} CSV files to read "
                        f"(looked for {wanted or 'one CSV'}); name it as ARCHIVE.zip:MEMBER", source=path)


def _open_bytes(path: str, member: str | None) -> io.BufferedIOBase | io.BytesIO:
    """Return a binary stream of the file (or archive member), gunzipped when named .gz."""
    if member is not None:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(member)
        if member.lower().endswith(".gz"):
            data = gzip.decompress(data)
        return io.BytesIO(data)
    try:
        if path.lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as e:
        raise DataError(f"cannot read file: {e.strerror}", source=path) from None


def _first_line(path: str, member: str | None) -> str:
    try:
        with _open_bytes(path, member) as f:
            line = f.readline(65536)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read file: {e}", source=path) from None
    return line.decode("utf-8", "replace").strip().lstrip("\ufeff")


def _has_header(line: str) -> bool:
    first = line.split(",")[0].strip().strip('"')
    return bool(first) and not _numberish(first)


def _numberish(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return s[:4].isdigit() and "-" in s  # ISO date


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess the format of ``path`` from its name and first line.

    Parquet by extension; a CSV without a header is Kraken OHLCVT (6-7 fields) or Kraken
    trades (3 fields); with a header it is trades when it has ``price`` and an amount
    column, else a bar CSV.
    """
    path = str(path)
    base, member = _split_member(path)
    if base.lower().endswith(".parquet") or base.lower().endswith(".pq"):
        return "parquet"
    if base.lower().endswith(".zip"):
        if member is None:
            return "kraken"
    line = _first_line(base, member)
    if not line:
        raise DataError("file is empty", source=path)
    fields = line.split(",")
    if _has_header(line):
        names = {f.strip().strip('"').lower() for f in fields}
        if "price" in names and names & set(ALIASES["qty"]) and not names & {"open", "close"}:
            return "kraken-trades"
        return "csv"
    if len(fields) == 3:
        return "kraken-trades"
    if len(fields) in (6, 7):
        return "kraken"
    raise DataError(f"cannot tell the format: first line has {len(fields)} fields and no header; "
                    "pass --format", source=path)


# -- the slow, row-by-row parser (only for files pyarrow refuses) -------------------------------

def _parse_ts_text(s: str) -> int | float:
    s = s.strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        pass
    d = dt.datetime.fromisoformat(s.replace(" UTC", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    delta = d - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return _Iso((delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000)


class _Iso(int):
    """An already-converted ns timestamp (from ISO text), exempt from unit detection."""


def _slow_parse(path: str, member: str | None, header: bool, fields: list[tuple[str, int]], ncols: int | None,
                source: str) -> tuple[dict[str, list], list[int], dict[int, str]]:
    """Parse row by row; return raw column lists, line numbers and notes for bad rows."""
    out: dict[str, list] = {name: [] for name, _ in fields}
    lines: list[int] = []
    notes: dict[int, str] = {}
    with _open_bytes(path, member) as fb:
        text = io.TextIOWrapper(fb, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text)
        if header:
            next(reader, None)
        lineno = 1 if header else 0
        for row in reader:
            lineno = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue  # a blank line holds no bar
            k = len(lines)
            lines.append(lineno)
            bad = None
            if ncols is not None and len(row) not in (ncols,) and not (ncols == 7 and len(row) == 6):
                bad = f"expected {ncols} fields, got {len(row)}"
            vals = []
            if bad is None:
                for name, j in fields:
                    if j >= len(row):
                        bad = f"column {name} is missing"
                        break
                    cell = row[j].strip()
                    try:
                        vals.append(_parse_ts_text(cell) if name == "ts" else (float(cell) if cell else np.nan))
                    except ValueError:
                        bad = f"column {name} value {cell!r} is not a {'timestamp' if name == 'ts' else 'number'}"
                        break
            if bad is not None:
                notes[k] = bad
                vals = [0 if name == "ts" else np.nan for name, _ in fields]
            for (name, _), v in zip(fields, vals):
                out[name].append(v)
    return out, lines, notes


def _ts_factor(values: np.ndarray) -> int:
    """ns per unit for numeric timestamps, from their magnitude (s, ms, us or ns)."""
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if finite.size == 0:
        return NS
    m = float(np.max(np.abs(finite)))
    if m < 1e11:
        return NS
    if m < 1e14:
        return 1_000_000
    if m < 1e17:
        return 1_000
    return 1


def _numeric_ts(values: np.ndarray) -> np.ndarray:
    f = _ts_factor(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64) * f
    if f >= 1_000:
        # fractional seconds/ms (Kraken trade times: 1643147229.2935): a float64 holds ~16
        # digits, so round to whole microseconds instead of inventing nanoseconds
        return np.round(values * (f // 1_000)).astype(np.int64) * 1_000
    return np.round(values * f).astype(np.int64)


def _slow_result(source: str, kind: str, raw: dict[str, list], lines: list[int], notes: dict[int, str]) -> Parsed:
    n = len(lines)
    ts_raw = raw.pop("ts")
    iso = np.fromiter((isinstance(v, _Iso) for v in ts_raw), bool, n)
    ts = np.zeros(n, np.int64)
    if iso.any():
        ts[iso] = np.fromiter((int(v) for v, i in zip(ts_raw, iso) if i), np.int64)
    num = ~iso
    if num.any():
        vals = [v for v, i in zip(ts_raw, iso) if not i]
        arr = np.array(vals, dtype=np.int64 if all(isinstance(v, int) for v in vals) else np.float64)
        good = np.ones(arr.size, bool)
        bad_rows = [k for k in notes if num[k]]
        num_idx = np.flatnonzero(num)
        if bad_rows:
            good[np.searchsorted(num_idx, bad_rows)] = False
        f = _ts_factor(arr[good]) if good.any() else NS
        ts[num] = arr.astype(np.int64) * f if arr.dtype.kind == "i" else np.round(arr * f).astype(np.int64)
    cols = {"ts": ts}
    for name, v in raw.items():
        cols[name] = np.asarray(v, dtype=np.float64)
    pre = np.zeros(n, np.uint16)
    for k in notes:
        pre[k] = UNPARSEABLE
    return Parsed(source, kind, cols, np.asarray(lines, np.int64), pre, notes)


# -- fast path helpers ---------------------------------------------------------------------------

def _arrow_csv(path: str, member: str | None, names: list[str] | None, types: dict | None):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    ro = pacsv.ReadOptions(column_names=names, block_size=1 << 22) if names else pacsv.ReadOptions(block_size=1 << 22)
    po = pacsv.ParseOptions(ignore_empty_lines=False)
    co = pacsv.ConvertOptions(column_types=types or {}, strings_can_be_null=False)
    src = _open_bytes(path, member) if member is not None else path
    try:
        return pacsv.read_csv(src, read_options=ro, parse_options=po, convert_options=co)
    except pa.ArrowInvalid as e:
        return e
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read file: {e}", source=path) from None


def _f64(col) -> np.ndarray:
    import pyarrow as pa

    col = col.cast(pa.float64()) if col.type != pa.float64() else col
    return col.to_numpy() if col.null_count == 0 else col.fill_null(np.nan).to_numpy()


def _null_rows(table) -> np.ndarray:
    import pyarrow.compute as pc

    mask = np.zeros(table.num_rows, bool)
    for col in table.columns:
        if col.null_count:
            mask |= pc.is_null(col).to_numpy(zero_copy_only=False)
    return mask


def _finish_fast(source: str, kind: str, ts: np.ndarray, cols: dict[str, np.ndarray], first_line: int,
                 null_ts: np.ndarray | None) -> Parsed:
    n = ts.size
    out = {"ts": ts, **cols}
    lines = np.arange(first_line, first_line + n, dtype=np.int64)
    pre, notes = None, {}
    if null_ts is not None and null_ts.any():
        pre = np.zeros(n, np.uint16)
        pre[null_ts] = UNPARSEABLE
        for k in np.flatnonzero(null_ts):
            notes[int(k)] = "column ts is missing or empty"
    return Parsed(source, kind, out, lines, pre, notes)


# -- readers ---------------------------------------------------------------------------------------

KRAKEN_NAMES = ["ts", "open", "high", "low", "close", "volume", "trades"]


def read_kraken_ohlcvt(path: str | os.PathLike[str], *, symbol: str | None = None,
                       timeframe: str | None = None) -> Parsed:
    """Read a Kraken OHLCVT CSV (or a member of a Kraken ZIP archive)."""
    import pyarrow as pa

    base, member = _split_member(str(path))
    if base.lower().endswith(".zip"):
        member = _zip_member(base, member, "kraken", symbol, timeframe)
    source = f"{base}:{member}" if member else base
    line = _first_line(base, member)
    if not line:
        return Parsed(source, "bars", {"ts": np.empty(0, np.int64), **{c: np.empty(0) for c in FLOAT_COLUMNS}},
                      np.empty(0, np.int64))
    if _has_header(line):
        raise DataError(f"a Kraken OHLCVT file has no header, but line 1 is {line[:60]!r}; use --format csv",
                        source=source, row=1)
    ncols = len(line.split(","))
    if ncols not in (6, 7):
        raise DataError(f"a Kraken OHLCVT row has 6 or 7 fields (time, o, h, l, c, volume[, trades]), "
                        f"line 1 has {ncols}", source=source, row=1)
    names = KRAKEN_NAMES[:ncols]
    types = {"ts": pa.int64(), **{c: pa.float64() for c in names[1:]}}
    t = _arrow_csv(base, member, names, types)
    if isinstance(t, Exception):
        raw, lines, notes = _slow_parse(base, member, False, [(c, j) for j, c in enumerate(names)], ncols, source)
        if "trades" not in raw:
            raw["trades"] = [np.nan] * len(lines)
        return _slow_result(source, "bars", raw, lines, notes)
    ts_col = t.column("ts")
    null_ts = ts_col.is_null().to_numpy(zero_copy_only=False) if ts_col.null_count else None
    ts = ts_col.fill_null(0).to_numpy() * NS if null_ts is not None else ts_col.to_numpy() * NS
    cols = {c: _f64(t.column(c)) for c in names[1:]}
    if "trades" not in cols:
        cols["trades"] = np.full(ts.size, np.nan)
    return _finish_fast(source, "bars", ts.astype(np.int64, copy=False), cols, 1, null_ts)


def _map_columns(header: list[str], wanted: Sequence[str], optional: Sequence[str], source: str) -> dict[str, int]:
    low = [h.strip().strip('"').lower() for h in header]
    found: dict[str, int] = {}
    for key in (*wanted, *optional):
        for alias in ALIASES[key]:
            if alias in low and low.index(alias) not in found.values():
                found[key] = low.index(alias)
                break
    missing = [k for k in wanted if k not in found]
    if missing:
        raise DataError(f"no column for {', '.join(missing)} in the header {header} "
                        f"(accepted names: {', '.join('/'.join(ALIASES[k]) for k in missing)})", source=source, row=1)
    return found


def _ts_from_arrow(col, source: str) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Return (ts ns, null mask) from an Arrow column of any timestamp-ish type; None if text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    nulls = col.is_null().to_numpy(zero_copy_only=False) if col.null_count else None
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
            try:
                col = pc.cast(col, target)
                break
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue
        else:
            return None
        t = col.type
    if pa.types.is_timestamp(t):
        f = {"s": NS, "ms": 1_000_000, "us": 1_000, "ns": 1}[t.unit]
        v = col.cast(pa.int64()).fill_null(0).to_numpy()
        return v * f, nulls
    if pa.types.is_date(t):
        v = col.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64)
        return v * 86_400 * NS, nulls
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        v = col.fill_null(0).to_numpy()
        if nulls is not None:
            keep = ~nulls
            f = _ts_factor(v[keep])
            return (v.astype(np.int64) * f if v.dtype.kind in "iu" else np.round(v * f).astype(np.int64)), nulls
        return _numeric_ts(v), nulls
    raise DataError(f"the timestamp column has type {t}, not numbers, dates or ISO 8601 text", source=source)


def read_csv(path: str | os.PathLike[str], *, symbol: str | None = None, timeframe: str | None = None) -> Parsed:
    """Read a headered bar CSV (``.csv``, ``.csv.gz`` or a ZIP member)."""
    base, member = _split_member(str(path))
    if base.lower().endswith(".zip"):
        member = _zip_member(base, member, "csv", symbol, timeframe)
    source = f"{base}:{member}" if member else base
    line = _first_line(base, member)
    if not line:
        raise DataError("file is empty", source=source)
    header = next(csv.reader([line]))
    if not _has_header(line):
        raise DataError(f"expected a header line naming the columns, line 1 is {line[:60]!r} "
                        "(headerless Kraken files: --format kraken)", source=source, row=1)
    idx = _map_columns(header, ("ts", "open", "high", "low", "close", "volume"), ("trades", "adj_close"), source)
    return _read_headered(base, member, source, header, idx, "bars")


def _read_headered(base: str, member: str | None, source: str, header: list[str], idx: dict[str, int],
                   kind: str) -> Parsed:
    import pyarrow as pa

    import pyarrow.csv as pacsv

    names = [f"c{j}" for j in range(len(header))]
    float_keys = [k for k in idx if k != "ts"]
    types = {f"c{idx[k]}": pa.float64() for k in float_keys}
    ro = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 22)
    po = pacsv.ParseOptions(ignore_empty_lines=False)
    co = pacsv.ConvertOptions(column_types=types, include_columns=[f"c{j}" for j in idx.values()],
                              strings_can_be_null=True)
    t = None
    try:
        if member is not None:
            with _open_bytes(base, member) as src:
                t = pacsv.read_csv(src, read_options=ro, parse_options=po, convert_options=co)
        else:
            t = pacsv.read_csv(base, read_options=ro, parse_options=po, convert_options=co)
    except pa.ArrowInvalid:
        t = None
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DataError(f"cannot read file: {e}", source=source) from None
    res = None
    if t is not None:
        res = _ts_from_arrow(t.column(f"c{idx['ts']}"), source)
    if res is None:
        raw, lines, notes = _slow_parse(base, member, True, [(k, j) for k, j in idx.items()], len(header), source)
        if kind == "bars" and "trades" not in raw:
            raw["trades"] = [np.nan] * len(lines)
        return _slow_result(source, kind, raw, lines, notes)
    ts, null_ts = res
    cols = {k: _f64(t.column(f"c{idx[k]}")) for k in float_keys}
    if kind == "bars" and "trades" not in cols:
        cols["trades"] = np.full(ts.size, np.nan)
    return _finish_fast(source, kind, ts.astype(np.int64, copy=False), cols, 2, null_ts)


def read_kraken_trades(path: str | os.PathLike[str], *, symbol: str | None = None,
                       timeframe: str | None = None) -> Parsed:
    """Read trades: Kraken's trade-history CSV (no header) or a headered trades CSV."""
    import pyarrow as pa

    base, member = _split_member(str(path))
    if base.lower().endswith(".zip"):
        member = _zip_member(base, member, "kraken-trades", symbol, timeframe)
    source = f"{base}:{member}" if member else base
    line = _first_line(base, member)
    if not line:
        raise DataError("file is empty", source=source)
    if _has_header(line):
        header = next(csv.reader([line]))
        idx = _map_columns(header, ("ts", "price", "qty"), (), source)
        return _read_headered(base, member, source, header, idx, "trades")
    ncols = len(line.split(","))
    if ncols < 3:
        raise DataError(f"a Kraken trades row has 3 fields (time, price, volume), line 1 has {ncols}",
                        source=source, row=1)
    names = ["ts", "price", "qty"] + [f"x{j}" for j in range(3, ncols)]
    t = _arrow_csv(base, member, names, {"ts": pa.float64(), "price": pa.float64(), "qty": pa.float64()})
    if isinstance(t, Exception):
        raw, lines, notes = _slow_parse(base, member, False, [("ts", 0), ("price", 1), ("qty", 2)], ncols, source)
        return _slow_result(source, "trades", raw, lines, notes)
    res = _ts_from_arrow(t.column("ts"), source)
    assert res is not None
    ts, null_ts = res
    return _finish_fast(source, "trades", ts, {"price": _f64(t.column("price")), "qty": _f64(t.column("qty"))}, 1,
                        null_ts)


def read_parquet(path: str | os.PathLike[str], *, symbol: str | None = None, timeframe: str | None = None) -> Parsed:
    """Read bars from a Parquet file (column names as for :func:`read_csv`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = str(path)
    try:
        t = pq.read_table(source)
    except FileNotFoundError:
        raise DataError("cannot read file: No such file or directory", source=source) from None
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"not a readable Parquet file: {e}", source=source) from None
    idx = _map_columns(t.column_names, ("ts", "open", "high", "low", "close", "volume"), ("trades",), source)
    res = _ts_from_arrow(t.column(idx["ts"]), source)
    if res is None:
        raise DataError("the timestamp column holds text that is not ISO 8601", source=source)
    ts, null_ts = res
    cols = {}
    for k, j in idx.items():
        if k == "ts":
            continue
        col = t.column(j)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise DataError(f"column {t.column_names[j]} has type {col.type}, not numbers", source=source)
        cols[k] = _f64(col)
    if "trades" not in cols:
        cols["trades"] = np.full(ts.size, np.nan)
    p = _finish_fast(source, "bars", ts.astype(np.int64, copy=False), cols, 1, null_ts)
    p.lines = np.arange(ts.size, dtype=np.int64)  # Parquet has rows, not lines: 0-based row index
    return p


READERS: dict[str, Callable[..., Parsed]] = {
    "kraken": read_kraken_ohlcvt, "kraken-trades": read_kraken_trades, "csv": read_csv, "parquet": read_parquet,
}


def read_file(path: str | os.PathLike[str], fmt: str | None = None, *, symbol: str | None = None,
              timeframe: str | None = None) -> Parsed:
    """Read one file in format ``fmt`` (detected when None)."""
    path = str(path)
    base, _ = _split_member(path)
    if not os.path.exists(base):
        raise DataError("cannot read file: No such file or directory", source=base)
    if os.path.isdir(base):
        raise DataError("is a directory, not a file", source=base)
    fmt = fmt or detect_format(path)
    if fmt not in READERS:
        raise DataError(f"format must be one of {', '.join(FORMATS)}, was {fmt!r}", source=path)
    return READERS[fmt](path, symbol=symbol, timeframe=timeframe)


# -- trades -> bars -------------------------------------------------------------------------------

TRADE_REASONS = {NON_FINITE: "non-finite", NON_POSITIVE: "price <= 0", NEG_VOLUME: "volume < 0",
                 TS_BACKWARDS: "ts backwards", UNPARSEABLE: "unparseable"}


def _trade_flags(p: Parsed) -> np.ndarray:
    ts, price, qty = p.cols["ts"], p.cols["price"], p.cols["qty"]
    r = np.zeros(ts.size, np.uint16) if p.pre is None else p.pre.copy()
    r[~(np.isfinite(price) & np.isfinite(qty))] |= NON_FINITE
    with np.errstate(invalid="ignore"):
        r[price <= 0] |= NON_POSITIVE
        r[qty < 0] |= NEG_VOLUME
    if p.pre is not None:
        r[(p.pre & UNPARSEABLE) != 0] = UNPARSEABLE  # placeholders, not values: no other reason applies
    idx = np.flatnonzero(r == 0)
    if idx.size > 1:
        tv = ts[idx]
        back = tv[1:] < np.maximum.accumulate(tv)[:-1]
        r[idx[1:][back]] |= TS_BACKWARDS
    return r


def aggregate_trades(p: Parsed, timeframe_ns: int, *, strict: bool = False) -> tuple[Parsed, ValidationReport]:
    """Validate trades and aggregate the good ones into bars; return (bars, trade report).

    Trades with equal timestamps are fine (several prints in one second); a trade older
    than an earlier one is rejected ("ts backwards").
    """
    from tradejet.kernels.resample import trades_to_bars_nb

    r = _trade_flags(p)
    bad = np.flatnonzero(r)
    if strict and bad.size:
        i = int(bad[0])
        bits = int(r[i])
        if bits & UNPARSEABLE:
            msg, col, val = f"unparseable: {p.notes.get(i, '')}", "-", p.notes.get(i)
        elif bits & NON_FINITE:
            col = "price" if not np.isfinite(p.cols["price"][i]) else "volume"
            val = p.cols["price" if col == "price" else "qty"][i]
            msg = f"non-finite value: {col} = {val}"
        elif bits & NON_POSITIVE:
            col, val = "price", p.cols["price"][i]
            msg = f"price must be > 0: price = {val}"
        elif bits & NEG_VOLUME:
            col, val = "volume", p.cols["qty"][i]
            msg = f"volume must be >= 0: volume = {val}"
        else:
            col, val = "ts", int(p.cols["ts"][i])
            msg = f"ts backwards: ts = {fmt_ts(val)} after a later trade"
        raise DataError(msg, source=p.source, row=int(p.lines[i]), column=col, value=val)
    counts = {text: int(np.count_nonzero(r & bit)) for bit, text in TRADE_REASONS.items()}
    report = ValidationReport(r, 0, counts, p.notes)
    ok = r == 0
    ts = np.ascontiguousarray(p.cols["ts"][ok])
    out = trades_to_bars_nb(ts, np.ascontiguousarray(p.cols["price"][ok]), np.ascontiguousarray(p.cols["qty"][ok]),
                            np.int64(timeframe_ns))
    cols = dict(zip(("ts", "open", "high", "low", "close", "volume", "trades"), out[:7]))
    bars = Parsed(p.source, "bars", cols, np.zeros(cols["ts"].size, np.int64))
    return bars, report


# -- the import pipeline ----------------------------------------------------------------------

@dataclass
class FileReport:
    """The import of one file."""

    source: str
    rows: int          # rows (bars or trades) read
    imported: int      # rows accepted (bars; for trades: trades aggregated)
    rejected: int
    counts: dict[str, int]
    gaps: int
    bars: int          # bars handed to the store
    rejected_path: str | None = None
    warning: str | None = None

    def summary(self) -> str:
        reasons = ", ".join(f"{k}: {v}" for k, v in self.counts.items() if v)
        unit = "trades" if self.bars != self.imported else "rows"
        text = f"{self.imported} {unit} imported, {self.rejected} rejected"
        if reasons:
            text += f" ({reasons})"
        if unit == "trades":
            text += f" -> {self.bars} bars"
        text += f"; {self.gaps} missing bars"
        return text + (f"; warning: {self.warning}" if self.warning else "")


@dataclass
class ImportReport:
    """The import of all files of one command."""

    files: list[FileReport]
    write: WriteResult | None
    venue: str
    symbol: str
    timeframe: str

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for f in self.files:
            for k, v in f.counts.items():
                counts[k] = counts.get(k, 0) + v
        reasons = ", ".join(f"{k}: {v}" for k, v in counts.items() if v)
        text = f"{self.imported} rows imported, {self.rejected} rejected"
        if reasons:
            text += f" ({reasons})"
        if self.write is not None:
            text += (f"; {self.symbol} {self.timeframe} @ {self.venue}: {self.write.added} bars added, "
                     f"{self.write.replaced} replaced, {self.write.total} stored")
        return text


def import_files(paths: Sequence[str | os.PathLike[str]], store: BarStore, *, symbol: str, timeframe: str,
                 venue: str = "kraken", fmt: str | None = None, strict: bool = False,
                 on_step: Callable[[str, str], None] | None = None) -> ImportReport:
    """Read, validate and store ``paths`` as ``symbol``/``timeframe`` bars at ``venue``.

    ``strict``: the first bad row raises :class:`~tradejet.errors.DataError` and nothing is
    written. Otherwise bad rows are quarantined to ``store.rejected_path(file)``. Every file
    is read and validated before anything is written.
    ``on_step(source, step)`` is called as each file moves on (for a progress bar).
    """
    if not paths:
        raise DataError("no input files given")
    sym, tf = canonical_symbol(symbol), timeframe_name(timeframe)
    tf_ns = parse_timeframe(tf)
    step = on_step or (lambda source, what: None)
    reports: list[FileReport] = []
    good: list[dict[str, np.ndarray]] = []
    pending_rejects = []
    for path in paths:
        step(str(path), "read")
        p = read_file(path, fmt, symbol=sym, timeframe=tf)
        step(p.source, "validate")
        if p.kind == "trades":
            bars, trep = aggregate_trades(p, tf_ns, strict=strict)
            brep = validate_bars(bars.cols, tf_ns, source=p.source, strict=True)  # built by us: must hold
            fr = FileReport(p.source, p.cols["ts"].size, p.cols["ts"].size - trep.rejected, trep.rejected,
                            trep.counts, brep.gaps, bars.cols["ts"].size)
            pending_rejects.append((p, trep, fr))
            good.append(bars.cols)
        else:
            rep = validate_bars(p.cols, tf_ns, source=p.source, lines=p.lines, strict=strict, pre=p.pre,
                                notes=p.notes)
            ok = rep.ok
            n_ok = int(ok.sum())
            fr = FileReport(p.source, ok.size, n_ok, rep.rejected, {k: v for k, v in rep.counts.items()},
                            rep.gaps, n_ok)
            pending_rejects.append((p, rep, fr))
            good.append({k: v[ok] for k, v in p.cols.items()} if rep.rejected else p.cols)
            fr.warning = _timeframe_warning(good[-1]["ts"], tf_ns, tf)
        reports.append(fr)
    for p, rep, fr in pending_rejects:
        rpath = store.rejected_path(Path(p.source.split(":")[-1]).name)
        n = write_rejected(rpath, p.cols if p.kind == "bars" else _trade_cols(p), rep, p.lines, p.source)
        fr.rejected_path = str(rpath) if n else None
    result = None
    for cols in good:
        step(sym, "write")
        if cols["ts"].size == 0:
            continue
        r = store.write(venue, sym, tf, cols)
        result = r if result is None else WriteResult(result.added + r.added, result.replaced + r.replaced, r.total)
    if result is None:
        try:
            total = store.info(venue, sym, tf).rows
        except DataError:
            total = 0
        result = WriteResult(0, 0, total)
    return ImportReport(reports, result, venue.lower(), sym, tf)


def _timeframe_warning(ts: np.ndarray, tf_ns: int, tf: str) -> str | None:
    """A hint when no two bars are one timeframe apart (an hourly file imported as 1m, say)."""
    if ts.size < 10:
        return None
    step = int(np.min(np.diff(ts)))
    if step >= 2 * tf_ns:
        return f"no two bars are {tf} apart (smallest step {timeframe_name(f'{step // NS}s')}): check --timeframe"
    return None


def _trade_cols(p: Parsed) -> dict[str, np.ndarray]:
    """Trades shaped like bars for the rejected file: price in every price column, qty as volume."""
    price = p.cols["price"]
    return {"ts": p.cols["ts"], "open": price, "high": price, "low": price, "close": price, "volume": p.cols["qty"]}

