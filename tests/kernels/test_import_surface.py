"""`import tradejet` stays free of numba; `tradejet.kernels` exports every indicator in its three forms."""

from __future__ import annotations

import subprocess
import sys

import tradejet.kernels as K


def test_import_tradejet_does_not_import_numba():
    code = "import sys, tradejet; print('numba' in sys.modules, 'tradejet.kernels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_every_indicator_has_batch_init_and_update():
    for name in K.INDICATORS:
        for suffix in ("", "_init", "_update"):
            assert callable(getattr(K, name + suffix)), name + suffix
    assert set(K.__all__) >= set(K.INDICATORS)
    for name in K.__all__:
        assert hasattr(K, name), name
