"""pytest-benchmark suite of ML inference: tradejet's onnxruntime API vs scikit-learn.

Run: ``python -m pytest benchmarks/bench_models.py -m benchmark`` (groups ``single-row`` and
``batch-100k``, each with a ``tradejet`` and a ``scikit-learn`` member). Parity (1e-5, and
single-row == batch) is asserted before timing. ``tradejet bench models`` prints p50/p99
latencies and the ratios.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tradejet.bench.models import build_model

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def setup():
    model, make, X = build_model()
    onnx = make(1)
    rows = X[:2000]
    with threadpool_limits(limits=1):
        ref = model.predict_proba(rows.astype(np.float64))[:, 1]
    got = onnx.predict(rows)
    assert np.abs(got - ref).max() <= 1e-5
    assert np.array_equal(np.array([onnx.predict_one(r) for r in rows]), got)
    batch = np.ascontiguousarray(np.tile(X, (100_000 // len(X) + 1, 1))[:100_000])
    yield model, onnx, rows, batch
    onnx.close()


@pytest.mark.parametrize("impl", ["tradejet", "scikit-learn"])
def test_single_row(benchmark, setup, impl):
    model, onnx, rows, _ = setup
    benchmark.group = "single-row"
    row = rows[123]
    if impl == "tradejet":
        benchmark(onnx.predict_one, row)
    else:
        with threadpool_limits(limits=1):
            benchmark(model.predict_proba, row.reshape(1, -1))


@pytest.mark.parametrize("impl", ["tradejet", "scikit-learn"])
def test_batch_100k(benchmark, setup, impl):
    model, onnx, _, batch = setup
    benchmark.group = "batch-100k"
    if impl == "tradejet":
        benchmark.pedantic(onnx.predict, args=(batch,), rounds=3, iterations=1)
    else:
        b64 = batch.astype(np.float64)
        with threadpool_limits(limits=1):
            benchmark.pedantic(model.predict_proba, args=(b64,), rounds=3, iterations=1)
