"""Helpers for the indicator tests: candle files of the shared data, TA-Lib calls, tolerances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from tradejet.testing import shared_data_dir

CANDLE_DIRS = ("crypto/binance", "crypto/kraken", "crypto/kraken_ohlcvt", "equities")
MAX_ROWS = 150_000


def candle_files() -> list[str]:
    """Relative paths of every candle CSV in the shared data (empty if the folder is absent)."""
    root = shared_data_dir()
    out = []
    for d in CANDLE_DIRS:
        folder = root / d
        if folder.is_dir():
            out += sorted(str(p.relative_to(root)) for p in folder.iterdir()
                          if p.name.endswith((".csv", ".csv.gz")))
    return out


def load_candles(root: Path, rel: str) -> dict[str, np.ndarray]:
    """Read one candle file into float64 columns open/high/low/close/volume (first MAX_ROWS rows)."""
    path = root / rel
    if rel.startswith("crypto/kraken_ohlcvt/"):
        names = ["timestamp", "open", "high", "low", "close", "volume", "trades"]
        t = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=names))
    else:
        t = pacsv.read_csv(path)
    cols = {k: t.column(k).to_numpy().astype(np.float64)[:MAX_ROWS] for k in ("open", "high", "low", "close", "volume")}
    return cols


def assert_close(ours: np.ndarray, ref: np.ndarray, floor: float, what: str, rtol: float = 1e-9) -> None:
    """Same NaN positions; after them |ours - ref| <= rtol * max(|ref|, floor)."""
    ours = np.asarray(ours)
    ref = np.asarray(ref)
    assert ours.shape == ref.shape, what
    nan_o, nan_r = np.isnan(ours), np.isnan(ref)
    if not np.array_equal(nan_o, nan_r):
        i = int(np.flatnonzero(nan_o != nan_r)[0])
        pytest.fail(f"{what}: NaN positions differ first at index {i}: ours {ours[i]}, TA-Lib {ref[i]}")
    m = ~nan_r
    err = np.abs(ours[m] - ref[m])
    lim = rtol * np.maximum(np.abs(ref[m]), floor)
    if (err > lim).any():
        k = int(np.argmax(err / lim))
        i = int(np.flatnonzero(m)[k])
        pytest.fail(f"{what}: differs at index {i}: ours {ours[i]!r}, ref {ref[i]!r} (rel {err[k] / max(abs(ref[i]), 1e-300):.3g})")
