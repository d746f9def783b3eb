"""pytest-benchmark suite of the indicator kernels: tradejet and TA-Lib side by side.

Run: ``python -m pytest benchmarks`` (compare groups: each indicator is one group with a
``tradejet`` and a ``talib`` member). Parity with TA-Lib is asserted before timing.
The CLI suite ``tradejet bench kernels`` prints the same comparison with ratios.
"""

from __future__ import annotations

import numpy as np
import pytest

import tradejet.kernels as K
from tradejet.bench.kernels import _cases, _floor, _max_rel_err, _walk

talib = pytest.importorskip("talib")
pytestmark = pytest.mark.benchmark

SIZES = (10_000, 1_000_000)
CASES = {name: (ours, ref) for name, ours, ref in _cases()}
_DATA: dict[int, dict] = {}


def _data(n: int) -> dict:
    if n not in _DATA:
        _DATA[n] = _walk(n)
    return _DATA[n]


@pytest.mark.parametrize("impl", ["tradejet", "talib"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(CASES))
def test_indicator(benchmark, name, n, impl):
    d = _data(n)
    ours, ref = CASES[name]
    same, err = _max_rel_err(ours(d), ref(d), _floor(name, d))
    assert same and err <= 1e-9
    benchmark.group = f"{name}-{n}"
    benchmark(ours if impl == "tradejet" else ref, d)


@pytest.mark.parametrize("impl", ["tradejet_fused", "talib_per_indicator"])
@pytest.mark.parametrize("n", SIZES)
def test_fused_set(benchmark, n, impl):
    d = _data(n)
    cols = [d[k] for k in ("open", "high", "low", "close", "volume")]
    buf = np.empty((K.N_FEATURES, n))
    benchmark.group = f"fused-{n}"
    if impl == "tradejet_fused":
        benchmark(lambda: K.features(*cols, out=buf))
    else:
        benchmark(lambda: [ref(d) for _, ref in CASES.values()])


def test_streaming_update(benchmark):
    state = K.features_init()
    row = np.empty(K.N_FEATURES)
    for _ in range(100):
        K.features_update(state, 100.0, 101.0, 99.0, 100.5, 10.0, row)
    benchmark.group = "streaming"
    benchmark(K.features_update, state, 100.0, 101.0, 99.0, 100.5, 10.0, row)


@pytest.mark.parametrize("impl", ["tradejet_2d", "talib_per_series"])
@pytest.mark.parametrize("n", SIZES)
def test_fused_2d(benchmark, n, impl):
    m = 4
    ds = [_walk(n, seed=100 + j) for j in range(m)]
    panel = [np.column_stack([dj[k] for dj in ds]) for k in ("open", "high", "low", "close", "volume")]
    buf = K.features_2d(*panel)  # its own 64-byte aligned result, reused as out=
    for j, dj in enumerate(ds):  # parity before timing: each symbol equals the 1-D set exactly
        np.testing.assert_array_equal(buf[j], K.features(*(dj[k] for k in ("open", "high", "low", "close", "volume"))))
    benchmark.group = f"fused-2d-{n}x{m}"
    if impl == "tradejet_2d":
        benchmark(lambda: K.features_2d(*panel, out=buf))
    else:
        benchmark(lambda: [ref(dj) for dj in ds for _, ref in CASES.values()])
